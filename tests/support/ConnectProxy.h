#pragma once
// A forward proxy for tests of HTTPS_PROXY: it answers CONNECT on 127.0.0.1 and tunnels bytes
// to loopback targets only.

#include <atomic>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

namespace kc::test {

// A forward proxy on 127.0.0.1 that answers CONNECT, as HTTPS_PROXY expects: it tunnels to
// loopback targets only and remembers each target it was asked for.
class ConnectProxy {
 public:
  ConnectProxy();
  ~ConnectProxy();
  ConnectProxy(const ConnectProxy&) = delete;
  ConnectProxy& operator=(const ConnectProxy&) = delete;
  int port() const { return port_; }
  std::string url() const { return "http://127.0.0.1:" + std::to_string(port_); }
  std::vector<std::string> targets() const;  // "host:port" of every CONNECT, in order

 private:
  void serve();
  void tunnel(int client);

  int listener_ = -1;
  int port_ = 0;
  std::atomic<bool> stopping_{false};
  mutable std::mutex mutex_;
  std::vector<std::string> targets_;
  std::vector<std::thread> tunnels_;
  std::thread acceptor_;
};

}  // namespace kc::test
