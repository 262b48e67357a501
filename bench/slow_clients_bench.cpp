// What slow clients cost everyone else: GET /user-keys latency through keyconnectord from
// legitimate keep-alive clients, alone and then beside 500 connections that each send half a
// request head and then a byte a second (reconnecting when the daemon closes them at
// server.head_timeout_s), from 50 loopback addresses (10 each, under the per-client cap).
// With --tls=1 the daemon serves HTTPS, the legitimate clients speak it, and the slow
// connections send half a TLS ClientHello, then a byte a second (the handshake is cut at the
// same deadline).
//
//   build/bench/slow_clients_bench [--slow=500] [--requests=4000] [--tls=1]
//
// Prints p50 and p99 of both runs and their ratios (the machines are shared and noisy: the
// ratio, measured in one run, is the figure).

#include <Poco/Net/Context.h>
#include <Poco/Net/HTTPClientSession.h>
#include <Poco/Net/HTTPRequest.h>
#include <Poco/Net/HTTPResponse.h>
#include <Poco/Net/HTTPSClientSession.h>
#include <Poco/Net/SSLManager.h>
#include <Poco/StreamCopier.h>
#include <arpa/inet.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstdio>
#include <cstring>
#include <iostream>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include "DaemonFixture.h"

namespace {

using Clock = std::chrono::steady_clock;
using kc::test::Daemon;
using kc::test::E2eEnvironment;

// A client session to the daemon: HTTPS (not checking the test's own certificate) with `tls`.
std::unique_ptr<Poco::Net::HTTPClientSession> sessionTo(const Daemon& daemon, bool tls) {
  const auto port = static_cast<Poco::UInt16>(daemon.port());
  if (!tls) return std::make_unique<Poco::Net::HTTPClientSession>("127.0.0.1", port);
  static const Poco::Net::Context::Ptr context = new Poco::Net::Context(
      Poco::Net::Context::TLS_CLIENT_USE, "", "", "", Poco::Net::Context::VERIFY_NONE);
  return std::make_unique<Poco::Net::HTTPSClientSession>("127.0.0.1", port, context);
}

// Sends `request` (with `body`) on `session`; the answer's status, its body in `answer`.
int exchange(Poco::Net::HTTPClientSession& session, Poco::Net::HTTPRequest& request,
             const std::string& body, std::string& answer) {
  if (!body.empty()) request.setContentLength(static_cast<std::streamsize>(body.size()));
  session.sendRequest(request) << body;
  Poco::Net::HTTPResponse response;
  answer.clear();
  Poco::StreamCopier::copyToString(session.receiveResponse(response), answer);
  return static_cast<int>(response.getStatus());
}

constexpr int kClientThreads = 4;
constexpr int kSlowAddresses = 50;

struct Latencies {
  double p50 = 0;
  double p99 = 0;
};

Latencies measure(const Daemon& daemon, const std::vector<std::string>& tokens, int requests,
                  bool tls) {
  std::vector<std::vector<double>> perThread(kClientThreads);
  std::vector<std::thread> threads;
  for (int t = 0; t < kClientThreads; ++t) {
    threads.emplace_back([&, t] {
      const auto connection = sessionTo(daemon, tls);
      Poco::Net::HTTPClientSession& session = *connection;
      session.setKeepAlive(true);
      session.setTimeout(Poco::Timespan(60, 0));
      std::string body;
      for (int i = 0; i < requests / kClientThreads; ++i) {
        const auto started = Clock::now();
        Poco::Net::HTTPRequest request("GET", "/user-keys", Poco::Net::HTTPMessage::HTTP_1_1);
        request.setKeepAlive(true);
        request.set("Authorization",
                    "Bearer " + tokens[static_cast<std::size_t>(i + t) % tokens.size()]);
        const int status = exchange(session, request, "", body);
        if (status != Poco::Net::HTTPResponse::HTTP_OK) {
          std::cerr << "GET /user-keys answered " << status << "\n";
          std::exit(1);
        }
        perThread[static_cast<std::size_t>(t)].push_back(
            std::chrono::duration<double, std::milli>(Clock::now() - started).count());
      }
    });
  }
  for (auto& thread : threads) thread.join();
  std::vector<double> all;
  for (const auto& some : perThread) all.insert(all.end(), some.begin(), some.end());
  std::sort(all.begin(), all.end());
  auto at = [&](double q) {
    return all[static_cast<std::size_t>(q * static_cast<double>(all.size() - 1))];
  };
  return {at(0.50), at(0.99)};
}

// Keeps `count` slow connections open until `stop`: each sends half a head, then one byte a
// second; one the daemon closes is opened again.
class SlowClients {
 public:
  SlowClients(int port, int count, bool tls)
      : port_(port), tls_(tls), fds_(static_cast<std::size_t>(count), -1) {
    thread_ = std::thread([this] { run(); });
  }
  ~SlowClients() {
    stop_ = true;
    thread_.join();
    for (const int fd : fds_)
      if (fd >= 0) ::close(fd);
  }
  int open() const { return open_; }
  long reconnects() const { return reconnects_; }

