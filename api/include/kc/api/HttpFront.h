#pragma once
// HttpFront: the daemon's HTTP server, plain or TLS, in front of the request handlers. One
// acceptor thread accepts connections, does the TLS handshake (non-blocking OpenSSL, driven
// by epoll) and waits for each request head without a worker, so a client that sends its
// handshake or head slowly, or not at all, holds a file descriptor and a few bytes, never a
// worker. A complete head goes to a worker, which parses it (RequestHead.h), hands the
// request to RequestHandlerFactory's handlers as Poco request and response objects (over
// TLS the same, through the connection's FrontSocket), and gives a connection that stays
// open back to the acceptor to wait for its next head. Bytes read past a head or a body
// belong to the next request: pipelined requests are answered in order.
//
// Limits, each answered or logged by us:
//   - the TLS handshake and the head (request line and headers) must be done within
//     `headTimeout` of the connection being accepted, or of the first byte of a later
//     request on a kept-alive connection; one that does not is closed without an answer
//     (there is no request to answer; a client merely slow to start a request gets
//     keepAliveTimeout);
//   - a head over `maxHeadBytes` (32 KiB, as ASP.NET Kestrel's default) is answered 431 by
//     the handlers' refusal path: our headers, a log line and an audit record; a malformed
//     head likewise gets 400;
//   - at most `maxConnectionsPerClient` open connections per peer address; more are closed
//     at once. A trusted proxy's address is exempt: it carries many clients' connections,
//     and capping it would cap them all (the proxy limits its own clients).
//   - in all, as many connections as the file-descriptor limit allows less 256 kept for the
//     audit log, the database, the token and the identity server; more are closed at once.
// Bodies are read by the worker with `readTimeout` per read, answers written with
// `writeTimeout`. A HEAD request's answer has GET's headers and no body; the connection
// stays open.

#include <Poco/Net/ServerSocket.h>

#include <chrono>
#include <cstddef>
#include <memory>
#include <string>

#include "kc/api/TrustedProxies.h"

struct ssl_ctx_st;

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
  // TLS (OpenSSL's server context) when set; held by the front while it runs. Connections
  // made after the context's certificate changed are served the new one.
  ssl_ctx_st* tls = nullptr;
};

class HttpFront {
 public:
  // Serves `socket` (TCP, listening; TLS over it when settings.tls is set) with `factory`'s
  // handlers once started.
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
