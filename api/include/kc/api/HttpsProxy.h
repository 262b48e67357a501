#pragma once
// HttpsProxy: the forward proxy the identity-server fetch goes through, as curl and most
// tools read it from the environment: `https_proxy`/`HTTPS_PROXY` names an HTTP proxy that
// is asked to CONNECT a tunnel (TLS stays end to end), `no_proxy`/`NO_PROXY` lists the hosts
// reached directly. Only https:// fetches use a proxy.

#include <cstdint>
#include <functional>
#include <optional>
#include <string>
#include <string_view>

#include "kc/Result.h"

namespace kc::api {

struct HttpsProxy {
  std::string url;      // "http://[user:password@]host[:port]" or "host[:port]"; empty: none
  std::string noProxy;  // comma-separated: "*", "host", ".domain", "host:port", "10.0.0.1", "[::1]"

  // The lower-case variable wins over the upper-case one, as in curl. `lookup` returns a
  // variable's value, or nullopt when it is not set (default: the process environment).
  static HttpsProxy fromEnvironment(
      const std::function<std::optional<std::string>(const std::string&)>& lookup = {});

  // Whether `host`:`port` is reached without the proxy: no proxy is set, or an entry of
  // `noProxy` matches — "*" every host; a name the host itself or any of its subdomains
  // (a leading "." or "*." is ignored); a literal address only itself; ":port" narrows an
  // entry to that port. Names compare case-insensitively.
  bool bypasses(std::string_view host, std::uint16_t port) const;
};

// The proxy's parts, from HttpsProxy::url.
struct ProxyEndpoint {
  std::string host;
  std::uint16_t port = 80;
  std::string username;  // with password: HTTP Basic proxy authentication
  std::string password;
};

// INVALID_ARGUMENT for a URL that is not an http:// proxy (https:// and socks proxies are not
// supported); the message never repeats credentials.
Result<ProxyEndpoint> parseProxyUrl(std::string_view url);

}  // namespace kc::api
