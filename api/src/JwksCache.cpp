#include "kc/api/JwksCache.h"

#include <Poco/Exception.h>
#include <Poco/Logger.h>
#include <Poco/URI.h>
#include <openssl/crypto.h>

#include <algorithm>
#include <fstream>
#include <iterator>

#include "HttpFetch.h"
#include "Jwk.h"
#include "kc/Text.h"
#include "kc/ThreadName.h"
#include "kc/api/Metrics.h"

namespace kc::api {

struct JwksCache::Loaded {
  std::map<std::string, SigningKey> keys;
  std::string issuer;
  std::optional<std::chrono::seconds> maxAge;  // from the JWKS response's Cache-Control
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

Result<Poco::URI> parseUri(const std::string& text) {
  try {
    return Poco::URI(text);
  } catch (const Poco::Exception&) {
    return Status(StatusCode::kInvalidArgument, "malformed URL " + text);
  }
}

// https, or http when the settings allow it for a private network.
Status checkScheme(const Poco::URI& uri, const std::string& text, bool allowInsecureHttp) {
  const std::string scheme = toLower(uri.getScheme());
  if (scheme == "https" || (scheme == "http" && allowInsecureHttp)) return Status::ok();
  return {StatusCode::kPolicyViolation,
          text + " is not an https:// URL (plain http only with identity.allow_insecure_http)"};
}

bool sameOrigin(const Poco::URI& a, const Poco::URI& b) {
  return equalsIgnoringCase(a.getScheme(), b.getScheme()) &&
         equalsIgnoringCase(a.getHost(), b.getHost()) && a.getPort() == b.getPort();
}

std::string describe(std::chrono::steady_clock::duration duration) {
  return std::to_string(std::chrono::duration_cast<std::chrono::seconds>(duration).count()) + " s";
}

}  // namespace

JwksCache::JwksCache(JwksSettings settings, Metrics* metrics)
    : settings_(std::move(settings)), metrics_(metrics) {
  // OpenSSL initialises itself on first use; done on the refresher's thread, the error state
  // that initialisation allocates there is never freed. So it happens here, before the thread.
  OPENSSL_init_crypto(OPENSSL_INIT_LOAD_CONFIG, nullptr);
  refresher_ = std::thread([this] {
    nameThisThread("kc-jwks");
    runRefresher();
  });
}

JwksCache::~JwksCache() {
  {
    const std::lock_guard lock(mutex_);
    stopping_ = true;
  }
  changed_.notify_all();
  refresher_.join();
}

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
  if (settings_.identityServerUri.empty() && settings_.jwksUri.empty()) {
    return Status(StatusCode::kInvalidArgument, "neither identity server URI nor JWKS file set");
  }
  FetchOptions options;
  options.caFile = settings_.caFile;
  options.connectTimeout = settings_.connectTimeout;
  options.readTimeout = settings_.readTimeout;
  options.maxBytes = settings_.maxDocumentBytes;
  options.proxy = settings_.proxy;

  std::string jwksUri = settings_.jwksUri;
  if (!settings_.identityServerUri.empty()) {
    std::string base = settings_.identityServerUri;
    while (!base.empty() && base.back() == '/') base.pop_back();
    const std::string discoveryText = base + "/.well-known/openid-configuration";
    auto discoveryUri = parseUri(discoveryText);
    if (!discoveryUri) return discoveryUri.status();
    KC_RETURN_IF_ERROR(checkScheme(*discoveryUri, discoveryText, settings_.allowInsecureHttp));
    auto discoveryDocument = fetchDocument(discoveryText, options);
    if (!discoveryDocument) return discoveryDocument.status();
    auto discovery = parseDiscovery(discoveryDocument->body);
    if (!discovery) return discovery.status();
    if (jwksUri.empty()) {
      // Whoever can change the discovery document must not thereby move the keys elsewhere.
      auto named = parseUri(discovery->jwksUri);
      if (!named) return named.status();
      if (!sameOrigin(*named, *discoveryUri)) {
        return Status(StatusCode::kPolicyViolation,
                      "discovery names jwks_uri " + discovery->jwksUri +
                          ", not on the identity server's scheme, host and port; set "
                          "identity.jwks_uri to trust it");
      }
      jwksUri = discovery->jwksUri;
    }
    out.issuer = std::move(discovery->issuer);
  }
  auto parsedJwksUri = parseUri(jwksUri);
  if (!parsedJwksUri) return parsedJwksUri.status();
  KC_RETURN_IF_ERROR(checkScheme(*parsedJwksUri, jwksUri, settings_.allowInsecureHttp));
  auto jwksDocument = fetchDocument(jwksUri, options);
  if (!jwksDocument) return jwksDocument.status();
  auto keys = parseJwks(jwksDocument->body);
  if (!keys) return keys.status();
  out.keys = std::move(keys.value());
  out.maxAge = maxAgeOf(jwksDocument->cacheControl);
  return out;
}

