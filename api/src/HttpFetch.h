#pragma once
// The one HTTP client of the codebase: a bounded GET of a small document (OIDC discovery,
// JWKS) over http or https, with Poco's client sessions. No redirects are followed. An https
// fetch goes through the configured forward proxy (a CONNECT tunnel) unless no_proxy exempts
// the host.

#include <chrono>
#include <optional>
#include <string>
#include <string_view>

#include "kc/Result.h"
#include "kc/api/HttpsProxy.h"

namespace kc::api {

struct FetchOptions {
  std::string caFile;  // PEM bundle to verify the server with; empty: the system's CAs
  std::chrono::seconds connectTimeout{5};
  std::chrono::seconds readTimeout{10};
  std::size_t maxBytes = 1 << 20;
  HttpsProxy proxy;  // empty url: connect directly
};

struct FetchedDocument {
  std::string body;
  std::string cacheControl;  // the Cache-Control header, "" when absent
};

// The body of a 200 answer to GET `uri`. UNAVAILABLE for connection, proxy, TLS and timeout
// faults and non-200 answers; INVALID_ARGUMENT for a bad URI, a bad proxy URL or an
// oversized body.
Result<FetchedDocument> fetchDocument(const std::string& uri, const FetchOptions& options);

// How long a response may be reused, from its Cache-Control value: `max-age=N` (the smallest
// when repeated; `max-age="N"` too), 0 for `no-store` or `no-cache`, nullopt when it says
// neither or N is not a number. Directive names are case-insensitive.
std::optional<std::chrono::seconds> maxAgeOf(std::string_view cacheControl);

}  // namespace kc::api
