#pragma once
// What the API tests share: RSA signing identities and tokens made with OpenSSL, an identity
// server (OIDC discovery + JWKS) on loopback, an in-memory KeyService, the API served by a
// real Poco HTTPServer on 127.0.0.1, and a small HTTP client.

#include <Poco/Net/HTTPServer.h>

#include <atomic>
#include <chrono>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <thread>
#include <vector>

#include "kc/api/AdminRequestHandlerFactory.h"
#include "kc/api/HealthCache.h"
#include "kc/api/JwksCache.h"
#include "kc/api/JwtValidator.h"
#include "kc/api/KeyService.h"
#include "kc/api/Metrics.h"
#include "kc/api/RequestHandlerFactory.h"
#include "support/ConnectProxy.h"
#include "support/TempDir.h"
#include "support/UserIds.h"

namespace kc::test {

// An RSA key pair that signs tokens; `kid` names it in the JWKS.
class Signer {
 public:
  Signer(std::string kid, int bits = 2048);
  const std::string& kid() const { return kid_; }
  // The public half as a JWK object (JSON text); an empty `alg` is left out.
  std::string jwk(const std::string& use = "sig", const std::string& alg = "RS256") const;
  // The public key as PEM (for the HS256 key-confusion attack).
  std::string publicPem() const;
  // Signature of `input` with RS256 or PS256.
  std::string sign(const std::string& algorithm, const std::string& input) const;

 private:
  std::string kid_;
  std::shared_ptr<evp_pkey_st> key_;
};

// Process-wide signers (key generation is slow): "key-a", "key-b", "key-c".
const Signer& signerA();
const Signer& signerB();
const Signer& foreignSigner();

// {"keys":[...]} of the given JWK objects.
std::string jwksOf(const std::vector<std::string>& jwks);

std::string base64Url(const std::string& bytes);

// The claims a Bitwarden client's token carries; each test changes what it tests.
struct TokenClaims {
  std::string issuer;
  std::string subject = "8F5C3F2A-1B2C-4D3E-9F10-112233445566";
  std::optional<std::string> amrJson = R"(["Application"])";  // raw JSON; nullopt omits
  std::optional<std::string> scopeJson = R"(["api","offline_access"])";
  std::optional<long long> expiresIn = 3600;  // seconds from now; nullopt omits exp
  std::optional<long long> notBeforeIn = -60;
  std::string payloadJson() const;
};

// A compact JWT signed by `signer` with `algorithm` (RS256/PS256); `kid` defaults to the
// signer's, "" omits it.
std::string makeToken(const Signer& signer, const TokenClaims& claims,
                      const std::string& algorithm = "RS256",
                      std::optional<std::string> kid = std::nullopt);
// header.payload.signature from raw JSON texts and a raw signature.
std::string assembleToken(const std::string& headerJson, const std::string& payloadJson,
                          const std::string& signature);
// HMAC-SHA256 of `input` keyed with `key`.
std::string hmacSha256(const std::string& key, const std::string& input);

// OIDC discovery and a JWKS on 127.0.0.1, the JWKS replaceable at any time; over plain
// HTTP, or over HTTPS with a self-signed certificate for 127.0.0.1 (caFile()).
class IdentityServer {
 public:
  enum class Transport { kHttp, kHttps };
  explicit IdentityServer(Transport transport = Transport::kHttp);
  ~IdentityServer();
  IdentityServer(const IdentityServer&) = delete;
  IdentityServer& operator=(const IdentityServer&) = delete;
  std::string uri() const;  // http(s)://127.0.0.1:<port>/identity
  std::string issuer() const { return uri(); }
  int port() const { return port_; }
  std::string caFile() const;  // the certificate (PEM) of an HTTPS server
  void setJwks(std::string jwks);
  void setJwksUri(std::string jwksUri);                // what discovery names
  void setCacheControl(std::string cacheControl);      // sent with the JWKS; "" sends none
  void setJwksDelay(std::chrono::milliseconds delay);  // a slow identity server
  int jwksFetches() const { return jwksFetches_.load(); }
  void stop();  // as if it went down

  struct State {
    std::mutex mutex;
    std::string jwks;
    std::string issuer;
    std::string jwksUri;
    std::string cacheControl;
    std::chrono::milliseconds jwksDelay{0};
  };

 private:
  std::shared_ptr<State> state_;
  std::atomic<int> jwksFetches_{0};
  std::unique_ptr<TempDir> certificateDir_;
  std::unique_ptr<Poco::Net::HTTPServer> server_;
  int port_ = 0;
};

// An in-memory KeyService (the real one is tested in appliance/).
class MemoryKeyService : public api::KeyService {
 public:
  Result<SecretBytes> fetchUserKey(const api::RequestContext& context) override;
  Status depositUserKey(const api::RequestContext& context, const SecretBytes& key,
                        api::DepositMode mode) override;
  api::HealthReport checkHealth() override;
  void recordRefusal(const api::RequestContext& context, int httpStatus,
                     std::string_view reason) override;

