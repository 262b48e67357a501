#include "kc/api/HttpsProxy.h"

#include <Poco/Exception.h>
#include <Poco/Net/IPAddress.h>
#include <Poco/URI.h>

#include <cstdlib>

#include "kc/Text.h"

namespace kc::api {
namespace {

std::optional<std::string> processVariable(const std::string& name) {
  const char* value = std::getenv(name.c_str());  // NOLINT(concurrency-mt-unsafe): read once
  if (value == nullptr) return std::nullopt;
  return std::string(value);
}

bool isAddressLiteral(std::string_view host) {
  Poco::Net::IPAddress address;
  return Poco::Net::IPAddress::tryParse(std::string(host), address);
}

// One no_proxy entry split into host and port ("" and 0 when absent).
struct NoProxyEntry {
  std::string host;
  std::uint16_t port = 0;
  bool valid = true;
};

NoProxyEntry parseEntry(std::string_view text) {
  NoProxyEntry out;
  std::string_view port;
  if (!text.empty() && text.front() == '[') {  // [v6] or [v6]:port
    const auto close = text.find(']');
    if (close == std::string_view::npos) return {.valid = false};
    out.host = text.substr(1, close - 1);
    if (close + 1 < text.size()) {
      if (text[close + 1] != ':') return {.valid = false};
      port = text.substr(close + 2);
    }
  } else if (const auto colon = text.find(':');
             colon != std::string_view::npos &&
             text.find(':', colon + 1) == std::string_view::npos) {
    out.host = text.substr(0, colon);
    port = text.substr(colon + 1);
  } else {
    out.host = text;  // a name, an IPv4 address or a bare IPv6 address
  }
  if (!port.empty()) {
    unsigned value = 0;
    for (const char c : port) {
      if (c < '0' || c > '9' || value > 65535) return {.valid = false};
      value = value * 10 + static_cast<unsigned>(c - '0');
    }
    if (value == 0 || value > 65535) return {.valid = false};
    out.port = static_cast<std::uint16_t>(value);
  }
  if (out.host.rfind("*.", 0) == 0) out.host.erase(0, 2);
  if (out.host.rfind('.', 0) == 0) out.host.erase(0, 1);
  return out;
}

bool hostMatches(const std::string& host, const std::string& entry) {
  if (host == entry) return true;
  if (entry.empty() || isAddressLiteral(host)) return false;  // addresses match only exactly
  return host.size() > entry.size() && host.ends_with(entry) &&
         host[host.size() - entry.size() - 1] == '.';
}

}  // namespace

HttpsProxy HttpsProxy::fromEnvironment(
    const std::function<std::optional<std::string>(const std::string&)>& lookup) {
  const auto get = [&](const std::string& name) {
    return lookup ? lookup(name) : processVariable(name);
  };
  const auto first = [&](const char* lower, const char* upper) {
    if (auto value = get(lower)) return *value;
    return get(upper).value_or("");
  };
  return HttpsProxy{.url = trim(first("https_proxy", "HTTPS_PROXY")),
                    .noProxy = first("no_proxy", "NO_PROXY")};
}

bool HttpsProxy::bypasses(std::string_view hostText, std::uint16_t port) const {
  if (url.empty()) return true;
  std::string host = toLower(hostText);
  if (host.size() > 2 && host.front() == '[' && host.back() == ']')
    host = host.substr(1, host.size() - 2);
  std::size_t begin = 0;
  while (begin <= noProxy.size()) {
    auto end = noProxy.find_first_of(", \t", begin);
    if (end == std::string::npos) end = noProxy.size();
    const std::string item =
        toLower(trimView(std::string_view(noProxy).substr(begin, end - begin)));
    begin = end + 1;
    if (item.empty()) continue;
    if (item == "*") return true;
    const NoProxyEntry entry = parseEntry(item);
    if (!entry.valid || (entry.port != 0 && entry.port != port)) continue;
    if (hostMatches(host, entry.host)) return true;
  }
  return false;
}

Result<ProxyEndpoint> parseProxyUrl(std::string_view text) {
  std::string url(trimView(text));
  if (url.find("://") == std::string::npos) url = "http://" + url;
  Poco::URI uri;
  try {
    uri = Poco::URI(url);
  } catch (const Poco::Exception&) {
    return Status(StatusCode::kInvalidArgument, "HTTPS_PROXY is not a valid URL");
  }
  if (toLower(uri.getScheme()) != "http") {
    return Status(
        StatusCode::kInvalidArgument,
        "HTTPS_PROXY: only http:// proxies are supported (scheme " + uri.getScheme() + ")");
  }
  if (uri.getHost().empty()) {
    return Status(StatusCode::kInvalidArgument, "HTTPS_PROXY names no host");
  }
  ProxyEndpoint out;
  out.host = uri.getHost();
  // Without a port, 1080, as curl assumes for a proxy.
  out.port = uri.getSpecifiedPort() != 0 ? uri.getSpecifiedPort() : 1080;
  const std::string& userInfo = uri.getUserInfo();  // still percent-encoded
  if (!userInfo.empty()) {
    const auto colon = userInfo.find(':');
    try {
      Poco::URI::decode(userInfo.substr(0, colon), out.username);
      if (colon != std::string::npos) Poco::URI::decode(userInfo.substr(colon + 1), out.password);
    } catch (const Poco::Exception&) {
      return Status(StatusCode::kInvalidArgument, "HTTPS_PROXY: malformed credentials");
    }
  }
  return out;
}

}  // namespace kc::api