 private:
  int connectSlow(std::size_t index) {
    const int fd = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (fd < 0) return -1;
    sockaddr_in local{};
    local.sin_family = AF_INET;
    local.sin_addr.s_addr = htonl(0x7f000002u + static_cast<std::uint32_t>(index % kSlowAddresses));
    sockaddr_in remote{};
    remote.sin_family = AF_INET;
    remote.sin_port = htons(static_cast<std::uint16_t>(port_));
    remote.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    if (::bind(fd, reinterpret_cast<sockaddr*>(&local), sizeof local) != 0 ||
        ::connect(fd, reinterpret_cast<sockaddr*>(&remote), sizeof remote) != 0) {
      ::close(fd);
      return -1;
    }
    // TLS: a handshake record's header promising 512 bytes, and the start of a ClientHello.
    constexpr std::string_view kHalfHandshake("\x16\x03\x01\x02\x00\x01\x00\x01\xfc\x03\x03", 11);
    constexpr std::string_view kHalfHead = "GET /alive HTTP/1.1\r\nHost: 127.0.0.1\r\nX-Slow: ";
    const std::string_view half = tls_ ? kHalfHandshake : kHalfHead;
    if (::send(fd, half.data(), half.size(), MSG_NOSIGNAL) < 0) {
      ::close(fd);
      return -1;
    }
    return fd;
  }

  void run() {
    auto nextByte = Clock::now();
    while (!stop_) {
      int open = 0;
      for (std::size_t i = 0; i < fds_.size(); ++i) {
        if (fds_[i] >= 0) {
          pollfd p{fds_[i], POLLIN, 0};
          char buffer[512];
          if (::poll(&p, 1, 0) > 0 && ::recv(fds_[i], buffer, sizeof buffer, MSG_DONTWAIT) <= 0) {
            ::close(fds_[i]);
            fds_[i] = -1;
            ++reconnects_;
          }
        }
        if (fds_[i] < 0) fds_[i] = connectSlow(i);
        if (fds_[i] >= 0) ++open;
      }
      open_ = open;
      if (Clock::now() >= nextByte) {
        for (const int fd : fds_)
          if (fd >= 0) ::send(fd, "a", 1, MSG_NOSIGNAL | MSG_DONTWAIT);
        nextByte = Clock::now() + std::chrono::seconds(1);
      }
      std::this_thread::sleep_for(std::chrono::milliseconds(50));
    }
  }

  const int port_;
  const bool tls_;
  std::vector<int> fds_;
  std::atomic<bool> stop_{false};
  std::atomic<int> open_{0};
  std::atomic<long> reconnects_{0};
  std::thread thread_;
};

int flag(int argc, char** argv, const std::string& name, int fallback) {
  for (int i = 1; i < argc; ++i) {
    const std::string arg = argv[i];
    if (arg.rfind(name + "=", 0) == 0) return std::stoi(arg.substr(name.size() + 1));
  }
  return fallback;
}

}  // namespace

int main(int argc, char** argv) {
  const int slow = flag(argc, argv, "--slow", 500);
  const int requests = flag(argc, argv, "--requests", 4000);
  const bool tls = flag(argc, argv, "--tls", 0) != 0;
  rlimit files{};
  getrlimit(RLIMIT_NOFILE, &files);
  files.rlim_cur = files.rlim_max;  // the slow connections' descriptors, here and in the daemon
  setrlimit(RLIMIT_NOFILE, &files);

  Poco::Net::initializeSSL();
  kc::test::TempDir certificates;
  kc::test::DaemonOptions options{
      .config = {{"server.workers", "16"}, {"pkcs11.sessions", "8"}, {"log.level", "warning"}}};
  if (tls) {
    kc::test::makeSelfSignedCertificate(certificates.path(), "kc-bench");
    options.config["tls.certificate"] = (certificates / "cert.pem").string();
    options.config["tls.private_key"] = (certificates / "key.pem").string();
    options.waitUntilReady = false;  // it waits for plain HTTP
  }
  Daemon daemon{options};
  std::vector<std::string> tokens;
  for (int i = 0; i < 16; ++i) {
    tokens.push_back(E2eEnvironment::get().tokenFor(E2eEnvironment::newUserId()));
    std::string answer;
    int status = 0;
    for (int attempt = 0; attempt < 200 && status == 0; ++attempt) {  // until it listens
      try {
        Poco::Net::HTTPRequest put("PUT", "/user-keys", Poco::Net::HTTPMessage::HTTP_1_1);
        put.set("Authorization", "Bearer " + tokens.back());
        put.setContentType("application/json");
        status = exchange(*sessionTo(daemon, tls), put,
                          kc::test::keyBody(kc::test::randomKeyBase64(64)), answer);
      } catch (const Poco::Exception&) {
        std::this_thread::sleep_for(std::chrono::milliseconds(50));
      }
    }
    if (status != 200) throw std::runtime_error("deposit failed: " + answer);
  }
  measure(daemon, tokens, requests / 4, tls);  // warm-up
  const Latencies baseline = measure(daemon, tokens, requests, tls);
  Latencies loaded;
  int held = 0;
  long reconnects = 0;
  {
    SlowClients clients(daemon.port(), slow, tls);
    // Into the first generation's head deadline (5 s), so the run sees them cut and replaced.
    std::this_thread::sleep_for(std::chrono::seconds(4));
    loaded = measure(daemon, tokens, requests, tls);
    held = clients.open();
    reconnects = clients.reconnects();
  }
  std::printf(
      "GET /user-keys latency over %s, %d keep-alive clients, %d requests each run\n"
      "                       p50 ms   p99 ms\n"
      "alone                %7.2f  %7.2f\n"
      "beside %4d slow     %7.2f  %7.2f   (%d open at the end, %ld reconnected)\n"
      "ratio loaded/alone   %7.2f  %7.2f\n",
      tls ? "HTTPS" : "HTTP", kClientThreads, requests, baseline.p50, baseline.p99, slow,
      loaded.p50, loaded.p99, held, reconnects, loaded.p50 / baseline.p50,
      loaded.p99 / baseline.p99);
  Poco::Net::uninitializeSSL();
  return 0;
}
