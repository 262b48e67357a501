#include "HttpFetch.h"

#include <Poco/Exception.h>
#include <Poco/Net/Context.h>
#include <Poco/Net/HTTPClientSession.h>
#include <Poco/Net/HTTPRequest.h>
#include <Poco/Net/HTTPResponse.h>
#include <Poco/Net/HTTPSClientSession.h>
#include <Poco/Timespan.h>
#include <Poco/URI.h>

#include <istream>
#include <limits>
#include <memory>

#include "kc/Text.h"

namespace kc::api {
namespace {

Result<std::unique_ptr<Poco::Net::HTTPClientSession>> openSession(const Poco::URI& uri,
                                                                  const FetchOptions& options) {
  if (uri.getScheme() != "https") {
    auto session = std::make_unique<Poco::Net::HTTPClientSession>(uri.getHost(), uri.getPort());
    session->setProxyHost("");  // plain http (a private network, by setting) goes direct
    return session;
  }
  // Peer verification on; the CA bundle when given, else OpenSSL's default store.
  Poco::Net::Context::Ptr context =
      new Poco::Net::Context(Poco::Net::Context::TLS_CLIENT_USE, options.caFile,
                             Poco::Net::Context::VERIFY_RELAXED, 9, options.caFile.empty());
  auto session =
      std::make_unique<Poco::Net::HTTPSClientSession>(uri.getHost(), uri.getPort(), context);
  // Poco's sessions would take a process-wide default proxy; only ours applies.
  session->setProxyHost("");
  if (!options.proxy.bypasses(uri.getHost(), uri.getPort())) {
    auto proxy = parseProxyUrl(options.proxy.url);
    if (!proxy) return proxy.status();
    // With a proxy host set, HTTPSClientSession asks the proxy to CONNECT a tunnel and
    // verifies the identity server's certificate through it.
    session->setProxy(proxy->host, proxy->port);
    if (!proxy->username.empty()) session->setProxyCredentials(proxy->username, proxy->password);
  }
  return std::unique_ptr<Poco::Net::HTTPClientSession>(std::move(session));
}

}  // namespace

Result<FetchedDocument> fetchDocument(const std::string& uriText, const FetchOptions& options) {
  Poco::URI uri;
  try {
    uri = Poco::URI(uriText);
  } catch (const Poco::Exception&) {
    return Status(StatusCode::kInvalidArgument, "malformed URI");
  }
  if ((uri.getScheme() != "http" && uri.getScheme() != "https") || uri.getHost().empty()) {
    return Status(StatusCode::kInvalidArgument, "not an http(s) URI: " + uriText);
  }
  try {
    auto opened = openSession(uri, options);
    if (!opened) return opened.status();
    auto& session = *opened;
    const auto toSpan = [](std::chrono::seconds s) {
      return Poco::Timespan(static_cast<long>(s.count()), 0);
    };
    session->setTimeout(toSpan(options.connectTimeout), toSpan(options.readTimeout),
                        toSpan(options.readTimeout));
    Poco::Net::HTTPRequest request(Poco::Net::HTTPRequest::HTTP_GET, uri.getPathAndQuery(),
                                   Poco::Net::HTTPMessage::HTTP_1_1);
    request.set("Accept", "application/json");
    session->sendRequest(request);
    Poco::Net::HTTPResponse response;
    std::istream& body = session->receiveResponse(response);
    if (response.getStatus() != Poco::Net::HTTPResponse::HTTP_OK) {
      return Status(StatusCode::kUnavailable,
                    uriText + " answered " + std::to_string(response.getStatus()));
    }
    if (response.hasContentLength() &&
        response.getContentLength64() > static_cast<Poco::Int64>(options.maxBytes)) {
      return Status(StatusCode::kInvalidArgument, uriText + " sent an oversized document");
    }
    FetchedDocument out;
    out.cacheControl = response.get("Cache-Control", "");
    char buffer[8192];
    while (body) {
      body.read(buffer, sizeof buffer);
      out.body.append(buffer, static_cast<std::size_t>(body.gcount()));
      if (out.body.size() > options.maxBytes) {
        return Status(StatusCode::kInvalidArgument, uriText + " sent an oversized document");
      }
    }
    return out;
  } catch (const Poco::TimeoutException&) {
    return Status(StatusCode::kUnavailable, uriText + " timed out");
  } catch (const Poco::Exception& e) {
    return Status(StatusCode::kUnavailable, uriText + ": " + e.displayText());
  } catch (const std::exception& e) {
    return Status(StatusCode::kUnavailable, uriText + ": " + e.what());
  }
}

std::optional<std::chrono::seconds> maxAgeOf(std::string_view cacheControl) {
  std::optional<std::chrono::seconds> out;
  const auto take = [&out](std::chrono::seconds age) { out = out ? std::min(*out, age) : age; };
  std::size_t begin = 0;
  while (begin <= cacheControl.size()) {
    auto end = cacheControl.find(',', begin);
    if (end == std::string_view::npos) end = cacheControl.size();
    const std::string_view directive = trimView(cacheControl.substr(begin, end - begin));
    begin = end + 1;
    const auto equals = directive.find('=');
    const std::string name = toLower(trimView(directive.substr(0, equals)));
    if (name == "no-store" || name == "no-cache") {
      take(std::chrono::seconds(0));
      continue;
    }
    if (name != "max-age" || equals == std::string_view::npos) continue;
    std::string_view value = trimView(directive.substr(equals + 1));
    if (value.size() >= 2 && value.front() == '"' && value.back() == '"') {
      value = value.substr(1, value.size() - 2);
    }
    if (value.empty()) continue;
    // Delta-seconds: digits only; a value too large for us is "a very long time".
    constexpr long long kCap = std::numeric_limits<int>::max();
    long long seconds = 0;
    bool digits = true;
    for (const char c : value) {
      if (c < '0' || c > '9') {
        digits = false;
        break;
      }
      seconds = std::min(kCap, seconds * 10 + (c - '0'));
    }
    if (digits) take(std::chrono::seconds(seconds));
  }
  return out;
}

}  // namespace kc::api
