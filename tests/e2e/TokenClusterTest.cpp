// pkcs11.tokens end to end: the real daemon on two SoftHSM tokens holding one imported key
// pair, loaded through the fault-injecting module so that one token (or both) can vanish and
// return while clients fetch their keys.

#include <gtest/gtest.h>

#include <atomic>
#include <chrono>
#include <fstream>
#include <random>
#include <regex>
#include <thread>

#include "DaemonFixture.h"
#include "kc/pkcs11/Pkcs11Uri.h"
#include "support/ImportedKeyPair.h"

namespace kc::test {
namespace {

using namespace std::chrono_literals;

const std::string kTokenA = "kc-ha-a";
const std::string kTokenB = "kc-ha-b";

std::shared_ptr<pkcs11::SessionPool> poolOn(const std::string& label) {
  auto& token = dynamic_cast<SoftHsmToken&>(E2eEnvironment::get().token());  // two tokens: SoftHSM
  auto uri = pkcs11::Pkcs11Uri::parse("pkcs11:token=" + label);
  auto slot = token.module()->findToken(*uri);
  if (!slot) throw std::runtime_error(slot.status().toString());
  auto pool = pkcs11::SessionPool::open(token.module(), *slot,
                                        pkcs11::PinSource::fromFile(token.pinFile()), {.size = 1});
  if (!pool) throw std::runtime_error(pool.status().toString());
  return *pool;
}

// Two tokens beside the e2e token: "ha-wrap" is one key pair on both, "ha-mismatch" a
// different key pair on each under the same label and CKA_ID.
void prepareTokensOnce() {
  static const bool prepared = [] {
    auto& token =
        dynamic_cast<SoftHsmToken&>(E2eEnvironment::get().token());  // two tokens: SoftHSM
    token.addToken(kTokenA);
    token.addToken(kTokenB);
    const auto shared = SoftwareRsaKey::generate();
    const auto a = poolOn(kTokenA);
    const auto b = poolOn(kTokenB);
    importKeyPair(*a, shared, "ha-wrap", {0xCA, 0x01});
    importKeyPair(*b, shared, "ha-wrap", {0xCA, 0x01});
    importKeyPair(*a, SoftwareRsaKey::generate(), "ha-mismatch", {0xCA, 0x02});
    importKeyPair(*b, SoftwareRsaKey::generate(), "ha-mismatch", {0xCA, 0x02});
    return true;
  }();
  (void)prepared;
}

std::string tokenUri(const std::string& label) {
  return "pkcs11:token=" + label;
}

DaemonOptions clusterOptions(const std::filesystem::path& vanishedFile,
                             const std::string& wrapKey = "ha-wrap") {
  prepareTokensOnce();
  DaemonOptions options;
  options.config = {
      {"pkcs11.module", KC_FAULTY_PKCS11_PATH},
      {"pkcs11.token", ""},
      {"pkcs11.tokens", tokenUri(kTokenA) + "," + tokenUri(kTokenB)},
      {"pkcs11.wrap_key", "pkcs11:object=" + wrapKey + ";type=private"},
      {"pkcs11.audit_key", ""},
      // Imported keys were outside a token once: never-extractable is false.
      {"policy.allow_noncompliant_key", "true"},
  };
  options.env = {{"KC_FAULTY_PKCS11_VANISHED_FILE", vanishedFile.string()}};
  return options;
}

// Makes the tokens labelled `labels` vanish (none: every token is back).
void vanish(const std::filesystem::path& file, const std::vector<std::string>& labels) {
  const auto staging = file.string() + ".new";
  {
    std::ofstream out(staging, std::ios::trunc);
    for (const auto& label : labels) out << label << "\n";
  }
  std::filesystem::rename(staging, file);  // the daemon never reads half a file
}

// The value of `series` (e.g. kc_token_in_rotation{token="..."}) in /metrics, or -1.
long metric(const Daemon& daemon, const std::string& name, const std::string& token) {
  const auto body = daemon.getAdmin("/metrics").body;
  const std::string series = name + "{token=\"" + tokenUri(token) + "\"} ";
  const auto at = body.find(series);
  if (at == std::string::npos) return -1;
  return std::stol(body.substr(at + series.size()));
}

// Waits up to `limit` for the token to reach `inRotation`; the time it took, or nullopt.
std::optional<std::chrono::milliseconds> waitForRotation(const Daemon& daemon,
                                                         const std::string& token, bool inRotation,
                                                         std::chrono::milliseconds limit) {
  const auto start = std::chrono::steady_clock::now();
  while (std::chrono::steady_clock::now() - start < limit) {
    if (metric(daemon, "kc_token_in_rotation", token) == (inRotation ? 1 : 0)) {
      return std::chrono::duration_cast<std::chrono::milliseconds>(
          std::chrono::steady_clock::now() - start);
    }
    std::this_thread::sleep_for(10ms);
  }
  return std::nullopt;
}

enum class Phase { kSomeTokenUp, kNoTokenUp, kReturning };

TEST(TokenCluster, ServesEveryKeyWhileOneTokenVanishesAndReturnsAndOnly503sWhileNoneAnswers) {
  TempDir dir("kc-e2e-cluster");
  const auto vanishedFile = dir.path() / "vanished";
  vanish(vanishedFile, {});
  Daemon daemon(clusterOptions(vanishedFile));

  struct User {
    std::string bearer;
    std::string key;
  };
  std::vector<User> users;
  for (int i = 0; i < 16; ++i) {
    User user{E2eEnvironment::get().tokenFor(E2eEnvironment::newUserId()), randomKeyBase64(64)};
    ASSERT_EQ(daemon.sendKey("PUT", user.bearer, keyBody(user.key)).status, 200);
    users.push_back(std::move(user));
  }
  EXPECT_GT(metric(daemon, "kc_token_operations_total", kTokenA), 0) << "spread over both";
  EXPECT_GT(metric(daemon, "kc_token_operations_total", kTokenB), 0) << "spread over both";

  std::atomic<Phase> phase{Phase::kSomeTokenUp};
  std::atomic<bool> stop{false};
  std::atomic<int> served{0}, wrongKeys{0}, failedWhileUp{0}, unavailable{0},
      unavailableWithoutRetryAfter{0}, otherFailures{0};
  std::vector<std::thread> clients;
  for (int c = 0; c < 4; ++c) {
    clients.emplace_back([&, c] {
      std::mt19937 pick(static_cast<unsigned>(c));
      while (!stop) {
        const User& user = users[pick() % users.size()];
        const Phase before = phase;
        const auto response = daemon.get("/user-keys", user.bearer);
        const Phase after = phase;
        if (response.status == 200) {
          ++served;
          if (response.body != "{\"key\":\"" + user.key + "\"}") ++wrongKeys;
          continue;
        }
        if (before == Phase::kSomeTokenUp && after == Phase::kSomeTokenUp) {
          ++failedWhileUp;
        } else if (response.status == 503) {
          ++unavailable;
          if (response.header("retry-after").empty()) ++unavailableWithoutRetryAfter;
        } else {
          ++otherFailures;
        }
      }
    });
  }

  // Both tokens serve; then B vanishes, is taken out, and A alone serves.
  std::this_thread::sleep_for(500ms);
  vanish(vanishedFile, {kTokenB});
  EXPECT_TRUE(waitForRotation(daemon, kTokenB, false, 5s)) << "B taken out of rotation";
  const long servedByA = metric(daemon, "kc_token_operations_total", kTokenA);
  std::this_thread::sleep_for(1s);
  EXPECT_GT(metric(daemon, "kc_token_operations_total", kTokenA), servedByA);
  EXPECT_GE(metric(daemon, "kc_token_failures_total", kTokenB), 1);

  // B returns: back in rotation within a second, found by the background probe.
  vanish(vanishedFile, {});
  const auto returned = waitForRotation(daemon, kTokenB, true, 3s);
  ASSERT_TRUE(returned) << "B never came back";
  EXPECT_LT(*returned, 1000ms);
  EXPECT_GE(metric(daemon, "kc_token_returns_total", kTokenB), 1);
  const long servedByB = metric(daemon, "kc_token_operations_total", kTokenB);
  std::this_thread::sleep_for(500ms);
  EXPECT_GT(metric(daemon, "kc_token_operations_total", kTokenB), servedByB) << "B serves again";

  // Both vanish: 503 with Retry-After, never a wrong key or another error.
  const int unavailableBefore = unavailable;
  phase = Phase::kNoTokenUp;
  vanish(vanishedFile, {kTokenA, kTokenB});
  EXPECT_TRUE(waitForRotation(daemon, kTokenA, false, 5s));
  EXPECT_TRUE(waitForRotation(daemon, kTokenB, false, 5s));
  std::this_thread::sleep_for(500ms);
  EXPECT_GT(unavailable, unavailableBefore) << "requests while no token answers are refused";
  const auto unhealthy = daemon.getAdmin("/health?format=json");
  EXPECT_EQ(unhealthy.status, 503) << unhealthy.body;
  EXPECT_NE(unhealthy.body.find(R"({"name":"token-2","healthy":false)"), std::string::npos)
      << unhealthy.body;

  // A returns; once it is back in rotation every request succeeds again.
  phase = Phase::kReturning;
  vanish(vanishedFile, {kTokenB});
  const auto aBack = waitForRotation(daemon, kTokenA, true, 3s);
  ASSERT_TRUE(aBack) << "A never came back";
  EXPECT_LT(*aBack, 1000ms);
  phase = Phase::kSomeTokenUp;
  std::this_thread::sleep_for(1s);
  vanish(vanishedFile, {});
  EXPECT_TRUE(waitForRotation(daemon, kTokenB, true, 3s));
  const auto healthy = daemon.getAdmin("/health?format=json");
  EXPECT_EQ(healthy.status, 200) << healthy.body;

  stop = true;
  for (auto& client : clients) client.join();
  EXPECT_EQ(wrongKeys, 0);
  EXPECT_EQ(failedWhileUp, 0) << "a request failed while a token was in rotation";
  EXPECT_EQ(unavailableWithoutRetryAfter, 0);
  EXPECT_EQ(otherFailures, 0) << "only 503 while no token answers";
  EXPECT_GT(served, 100);
  const auto log = daemon.log();
  EXPECT_NE(log.find("token " + tokenUri(kTokenB) + " is out of rotation"), std::string::npos);
  EXPECT_NE(log.find("token " + tokenUri(kTokenB) + " is back in rotation"), std::string::npos);
}

TEST(TokenCluster, AKeyThatDiffersBetweenTheTokensStopsStartUpNamingBoth) {
  TempDir dir("kc-e2e-cluster");
  auto options = clusterOptions(dir.path() / "vanished", "ha-mismatch");
  const auto [code, log] = failedStart(options);
  EXPECT_NE(code, 0);
  EXPECT_NE(log.find("pkcs11.wrap_key"), std::string::npos) << log;
  EXPECT_NE(log.find("not the same key on token " + tokenUri(kTokenB) + " as on token " +
                     tokenUri(kTokenA)),
            std::string::npos)
      << log;
}

TEST(TokenCluster, ATokenListNamingOneTokenTwiceOrBesidePkcs11TokenIsRefused) {
  TempDir dir("kc-e2e-cluster");
  auto twice = clusterOptions(dir.path() / "vanished");
  twice.config["pkcs11.tokens"] = tokenUri(kTokenA) + "," + tokenUri(kTokenA);
  const auto [twiceCode, twiceLog] = failedStart(twice);
  EXPECT_NE(twiceCode, 0);
  EXPECT_NE(twiceLog.find("pkcs11.tokens"), std::string::npos) << twiceLog;

  auto both = clusterOptions(dir.path() / "vanished");
  both.config["pkcs11.token"] = tokenUri(kTokenA);
  const auto [bothCode, bothLog] = failedStart(both);
  EXPECT_NE(bothCode, 0);
  EXPECT_NE(bothLog.find("not both"), std::string::npos) << bothLog;
}

}  // namespace
}  // namespace kc::test
