#include "kc/api/RequestHandlerFactory.h"

#include <memory>

#include "RequestHandler.h"
#include "kc/api/HealthCache.h"

namespace kc::api {

RequestHandlerFactory::RequestHandlerFactory(KeyService& keys, const JwtValidator& validator,
                                             Metrics& metrics, ApiSettings settings,
                                             std::shared_ptr<HealthCache> health)
    : keys_(keys),
      validator_(validator),
      metrics_(metrics),
      settings_(std::move(settings)),
      cors_(std::make_unique<CorsPolicy>(settings_.webVaultOrigin)),
      health_(health ? std::move(health)
                     : std::make_shared<HealthCache>(keys, HealthCache::kDefaultMaxAge, &metrics)) {
}

RequestHandlerFactory::~RequestHandlerFactory() = default;

Poco::Net::HTTPRequestHandler* RequestHandlerFactory::createRequestHandler(
    const Poco::Net::HTTPServerRequest&) {
  return new RequestHandler(keys_, validator_, metrics_, settings_, *cors_,
                            *health_);  // Poco deletes it
}

Poco::Net::HTTPRequestHandler* RequestHandlerFactory::createRefusalHandler(HeadRefusal refusal) {
  return new RequestHandler(keys_, validator_, metrics_, settings_, *cors_, *health_,
                            std::move(refusal));
}

}  // namespace kc::api
