#include "kc/api/AdminRequestHandlerFactory.h"

#include <Poco/Logger.h>
#include <Poco/Net/HTTPRequest.h>
#include <Poco/Net/HTTPRequestHandler.h>
#include <Poco/Net/HTTPServerRequest.h>
#include <Poco/Net/HTTPServerResponse.h>

#include <exception>
#include <string>

#include "Responses.h"
#include "WriteDeadline.h"
#include "kc/Text.h"
#include "kc/api/HealthCache.h"
#include "kc/api/Metrics.h"

namespace kc::api {
namespace {

using Poco::Net::HTTPServerRequest;
using Poco::Net::HTTPServerResponse;

constexpr const char* kText = "text/plain; charset=utf-8";
constexpr const char* kJson = "application/json; charset=utf-8";

// One request on the admin listener.
class AdminRequestHandler final : public Poco::Net::HTTPRequestHandler {
 public:
  AdminRequestHandler(Metrics& metrics, HealthCache& health, const AdminSettings& settings)
      : metrics_(metrics), health_(health), settings_(settings) {}

  void handleRequest(HTTPServerRequest& request, HTTPServerResponse& response) override {
    try {
      answer(request, response);
    } catch (const std::exception& e) {
      Poco::Logger::get("kc.http").error(std::string("admin request failed: ") + e.what());
      response.setKeepAlive(false);  // a failed send: Poco closes the connection after this
      if (!response.sent()) send(request, response, 500, kText, "Internal error.");
    }
  }

 private:
  void answer(HTTPServerRequest& request, HTTPServerResponse& response) {
    std::string path = request.getURI().substr(0, request.getURI().find_first_of("?#"));
    if (path.size() > 1 && path.back() == '/') path.pop_back();
    const bool isMetrics = equalsIgnoringCase(path, "/metrics") && settings_.serveMetrics;
    const bool isHealth = equalsIgnoringCase(path, "/health");
    if (!isMetrics && !isHealth) return send(request, response, 404, kText, "Not found.");
    if (request.getMethod() != Poco::Net::HTTPRequest::HTTP_GET) {
      response.set("Allow", "GET");
      return send(request, response, 405, kText, "Method not allowed.");
    }
    if (isMetrics) return send(request, response, 200, Metrics::kContentType, metrics_.render());
    const HealthReport report = health_.report();
    const int status = report.healthy ? 200 : 503;
    if (queryAsksForJson(request.getURI())) {
      return send(request, response, status, kJson, healthJson(report, /*withDetail=*/true));
    }
    send(request, response, status, kText, healthText(report));
  }

  void send(HTTPServerRequest& request, HTTPServerResponse& response, int status,
            const char* contentType, const std::string& body) {
    const WriteDeadline deadline(request, settings_.writeTimeout);
    setStatusLine(response, status);
    response.set("Cache-Control", "no-store");
    response.setContentType(contentType);
    response.setContentLength(static_cast<std::streamsize>(body.size()));
    flushAnswer(sendAnswer(response, body));
  }

  Metrics& metrics_;
  HealthCache& health_;
  const AdminSettings& settings_;
};

}  // namespace

AdminRequestHandlerFactory::AdminRequestHandlerFactory(Metrics& metrics,
                                                       std::shared_ptr<HealthCache> health,
                                                       AdminSettings settings)
    : metrics_(metrics), health_(std::move(health)), settings_(settings) {}

Poco::Net::HTTPRequestHandler* AdminRequestHandlerFactory::createRequestHandler(
    const Poco::Net::HTTPServerRequest&) {
  return new AdminRequestHandler(metrics_, *health_, settings_);  // Poco deletes it
}

}  // namespace kc::api
