#pragma once
// RequestHandlerFactory: the whole HTTP API as one Poco request handler factory. The daemon
// owns a KeyService, a JwksCache, a JwtValidator and a Metrics, and serves them through
// HttpFront (HttpFront.h, plain HTTP or TLS); Poco's own server takes the factory as well:
//
//   Poco::Net::ServerSocket socket(Poco::Net::SocketAddress(host, port));
//   Poco::Net::HTTPServer server(
//       new kc::api::RequestHandlerFactory(keyService, validator, metrics, apiSettings),
//       socket, new Poco::Net::HTTPServerParams);
//   server.start();  ...  server.stopAll(true);
//
// (Poco takes ownership of the factory and the params.) The referenced objects must outlive
// the server. GET /metrics and the health report's detail belong on the admin listener
// (AdminRequestHandlerFactory.h), which shares the HealthCache passed to both.

#include <Poco/Net/HTTPRequestHandlerFactory.h>

#include <chrono>
#include <cstddef>
#include <memory>
#include <string>

#include "kc/api/TrustedProxies.h"

namespace kc::api {

class CorsPolicy;
class HealthCache;
class KeyService;
class JwtValidator;
class Metrics;

struct ApiSettings {
  // The Bitwarden web vault's origin ("https://vault.example.com"); only it gets CORS headers.
  // A trailing '/' is ignored. Empty: no origin does.
  std::string webVaultOrigin;
  std::size_t maxBodyBytes = 64 * 1024;  // larger bodies are answered 413
  // The proxies whose X-Forwarded-For names the client (TrustedProxies.h); none: the peer
  // address is the client and X-Forwarded-For is ignored.
  TrustedProxies trustedProxies;
  // GET /metrics on this port too (server.public_metrics); otherwise 404, and the admin
  // listener serves it.
  bool serveMetrics = false;
  // /health?format=json names each component's detail (module path, key label, database
  // errors, file paths); otherwise only names and states. The admin listener always does.
  bool healthDetail = false;
  // The longest one answer may take to be sent (server.write_timeout_s): a client that does
  // not take it in time is disconnected (WriteDeadline), so it cannot hold a worker.
  std::chrono::seconds writeTimeout{15};
};

// A request the server refused before routing it (HttpFront.h): 431 for a head over the
// limit, 400 for a malformed one. `reason` is our own fixed text, sent and audited.
struct HeadRefusal {
  int status = 400;
  std::string reason;
};

class RequestHandlerFactory : public Poco::Net::HTTPRequestHandlerFactory {
 public:
  // `health`: the cache the admin listener shares; none: one of its own over `keys`.
  RequestHandlerFactory(KeyService& keys, const JwtValidator& validator, Metrics& metrics,
                        ApiSettings settings, std::shared_ptr<HealthCache> health = nullptr);
  ~RequestHandlerFactory() override;

  // A new handler for `request`; Poco deletes it after the response.
  Poco::Net::HTTPRequestHandler* createRequestHandler(
      const Poco::Net::HTTPServerRequest& request) override;

  // A handler that answers `refusal` with the headers every answer carries (X-Request-Id,
  // Cache-Control, CORS for the web vault), a log line and an audit record (KeyService::
  // recordRefusal); for a request built from what could be read of its head.
  Poco::Net::HTTPRequestHandler* createRefusalHandler(HeadRefusal refusal);

 private:
  KeyService& keys_;
  const JwtValidator& validator_;
  Metrics& metrics_;
  const ApiSettings settings_;
  std::unique_ptr<const CorsPolicy> cors_;
  std::shared_ptr<HealthCache> health_;
};

}  // namespace kc::api
