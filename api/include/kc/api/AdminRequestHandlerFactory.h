#pragma once
// AdminRequestHandlerFactory: the admin listener (server.admin_address, loopback by default),
// for monitoring only: GET /metrics (Prometheus) and GET /health with the components' detail
// (?format=json). Plain HTTP, no CORS, no authentication: keep it off public networks. Other
// paths answer 404, other methods 405. It shares the API's HealthCache:
//
//   auto health = std::make_shared<kc::api::HealthCache>(keyService, kDefaultMaxAge, &metrics);
//   Poco::Net::HTTPServer admin(
//       new kc::api::AdminRequestHandlerFactory(metrics, health, adminSettings), socket, params);
//
// `metrics` must outlive the server.

#include <Poco/Net/HTTPRequestHandlerFactory.h>

#include <chrono>
#include <memory>

namespace kc::api {

class HealthCache;
class Metrics;

struct AdminSettings {
  bool serveMetrics = true;  // GET /metrics; false: 404
  // The longest one answer may take to be sent (server.write_timeout_s): a client that does
  // not take it in time is disconnected (WriteDeadline), so it cannot hold a worker.
  std::chrono::seconds writeTimeout{15};
};

class AdminRequestHandlerFactory : public Poco::Net::HTTPRequestHandlerFactory {
 public:
  AdminRequestHandlerFactory(Metrics& metrics, std::shared_ptr<HealthCache> health,
                             AdminSettings settings);

  // A new handler for `request`; Poco deletes it after the response.
  Poco::Net::HTTPRequestHandler* createRequestHandler(
      const Poco::Net::HTTPServerRequest& request) override;

 private:
  Metrics& metrics_;
  const std::shared_ptr<HealthCache> health_;
  const AdminSettings settings_;
};

}  // namespace kc::api
