#pragma once
// CORS for the one configured web-vault origin. Other origins get no CORS headers at all;
// the browser then refuses the response, which is the point.

#include <Poco/Net/HTTPServerRequest.h>
#include <Poco/Net/HTTPServerResponse.h>

#include <string>
#include <string_view>

namespace kc::api {

class CorsPolicy {
 public:
  // `allowedOrigin` may end in '/'; empty allows no origin.
  explicit CorsPolicy(const std::string& allowedOrigin);

  // Whether `origin` is the allowed one (exact match after trimming a trailing '/').
  bool allows(std::string_view origin) const;

  // Adds the CORS headers to `response` when `request` comes from the allowed origin; for a
  // preflight (OPTIONS with Access-Control-Request-Method) also the allowed methods and the
  // requested headers. Returns whether it added any.
  bool apply(const Poco::Net::HTTPServerRequest& request,
             Poco::Net::HTTPServerResponse& response) const;

  static constexpr const char* kAllowedMethods = "GET, POST, PUT, OPTIONS";

 private:
  std::string origin_;
};

}  // namespace kc::api
