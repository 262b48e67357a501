#pragma once
// The route table: which paths exist and which methods each answers. Matching is on the
// path alone (no query), case-insensitive, ignoring one trailing '/', as ASP.NET routes do.

#include <string_view>

namespace kc::api {

enum class RouteId { kAlive, kNow, kHealth, kUserKeys, kMetrics, kAuditHead };

struct Route {
  RouteId id;
  std::string_view path;   // also the metrics label
  std::string_view allow;  // the Allow header: the methods answered, OPTIONS included
  bool authenticated;
};

// The route for `path`, or null.
const Route* matchRoute(std::string_view path);

// Whether `route` answers `method` (OPTIONS is answered everywhere, as the preflight).
bool routeAllows(const Route& route, std::string_view method);

// The metrics label of a request that matched no route.
inline constexpr std::string_view kUnmatchedRoute = "unmatched";

}  // namespace kc::api
