#pragma once
// The connection a request came on, for what Poco's HTTPServerRequest does not expose: the
// write deadline shuts it down, and draining an unread body sets its receive timeout. Poco's
// own requests (HTTPServerRequestImpl) and HttpFront's each know their socket.

#include <Poco/Net/HTTPServerRequest.h>
#include <Poco/Net/HTTPServerRequestImpl.h>
#include <Poco/Net/StreamSocket.h>

namespace kc::api {

// Implemented by the requests HttpFront makes.
class RequestConnection {
 public:
  virtual ~RequestConnection() = default;
  virtual Poco::Net::StreamSocket& connection() = 0;
};

// `request`'s connection; null for a request of another kind (one a test made).
inline Poco::Net::StreamSocket* connectionOf(Poco::Net::HTTPServerRequest& request) {
  if (auto* impl = dynamic_cast<Poco::Net::HTTPServerRequestImpl*>(&request))
    return &impl->socket();
  if (auto* front = dynamic_cast<RequestConnection*>(&request)) return &front->connection();
  return nullptr;
}

}  // namespace kc::api
