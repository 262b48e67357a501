// The real daemon's admin listener (/metrics, the detailed /health), its cached health, the
// status lines of both listeners and the write timeout.

#include <Poco/Net/ServerSocket.h>
#include <Poco/Net/SocketAddress.h>
#include <gtest/gtest.h>

#include <atomic>
#include <chrono>
#include <cmath>
#include <thread>
#include <vector>

#include "DaemonFixture.h"
#include "support/RawHttp.h"

namespace kc::test {
namespace {

using namespace std::chrono_literals;

bool has(const std::string& text, const std::string& part) {
  return text.find(part) != std::string::npos;
}

// kc_health_checks_total, as the admin listener's /metrics reports it.
long healthChecks(const Daemon& daemon) {
  const std::string body = daemon.getAdmin("/metrics").body;
  const std::string name = "\nkc_health_checks_total ";
  const auto at = body.find(name);
  if (at == std::string::npos) return -1;
  return std::stol(body.substr(at + name.size()));
}

TEST(AdminListener, ServesMetricsAndTheHealthDetailThatTheApiPortDoesNot) {
  Daemon daemon;
  EXPECT_EQ(daemon.get("/metrics").status, 404);
  const auto metrics = daemon.getAdmin("/metrics");
  EXPECT_EQ(metrics.status, 200);
  EXPECT_TRUE(has(metrics.body, "kc_http_requests_total")) << metrics.body;

  const auto anonymous = daemon.get("/health?format=json");
  EXPECT_EQ(anonymous.status, 200);
  EXPECT_TRUE(has(anonymous.body, R"({"name":"token","healthy":true})")) << anonymous.body;
  for (const std::string& secret :
       {std::string("detail"), E2eEnvironment::get().token().modulePath(), std::string("e2e-wrap"),
        daemon.dir().string()}) {
    EXPECT_FALSE(has(anonymous.body, secret)) << secret << " in " << anonymous.body;
  }
  const auto detailed = daemon.getAdmin("/health?format=json");
  EXPECT_EQ(detailed.status, 200);
  EXPECT_TRUE(has(detailed.body, R"("detail":")")) << detailed.body;
  EXPECT_EQ(daemon.get("/health").body, "Healthy");
  EXPECT_EQ(daemon.getAdmin("/health").body, "Healthy");
}

TEST(AdminListener, PortZeroTurnsItOffAndPublicMetricsKeepsMetricsOnTheApiPort) {
  Daemon daemon({.config = {{"server.admin_port", "0"}, {"server.public_metrics", "true"}}});
  EXPECT_EQ(daemon.get("/metrics").status, 200);
  EXPECT_FALSE(has(daemon.log(), "admin listener")) << daemon.log();
}

TEST(AdminListener, APortInUseStopsStartUpNamingTheSetting) {
  Poco::Net::ServerSocket taken(Poco::Net::SocketAddress("127.0.0.1", 0));
  Daemon daemon({.config = {{"server.admin_port", std::to_string(taken.address().port())}},
                 .waitUntilReady = false});
  EXPECT_EQ(daemon.waitForExit(30s).value_or(-1), 78) << daemon.log();
  EXPECT_TRUE(has(daemon.log(), "server.admin_port")) << daemon.log();
}

TEST(HealthCache, ConcurrentHealthCallsCauseAtMostOneCheckPerSecond) {
  Daemon daemon;
  const long before = healthChecks(daemon);
  ASSERT_GE(before, 0);
  const auto started = std::chrono::steady_clock::now();
  std::atomic<int> healthy{0};
  std::vector<std::thread> callers;
  for (int i = 0; i < 16; ++i) {
    callers.emplace_back([&] {
      for (int call = 0; call < 4; ++call) healthy += daemon.get("/health").status == 200;
    });
  }
  for (auto& caller : callers) caller.join();
  const double seconds =
      std::chrono::duration<double>(std::chrono::steady_clock::now() - started).count();
  const long checks = healthChecks(daemon) - before;
  EXPECT_EQ(healthy.load(), 64);
  EXPECT_GE(checks, 1);
  EXPECT_LE(checks, 1 + static_cast<long>(std::ceil(seconds))) << "64 calls in " << seconds << " s";
}

TEST(StatusLine, BothListenersSendTheStandardReasonPhrase) {
  Daemon daemon;
  EXPECT_EQ(statusLineOf(daemon.port(), rawRequest("GET", "/alive")), "HTTP/1.1 200 OK");
  EXPECT_EQ(statusLineOf(daemon.port(), rawRequest("OPTIONS", "/user-keys")),
            "HTTP/1.1 204 No Content");
  EXPECT_EQ(statusLineOf(daemon.port(), rawRequest("GET", "/user-keys")),
            "HTTP/1.1 401 Unauthorized");
  EXPECT_EQ(statusLineOf(daemon.port(), rawRequest("GET", "/nowhere")), "HTTP/1.1 404 Not Found");
  EXPECT_EQ(statusLineOf(daemon.port(), rawRequest("DELETE", "/alive")),
            "HTTP/1.1 405 Method Not Allowed");
  EXPECT_EQ(statusLineOf(daemon.adminPort(), rawRequest("GET", "/metrics")), "HTTP/1.1 200 OK");
  EXPECT_EQ(statusLineOf(daemon.adminPort(), rawRequest("GET", "/user-keys")),
            "HTTP/1.1 404 Not Found");
}

TEST(WriteTimeout, AClientThatNeverReadsIsCutAfterTheWriteTimeout) {
  Daemon daemon({.config = {{"server.write_timeout_s", "1"},
                            {"server.public_metrics", "true"},
                            {"server.max_keep_alive_requests", "1000000"}}});
  const std::size_t answer = daemon.get("/metrics").body.size();
  ASSERT_GT(answer, 1000u);
  const int requests = static_cast<int>(40'000'000 / answer);  // 40 MB: beyond any buffer
  for (const int port : {daemon.port(), daemon.adminPort()}) {
    const auto client = runStalledClient(port, "/metrics", requests, 2500ms);
    ASSERT_GT(client.requestsSent * answer, 16'000'000u) << "too little asked to fill buffers";
    EXPECT_LT(client.bytesReceived, client.requestsSent * answer / 2)
        << "port " << port << ": the daemon kept waiting for a client that does not read";
  }
  EXPECT_EQ(daemon.get("/alive").status, 200);
}

}  // namespace
}  // namespace kc::test
