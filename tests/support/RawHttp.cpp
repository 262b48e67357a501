#include "support/RawHttp.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <unistd.h>

#include <algorithm>
#include <stdexcept>
#include <thread>

namespace kc::test {
namespace {

// A connected loopback TCP socket, closed on destruction.
class LoopbackSocket {
 public:
  // `receiveBuffer` > 0: SO_RCVBUF before connecting (it bounds the advertised window).
  explicit LoopbackSocket(int port, int receiveBuffer = 0) : fd_(socket(AF_INET, SOCK_STREAM, 0)) {
    if (fd_ < 0) throw std::runtime_error("socket() failed");
    if (receiveBuffer > 0) {
      setsockopt(fd_, SOL_SOCKET, SO_RCVBUF, &receiveBuffer, sizeof receiveBuffer);
    }
    sockaddr_in address{};
    address.sin_family = AF_INET;
    address.sin_port = htons(static_cast<std::uint16_t>(port));
    address.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    if (connect(fd_, reinterpret_cast<const sockaddr*>(&address), sizeof address) != 0) {
      close(fd_);
      throw std::runtime_error("cannot connect to 127.0.0.1:" + std::to_string(port));
    }
  }
  ~LoopbackSocket() { close(fd_); }
  LoopbackSocket(const LoopbackSocket&) = delete;
  LoopbackSocket& operator=(const LoopbackSocket&) = delete;

  void setTimeouts(std::chrono::seconds send, std::chrono::seconds receive) {
    const timeval sendTimeout{.tv_sec = send.count(), .tv_usec = 0};
    const timeval receiveTimeout{.tv_sec = receive.count(), .tv_usec = 0};
    setsockopt(fd_, SOL_SOCKET, SO_SNDTIMEO, &sendTimeout, sizeof sendTimeout);
    setsockopt(fd_, SOL_SOCKET, SO_RCVTIMEO, &receiveTimeout, sizeof receiveTimeout);
  }
  // Sends what the peer takes before the send timeout; the bytes sent.
  std::size_t sendAll(const std::string& bytes) {
    std::size_t sent = 0;
    while (sent < bytes.size()) {
      const ssize_t n = send(fd_, bytes.data() + sent, bytes.size() - sent, MSG_NOSIGNAL);
      if (n <= 0) break;
      sent += static_cast<std::size_t>(n);
    }
    return sent;
  }
  // Up to `size` bytes; 0 at the end of the stream, on a reset or on the receive timeout.
  std::size_t receive(char* buffer, std::size_t size) {
    const ssize_t n = recv(fd_, buffer, size, 0);
    return n > 0 ? static_cast<std::size_t>(n) : 0;
  }

 private:
  int fd_;
};

}  // namespace

std::string rawRequest(const std::string& method, const std::string& path) {
  return method + " " + path + " HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n";
}

std::string statusLineOf(int port, const std::string& request) {
  LoopbackSocket socket(port);
  socket.setTimeouts(std::chrono::seconds(10), std::chrono::seconds(10));
  socket.sendAll(request);
  std::string received;
  char buffer[512];
  while (received.find("\r\n") == std::string::npos) {
    const std::size_t got = socket.receive(buffer, sizeof buffer);
    if (got == 0) break;
    received.append(buffer, got);
  }
  const auto end = received.find("\r\n");
  return end == std::string::npos ? std::string() : received.substr(0, end);
}

StalledClientResult runStalledClient(int port, const std::string& path, int count,
                                     std::chrono::milliseconds stall) {
  LoopbackSocket socket(port, /*receiveBuffer=*/4096);
  socket.setTimeouts(std::chrono::seconds(2), std::chrono::seconds(5));
  const std::string request = "GET " + path + " HTTP/1.1\r\nHost: a\r\n\r\n";
  std::string requests;
  for (int i = 0; i < count; ++i) requests += request;
  StalledClientResult result;
  result.requestsSent = socket.sendAll(requests) / request.size();
  std::this_thread::sleep_for(stall);
  char buffer[65536];
  for (std::size_t got; (got = socket.receive(buffer, sizeof buffer)) > 0;) {
    result.bytesReceived += got;
  }
  return result;
}

}  // namespace kc::test
