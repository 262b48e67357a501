#pragma once
// HTTP as bytes on a loopback socket, for what an HTTP client library hides: the exact status
// line, and a client that stops reading.

#include <chrono>
#include <cstddef>
#include <string>

namespace kc::test {

// "METHOD path HTTP/1.1" with Host and Connection: close, and no body.
std::string rawRequest(const std::string& method, const std::string& path);

// The status line ("HTTP/1.1 404 Not Found") of the answer to `request`, sent as is to
// 127.0.0.1:`port`; empty when none came within 10 s.
std::string statusLineOf(int port, const std::string& request);

struct StalledClientResult {
  std::size_t requestsSent = 0;
  std::size_t bytesReceived = 0;
};

// A client that never reads: connects to 127.0.0.1:`port` with a tiny receive buffer, sends
// up to `count` pipelined GETs of `path` (as many as the server takes within 2 s), waits
// `stall` without reading, then reads until the server closes the connection or 5 s pass
// without a byte.
StalledClientResult runStalledClient(int port, const std::string& path, int count,
                                     std::chrono::milliseconds stall);

}  // namespace kc::test
