#pragma once
// HttpFront: the daemon's plain-HTTP server, in front of the request handlers. One acceptor
// thread accepts connections and waits for each request head without a worker (epoll), so
// a client that sends its head slowly, or not at all, holds a file descriptor and a few
// bytes, never a worker. A complete head goes to a worker, which parses it (RequestHead.h),
// hands the request to RequestHandlerFactory's handlers as Poco request and response
// objects, and gives a connection that stays open back to the acceptor to wait for its
// next head.
//
// Limits, each answered or logged by us:
//   - the head (request line and headers) must arrive whole within `headTimeout` of the
//     connection being accepted, or of the first byte of a later request on a kept-alive
//     connection; one that does not is closed without an answer (there is no request to
//     answer; a client that is merely slow to start a request gets keepAliveTimeout);
//   - a head over `maxHeadBytes` (32 KiB, as ASP.NET Kestrel's default) is answered 431 by
//     the handlers' refusal path: our headers, a log line and an audit record; a malformed
//     head likewise gets 400;
//   - at most `maxConnectionsPerClient` open connections per peer address; more are closed
//     at once. A trusted proxy's address is exempt: it carries many clients' connections,
//     and capping it would cap them all (the proxy limits its own clients).
//   - in all, as many connections as the file-descriptor limit allows less 256 kept for the
//     audit log, the database, the token and the identity server; more are closed at once.
// Bodies are read by the worker with `readTimeout` per read, answers written with
// `writeTimeout`. Pipelined requests (a next head sent before the answer) close the
// connection after the answer, which HTTP/1.1 clients retry.

#include <Poco/Net/ServerSocket.h>

#include <chrono>
#include <cstddef>
#include <memory>
#include <string>

#include "kc/api/TrustedProxies.h"

namespace kc::api {

class RequestHandlerFactory;

struct FrontSettings {
  std::size_t workers = 16;
  std::size_t maxQueued = 64;  // complete requests waiting for a worker; more are refused 503
  bool keepAlive = true;
  std::size_t maxKeepAliveRequests = 100;
  std::chrono::seconds keepAliveTimeout{15};
  std::chrono::seconds headTimeout{5};
  std::chrono::seconds readTimeout{15};
  std::chrono::seconds writeTimeout{15};
  std::size_t maxHeadBytes = 32 * 1024;
  std::size_t maxConnectionsPerClient = 64;
  TrustedProxies trustedProxies;  // peers exempt from maxConnectionsPerClient
  std::string serverName = "keyconnectord";
};

class HttpFront {
 public:
  // Serves `socket` (plain TCP, listening) with `factory`'s handlers once started.
  HttpFront(std::unique_ptr<RequestHandlerFactory> factory, const Poco::Net::ServerSocket& socket,
            FrontSettings settings);
  ~HttpFront();  // stops, closing every connection
  HttpFront(const HttpFront&) = delete;
  HttpFront& operator=(const HttpFront&) = delete;

  void start();
  // Stops accepting and closes every connection waiting for a head; requests in flight are
  // answered (with Connection: close) and their connections closed. Returns at once.
  void stopAccepting();
  // Connections a worker holds or that wait for one (not those waiting for a head).
  std::size_t activeConnections() const;

 private:
  class Impl;
  std::unique_ptr<Impl> impl_;
};

}  // namespace kc::api
