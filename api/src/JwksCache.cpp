#include "kc/api/JwksCache.h"

#include <Poco/Logger.h>

#include <fstream>
#include <iterator>

#include "HttpFetch.h"
#include "Jwk.h"
#include "kc/api/Metrics.h"

namespace kc::api {

struct JwksCache::Loaded {
  std::map<std::string, SigningKey> keys;
  std::string issuer;
};

namespace {

Poco::Logger& logger() {
  return Poco::Logger::get("kc.jwks");
}

Result<std::string> readBoundedFile(const std::string& path, std::size_t maxBytes) {
  std::ifstream in(path, std::ios::binary);
  if (!in) return Status(StatusCode::kUnavailable, "cannot open JWKS file " + path);
  std::string out;
  char buffer[8192];
  while (in) {
    in.read(buffer, sizeof buffer);
    out.append(buffer, static_cast<std::size_t>(in.gcount()));
    if (out.size() > maxBytes) {
      return Status(StatusCode::kInvalidArgument, "JWKS file " + path + " is too large");
    }
  }
  return out;
}

}  // namespace

JwksCache::JwksCache(JwksSettings settings, Metrics* metrics)
    : settings_(std::move(settings)), metrics_(metrics) {}

JwksCache::~JwksCache() = default;

Result<JwksCache::Loaded> JwksCache::load() const {
  Loaded out;
  if (!settings_.jwksFile.empty()) {
    auto document = readBoundedFile(settings_.jwksFile, settings_.maxDocumentBytes);
    if (!document) return document.status();
    auto keys = parseJwks(*document);
    if (!keys) {
      return Status(keys.status().code(),
                    "JWKS file " + settings_.jwksFile + ": " + keys.status().message());
    }
    out.keys = std::move(keys.value());
    return out;
  }
  if (settings_.identityServerUri.empty()) {
    return Status(StatusCode::kInvalidArgument, "neither identity server URI nor JWKS file set");
  }
  FetchOptions options;
  options.caFile = settings_.caFile;
  options.connectTimeout = settings_.connectTimeout;
  options.readTimeout = settings_.readTimeout;
  options.maxBytes = settings_.maxDocumentBytes;
  std::string base = settings_.identityServerUri;
  while (!base.empty() && base.back() == '/') base.pop_back();
  auto discoveryDocument = fetchDocument(base + "/.well-known/openid-configuration", options);
  if (!discoveryDocument) return discoveryDocument.status();
  auto discovery = parseDiscovery(*discoveryDocument);
  if (!discovery) return discovery.status();
  auto jwksDocument = fetchDocument(discovery->jwksUri, options);
  if (!jwksDocument) return jwksDocument.status();
  auto keys = parseJwks(*jwksDocument);
  if (!keys) return keys.status();
  out.keys = std::move(keys.value());
  out.issuer = std::move(discovery->issuer);
  return out;
}

Status JwksCache::refresh(bool force) {
  {
    const std::lock_guard lock(mutex_);
    const auto now = std::chrono::steady_clock::now();
    if (!force && lastAttempt_ && now - *lastAttempt_ < settings_.refreshInterval) {
      return Status(StatusCode::kUnavailable, "refresh rate-limited");
    }
    lastAttempt_ = now;
    ++attempts_;
  }
  auto loaded = load();  // I/O without mutex_: lookups of known keys go on meanwhile
  if (metrics_) metrics_->addJwksRefresh(loaded.isOk());
  if (!loaded) {
    logger().warning("JWKS refresh failed, keeping the last good key set: " +
                     loaded.status().toString());
    return loaded.status();
  }
  const std::lock_guard lock(mutex_);
  logger().information("JWKS loaded: " + std::to_string(loaded->keys.size()) + " RSA key(s)");
  keys_ = std::move(loaded->keys);
  if (!loaded->issuer.empty()) issuer_ = std::move(loaded->issuer);
  loaded_ = true;
  return Status::ok();
}

Status JwksCache::reload() {
  const std::lock_guard refreshing(refreshMutex_);
  return refresh(true);
}

Result<SigningKey> JwksCache::find(std::string_view kid) {
  const std::string name(kid);
  {
    const std::lock_guard lock(mutex_);
    if (const auto it = keys_.find(name); it != keys_.end()) return it->second;
  }
  // Threads that miss wait for one refresh and then look again, rather than each fetching.
  const std::lock_guard refreshing(refreshMutex_);
  {
    const std::lock_guard lock(mutex_);
    if (const auto it = keys_.find(name); it != keys_.end()) return it->second;
  }
  (void)refresh(false);
  const std::lock_guard lock(mutex_);
  if (const auto it = keys_.find(name); it != keys_.end()) return it->second;
  if (!loaded_) return Status(StatusCode::kUnavailable, "no JWKS loaded");
  return Status(StatusCode::kNotFound, "unknown kid");
}

Result<std::map<std::string, SigningKey>> JwksCache::all() {
  {
    const std::lock_guard lock(mutex_);
    if (loaded_) return keys_;
  }
  const std::lock_guard refreshing(refreshMutex_);
  {
    const std::lock_guard lock(mutex_);
    if (loaded_) return keys_;
  }
  (void)refresh(false);
  const std::lock_guard lock(mutex_);
  if (!loaded_) return Status(StatusCode::kUnavailable, "no JWKS loaded");
  return keys_;
}

std::string JwksCache::discoveredIssuer() const {
  const std::lock_guard lock(mutex_);
  return issuer_;
}

std::uint64_t JwksCache::refreshAttempts() const {
  const std::lock_guard lock(mutex_);
  return attempts_;
}

}  // namespace kc::api
