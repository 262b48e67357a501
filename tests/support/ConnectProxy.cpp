#include "support/ConnectProxy.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <array>
#include <cstdint>
#include <stdexcept>

namespace kc::test {

ConnectProxy::ConnectProxy() {
  listener_ = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  sockaddr_in address{};
  address.sin_family = AF_INET;
  address.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  socklen_t length = sizeof address;
  if (listener_ < 0 || ::bind(listener_, reinterpret_cast<sockaddr*>(&address), length) != 0 ||
      ::listen(listener_, 16) != 0 ||
      ::getsockname(listener_, reinterpret_cast<sockaddr*>(&address), &length) != 0) {
    throw std::runtime_error("proxy: cannot listen on 127.0.0.1");
  }
  port_ = ntohs(address.sin_port);
  acceptor_ = std::thread([this] { serve(); });
}

ConnectProxy::~ConnectProxy() {
  stopping_ = true;
  ::shutdown(listener_, SHUT_RDWR);
  acceptor_.join();
  for (auto& tunnel : tunnels_) tunnel.join();
  ::close(listener_);
}

std::vector<std::string> ConnectProxy::targets() const {
  const std::lock_guard lock(mutex_);
  return targets_;
}

void ConnectProxy::serve() {
  while (!stopping_) {
    pollfd waiting{.fd = listener_, .events = POLLIN, .revents = 0};
    if (::poll(&waiting, 1, 100) <= 0) continue;
    const int client = ::accept4(listener_, nullptr, nullptr, SOCK_CLOEXEC);
    if (client < 0) continue;
    tunnels_.emplace_back([this, client] { tunnel(client); });
  }
}

void ConnectProxy::tunnel(int client) {
  // The request head: "CONNECT host:port HTTP/1.1" and headers, up to the blank line.
  std::string head;
  char c = 0;
  while (head.size() < 8192 && head.find("\r\n\r\n") == std::string::npos &&
         ::recv(client, &c, 1, 0) == 1) {
    head.push_back(c);
  }
  const auto space = head.find(' ');
  const auto end = head.find(' ', space + 1);
  const std::string target =
      head.rfind("CONNECT ", 0) == 0 ? head.substr(space + 1, end - space - 1) : "";
  const auto colon = target.rfind(':');
  int upstream = -1;
  if (colon != std::string::npos && target.substr(0, colon) == "127.0.0.1") {
    {
      const std::lock_guard lock(mutex_);
      targets_.push_back(target);
    }
    sockaddr_in address{};
    address.sin_family = AF_INET;
    address.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    address.sin_port = htons(static_cast<std::uint16_t>(std::stoi(target.substr(colon + 1))));
    upstream = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (::connect(upstream, reinterpret_cast<sockaddr*>(&address), sizeof address) != 0) {
      ::close(upstream);
      upstream = -1;
    }
  }
  const std::string answer = upstream >= 0 ? "HTTP/1.1 200 Connection established\r\n\r\n"
                                           : "HTTP/1.1 502 Bad Gateway\r\n\r\n";
  (void)::send(client, answer.data(), answer.size(), MSG_NOSIGNAL);
  // Bytes both ways until either side closes.
  std::array<pollfd, 2> ends{pollfd{.fd = client, .events = POLLIN, .revents = 0},
                             pollfd{.fd = upstream, .events = POLLIN, .revents = 0}};
  std::array<char, 16384> buffer{};
  while (upstream >= 0 && !stopping_) {
    if (::poll(ends.data(), ends.size(), 100) <= 0) continue;
    bool closed = false;
    for (std::size_t i = 0; i < ends.size() && !closed; ++i) {
      if (ends[i].revents == 0) continue;
      const auto got = ::recv(ends[i].fd, buffer.data(), buffer.size(), 0);
      closed = got <= 0 || ::send(ends[1 - i].fd, buffer.data(), static_cast<std::size_t>(got),
                                  MSG_NOSIGNAL) != got;
    }
    if (closed) break;
  }
  if (upstream >= 0) ::close(upstream);
  ::close(client);
}

}  // namespace kc::test
