#include "kc/api/StopServer.h"

#include <Poco/Net/HTTPServer.h>
#include <sys/socket.h>

namespace kc::api {

void stopServer(Poco::Net::HTTPServer& server) {
  // The accept loop wakes, fails one accept (Poco passes the error to its ErrorHandler, which
  // ignores it) and sees the stop flag stopAll sets; a server already stopped is unaffected.
  ::shutdown(server.socket().impl()->sockfd(), SHUT_RDWR);
  server.stopAll(true);
}

}  // namespace kc::api
