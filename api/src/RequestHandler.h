#pragma once
// One HTTP request, start to finish: request id, routing, CORS, authentication, the route's
// work, error mapping, Cache-Control, the log line and the metrics. Created per request by
// RequestHandlerFactory.

#include <Poco/Net/HTTPRequestHandler.h>

#include <optional>
#include <ostream>
#include <string>

#include "Cors.h"
#include "kc/api/KeyService.h"
#include "kc/api/RequestHandlerFactory.h"

namespace kc::api {

struct Route;

class RequestHandler : public Poco::Net::HTTPRequestHandler {
 public:
  RequestHandler(KeyService& keys, const JwtValidator& validator, Metrics& metrics,
                 const ApiSettings& settings, const CorsPolicy& cors, HealthCache& health);
  // A handler that answers every request with `refusal` (RequestHandlerFactory::
  // createRefusalHandler), recording it with the KeyService.
  RequestHandler(KeyService& keys, const JwtValidator& validator, Metrics& metrics,
                 const ApiSettings& settings, const CorsPolicy& cors, HealthCache& health,
                 HeadRefusal refusal);

  void handleRequest(Poco::Net::HTTPServerRequest& request,
                     Poco::Net::HTTPServerResponse& response) override;

 private:
  void dispatch(const Route& route, Poco::Net::HTTPServerRequest& request,
                Poco::Net::HTTPServerResponse& response);
  void answerTime(Poco::Net::HTTPServerResponse& response);
  void answerHealth(Poco::Net::HTTPServerRequest& request, Poco::Net::HTTPServerResponse& response);
  void answerUserKeys(Poco::Net::HTTPServerRequest& request,
                      Poco::Net::HTTPServerResponse& response);
  void fetchKey(Poco::Net::HTTPServerResponse& response);
  void depositKey(Poco::Net::HTTPServerRequest& request, Poco::Net::HTTPServerResponse& response,
                  DepositMode mode);
  // Answers 400/413 for a /user-keys body, recording the refusal with the KeyService.
  void refuseBody(Poco::Net::HTTPServerResponse& response, int status, const std::string& message);
  // Answers a KeyService failure through the one Status→HTTP mapping.
  void answerFailure(const Status& status, Poco::Net::HTTPServerResponse& response);
  // Whether the request is authenticated and authorised; if not, it has been answered.
  bool authenticate(Poco::Net::HTTPServerRequest& request, Poco::Net::HTTPServerResponse& response);

  void send(Poco::Net::HTTPServerResponse& response, int status, const std::string& contentType,
            const std::string& body);
  // Sends the end of the answer send() left in Poco's buffer, within the write timeout.
  void finishAnswer(Poco::Net::HTTPServerResponse& response);
  // Drops what arrives of a body left unread, for a moment, before the connection closes.
  void lingerOnUnreadBody();
  void sendMessage(Poco::Net::HTTPServerResponse& response, int status, const std::string& message);

  KeyService& keys_;
  const JwtValidator& validator_;
  Metrics& metrics_;
  const ApiSettings& settings_;
  const CorsPolicy& cors_;
  HealthCache& health_;
  Poco::Net::HTTPServerRequest* request_ = nullptr;
  RequestContext context_;
  int status_ = 0;  // what was answered, for the log and the metrics
  bool bodyRead_ = false;
  bool hasBody_ = false;
  std::ostream* unflushed_ = nullptr;  // the answer's stream, its last part still buffered
  std::optional<HeadRefusal> refusal_;
};

}  // namespace kc::api
