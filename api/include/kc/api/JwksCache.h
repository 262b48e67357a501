#pragma once
// JwksCache: the identity server's signing keys, for JwtValidator. Either discovered
// (<identityServerUri>/.well-known/openid-configuration names `issuer` and `jwks_uri`) and
// fetched over HTTP(S), or read from a JWKS file for air-gapped sites. Only RSA keys meant
// for signatures are kept. Thread-safe: many request threads look keys up concurrently.
//
// Refresh policy: a lookup that finds no key for a `kid` refreshes the set, at most once per
// `refreshInterval`; a failed refresh keeps the last good set. reload() refreshes now (call
// it at start-up and on SIGHUP).

#include <chrono>
#include <cstdint>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>

#include "kc/Result.h"

struct evp_pkey_st;  // OpenSSL's EVP_PKEY, kept out of this header

namespace kc::api {

class Metrics;

struct JwksSettings {
  std::string identityServerUri;  // e.g. "https://sso.example.com/identity"; or empty with jwksFile
  std::string jwksFile;           // a JWKS document on disk; wins over identityServerUri
  std::string caFile;             // PEM CA bundle for the identity server's TLS; empty: system CAs
  std::chrono::seconds refreshInterval{60};  // minimum time between refreshes on unknown kid
  std::chrono::seconds connectTimeout{5};
  std::chrono::seconds readTimeout{10};
  std::size_t maxDocumentBytes = 1 << 20;  // discovery and JWKS responses larger are refused
};

// One RSA verification key of the set.
struct SigningKey {
  std::string kid;
  std::string algorithm;             // the JWK's `alg` ("RS256", "PS256"), or "" for either
  std::shared_ptr<evp_pkey_st> key;  // an RSA public key of at least 2048 bits
};

class JwksCache {
 public:
  // Does no I/O; the first lookup (or reload()) loads the keys. `metrics` may be null.
  explicit JwksCache(JwksSettings settings, Metrics* metrics = nullptr);
  ~JwksCache();
  JwksCache(const JwksCache&) = delete;
  JwksCache& operator=(const JwksCache&) = delete;

  // Loads the set now (discovery + JWKS, or the file), ignoring the rate limit. On failure
  // returns why (UNAVAILABLE for network faults, INVALID_ARGUMENT for bad documents) and
  // keeps the last good set.
  Status reload();

  // The key named `kid`, refreshing (rate-limited) when it is not in the set. NOT_FOUND when
  // no such key exists after that; UNAVAILABLE when no key set was ever loaded.
  Result<SigningKey> find(std::string_view kid);

  // Every key of the current set (for a token without `kid`), loading it if none is loaded.
  Result<std::map<std::string, SigningKey>> all();

  // The issuer named by discovery; empty before a successful discovery or with a JWKS file.
  std::string discoveredIssuer() const;

  // How many times the set was fetched or read (successfully or not).
  std::uint64_t refreshAttempts() const;

 private:
  struct Loaded;
  Result<Loaded> load() const;
  Status refresh(bool force);

  const JwksSettings settings_;
  Metrics* const metrics_;
  std::mutex refreshMutex_;   // one refresh at a time; held during I/O, never with mutex_ waited on
  mutable std::mutex mutex_;  // guards the fields below
  std::map<std::string, SigningKey> keys_;
  bool loaded_ = false;
  std::string issuer_;
  std::optional<std::chrono::steady_clock::time_point> lastAttempt_;
  std::uint64_t attempts_ = 0;
};

}  // namespace kc::api
