// The Bitwarden Key Connector HTTP contract (DESIGN.md), row by row, against the real
// daemon with a SoftHSM token and SQLite.

#include <gtest/gtest.h>

#include "DaemonFixture.h"

namespace kc::test {
namespace {

class Contract : public ::testing::Test {
 protected:
  static void SetUpTestSuite() { daemon_ = new Daemon(); }
  static void TearDownTestSuite() {
    delete daemon_;
    daemon_ = nullptr;
  }
  static Daemon& daemon() { return *daemon_; }
  static inline Daemon* daemon_ = nullptr;

  std::string user_ = E2eEnvironment::newUserId();
  std::string token_ = E2eEnvironment::get().tokenFor(user_);
};

TEST_F(Contract, AliveAndNowAnswerAnonymouslyWithTheUtcTime) {
  for (const char* path : {"/alive", "/now"}) {
    auto response = daemon().get(path);
    EXPECT_EQ(response.status, 200) << path;
    ASSERT_GE(response.body.size(), 22u) << path;
    EXPECT_EQ(response.body.front(), '"');
    EXPECT_NE(response.body.find('T'), std::string::npos);
    EXPECT_NE(response.body.find('Z'), std::string::npos) << response.body;
    EXPECT_EQ(response.header("Cache-Control"), "no-store");
  }
}

TEST_F(Contract, HealthIsHealthyWhenTokenKeyAndDatabaseAnswer) {
  auto response = daemon().get("/health");
  EXPECT_EQ(response.status, 200);
  EXPECT_NE(response.body.find("Healthy"), std::string::npos) << response.body;
}

TEST_F(Contract, DepositThenFetchReturnsTheSameKey) {
  const std::string key = randomKeyBase64(64);
  auto posted = daemon().sendKey("POST", token_, keyBody(key));
  ASSERT_EQ(posted.status, 200) << posted.body;
  EXPECT_TRUE(posted.body.empty());
  auto fetched = daemon().get("/user-keys", token_);
  ASSERT_EQ(fetched.status, 200) << fetched.body;
  EXPECT_EQ(fetched.body, "{\"key\":\"" + key + "\"}");
  EXPECT_EQ(fetched.header("Cache-Control"), "no-store");
}

TEST_F(Contract, FetchWithoutAKeyIsNotFound) {
  EXPECT_EQ(daemon().get("/user-keys", token_).status, 404);
}

TEST_F(Contract, SecondPostIsBadRequestAndKeepsTheFirstKey) {
  const std::string first = randomKeyBase64(32);
  ASSERT_EQ(daemon().sendKey("POST", token_, keyBody(first)).status, 200);
  EXPECT_EQ(daemon().sendKey("POST", token_, keyBody(randomKeyBase64(32))).status, 400);
  EXPECT_EQ(daemon().get("/user-keys", token_).body, "{\"key\":\"" + first + "\"}");
}

TEST_F(Contract, PutCreatesThenReplaces) {
  const std::string first = randomKeyBase64(32), second = randomKeyBase64(48);
  ASSERT_EQ(daemon().sendKey("PUT", token_, keyBody(first)).status, 200);
  EXPECT_EQ(daemon().get("/user-keys", token_).body, "{\"key\":\"" + first + "\"}");
  ASSERT_EQ(daemon().sendKey("PUT", token_, keyBody(second)).status, 200);
  EXPECT_EQ(daemon().get("/user-keys", token_).body, "{\"key\":\"" + second + "\"}");
}

TEST_F(Contract, PropertyNameIsCaseInsensitive) {
  const std::string key = randomKeyBase64(32);
  ASSERT_EQ(daemon().sendKey("POST", token_, keyBody(key, "Key")).status, 200);
  EXPECT_EQ(daemon().get("/user-keys", token_).body, "{\"key\":\"" + key + "\"}");
}

TEST_F(Contract, MalformedBodiesAreBadRequestWithAMessage) {
  const std::vector<std::string> bodies = {
      "not json",
      "{\"key\":",
      "[]",
      "{\"other\":\"AAAA\"}",
      "{\"key\":\"!!notbase64!!\"}",
      keyBody(randomKeyBase64(15)),   // too short
      keyBody(randomKeyBase64(513)),  // too long
  };
  for (const auto& body : bodies) {
    auto response = daemon().sendKey("PUT", token_, body);
    EXPECT_EQ(response.status, 400) << body;
    EXPECT_NE(response.body.find("\"message\""), std::string::npos) << body;
  }
  EXPECT_EQ(daemon().get("/user-keys", token_).status, 404) << "nothing was stored";
}

TEST_F(Contract, KeySizeBoundsAreInclusive) {
  EXPECT_EQ(daemon().sendKey("PUT", token_, keyBody(randomKeyBase64(16))).status, 200);
  EXPECT_EQ(daemon().sendKey("PUT", token_, keyBody(randomKeyBase64(512))).status, 200);
}

TEST_F(Contract, NonJsonContentTypeIsBadRequest) {
  HttpRequest request{.method = "PUT", .path = "/user-keys", .body = keyBody(randomKeyBase64(32))};
  request.headers["Authorization"] = "Bearer " + token_;
  request.headers["Content-Type"] = "text/plain";
  EXPECT_EQ(daemon().send(request).status, 400);
}

TEST_F(Contract, BodyOver64KiBIsPayloadTooLarge) {
  const std::string huge = "{\"key\":\"" + std::string(70 * 1024, 'A') + "\"}";
  EXPECT_EQ(daemon().sendKey("PUT", token_, huge).status, 413);
}

TEST_F(Contract, UnknownPathIsNotFoundAndWrongMethodIsMethodNotAllowed) {
  EXPECT_EQ(daemon().get("/no-such-path").status, 404);
  HttpRequest request{.method = "DELETE", .path = "/user-keys"};
  request.headers["Authorization"] = "Bearer " + token_;
  EXPECT_EQ(daemon().send(request).status, 405);
}

TEST_F(Contract, CorsPreflightEchoesOnlyTheWebVaultOrigin) {
  HttpRequest preflight{.method = "OPTIONS", .path = "/user-keys"};
  preflight.headers["Origin"] = "https://vault.e2e.invalid";
  preflight.headers["Access-Control-Request-Method"] = "PUT";
  preflight.headers["Access-Control-Request-Headers"] = "authorization,content-type";
  auto allowed = daemon().send(preflight);
  EXPECT_LT(allowed.status, 300);
  EXPECT_EQ(allowed.header("Access-Control-Allow-Origin"), "https://vault.e2e.invalid");
  EXPECT_EQ(allowed.header("Access-Control-Allow-Credentials"), "true");
  EXPECT_NE(allowed.header("Access-Control-Allow-Methods").find("PUT"), std::string::npos);

  preflight.headers["Origin"] = "https://evil.e2e.invalid";
  auto foreign = daemon().send(preflight);
  EXPECT_TRUE(foreign.header("Access-Control-Allow-Origin").empty());
  EXPECT_TRUE(foreign.header("Access-Control-Allow-Credentials").empty());
}

TEST_F(Contract, MetricsCountRequestsAndTokenOperations) {
  ASSERT_EQ(daemon().sendKey("PUT", token_, keyBody(randomKeyBase64(32))).status, 200);
  ASSERT_EQ(daemon().get("/user-keys", token_).status, 200);
  auto metrics = daemon().getAdmin("/metrics");
  ASSERT_EQ(metrics.status, 200);
  EXPECT_NE(metrics.body.find("kc_http_requests_total"), std::string::npos);
  EXPECT_NE(metrics.body.find("kc_token_operation_duration_seconds"), std::string::npos);
  EXPECT_NE(metrics.body.find("unwrap"), std::string::npos);
}

TEST(Metrics, CanBeTurnedOff) {
  Daemon daemon({.config = {{"server.metrics", "false"}}});
  EXPECT_EQ(daemon.getAdmin("/metrics").status, 404);
  EXPECT_EQ(daemon.get("/alive").status, 200);
}

TEST_F(Contract, LogsNeverCarryKeysOrTokens) {
  const std::string key = randomKeyBase64(64);
  ASSERT_EQ(daemon().sendKey("PUT", token_, keyBody(key)).status, 200);
  ASSERT_EQ(daemon().get("/user-keys", token_).status, 200);
  const std::string log = daemon().log();
  EXPECT_NE(log.find(user_), std::string::npos) << "requests are logged with the user id";
  EXPECT_EQ(log.find(key), std::string::npos);
  EXPECT_EQ(log.find(token_.substr(token_.rfind('.') + 1)), std::string::npos);
}

}  // namespace
}  // namespace kc::test