  void put(const UserId& userId, const std::string& key);
  std::optional<std::string> get(const UserId& userId);
  void failWith(Status status);  // every key call fails so until cleared with OK
  void setHealthy(bool healthy);
  // Each health check takes `delay` (a slow token or database).
  void setHealthCheckDelay(std::chrono::milliseconds delay);
  // How many health checks were asked of the service.
  int healthChecks() const { return healthChecks_.load(); }
  api::RequestContext lastContext();
  struct Refusal {
    int status;
    std::string reason;
    std::optional<UserId> userId;  // none when the token named no user
  };
  std::vector<Refusal> refusals();

 private:
  std::mutex mutex_;
  std::map<UserId, std::string> keys_;
  Status failure_;
  bool healthy_ = true;
  std::chrono::milliseconds healthCheckDelay_{0};
  std::atomic<int> healthChecks_{0};
  api::RequestContext lastContext_;
  std::vector<Refusal> refusals_;
};

struct HttpAnswer {
  int status = 0;
  std::map<std::string, std::string> headers;  // names lower-cased
  std::string body;
  bool has(const std::string& name) const { return headers.contains(name); }
  std::string header(const std::string& name) const {
    const auto it = headers.find(name);
    return it == headers.end() ? "" : it->second;
  }
};

struct HttpCall {
  std::string method = "GET";
  std::string path = "/";
  std::map<std::string, std::string> headers;
  std::optional<std::string> body;
  bool chunked = false;
  std::optional<long long> declaredLength;  // a Content-Length sent with no body
};

HttpAnswer call(int port, const HttpCall& request);

struct ApiServerOptions {
  std::string webVaultOrigin = "https://vault.example.test/";
  std::chrono::seconds refreshInterval{0};
  std::string jwksFile;        // instead of the identity server
  std::string issuer;          // explicit issuer; empty: discovered
  std::string identityUri;     // empty: the built-in identity server's
  std::string trustedProxies;  // server.trusted_proxies; empty: X-Forwarded-For is ignored
  IdentityServer::Transport identityTransport = IdentityServer::Transport::kHttp;
  // The built-in identity server speaks plain HTTP on loopback unless identityTransport says
  // otherwise, so the tests allow it as a private network's settings would.
  bool allowInsecureHttp = true;
  bool loadAtStart = true;  // reload() once, as the daemon does at start-up
  std::function<void(api::JwksSettings&)> adjustJwks;  // refresh periods, proxy, jwksUri...
  bool publicMetrics = false;                          // server.public_metrics
  bool publicHealthDetail = false;                     // server.public_health_detail
  std::chrono::seconds writeTimeout{15};               // server.write_timeout_s, on both listeners
};

// The API on 127.0.0.1 with an identity server behind it, and the admin listener beside it
// (one HealthCache for both).
class ApiServer {
 public:
  ApiServer() : ApiServer(ApiServerOptions()) {}
  explicit ApiServer(ApiServerOptions options);
  ~ApiServer();

  int port() const { return port_; }
  int adminPort() const { return adminPort_; }
  IdentityServer& identity() { return identity_; }
  MemoryKeyService& keys() { return keys_; }
  api::Metrics& metrics() { return metrics_; }
  api::JwksCache& jwks() { return *jwks_; }

  HttpAnswer call(HttpCall request) const { return test::call(port_, request); }
  HttpAnswer callAdmin(HttpCall request) const { return test::call(adminPort_, request); }
  // A token from signerA with default claims for `userId` (or the default subject).
  std::string token(const TokenClaims& claims) const;
  std::string token() const { return token(defaultClaims()); }
  TokenClaims defaultClaims() const;
  // GET/POST/PUT /user-keys with a bearer token.
  HttpAnswer userKeys(const std::string& method, const std::string& token,
                      std::optional<std::string> body = std::nullopt,
                      const std::string& contentType = "application/json; charset=utf-8") const;

 private:
  IdentityServer identity_;
  MemoryKeyService keys_;
  api::Metrics metrics_;
  std::unique_ptr<api::JwksCache> jwks_;
  std::unique_ptr<api::JwtValidator> validator_;
  std::shared_ptr<api::HealthCache> health_;
  std::unique_ptr<Poco::Net::HTTPServer> server_;
  std::unique_ptr<Poco::Net::HTTPServer> admin_;
  int port_ = 0;
  int adminPort_ = 0;
};

// `{"key":"<base64 of n bytes>"}` and the base64 alone.
std::string keyBase64(std::size_t bytes, char fill = 'k');
std::string keyBody(std::size_t bytes, const std::string& property = "key");

}  // namespace kc::test
