#include "Cors.h"

#include <Poco/Net/HTTPRequest.h>

namespace kc::api {
namespace {

std::string_view trimSlash(std::string_view text) {
  if (!text.empty() && text.back() == '/') text.remove_suffix(1);
  return text;
}

// Echo only a plausible header list: token characters, commas and spaces, bounded length.
bool isHeaderList(std::string_view text) {
  if (text.empty() || text.size() > 1024) return false;
  for (const char c : text) {
    const bool ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
                    c == '-' || c == '_' || c == ',' || c == ' ';
    if (!ok) return false;
  }
  return true;
}

}  // namespace

CorsPolicy::CorsPolicy(const std::string& allowedOrigin) : origin_(trimSlash(allowedOrigin)) {}

bool CorsPolicy::allows(std::string_view origin) const {
  return !origin_.empty() && trimSlash(origin) == origin_;
}

bool CorsPolicy::apply(const Poco::Net::HTTPServerRequest& request,
                       Poco::Net::HTTPServerResponse& response) const {
  const std::string origin = request.get("Origin", "");  // a copy: get() may return its default
  if (!allows(origin)) return false;
  response.set("Access-Control-Allow-Origin", origin_);
  response.set("Access-Control-Allow-Credentials", "true");
  response.set("Vary", "Origin");
  const bool preflight = request.getMethod() == Poco::Net::HTTPRequest::HTTP_OPTIONS &&
                         request.has("Access-Control-Request-Method");
  if (preflight) {
    response.set("Access-Control-Allow-Methods", kAllowedMethods);
    const std::string requested = request.get("Access-Control-Request-Headers", "");
    if (isHeaderList(requested)) response.set("Access-Control-Allow-Headers", requested);
    response.set("Access-Control-Max-Age", "600");
  }
  return true;
}

}  // namespace kc::api
