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
#include <memory>

namespace kc::api {
namespace {

std::unique_ptr<Poco::Net::HTTPClientSession> openSession(const Poco::URI& uri,
                                                          const FetchOptions& options) {
  if (uri.getScheme() == "https") {
    // Peer verification on; the CA bundle when given, else OpenSSL's default store.
    Poco::Net::Context::Ptr context =
        new Poco::Net::Context(Poco::Net::Context::TLS_CLIENT_USE, options.caFile,
                               Poco::Net::Context::VERIFY_RELAXED, 9, options.caFile.empty());
    return std::make_unique<Poco::Net::HTTPSClientSession>(uri.getHost(), uri.getPort(), context);
  }
  return std::make_unique<Poco::Net::HTTPClientSession>(uri.getHost(), uri.getPort());
}

}  // namespace

Result<std::string> fetchDocument(const std::string& uriText, const FetchOptions& options) {
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
    auto session = openSession(uri, options);
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
    std::string out;
    char buffer[8192];
    while (body) {
      body.read(buffer, sizeof buffer);
      out.append(buffer, static_cast<std::size_t>(body.gcount()));
      if (out.size() > options.maxBytes) {
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

}  // namespace kc::api
