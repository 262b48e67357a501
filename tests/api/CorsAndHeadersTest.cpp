// Headers every answer carries (Cache-Control, X-Request-Id), CORS for the web vault's
// origin only, and the metrics endpoint.

#include <gtest/gtest.h>

#include "ApiTestSupport.h"

namespace kc::test {
namespace {

constexpr const char* kVault = "https://vault.example.test";

class CorsAndHeadersTest : public ::testing::Test {
 protected:
  HttpAnswer preflight(const std::string& origin) {
    HttpCall request{.method = "OPTIONS", .path = "/user-keys"};
    request.headers = {{"Origin", origin},
                       {"Access-Control-Request-Method", "PUT"},
                       {"Access-Control-Request-Headers", "authorization, content-type"}};
    return api_.call(request);
  }

  ApiServer api_;
};

TEST_F(CorsAndHeadersTest, PreflightFromTheWebVaultEchoesOriginMethodsAndHeaders) {
  const auto answer = preflight(kVault);
  EXPECT_EQ(answer.status, 204);
  EXPECT_FALSE(answer.has("content-length"));
  EXPECT_EQ(answer.body, "");
  EXPECT_EQ(answer.header("access-control-allow-origin"), kVault);
  EXPECT_EQ(answer.header("access-control-allow-credentials"), "true");
  EXPECT_EQ(answer.header("access-control-allow-methods"), "GET, POST, PUT, OPTIONS");
  EXPECT_EQ(answer.header("access-control-allow-headers"), "authorization, content-type");
  EXPECT_EQ(answer.header("vary"), "Origin");
  EXPECT_EQ(answer.header("cache-control"), "no-store");
}

TEST_F(CorsAndHeadersTest, PreflightFromAForeignOriginAnswersWithoutCorsHeaders) {
  for (const std::string origin : {"https://evil.example.test", "https://vault.example.test.evil",
                                   "http://vault.example.test", "null"}) {
    const auto answer = preflight(origin);
    EXPECT_EQ(answer.status, 204) << origin;
    for (const auto& [name, value] : answer.headers) {
      EXPECT_EQ(name.rfind("access-control-", 0), std::string::npos) << origin << ": " << name;
    }
    EXPECT_FALSE(answer.has("vary")) << origin;
  }
}

TEST_F(CorsAndHeadersTest, AnswersToTheWebVaultCarryCorsHeaders) {
  HttpCall request{.method = "GET", .path = "/user-keys"};
  request.headers = {{"Origin", kVault}, {"Authorization", "Bearer " + api_.token()}};
  const auto answer = api_.call(request);
  EXPECT_EQ(answer.status, 404);
  EXPECT_EQ(answer.header("access-control-allow-origin"), kVault);
  EXPECT_EQ(answer.header("access-control-allow-credentials"), "true");
  EXPECT_FALSE(answer.has("access-control-allow-methods"));  // only on preflight
  // Error answers (here a 401) carry them too, so the vault can read the status.
  const auto refused =
      api_.call({.method = "GET", .path = "/user-keys", .headers = {{"Origin", kVault}}});
  EXPECT_EQ(refused.status, 401);
  EXPECT_EQ(refused.header("access-control-allow-origin"), kVault);
}

TEST_F(CorsAndHeadersTest, AnswersToAForeignOriginCarryNoCorsHeaders) {
  HttpCall request{.method = "GET", .path = "/alive"};
  request.headers = {{"Origin", "https://evil.example.test"}};
  const auto answer = api_.call(request);
  EXPECT_EQ(answer.status, 200);
  EXPECT_FALSE(answer.has("access-control-allow-origin"));
  EXPECT_FALSE(answer.has("access-control-allow-credentials"));
}

TEST_F(CorsAndHeadersTest, NoOriginConfiguredMeansNoCorsHeaders) {
  ApiServer closed({.webVaultOrigin = ""});
  HttpCall request{.method = "OPTIONS", .path = "/alive"};
  request.headers = {{"Origin", kVault}, {"Access-Control-Request-Method", "GET"}};
  EXPECT_FALSE(closed.call(request).has("access-control-allow-origin"));
}

TEST_F(CorsAndHeadersTest, EveryAnswerCarriesCacheControlNoStoreAndARequestId) {
  const std::vector<HttpCall> requests = {
      {.method = "GET", .path = "/alive"},
      {.method = "GET", .path = "/now"},
      {.method = "GET", .path = "/health"},
      {.method = "GET", .path = "/health?format=json"},
      {.method = "GET", .path = "/metrics"},
      {.method = "GET", .path = "/nowhere"},
      {.method = "DELETE", .path = "/user-keys"},
      {.method = "OPTIONS", .path = "/user-keys"},
      {.method = "GET", .path = "/user-keys"},
      {.method = "GET", .path = "/user-keys", .headers = {{"Authorization", "Bearer x.y.z"}}},
      {.method = "GET",
       .path = "/user-keys",
       .headers = {{"Authorization", "Bearer " + api_.token()}}},
      {.method = "PUT",
       .path = "/user-keys",
       .headers = {{"Authorization", "Bearer " + api_.token()}, {"Content-Type", "text/plain"}},
       .body = "x"},
      {.method = "PUT",
       .path = "/user-keys",
       .headers = {{"Authorization", "Bearer " + api_.token()},
                   {"Content-Type", "application/json"}},
       .body = keyBody(32)},
  };
  std::set<std::string> ids;
  for (const auto& request : requests) {
    const auto answer = api_.call(request);
    EXPECT_EQ(answer.header("cache-control"), "no-store") << request.method << " " << request.path;
    EXPECT_EQ(answer.header("x-request-id").size(), 32u) << request.method << " " << request.path;
    ids.insert(answer.header("x-request-id"));
  }
  EXPECT_EQ(ids.size(), requests.size());
  api_.keys().failWith(Status(StatusCode::kInternal, "boom"));
  const auto failed = api_.userKeys("GET", api_.token());
  EXPECT_EQ(failed.status, 500);
  EXPECT_EQ(failed.header("cache-control"), "no-store");
}

TEST_F(CorsAndHeadersTest, ClientRequestIdIsEchoedInItsOwnHeaderNeverTakenAsTheRequestId) {
  HttpCall request{.method = "GET", .path = "/alive"};
  request.headers = {{"X-Request-Id", "lb-7f3a.9_x"}};
  const auto answer = api_.call(request);
  EXPECT_EQ(answer.header("x-client-request-id"), "lb-7f3a.9_x");
  EXPECT_EQ(answer.header("x-request-id").size(), 32u);
  EXPECT_NE(answer.header("x-request-id"), "lb-7f3a.9_x");
}

TEST_F(CorsAndHeadersTest, ClientRequestIdIsClippedAndSanitisedBeforeItIsEchoed) {
  struct Case {
    std::string sent;
    std::string echoed;
  };
  for (const Case& c :
       {Case{std::string(200, 'a'), std::string(128, 'a')}, Case{"a\"b<script>", "a_b_script_"},
        Case{"00-4bf92f-00f067aa:1/x+y=z@h", "00-4bf92f-00f067aa:1/x+y=z@h"}}) {
    HttpCall request{.method = "GET", .path = "/alive"};
    request.headers = {{"X-Request-Id", c.sent}};
    const auto answer = api_.call(request);
    EXPECT_EQ(answer.header("x-client-request-id"), c.echoed);
    EXPECT_EQ(answer.header("x-request-id").size(), 32u);
  }
}

TEST_F(CorsAndHeadersTest, NoClientRequestIdHeaderWhenTheClientSentNone) {
  EXPECT_EQ(api_.call({.method = "GET", .path = "/alive"}).header("x-client-request-id"), "");
}

TEST_F(CorsAndHeadersTest, MetricsCountRequestsByMatchedRouteMethodAndStatus) {
  api_.call({.method = "GET", .path = "/alive"});
  api_.call({.method = "GET", .path = "/alive?probe=1"});
  api_.call({.method = "GET", .path = "/user-keys"});
  api_.call({.method = "GET", .path = "/secret/path/123"});
  api_.call({.method = "BREW", .path = "/alive"});
  api_.metrics().observeTokenOperation("decrypt", 0.004);
  api_.metrics().addDatabaseError();
  const auto answer = api_.callAdmin({.method = "GET", .path = "/metrics"});
  EXPECT_EQ(answer.status, 200);
  EXPECT_EQ(answer.header("content-type"), "text/plain; version=0.0.4; charset=utf-8");
  const std::string& text = answer.body;
  EXPECT_NE(text.find(R"(kc_http_requests_total{route="/alive",method="GET",status="200"} 2)"),
            std::string::npos)
      << text;
  EXPECT_NE(text.find(R"(kc_http_requests_total{route="/user-keys",method="GET",status="401"} 1)"),
            std::string::npos);
  EXPECT_NE(text.find(R"(kc_http_requests_total{route="unmatched",method="GET",status="404"} 1)"),
            std::string::npos);
  EXPECT_NE(text.find(R"(kc_http_requests_total{route="/alive",method="OTHER",status="405"} 1)"),
            std::string::npos);
  EXPECT_EQ(text.find("/secret/path"), std::string::npos);
  EXPECT_NE(text.find(R"(kc_http_request_duration_seconds_count{route="/alive"} 3)"),
            std::string::npos);
  EXPECT_NE(text.find(R"(kc_http_request_duration_seconds_bucket{route="/alive",le="+Inf"} 3)"),
            std::string::npos);
  EXPECT_NE(
      text.find(R"(kc_token_operation_duration_seconds_bucket{operation="decrypt",le="0.005"} 1)"),
      std::string::npos);
  EXPECT_NE(text.find("kc_token_pool_waits_total 0"), std::string::npos);
  EXPECT_NE(text.find("kc_database_errors_total 1"), std::string::npos);
  EXPECT_NE(text.find("# TYPE kc_jwks_refreshes_total counter"), std::string::npos);
}

TEST(MetricsTest, TokenPoolWaitsComeFromTheSource) {
  api::Metrics metrics;
  EXPECT_NE(metrics.render().find("kc_token_pool_waits_total 0\n"), std::string::npos);
  metrics.setTokenPoolWaitsSource([] { return std::uint64_t{17}; });
  EXPECT_NE(metrics.render().find("kc_token_pool_waits_total 17\n"), std::string::npos);
}

TEST(MetricsTest, TokenOperationNamesAreBounded) {
  api::Metrics metrics;
  for (std::size_t i = 0; i < api::Metrics::kMaxOperations + 10; ++i) {
    metrics.observeTokenOperation("op" + std::to_string(i), 0.001);
  }
  const std::string text = metrics.render();
  EXPECT_NE(text.find(R"(kc_token_operation_duration_seconds_count{operation="other"} 10)"),
            std::string::npos);
  EXPECT_EQ(text.find(R"(operation="op40")"), std::string::npos);
}

TEST(MetricsTest, HistogramBucketsAreCumulative) {
  api::Metrics metrics;
  metrics.observeRequest("/alive", "GET", 200, 0.002);
  metrics.observeRequest("/alive", "GET", 200, 0.2);
  metrics.observeRequest("/alive", "GET", 200, 20);
  const std::string text = metrics.render();
  EXPECT_NE(text.find(R"(kc_http_request_duration_seconds_bucket{route="/alive",le="0.001"} 0)"),
            std::string::npos);
  EXPECT_NE(text.find(R"(kc_http_request_duration_seconds_bucket{route="/alive",le="0.005"} 1)"),
            std::string::npos);
  EXPECT_NE(text.find(R"(kc_http_request_duration_seconds_bucket{route="/alive",le="0.25"} 2)"),
            std::string::npos);
  EXPECT_NE(text.find(R"(kc_http_request_duration_seconds_bucket{route="/alive",le="10"} 2)"),
            std::string::npos);
  EXPECT_NE(text.find(R"(kc_http_request_duration_seconds_bucket{route="/alive",le="+Inf"} 3)"),
            std::string::npos);
}

}  // namespace
}  // namespace kc::test
