#pragma once
// What every answer of both listeners (the API and the admin listener) shares: the status
// line, Retry-After, and the health report's bodies.

#include <Poco/Net/HTTPServerRequest.h>
#include <Poco/Net/HTTPServerResponse.h>

#include <ostream>
#include <string>
#include <string_view>

#include "kc/api/KeyService.h"

namespace kc::api {

// Seconds a client is asked to wait after a 503 (the token or the database did not answer).
inline constexpr int kRetryAfterSeconds = 5;

// The status with its standard reason phrase ("404 Not Found", never Poco's default "OK"),
// and Retry-After on a 503.
void setStatusLine(Poco::Net::HTTPServerResponse& response, int status);

// Sends the status line, the headers and `body`, but for what stays in Poco's buffer (the
// last few KiB): flushAnswer sends that, or the response's destruction does (out of reach of
// a WriteDeadline). Throws when the connection failed.
std::ostream& sendAnswer(Poco::Net::HTTPServerResponse& response, std::string_view body);

// Sends what sendAnswer left in the buffer. Throws when the connection failed.
void flushAnswer(std::ostream& out);

// Whether the request target's query has format=json.
bool queryAsksForJson(const std::string& target);

// `text` as the inside of a JSON string.
std::string jsonEscape(std::string_view text);

// "Healthy" or "Unhealthy", as Bitwarden's /health answers.
std::string healthText(const HealthReport& report);

// {"status":"Healthy","components":[{"name":"token","healthy":true,...},...]}: with each
// component's detail (module path, key label, database errors, file paths) only when
// `withDetail`, which only the admin listener (or an explicit setting) asks for.
std::string healthJson(const HealthReport& report, bool withDetail);

}  // namespace kc::api