Status JwksCache::refreshLocked(std::unique_lock<std::mutex>& lock) {
  refreshing_ = true;
  requested_ = false;  // this refresh answers every request made before it
  lastAttempt_ = Clock::now();
  ++attempts_;
  lock.unlock();
  auto loaded = load();  // I/O without the lock: lookups go on meanwhile
  if (metrics_) metrics_->addJwksRefresh(loaded.isOk());
  lock.lock();
  refreshing_ = false;
  changed_.notify_all();
  const bool fromNetwork = settings_.jwksFile.empty();
  const auto now = Clock::now();
  if (!loaded) {
    ++consecutiveFailures_;
    const int doublings = std::min(consecutiveFailures_ - 1, 20);
    const std::chrono::seconds backoff =
        std::min(settings_.retryBackoffMax,
                 std::chrono::seconds(settings_.retryBackoffMin.count() << doublings));
    if (fromNetwork) nextRefresh_ = now + backoff;
    const std::string kept =
        loaded_ ? "keeping the last good set of " + std::to_string(keys_.size()) + " key(s)"
                : "no keys loaded yet";
    const std::string message = "JWKS refresh failed (" + kept + ")" +
                                (fromNetwork ? ", retrying in " + describe(backoff) : "") + ": " +
                                loaded.status().toString();
    if (consecutiveFailures_ == 1) {
      logger().warning(message);
    } else {
      logger().debug(message);
    }
    return loaded.status();
  }
  const bool changed = !loaded_ || loaded->keys.size() != keys_.size() ||
                       !std::equal(keys_.begin(), keys_.end(), loaded->keys.begin(),
                                   [](const auto& a, const auto& b) { return a.first == b.first; });
  const auto period = std::clamp(loaded->maxAge.value_or(settings_.defaultRefreshPeriod),
                                 settings_.minRefreshPeriod,
                                 std::max(settings_.minRefreshPeriod, settings_.maxRefreshPeriod));
  if (fromNetwork) nextRefresh_ = now + period;
  const std::string message = "JWKS loaded: " + std::to_string(loaded->keys.size()) +
                              " RSA key(s)" +
                              (fromNetwork ? ", next refresh in " + describe(period) : "");
  if (consecutiveFailures_ > 0) {
    logger().information(message + " (after " + std::to_string(consecutiveFailures_) +
                         " failed refresh(es))");
  } else if (changed) {
    logger().information(message);
  } else {
    logger().debug(message);
  }
  consecutiveFailures_ = 0;
  keys_ = std::move(loaded->keys);
  if (!loaded->issuer.empty()) issuer_ = std::move(loaded->issuer);
  loaded_ = true;
  return Status::ok();
}

void JwksCache::requestRefreshLocked() {
  if (refreshing_ || requested_) return;  // one is on its way
  if (lastAttempt_ && Clock::now() - *lastAttempt_ < settings_.refreshInterval) return;
  requested_ = true;
  changed_.notify_all();
}

void JwksCache::runRefresher() {
  std::unique_lock lock(mutex_);
  while (!stopping_) {
    const bool due = requested_ || (nextRefresh_ && Clock::now() >= *nextRefresh_);
    if (!due || refreshing_) {
      if (nextRefresh_ && !refreshing_) {
        changed_.wait_until(lock, *nextRefresh_);
      } else {
        changed_.wait(lock);
      }
      continue;
    }
    requested_ = false;
    (void)refreshLocked(lock);
  }
}

Status JwksCache::reload() {
  std::unique_lock lock(mutex_);
  changed_.wait(lock, [this] { return !refreshing_; });
  return refreshLocked(lock);
}

Result<SigningKey> JwksCache::find(std::string_view kid) {
  const std::lock_guard lock(mutex_);
  if (const auto it = keys_.find(std::string(kid)); it != keys_.end()) return it->second;
  requestRefreshLocked();
  if (!loaded_) return Status(StatusCode::kUnavailable, "no JWKS loaded");
  return Status(StatusCode::kNotFound, "unknown kid");
}

Result<std::map<std::string, SigningKey>> JwksCache::all() {
  const std::lock_guard lock(mutex_);
  if (loaded_) return keys_;
  requestRefreshLocked();
  return Status(StatusCode::kUnavailable, "no JWKS loaded");
}

std::string JwksCache::discoveredIssuer() const {
  const std::lock_guard lock(mutex_);
  return issuer_;
}

std::uint64_t JwksCache::refreshAttempts() const {
  const std::lock_guard lock(mutex_);
  return attempts_;
}

std::optional<std::chrono::steady_clock::duration> JwksCache::timeToNextRefresh() const {
  const std::lock_guard lock(mutex_);
  if (!nextRefresh_) return std::nullopt;
  return std::max(Clock::duration::zero(), *nextRefresh_ - Clock::now());
}

}  // namespace kc::api
