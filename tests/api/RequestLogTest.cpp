// The request log ("kc.http"): one line per request with method, route, status, duration,
// request id, user and client; auth failures say why; never a token, a key or the
// Authorization header.

#include <Poco/AutoPtr.h>
#include <Poco/Channel.h>
#include <Poco/Logger.h>
#include <Poco/Message.h>
#include <gtest/gtest.h>

#include <chrono>
#include <mutex>
#include <regex>
#include <string>
#include <thread>
#include <vector>

#include "ApiTestSupport.h"

namespace kc::test {
namespace {

class CapturingChannel : public Poco::Channel {
 public:
  void log(const Poco::Message& message) override {
    const std::lock_guard lock(mutex_);
    lines_.push_back(message.getText());
  }
  std::vector<std::string> lines() {
    const std::lock_guard lock(mutex_);
    return lines_;
  }
  std::string all() {
    std::string out;
    for (const auto& line : lines()) out += line + "\n";
    return out;
  }

 private:
  std::mutex mutex_;
  std::vector<std::string> lines_;
};

class RequestLogTest : public ::testing::Test {
 protected:
  void SetUp() override {
    for (const char* name : {"kc.http", "kc.jwks"}) {
      Poco::Logger::get(name).setChannel(channel_);
      Poco::Logger::get(name).setLevel(Poco::Message::PRIO_INFORMATION);
    }
  }
  void TearDown() override {
    for (const char* name : {"kc.http", "kc.jwks"}) Poco::Logger::get(name).setChannel(nullptr);
  }

  Poco::AutoPtr<CapturingChannel> channel_ = new CapturingChannel;
  ApiServer api_;
};

TEST_F(RequestLogTest, EachRequestLogsOneLineWithRouteStatusIdUserAndClient) {
  HttpCall request{.method = "GET", .path = "/user-keys?secret=1"};
  request.headers = {{"Authorization", "Bearer " + api_.token()}, {"X-Request-Id", "log-test-1"}};
  EXPECT_EQ(api_.call(request).status, 404);
  // "GET /user-keys 404 <ms>ms id=<the daemon's id> user=... client=... client_request=..."
  const std::string prefix = "GET /user-keys 404 ";
  const std::string suffix =
      " user=8f5c3f2a-1b2c-4d3e-9f10-112233445566 client=127.0.0.1 client_request=log-test-1";
  // The line is written once the answer is out: the client may read the answer first.
  int matches = 0;
  for (int attempt = 0; attempt < 100 && matches == 0; ++attempt) {
    if (attempt > 0) std::this_thread::sleep_for(std::chrono::milliseconds(20));
    for (const auto& text : channel_->lines()) {
      if (text.size() < prefix.size() + suffix.size() + 3 || text.rfind(prefix, 0) != 0 ||
          text.compare(text.size() - suffix.size(), suffix.size(), suffix) != 0) {
        continue;
      }
      const std::string middle =
          text.substr(prefix.size(), text.size() - prefix.size() - suffix.size());
      if (std::regex_match(middle, std::regex("[0-9]+\\.[0-9]ms id=[0-9a-f]{32}"))) ++matches;
    }
  }
  EXPECT_EQ(matches, 1) << channel_->all();
  EXPECT_EQ(channel_->all().find("secret=1"), std::string::npos);
}

TEST_F(RequestLogTest, AuthFailureLogsTheReasonButNeverTheToken) {
  auto claims = api_.defaultClaims();
  claims.expiresIn = -3600;
  const std::string token = api_.token(claims);
  EXPECT_EQ(api_.userKeys("GET", token).status, 401);
  const std::string log = channel_->all();
  EXPECT_NE(log.find("token expired"), std::string::npos) << log;
  EXPECT_EQ(log.find(token.substr(0, 20)), std::string::npos) << log;
  EXPECT_EQ(log.find("Bearer"), std::string::npos) << log;
}

TEST_F(RequestLogTest, KeysNeverReachTheLog) {
  const std::string key = keyBase64(32, 'z');
  EXPECT_EQ(api_.userKeys("PUT", api_.token(), R"({"key":")" + key + R"("})").status, 200);
  EXPECT_EQ(api_.userKeys("GET", api_.token()).status, 200);
  api_.keys().failWith(Status(StatusCode::kIntegrity, "record does not open"));
  EXPECT_EQ(api_.userKeys("GET", api_.token()).status, 500);
  const std::string log = channel_->all();
  EXPECT_EQ(log.find(key.substr(0, 16)), std::string::npos) << log;
  EXPECT_EQ(log.find("zzzzzzzz"), std::string::npos) << log;
  EXPECT_NE(log.find("INTEGRITY: record does not open"), std::string::npos) << log;
}

TEST(ForwardedForTest, ClientIsTheRightMostUntrustedHopOnlyWhenThePeerIsATrustedProxy) {
  struct Case {
    std::string trustedProxies;
    std::string expected;
  };
  for (const Case& c :
       {Case{"", "127.0.0.1"}, Case{"127.0.0.0/8", "10.0.0.1"},
        Case{"127.0.0.1, 10.0.0.0/8", "203.0.113.9"}, Case{"10.0.0.0/8", "127.0.0.1"}}) {
    ApiServer api({.trustedProxies = c.trustedProxies});
    HttpCall request{.method = "GET", .path = "/user-keys"};
    request.headers = {{"Authorization", "Bearer " + api.token()},
                       {"X-Forwarded-For", "198.51.100.1, 203.0.113.9, 10.0.0.1"}};
    EXPECT_EQ(api.call(request).status, 404);
    EXPECT_EQ(api.keys().lastContext().clientAddress, c.expected) << c.trustedProxies;
  }
}

// An identity server that stays down is one warning, not one per refresh or request.
TEST_F(RequestLogTest, FailingJwksRefreshIsLoggedOnce) {
  api_.identity().stop();
  for (int i = 0; i < 3; ++i) EXPECT_FALSE(api_.jwks().reload().isOk());
  int warnings = 0;
  for (const auto& text : channel_->lines()) {
    warnings += text.find("JWKS refresh failed") != std::string::npos ? 1 : 0;
  }
  EXPECT_EQ(warnings, 1) << channel_->all();
}

}  // namespace
}  // namespace kc::test
