#pragma once
// The one HTTP client of the codebase: a bounded GET of a small document (OIDC discovery,
// JWKS) over http or https, with Poco's client sessions. No redirects are followed.

#include <chrono>
#include <string>

#include "kc/Result.h"

namespace kc::api {

struct FetchOptions {
  std::string caFile;  // PEM bundle to verify the server with; empty: the system's CAs
  std::chrono::seconds connectTimeout{5};
  std::chrono::seconds readTimeout{10};
  std::size_t maxBytes = 1 << 20;
};

// The body of a 200 answer to GET `uri`. UNAVAILABLE for connection, TLS and timeout faults
// and non-200 answers; INVALID_ARGUMENT for a bad URI or an oversized body.
Result<std::string> fetchDocument(const std::string& uri, const FetchOptions& options);

}  // namespace kc::api
