// The HTTP contract of DESIGN.md, row by row, against a real server on 127.0.0.1.

#include <gtest/gtest.h>

#include <cctype>

#include "ApiTestSupport.h"

namespace kc::test {
namespace {

// The user ApiServer's default token names.
UserId defaultUser() {
  return testUserId("8f5c3f2a-1b2c-4d3e-9f10-112233445566");
}

class UserKeysContractTest : public ::testing::Test {
 protected:
  ApiServer api_;
};

// "2026-11-25T15:00:00.123Z", quotes included ('d' stands for a digit).
bool isTimeJsonString(const std::string& body) {
  constexpr std::string_view pattern = R"("dddd-dd-ddTdd:dd:dd.dddZ")";
  if (body.size() != pattern.size()) return false;
  for (std::size_t i = 0; i < body.size(); ++i) {
    const bool ok = pattern[i] == 'd' ? std::isdigit(static_cast<unsigned char>(body[i])) != 0
                                      : body[i] == pattern[i];
    if (!ok) return false;
  }
  return true;
}

TEST_F(UserKeysContractTest, AliveAnswersCurrentUtcTimeAsJsonString) {
  const auto answer = api_.call({.method = "GET", .path = "/alive"});
  EXPECT_EQ(answer.status, 200);
  EXPECT_TRUE(isTimeJsonString(answer.body)) << answer.body;
  EXPECT_EQ(answer.header("content-type").rfind("application/json", 0), 0u);
}

TEST_F(UserKeysContractTest, NowAnswersCurrentUtcTimeAsJsonString) {
  const auto answer = api_.call({.method = "GET", .path = "/now"});
  EXPECT_EQ(answer.status, 200);
  EXPECT_TRUE(isTimeJsonString(answer.body)) << answer.body;
}

TEST_F(UserKeysContractTest, HealthIsHealthyTextWhenEverythingAnswers) {
  const auto answer = api_.call({.method = "GET", .path = "/health"});
  EXPECT_EQ(answer.status, 200);
  EXPECT_EQ(answer.body, "Healthy");
  EXPECT_EQ(answer.header("content-type").rfind("text/plain", 0), 0u);
}

TEST_F(UserKeysContractTest, HealthIsUnhealthy503WithoutDetailsWhenAComponentFails) {
  api_.keys().setHealthy(false);
  const auto answer = api_.call({.method = "GET", .path = "/health"});
  EXPECT_EQ(answer.status, 503);
  EXPECT_EQ(answer.body, "Unhealthy");
}

TEST_F(UserKeysContractTest, HealthJsonVariantOnTheAdminListenerListsComponentsWithDetail) {
  api_.keys().setHealthy(false);
  const auto answer = api_.callAdmin({.method = "GET", .path = "/health?format=json"});
  EXPECT_EQ(answer.status, 503);
  EXPECT_NE(answer.body.find(R"("status":"Unhealthy")"), std::string::npos) << answer.body;
  EXPECT_NE(answer.body.find(R"({"name":"token","healthy":false,"detail":"slot 0 not present"})"),
            std::string::npos)
      << answer.body;
  EXPECT_NE(answer.body.find(R"("name":"database","healthy":true)"), std::string::npos);
}

TEST_F(UserKeysContractTest, GetReturnsTheStoredKeyAsBase64) {
  api_.keys().put(defaultUser(), std::string(64, 'k'));
  const auto answer = api_.userKeys("GET", api_.token());
  EXPECT_EQ(answer.status, 200);
  EXPECT_EQ(answer.body, R"({"key":")" + keyBase64(64) + R"("})");
  EXPECT_EQ(answer.header("content-type").rfind("application/json", 0), 0u);
}

TEST_F(UserKeysContractTest, GetIsNotFoundWhenTheUserHasNoKey) {
  const auto answer = api_.userKeys("GET", api_.token());
  EXPECT_EQ(answer.status, 404);
  EXPECT_NE(answer.body.find(R"("message")"), std::string::npos);
}

TEST_F(UserKeysContractTest, PostStoresTheKeyAndAnswersEmpty200) {
  const auto answer = api_.userKeys("POST", api_.token(), keyBody(32));
  EXPECT_EQ(answer.status, 200);
  EXPECT_EQ(answer.body, "");
  EXPECT_EQ(api_.keys().get(defaultUser()), std::string(32, 'k'));
}

TEST_F(UserKeysContractTest, PostIsBadRequestWhenTheUserAlreadyHasAKey) {
  api_.keys().put(defaultUser(), std::string(32, 'o'));
  const auto answer = api_.userKeys("POST", api_.token(), keyBody(32));
  EXPECT_EQ(answer.status, 400);
  EXPECT_NE(answer.body.find(R"("message")"), std::string::npos);
  EXPECT_EQ(api_.keys().get(defaultUser()), std::string(32, 'o'));
}

TEST_F(UserKeysContractTest, PutCreatesAKey) {
  const auto answer = api_.userKeys("PUT", api_.token(), keyBody(48));
  EXPECT_EQ(answer.status, 200);
  EXPECT_EQ(api_.keys().get(defaultUser()), std::string(48, 'k'));
}

TEST_F(UserKeysContractTest, PutReplacesAnExistingKey) {
  api_.keys().put(defaultUser(), std::string(32, 'o'));
  const auto answer = api_.userKeys("PUT", api_.token(), keyBody(40));
  EXPECT_EQ(answer.status, 200);
  EXPECT_EQ(api_.keys().get(defaultUser()), std::string(40, 'k'));
}

TEST_F(UserKeysContractTest, PropertyNameIsMatchedCaseInsensitively) {
  for (const std::string property : {"Key", "KEY", "kEy", "key"}) {
    const auto answer = api_.userKeys("PUT", api_.token(), keyBody(32, property));
    EXPECT_EQ(answer.status, 200) << property;
  }
}

TEST_F(UserKeysContractTest, OtherPropertiesAreIgnored) {
  const auto answer = api_.userKeys(
      "PUT", api_.token(), R"({"id":7,"nested":{"key":1},"key":")" + keyBase64(32) + R"("})");
  EXPECT_EQ(answer.status, 200);
}

void expectBadRequest(const HttpAnswer& answer, const std::string& what) {
  EXPECT_EQ(answer.status, 400) << what;
  EXPECT_EQ(answer.body.rfind(R"({"message":")", 0), 0u) << what << ": " << answer.body;
  EXPECT_EQ(answer.header("content-type").rfind("application/json", 0), 0u) << what;
}

TEST_F(UserKeysContractTest, MalformedBodiesAreBadRequestsWithAMessage) {
  const std::vector<std::string> bodies = {
      "",
      "{",
      "not json",
      R"(["key"])",
      R"("key")",
      "{}",
      R"({"key":null})",
      R"({"key":5})",
      R"({"key":["AAAA"]})",
      R"({"key":")" + keyBase64(32) + R"(","Key":")" + keyBase64(32) + R"("})"};
  for (const auto& body : bodies) {
    expectBadRequest(api_.userKeys("PUT", api_.token(), body), body);
  }
  EXPECT_FALSE(api_.keys().get(defaultUser()));
}

TEST_F(UserKeysContractTest, InvalidBase64IsBadRequest) {
  for (const std::string text : {"!!!!", "AAAAAAAAAAAAAAAAAAAAAAA", "AAAAAAAAAAAAAAAAAAAAAA==A",
                                 "AAAA AAAAAAAAAAAAAAAAAAA=", "AAAAAAAAAAAAAAAAAAAAAA-_"}) {
    expectBadRequest(api_.userKeys("PUT", api_.token(), R"({"key":")" + text + R"("})"), text);
  }
}

TEST_F(UserKeysContractTest, KeyShorterThan16BytesIsBadRequest) {
  expectBadRequest(api_.userKeys("PUT", api_.token(), keyBody(15)), "15 bytes");
  expectBadRequest(api_.userKeys("PUT", api_.token(), R"({"key":""})"), "empty");
}

TEST_F(UserKeysContractTest, KeyLongerThan512BytesIsBadRequest) {
  expectBadRequest(api_.userKeys("PUT", api_.token(), keyBody(513)), "513 bytes");
}

TEST_F(UserKeysContractTest, KeysOf16And512BytesAreAccepted) {
  EXPECT_EQ(api_.userKeys("PUT", api_.token(), keyBody(16)).status, 200);
  EXPECT_EQ(api_.userKeys("PUT", api_.token(), keyBody(512)).status, 200);
}

TEST_F(UserKeysContractTest, NonJsonContentTypeIsBadRequest) {
  expectBadRequest(api_.userKeys("PUT", api_.token(), keyBody(32), "text/plain"), "text/plain");
  expectBadRequest(
      api_.userKeys("PUT", api_.token(), keyBody(32), "application/json; charset=latin1"),
      "latin1");
  expectBadRequest(api_.userKeys("PUT", api_.token(), keyBody(32), ""), "no content type");
}

TEST_F(UserKeysContractTest, JsonContentTypeWithOrWithoutUtf8CharsetIsAccepted) {
  EXPECT_EQ(api_.userKeys("PUT", api_.token(), keyBody(32), "application/json").status, 200);
  EXPECT_EQ(
      api_.userKeys("PUT", api_.token(), keyBody(32), "Application/JSON; Charset=UTF-8").status,
      200);
}

TEST_F(UserKeysContractTest, BodyDeclaredOver64KiBIsPayloadTooLargeBeforeReading) {
  HttpCall request{.method = "PUT", .path = "/user-keys"};
  request.headers = {{"Authorization", "Bearer " + api_.token()},
                     {"Content-Type", "application/json"}};
  request.declaredLength = 64 * 1024 + 1;
  const auto answer = api_.call(request);
  EXPECT_EQ(answer.status, 413);
  EXPECT_EQ(answer.header("cache-control"), "no-store");
}

TEST_F(UserKeysContractTest, ChunkedBodyOver64KiBIsPayloadTooLarge) {
  HttpCall request{.method = "PUT", .path = "/user-keys"};
  request.headers = {{"Authorization", "Bearer " + api_.token()},
                     {"Content-Type", "application/json"}};
  request.chunked = true;
  request.body = keyBody(32) + std::string(64 * 1024, ' ');
  EXPECT_EQ(api_.call(request).status, 413);
}

TEST_F(UserKeysContractTest, ChunkedBodyWithinTheLimitIsRead) {
  HttpCall request{.method = "PUT", .path = "/user-keys"};
  request.headers = {{"Authorization", "Bearer " + api_.token()},
                     {"Content-Type", "application/json"}};
  request.chunked = true;
  request.body = keyBody(32);
  EXPECT_EQ(api_.call(request).status, 200);
}

TEST_F(UserKeysContractTest, BodyOfExactly64KiBIsAccepted) {
  std::string body = keyBody(32);
  body += std::string(64 * 1024 - body.size(), ' ');
  EXPECT_EQ(api_.userKeys("PUT", api_.token(), body).status, 200);
}

TEST_F(UserKeysContractTest, UnavailableKeyServiceIs503) {
  api_.keys().failWith(Status(StatusCode::kUnavailable, "database down at 10.0.0.5"));
  const auto answer = api_.userKeys("GET", api_.token());
  EXPECT_EQ(answer.status, 503);
  EXPECT_EQ(answer.body.find("10.0.0.5"), std::string::npos);
}

TEST_F(UserKeysContractTest, KeyServiceTimeoutIs503) {
  api_.keys().failWith(Status(StatusCode::kTimeout, "token pool wait"));
  EXPECT_EQ(api_.userKeys("PUT", api_.token(), keyBody(32)).status, 503);
}

TEST_F(UserKeysContractTest, IntegrityFailureIs500WithoutInternals) {
  api_.keys().failWith(Status(StatusCode::kIntegrity, "envelope v2 binding mismatch"));
  const auto answer = api_.userKeys("GET", api_.token());
  EXPECT_EQ(answer.status, 500);
  EXPECT_EQ(answer.body.find("envelope"), std::string::npos) << answer.body;
  EXPECT_NE(answer.body.find(answer.header("x-request-id")), std::string::npos) << answer.body;
}

TEST_F(UserKeysContractTest, OtherKeyServiceFailuresAre500WithoutInternals) {
  api_.keys().failWith(Status(StatusCode::kTokenError, "CKR_DEVICE_ERROR in slot 3"));
  const auto answer = api_.userKeys("PUT", api_.token(), keyBody(32));
  EXPECT_EQ(answer.status, 500);
  EXPECT_EQ(answer.body.find("CKR"), std::string::npos) << answer.body;
}

TEST_F(UserKeysContractTest, KeyServiceSeesCanonicalUserIdRequestIdAndClientAddress) {
  HttpCall request{.method = "GET", .path = "/user-keys"};
  request.headers = {{"Authorization", "Bearer " + api_.token()}, {"X-Request-Id", "req-42.a_b"}};
  const auto answer = api_.call(request);
  EXPECT_EQ(answer.status, 404);
  const auto context = api_.keys().lastContext();
  EXPECT_EQ(context.userId, defaultUser());
  EXPECT_EQ(context.requestId, answer.header("x-request-id"));
  EXPECT_EQ(context.requestId.size(), 32u);
  EXPECT_EQ(context.clientRequestId, "req-42.a_b");
  EXPECT_EQ(context.clientAddress, "127.0.0.1");
}

TEST_F(UserKeysContractTest, UnknownPathIsNotFound) {
  EXPECT_EQ(api_.call({.method = "GET", .path = "/user-keys/extra"}).status, 404);
  EXPECT_EQ(api_.call({.method = "GET", .path = "/"}).status, 404);
}

TEST_F(UserKeysContractTest, QueryAndTrailingSlashDoNotChangeTheRoute) {
  EXPECT_EQ(api_.call({.method = "GET", .path = "/alive?x=1"}).status, 200);
  EXPECT_EQ(api_.call({.method = "GET", .path = "/alive/"}).status, 200);
}

TEST_F(UserKeysContractTest, WrongMethodIsMethodNotAllowedWithAllowHeader) {
  const auto answer = api_.call({.method = "DELETE", .path = "/user-keys"});
  EXPECT_EQ(answer.status, 405);
  EXPECT_EQ(answer.header("allow"), "GET, POST, PUT, OPTIONS");
  const auto alive = api_.call({.method = "POST", .path = "/alive", .body = "x"});
  EXPECT_EQ(alive.status, 405);
  EXPECT_EQ(alive.header("allow"), "GET, OPTIONS");
}

}  // namespace
}  // namespace kc::test

namespace kc::test {
namespace {

TEST(RefusalAuditTest, RefusalsBeforeTheKeyServiceAreRecordedWithAReasonOnly) {
  ApiServer api;
  auto expired = api.defaultClaims();
  expired.expiresIn = -3600;
  auto noScope = api.defaultClaims();
  noScope.scopeJson.reset();
  const std::string expiredToken = api.token(expired);
  EXPECT_EQ(api.call({.method = "GET", .path = "/user-keys"}).status, 401);
  EXPECT_EQ(api.userKeys("GET", expiredToken).status, 401);
  EXPECT_EQ(api.userKeys("GET", api.token(noScope)).status, 403);
  EXPECT_EQ(api.userKeys("PUT", api.token(), keyBody(32), "text/plain").status, 400);
  EXPECT_EQ(api.userKeys("PUT", api.token(), keyBody(8)).status, 400);
  HttpCall huge{.method = "PUT", .path = "/user-keys"};
  huge.headers = {{"Authorization", "Bearer " + api.token()}, {"Content-Type", "application/json"}};
  huge.declaredLength = 1 << 20;
  EXPECT_EQ(api.call(huge).status, 413);
  EXPECT_EQ(api.userKeys("PUT", api.token(), keyBody(32)).status, 200);  // not a refusal

  const auto refusals = api.keys().refusals();
  ASSERT_EQ(refusals.size(), 6u);
  const std::vector<int> statuses = {401, 401, 403, 400, 400, 413};
  for (std::size_t i = 0; i < refusals.size(); ++i) {
    EXPECT_EQ(refusals[i].status, statuses[i]) << i;
    EXPECT_FALSE(refusals[i].reason.empty()) << i;
    EXPECT_EQ(refusals[i].reason.find(expiredToken.substr(0, 20)), std::string::npos);
  }
  EXPECT_EQ(refusals[1].reason, "token expired");
  EXPECT_FALSE(refusals[0].userId.has_value());
  EXPECT_FALSE(refusals[1].userId.has_value()) << "an unauthenticated token names nobody";
  EXPECT_EQ(refusals[2].userId, defaultUser())
      << "a valid but unauthorised token's user is recorded";
  EXPECT_EQ(refusals[3].userId, defaultUser());
}

}  // namespace
}  // namespace kc::test
