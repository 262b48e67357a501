#pragma once
// JwksCache: the identity server's signing keys, for JwtValidator. Either discovered
// (<identityServerUri>/.well-known/openid-configuration names `issuer` and `jwks_uri`) and
// fetched over HTTPS, or read from a JWKS file for air-gapped sites. Only RSA keys meant
// for signatures are kept. Thread-safe: many request threads look keys up concurrently.
//
// Transport: every identity URL must be https:// unless allowInsecureHttp (a private
// network); the discovery document's `jwks_uri` must share the discovery URL's scheme, host
// and port unless jwksUri names the JWKS explicitly. An https fetch goes through `proxy`.
//
// Refresh policy: lookups never wait for the network. One refresh runs at a time, on a
// background thread (or on the caller of reload()):
// - on a timer: after the JWKS response's Cache-Control max-age, bounded to
//   [minRefreshPeriod, maxRefreshPeriod], or defaultRefreshPeriod without one; a key the
//   identity server withdrew is no longer trusted once the next refresh succeeds;
// - on an unknown `kid`: at most once per `refreshInterval`; the lookup itself answers "not
//   found" at once, and a request with another unknown kid while a refresh runs starts none;
// - after a failure: the last good set is kept and the refresh retried after
//   retryBackoffMin, doubling up to retryBackoffMax; the failure is logged once, not per try.
// reload() refreshes now and waits for it (call it at start-up and on SIGHUP).

#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>
#include <thread>

#include "kc/Result.h"
#include "kc/api/HttpsProxy.h"

struct evp_pkey_st;  // OpenSSL's EVP_PKEY, kept out of this header

namespace kc::api {

class Metrics;

struct JwksSettings {
  std::string identityServerUri;  // e.g. "https://sso.example.com/identity"; or empty with jwksFile
  std::string jwksUri;   // the JWKS URL, used instead of discovery's `jwks_uri`; empty: discovered
  std::string jwksFile;  // a JWKS document on disk; wins over identityServerUri
  std::string caFile;    // PEM CA bundle for the identity server's TLS; empty: system CAs
  bool allowInsecureHttp = false;  // accept http:// identity URLs (a private network only)
  HttpsProxy proxy;                // forward proxy for https fetches; empty: direct
  std::chrono::seconds refreshInterval{60};  // minimum time between refreshes on unknown kid
  std::chrono::seconds defaultRefreshPeriod{std::chrono::hours(12)};  // without max-age
  std::chrono::seconds minRefreshPeriod{std::chrono::minutes(5)};     // bounds on max-age
  std::chrono::seconds maxRefreshPeriod{std::chrono::hours(24)};
  std::chrono::seconds retryBackoffMin{30};  // first retry after a failed refresh
  std::chrono::seconds retryBackoffMax{std::chrono::minutes(15)};
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
  // Starts the refresh thread; does no I/O until reload() or a lookup asks for keys.
  // `metrics` may be null.
  explicit JwksCache(JwksSettings settings, Metrics* metrics = nullptr);
  // Stops the refresh thread, waiting for a fetch in flight (bounded by the timeouts).
  ~JwksCache();
  JwksCache(const JwksCache&) = delete;
  JwksCache& operator=(const JwksCache&) = delete;

  // Loads the set now (discovery + JWKS, or the file), ignoring the rate limit, after any
  // refresh in flight. On failure returns why (UNAVAILABLE for network faults,
  // INVALID_ARGUMENT for bad documents, POLICY_VIOLATION for a URL the transport rules
  // refuse) and keeps the last good set.
  Status reload();

  // The key named `kid`. When the set has none, asks for a refresh (rate-limited) and
  // answers at once: NOT_FOUND, or UNAVAILABLE when no key set was ever loaded.
  Result<SigningKey> find(std::string_view kid);

  // Every key of the current set (for a token without `kid`); UNAVAILABLE, asking for a
  // refresh, when none is loaded.
  Result<std::map<std::string, SigningKey>> all();

  // The issuer named by discovery; empty before a successful discovery or with a JWKS file.
  std::string discoveredIssuer() const;

  // How many times the set was fetched or read (successfully or not).
  std::uint64_t refreshAttempts() const;

  // How long until the timer's next refresh; nullopt when none is planned (a JWKS file, or
  // nothing tried yet).
  std::optional<std::chrono::steady_clock::duration> timeToNextRefresh() const;

 private:
  struct Loaded;
  using Clock = std::chrono::steady_clock;
  Result<Loaded> load() const;
  Status refreshLocked(std::unique_lock<std::mutex>& lock);
  void requestRefreshLocked();
  void runRefresher();

  const JwksSettings settings_;
  Metrics* const metrics_;
  mutable std::mutex mutex_;  // guards every field below
  std::condition_variable changed_;
  std::map<std::string, SigningKey> keys_;
  bool loaded_ = false;
  std::string issuer_;
  bool refreshing_ = false;  // a load is in flight (the refresher's or reload()'s)
  bool requested_ = false;   // a lookup asked the refresher for a refresh
  bool stopping_ = false;
  std::optional<Clock::time_point> lastAttempt_;
  std::optional<Clock::time_point> nextRefresh_;  // the timer's; none: no timer
  std::uint64_t attempts_ = 0;
  int consecutiveFailures_ = 0;
  std::thread refresher_;  // started by the constructor, after every field above
};

}  // namespace kc::api
