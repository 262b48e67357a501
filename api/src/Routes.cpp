#include "Routes.h"

#include <array>
#include <cctype>

#include "kc/Text.h"

namespace kc::api {
namespace {

constexpr std::array<Route, 6> kRoutes = {{
    {RouteId::kAlive, "/alive", "GET, OPTIONS", false},
    {RouteId::kNow, "/now", "GET, OPTIONS", false},
    {RouteId::kHealth, "/health", "GET, OPTIONS", false},
    {RouteId::kUserKeys, "/user-keys", "GET, POST, PUT, OPTIONS", true},
    {RouteId::kMetrics, "/metrics", "GET, OPTIONS", false},
    {RouteId::kAuditHead, "/audit/head", "GET, OPTIONS", false},
}};

}  // namespace

const Route* matchRoute(std::string_view path) {
  if (path.size() > 1 && path.back() == '/') path.remove_suffix(1);
  for (const auto& route : kRoutes)
    if (equalsIgnoringCase(path, route.path)) return &route;
  return nullptr;
}

bool routeAllows(const Route& route, std::string_view method) {
  std::string_view rest = route.allow;
  while (!rest.empty()) {
    const auto comma = rest.find(',');
    if (rest.substr(0, comma) == method) return true;
    if (comma == std::string_view::npos) break;
    rest.remove_prefix(comma + 1);
    while (!rest.empty() && rest.front() == ' ') rest.remove_prefix(1);
  }
  return false;
}

}  // namespace kc::api
