#pragma once
// Stopping a Poco HTTP server at once. Poco's TCPServer notices stop() only between 250 ms
// polls of its listening socket; shutting that socket down first ends the poll at once, so the
// daemon's shutdown (and each test's servers) does not wait the poll out.

namespace Poco::Net {
class HTTPServer;
}

namespace kc::api {

// Stops accepting, aborts the server's open connections and returns once its thread ended.
void stopServer(Poco::Net::HTTPServer& server);

}  // namespace kc::api
