#include "RequestHandler.h"

#include <Poco/Exception.h>
#include <Poco/Logger.h>
#include <Poco/Net/HTTPRequest.h>
#include <Poco/Net/HTTPServerRequest.h>
#include <Poco/Net/HTTPServerResponse.h>
#include <Poco/Net/StreamSocket.h>
#include <Poco/String.h>
#include <Poco/Timespan.h>
#include <Poco/URI.h>
#include <openssl/rand.h>
#include <string.h>  // explicit_bzero

#include <chrono>
#include <cstdio>
#include <ctime>
#include <istream>
#include <vector>

#include "ConnectionSocket.h"
#include "Responses.h"
#include "Routes.h"
#include "UserKeyBody.h"
#include "WriteDeadline.h"
#include "kc/Text.h"
#include "kc/api/ErrorMapping.h"
#include "kc/api/HealthCache.h"
#include "kc/api/JwtValidator.h"
#include "kc/api/Metrics.h"

namespace kc::api {
namespace {

using Poco::Net::HTTPRequest;
using Poco::Net::HTTPServerRequest;
using Poco::Net::HTTPServerResponse;

constexpr const char* kJson = "application/json; charset=utf-8";
constexpr const char* kText = "text/plain; charset=utf-8";

Poco::Logger& logger() {
  return Poco::Logger::get("kc.http");
}

// The longest client X-Request-Id kept (the rest is cut off).
constexpr std::size_t kMaxClientRequestId = 128;

// A client's X-Request-Id as it is recorded and echoed: at most kMaxClientRequestId bytes,
// every byte outside [A-Za-z0-9._:/+=@-] replaced by '_', so it is harmless in a header, a
// log line and a CSV cell (see kc/audit/AuditRecord.h, "client_request").
std::string sanitizeClientRequestId(std::string_view id) {
  std::string out(id.substr(0, kMaxClientRequestId));
  for (char& c : out) {
    const bool ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
                    c == '.' || c == '_' || c == '-' || c == ':' || c == '/' || c == '+' ||
                    c == '=' || c == '@';
    if (!ok) c = '_';
  }
  return out;
}

std::string newRequestId() {
  std::uint8_t bytes[16];
  if (RAND_bytes(bytes, sizeof bytes) != 1) {
    // Not a secret, only needs to be unique: fall back to the clock.
    const auto now = std::chrono::steady_clock::now().time_since_epoch().count();
    return "t" + std::to_string(now);
  }
  return toHex(bytes);
}

std::string clientAddressOf(const HTTPServerRequest& request, const TrustedProxies& proxies) {
  std::string peer = request.clientAddress().host().toString();
  if (proxies.empty()) return peer;
  std::vector<std::string> forwardedFor;  // every X-Forwarded-For header, in order
  for (auto it = request.find("X-Forwarded-For");
       it != request.end() && Poco::icompare(it->first, "X-Forwarded-For") == 0; ++it) {
    forwardedFor.push_back(it->second);
  }
  return proxies.clientAddress(peer, forwardedFor);
}

// The request target's path, without query or fragment.
std::string pathOf(const std::string& target) {
  if (!target.empty() && target.front() == '/') return target.substr(0, target.find_first_of("?#"));
  try {
    return Poco::URI(target).getPath();
  } catch (const Poco::Exception&) {
    return target.substr(0, target.find_first_of("?#"));
  }
}

// "2026-11-25T15:00:00.123Z"
std::string utcNowIso8601() {
  const auto now = std::chrono::system_clock::now();
  const std::time_t seconds = std::chrono::system_clock::to_time_t(now);
  const auto millis =
      std::chrono::duration_cast<std::chrono::milliseconds>(now.time_since_epoch()).count() % 1000;
  std::tm utc{};
  gmtime_r(&seconds, &utc);
  // Both fit their buffers for any year (at most 26 and 33 characters), so neither can fail.
  char buffer[40];
  (void)std::strftime(buffer, sizeof buffer, "%Y-%m-%dT%H:%M:%S", &utc);
  char out[48];
  (void)std::snprintf(out, sizeof out, "%s.%03dZ", buffer, static_cast<int>(millis));
  return out;
}

// Reads and drops up to `limit` bytes of `in`; whether it reached the end of the body.
bool discard(std::istream& in, std::size_t limit) noexcept {
  try {
    char buffer[4096];
    std::size_t total = 0;
    while (in && total <= limit) {
      in.read(buffer, sizeof buffer);
      total += static_cast<std::size_t>(in.gcount());
    }
    return in.eof() && total <= limit;
  } catch (...) {
    return false;  // a broken connection: the caller closes it
  }
}

// A refused request's body may still be in flight. Reading (and dropping) a bounded amount
// of it lets the client read the answer instead of a connection reset.
constexpr std::size_t kMaxDrainBytes = 1 << 20;
// How long an unread body is drained after the answer was sent.
constexpr long kLingerSeconds = 1;

}  // namespace

RequestHandler::RequestHandler(KeyService& keys, const JwtValidator& validator, Metrics& metrics,
                               const ApiSettings& settings, const CorsPolicy& cors,
                               HealthCache& health)
    : keys_(keys),
      validator_(validator),
      metrics_(metrics),
      settings_(settings),
      cors_(cors),
      health_(health) {}

RequestHandler::RequestHandler(KeyService& keys, const JwtValidator& validator, Metrics& metrics,
                               const ApiSettings& settings, const CorsPolicy& cors,
                               HealthCache& health, HeadRefusal refusal)
    : keys_(keys),
      validator_(validator),
      metrics_(metrics),
      settings_(settings),
      cors_(cors),
      health_(health),
      refusal_(std::move(refusal)) {}

void RequestHandler::handleRequest(HTTPServerRequest& request, HTTPServerResponse& response) {
  const auto started = std::chrono::steady_clock::now();
  // Our own id, always: a client's X-Request-Id may repeat or collide, so it is only
  // recorded and echoed beside it.
  context_.requestId = newRequestId();
  if (request.has("X-Request-Id")) {
    context_.clientRequestId = sanitizeClientRequestId(request.get("X-Request-Id"));
  }
  const std::string method = request.getMethod();
  std::string routeLabel(kUnmatchedRoute);
  std::string path = "?";
  request_ = &request;
  hasBody_ = request.getChunkedTransferEncoding() || request.getContentLength64() > 0;

  try {
    context_.clientAddress = clientAddressOf(request, settings_.trustedProxies);
    path = pathOf(request.getURI());
    response.set("Cache-Control", "no-store");
    response.set("X-Request-Id", context_.requestId);
    if (!context_.clientRequestId.empty()) {
      response.set("X-Client-Request-Id", context_.clientRequestId);
    }
    cors_.apply(request, response);

    const Route* route = refusal_ ? nullptr : matchRoute(path);
    if (refusal_) {
      logger().information("request " + context_.requestId + " refused (" +
                           std::to_string(refusal_->status) + "): " + refusal_->reason);
      keys_.recordRefusal(context_, refusal_->status, refusal_->reason);
      sendMessage(response, refusal_->status, refusal_->reason);
    } else if (route == nullptr) {
      sendMessage(response, 404, "Not found.");
    } else {
      routeLabel = route->path;
      if (method == HTTPRequest::HTTP_OPTIONS) {
        response.set("Allow", std::string(route->allow));
        send(response, 204, "", "");
      } else if (!routeAllows(*route, method)) {
        response.set("Allow", std::string(route->allow));
        sendMessage(response, 405, "Method not allowed.");
      } else {
        dispatch(*route, request, response);
      }
    }
  } catch (const std::exception& e) {
    logger().error("request " + context_.requestId + " failed: " + e.what());
    // A send that failed (a write timeout, a reset) leaves the connection in no state to
    // answer another request on it: Poco closes it after this handler.
    response.setKeepAlive(false);
    if (!response.sent()) {
      sendMessage(response, 500,
                  clientMessageFor(Status(StatusCode::kInternal, ""), 500, context_.requestId));
    }
  }

  const double seconds =
      std::chrono::duration<double>(std::chrono::steady_clock::now() - started).count();
  metrics_.observeRequest(routeLabel, method, status_, seconds);
  char duration[32];
  // Cannot fail; a duration too long for 31 characters (10^28 ms) would only be cut short.
  (void)std::snprintf(duration, sizeof duration, "%.1f", seconds * 1000);
  std::string line = method + " " + routeLabel + " " + std::to_string(status_) + " " + duration +
                     "ms id=" + context_.requestId;
  if (context_.userId) line += " user=" + context_.userId->str();
  line += " client=" + context_.clientAddress;
  if (!context_.clientRequestId.empty()) line += " client_request=" + context_.clientRequestId;
  if (status_ >= 500) {
    logger().error(line);
  } else {
    logger().information(line);
  }
  finishAnswer(response);
}

void RequestHandler::finishAnswer(HTTPServerResponse& response) {
  if (unflushed_ == nullptr) return;
  try {
    const WriteDeadline deadline(*request_, settings_.writeTimeout);
    flushAnswer(*unflushed_);
  } catch (const std::exception& e) {
    logger().warning("request " + context_.requestId + ": answer not delivered: " + e.what());
    response.setKeepAlive(false);  // Poco closes the connection after this handler
  }
}

void RequestHandler::dispatch(const Route& route, HTTPServerRequest& request,
                              HTTPServerResponse& response) {
  switch (route.id) {
    case RouteId::kAlive:
    case RouteId::kNow:
      return answerTime(response);
    case RouteId::kHealth:
      return answerHealth(request, response);
    case RouteId::kMetrics:
      if (!settings_.serveMetrics) return sendMessage(response, 404, "Not found.");
      return send(response, 200, Metrics::kContentType, metrics_.render());
    case RouteId::kUserKeys:
      return answerUserKeys(request, response);
    case RouteId::kAuditHead: {
      // The latest signed checkpoint, as it stands in the log: public (no user data), so that
      // auditors and monitoring can keep heads outside the server.
      const auto head = keys_.auditHead();
      if (!head) return sendMessage(response, 404, "No signed audit checkpoint yet.");
      return send(response, 200, kJson, *head);
    }
  }
}

void RequestHandler::answerTime(HTTPServerResponse& response) {
  send(response, 200, kJson, "\"" + utcNowIso8601() + "\"");
}

void RequestHandler::answerHealth(HTTPServerRequest& request, HTTPServerResponse& response) {
  const HealthReport report = health_.report();
  const int status = report.healthy ? 200 : 503;
  if (!queryAsksForJson(request.getURI())) return send(response, status, kText, healthText(report));
  send(response, status, kJson, healthJson(report, settings_.healthDetail));
}

bool RequestHandler::authenticate(HTTPServerRequest& request, HTTPServerResponse& response) {
  if (!request.has("Authorization")) {
    logger().information("request " + context_.requestId + " refused: no Authorization header");
    keys_.recordRefusal(context_, 401, "no Authorization header");
    response.set("WWW-Authenticate", "Bearer");
    send(response, 401, "", "");
    return false;
  }
  std::optional<UserId> deniedUserId;
  auto user = validator_.validateHeader(request.get("Authorization"), &deniedUserId);
  if (user) {
    context_.userId = std::move(user->userId);
    return true;
  }
  const int status = httpStatusFor(user.status(), StatusSource::kAuthentication);
  context_.userId = std::move(deniedUserId);  // none unless the token named a user (403)
  logger().information("request " + context_.requestId + " refused (" + std::to_string(status) +
                       "): " + user.status().message());
  keys_.recordRefusal(context_, status, user.status().message());  // a reason, never the token
  if (status == 401) response.set("WWW-Authenticate", "Bearer error=\"invalid_token\"");
  send(response, status, "", "");
  return false;
}

void RequestHandler::answerUserKeys(HTTPServerRequest& request, HTTPServerResponse& response) {
  if (!authenticate(request, response)) return;
  const std::string& method = request.getMethod();
  if (method == HTTPRequest::HTTP_GET) return fetchKey(response);
  depositKey(
      request, response,
      method == HTTPRequest::HTTP_POST ? DepositMode::kCreateOnly : DepositMode::kCreateOrReplace);
}

void RequestHandler::fetchKey(HTTPServerResponse& response) {
  auto key = keys_.fetchUserKey(context_);
  if (!key) return answerFailure(key.status(), response);
  std::string body = renderUserKeyBody(*key);
  key->clear();
  try {
    send(response, 200, kJson, body);
  } catch (...) {
    explicit_bzero(body.data(), body.size());
    throw;
  }
  explicit_bzero(body.data(), body.size());
}

void RequestHandler::depositKey(HTTPServerRequest& request, HTTPServerResponse& response,
                                DepositMode mode) {
  const auto declared = request.getContentLength64();
  const auto limit = static_cast<Poco::Int64>(settings_.maxBodyBytes);
  if (declared > limit) return refuseBody(response, 413, "The body is too large.");
  if (!isJsonContentType(request.getContentType())) {
    return refuseBody(response, 400, "The content type must be application/json.");
  }
  std::string body;
  body.reserve(settings_.maxBodyBytes + 1);  // no reallocation: no unwiped copies of the key
  std::istream& in = request.stream();
  char buffer[4096];
  bool tooLarge = false;
  while (in) {
    in.read(buffer, sizeof buffer);
    const auto got = static_cast<std::size_t>(in.gcount());
    if (body.size() + got > settings_.maxBodyBytes) {
      tooLarge = true;
      break;
    }
    body.append(buffer, got);
  }
  explicit_bzero(buffer, sizeof buffer);
  if (tooLarge) {
    explicit_bzero(body.data(), body.size());
    bodyRead_ = discard(in, kMaxDrainBytes);
    return refuseBody(response, 413, "The body is too large.");
  }
  bodyRead_ = true;
  auto key = parseUserKeyBody(body);
  explicit_bzero(body.data(), body.size());
  if (!key) return refuseBody(response, 400, key.status().message());
  const Status deposited = keys_.depositUserKey(context_, *key, mode);
  key->clear();
  if (!deposited.isOk()) return answerFailure(deposited, response);
  send(response, 200, "", "");
}

void RequestHandler::refuseBody(HTTPServerResponse& response, int status,
                                const std::string& message) {
  keys_.recordRefusal(context_, status, message);  // our own fixed texts, never the body
  sendMessage(response, status, message);
}

void RequestHandler::answerFailure(const Status& status, HTTPServerResponse& response) {
  const int http = httpStatusFor(status, StatusSource::kKeyService);
  if (http >= 500) {
    logger().error("request " + context_.requestId + ": " + status.toString());
  } else {
    logger().information("request " + context_.requestId + ": " + status.toString());
  }
  sendMessage(response, http, clientMessageFor(status, http, context_.requestId));
}

void RequestHandler::send(HTTPServerResponse& response, int status, const std::string& contentType,
                          const std::string& body) {
  status_ = status;
  setStatusLine(response, status);
  if (hasBody_ && !bodyRead_) {
    // Drop a body we did not need if it is within the limit (one declared larger is never
    // read); a body left unread would be taken for the next request on this connection.
    const auto declared = request_->getContentLength64();
    bodyRead_ = declared <= static_cast<Poco::Int64>(settings_.maxBodyBytes) &&
                discard(request_->stream(), settings_.maxBodyBytes);
    if (!bodyRead_) response.setKeepAlive(false);
  }
  if (!contentType.empty()) response.setContentType(contentType);
  const WriteDeadline deadline(*request_, settings_.writeTimeout);
  if (status == 204) {
    response.send().flush();  // no body and, as RFC 9110 wants, no Content-Length
    return;
  }
  response.setContentLength(static_cast<std::streamsize>(body.size()));
  std::ostream& out = sendAnswer(response, body);
  if (hasBody_ && !bodyRead_) {
    flushAnswer(out);
    lingerOnUnreadBody();
  } else {
    unflushed_ = &out;  // flushed after the log line (finishAnswer), as Poco would
  }
}

void RequestHandler::lingerOnUnreadBody() {
  // Closing a socket with unread input makes the kernel reset the connection, and a client
  // still sending its (oversized) body may lose the answer it was sent. So, as web servers
  // do, read and drop what keeps arriving for a short while before the connection closes.
  auto* socket = connectionOf(*request_);
  if (socket == nullptr) return;
  try {
    socket->setReceiveTimeout(Poco::Timespan(kLingerSeconds, 0));
  } catch (...) {
    return;
  }
  discard(request_->stream(), kMaxDrainBytes);
}

void RequestHandler::sendMessage(HTTPServerResponse& response, int status,
                                 const std::string& message) {
  send(response, status, kJson, "{\"message\":\"" + jsonEscape(message) + "\"}");
}

}  // namespace kc::api
