// The admin listener (/metrics, the detailed /health) beside the API, the health cache both
// share, and what every answer of both carries: the standard reason phrase, Retry-After on a
// 503, and the write timeout.

#include <gtest/gtest.h>

#include <atomic>
#include <chrono>
#include <thread>
#include <vector>

#include "ApiTestSupport.h"
#include "support/RawHttp.h"

namespace kc::test {
namespace {

using namespace std::chrono_literals;

bool has(const std::string& text, const std::string& part) {
  return text.find(part) != std::string::npos;
}

TEST(AdminListener, MetricsAreServedThereAndNotOnTheApiPort) {
  ApiServer api;
  EXPECT_EQ(api.call({.method = "GET", .path = "/metrics"}).status, 404);
  const auto metrics = api.callAdmin({.method = "GET", .path = "/metrics"});
  EXPECT_EQ(metrics.status, 200);
  EXPECT_EQ(metrics.header("content-type"), "text/plain; version=0.0.4; charset=utf-8");
  EXPECT_TRUE(has(metrics.body, "kc_http_requests_total")) << metrics.body;
  EXPECT_EQ(metrics.header("cache-control"), "no-store");
}

TEST(AdminListener, PublicMetricsKeepsMetricsOnTheApiPort) {
  ApiServer api({.publicMetrics = true});
  EXPECT_EQ(api.call({.method = "GET", .path = "/metrics"}).status, 200);
}

TEST(AdminListener, HealthJsonOnTheApiPortNamesNoDetail) {
  ApiServer api;
  api.keys().setHealthy(false);
  const auto answer = api.call({.method = "GET", .path = "/health?format=json"});
  EXPECT_EQ(answer.status, 503);
  EXPECT_EQ(answer.body, R"({"status":"Unhealthy","components":[{"name":"token","healthy":false},)"
                         R"({"name":"database","healthy":true}]})");
  EXPECT_FALSE(has(answer.body, "slot 0 not present")) << answer.body;
  const auto text = api.call({.method = "GET", .path = "/health"});
  EXPECT_EQ(text.body, "Unhealthy");
}

TEST(AdminListener, HealthJsonOnTheAdminListenerNamesEachComponentsDetail) {
  ApiServer api;
  api.keys().setHealthy(false);
  const auto answer = api.callAdmin({.method = "GET", .path = "/health?format=json"});
  EXPECT_EQ(answer.status, 503);
  EXPECT_TRUE(has(answer.body, R"({"name":"token","healthy":false,"detail":"slot 0 not present"})"))
      << answer.body;
  EXPECT_EQ(api.callAdmin({.method = "GET", .path = "/health"}).body, "Unhealthy");
}

TEST(AdminListener, PublicHealthDetailKeepsTheDetailOnTheApiPort) {
  ApiServer api({.publicHealthDetail = true});
  api.keys().setHealthy(false);
  const auto answer = api.call({.method = "GET", .path = "/health?format=json"});
  EXPECT_TRUE(has(answer.body, "slot 0 not present")) << answer.body;
}

TEST(AdminListener, ServesOnlyMonitoringWithoutCors) {
  ApiServer api;
  EXPECT_EQ(api.callAdmin({.method = "GET", .path = "/user-keys"}).status, 404);
  EXPECT_EQ(api.callAdmin({.method = "GET", .path = "/alive"}).status, 404);
  const auto post = api.callAdmin({.method = "POST", .path = "/metrics", .body = "x"});
  EXPECT_EQ(post.status, 405);
  EXPECT_EQ(post.header("allow"), "GET");
  const auto fromBrowser = api.callAdmin(
      {.method = "GET", .path = "/metrics", .headers = {{"Origin", "https://vault.example.test"}}});
  EXPECT_EQ(fromBrowser.status, 200);
  EXPECT_FALSE(fromBrowser.has("access-control-allow-origin"));
}

TEST(HealthCache, ConcurrentHealthCallsOnBothListenersShareOneCheck) {
  ApiServer api;
  api.keys().setHealthCheckDelay(300ms);  // a slow token: every caller arrives during the check
  std::vector<std::thread> callers;
  std::atomic<int> healthy{0};
  for (int i = 0; i < 16; ++i) {
    callers.emplace_back([&, i] {
      const HttpCall request{.method = "GET", .path = "/health"};
      const auto answer = i % 2 ? api.callAdmin(request) : api.call(request);
      if (answer.status == 200 && answer.body == "Healthy") ++healthy;
    });
  }
  for (auto& caller : callers) caller.join();
  EXPECT_EQ(healthy.load(), 16);
  EXPECT_EQ(api.keys().healthChecks(), 1);
  const auto metrics = api.callAdmin({.method = "GET", .path = "/metrics"});
  EXPECT_TRUE(has(metrics.body, "kc_health_checks_total 1\n")) << metrics.body;

  std::this_thread::sleep_for(api::HealthCache::kDefaultMaxAge + 100ms);
  api.keys().setHealthCheckDelay(0ms);
  EXPECT_EQ(api.call({.method = "GET", .path = "/health"}).status, 200);
  EXPECT_EQ(api.keys().healthChecks(), 2) << "an expired report is checked again";
}

TEST(StatusLine, EveryAnswerOfTheApiCarriesTheStandardReasonPhrase) {
  ApiServer api;
  EXPECT_EQ(statusLineOf(api.port(), rawRequest("GET", "/alive")), "HTTP/1.1 200 OK");
  EXPECT_EQ(statusLineOf(api.port(), rawRequest("OPTIONS", "/alive")), "HTTP/1.1 204 No Content");
  EXPECT_EQ(statusLineOf(api.port(), rawRequest("GET", "/user-keys")), "HTTP/1.1 401 Unauthorized");
  EXPECT_EQ(statusLineOf(api.port(), rawRequest("GET", "/nowhere")), "HTTP/1.1 404 Not Found");
  EXPECT_EQ(statusLineOf(api.port(), rawRequest("DELETE", "/alive")),
            "HTTP/1.1 405 Method Not Allowed");
  api.keys().setHealthy(false);
  EXPECT_EQ(statusLineOf(api.port(), rawRequest("GET", "/health")),
            "HTTP/1.1 503 Service Unavailable");
}

TEST(StatusLine, EveryAnswerOfTheAdminListenerCarriesTheStandardReasonPhrase) {
  ApiServer api;
  EXPECT_EQ(statusLineOf(api.adminPort(), rawRequest("GET", "/metrics")), "HTTP/1.1 200 OK");
  EXPECT_EQ(statusLineOf(api.adminPort(), rawRequest("GET", "/nowhere")), "HTTP/1.1 404 Not Found");
  EXPECT_EQ(statusLineOf(api.adminPort(), rawRequest("DELETE", "/metrics")),
            "HTTP/1.1 405 Method Not Allowed");
  api.keys().setHealthy(false);
  EXPECT_EQ(statusLineOf(api.adminPort(), rawRequest("GET", "/health")),
            "HTTP/1.1 503 Service Unavailable");
}

TEST(RetryAfter, EveryServiceUnavailableAnswerAsksToRetryLater) {
  ApiServer api;
  api.keys().failWith(Status(StatusCode::kUnavailable, "database down"));
  const auto refused = api.userKeys("GET", api.token());
  EXPECT_EQ(refused.status, 503);
  EXPECT_EQ(refused.header("retry-after"), "5");
  api.keys().setHealthy(false);
  EXPECT_EQ(api.call({.method = "GET", .path = "/health"}).header("retry-after"), "5");
  EXPECT_EQ(api.callAdmin({.method = "GET", .path = "/health"}).header("retry-after"), "5");
  api.keys().failWith(Status::ok());
  EXPECT_FALSE(api.call({.method = "GET", .path = "/alive"}).has("retry-after"));
}

TEST(WriteTimeout, AClientThatNeverReadsIsCutAfterTheWriteTimeout) {
  ApiServer api({.writeTimeout = 1s});
  for (int i = 0; i < 32; ++i) {  // a large /metrics answer: 32 operations' histograms
    api.metrics().observeTokenOperation("operation-" + std::to_string(i), 0.01);
  }
  const std::size_t answer = api.callAdmin({.method = "GET", .path = "/metrics"}).body.size();
  ASSERT_GT(answer, 20000u);
  const auto started = std::chrono::steady_clock::now();
  const auto client = runStalledClient(api.adminPort(), "/metrics", 1000, 2500ms);
  const auto elapsed = std::chrono::steady_clock::now() - started;
  ASSERT_GT(client.requestsSent * answer, 16'000'000u) << "too little asked to fill the buffers";
  EXPECT_LT(client.bytesReceived, client.requestsSent * answer / 2)
      << "the server kept waiting for the client";
  EXPECT_LT(elapsed, 15s);
}

}  // namespace
}  // namespace kc::test
