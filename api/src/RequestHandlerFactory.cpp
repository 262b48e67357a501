#include "kc/api/RequestHandlerFactory.h"

#include <memory>

#include "RequestHandler.h"

namespace kc::api {

RequestHandlerFactory::RequestHandlerFactory(KeyService& keys, const JwtValidator& validator,
                                             Metrics& metrics, ApiSettings settings)
    : keys_(keys),
      validator_(validator),
      metrics_(metrics),
      settings_(std::move(settings)),
      cors_(std::make_unique<CorsPolicy>(settings_.webVaultOrigin)) {}

RequestHandlerFactory::~RequestHandlerFactory() = default;

Poco::Net::HTTPRequestHandler* RequestHandlerFactory::createRequestHandler(
    const Poco::Net::HTTPServerRequest&) {
  return new RequestHandler(keys_, validator_, metrics_, settings_, *cors_);  // Poco deletes it
}

Poco::Net::HTTPRequestHandler* RequestHandlerFactory::createRefusalHandler(HeadRefusal refusal) {
  return new RequestHandler(keys_, validator_, metrics_, settings_, *cors_, std::move(refusal));
}

}  // namespace kc::api
