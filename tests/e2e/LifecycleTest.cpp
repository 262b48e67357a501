// The daemon's life: start-up checks that stop it with one clear line, SIGTERM draining,
// restarts that keep every key, PostgreSQL instead of SQLite, and records swapped between
// users in the database refused as integrity failures.

#include <Poco/Net/HTTPClientSession.h>
#include <Poco/Net/HTTPRequest.h>
#include <Poco/Net/HTTPResponse.h>
#include <gtest/gtest.h>
#include <signal.h>
#include <sqlite3.h>

#include <filesystem>
#include <fstream>
#include <set>
#include <thread>

#include "DaemonFixture.h"
#include "support/DatabaseServers.h"

namespace kc::test {
namespace {

struct Deposit {
  std::string user;
  std::string token;
  std::string key;
};

std::vector<Deposit> depositKeys(const Daemon& daemon, int count) {
  std::vector<Deposit> out;
  for (int i = 0; i < count; ++i) {
    Deposit deposit{E2eEnvironment::newUserId(), {}, randomKeyBase64(64)};
    deposit.token = E2eEnvironment::get().tokenFor(deposit.user);
    auto response = daemon.sendKey("POST", deposit.token, keyBody(deposit.key));
    if (response.status != 200) throw std::runtime_error("deposit failed: " + response.body);
    out.push_back(deposit);
  }
  return out;
}

void expectKeys(const Daemon& daemon, const std::vector<Deposit>& deposits) {
  for (const auto& deposit : deposits) {
    auto response = daemon.get("/user-keys", deposit.token);
    EXPECT_EQ(response.status, 200) << deposit.user;
    EXPECT_EQ(response.body, "{\"key\":\"" + deposit.key + "\"}") << deposit.user;
  }
}

TEST(Lifecycle, SigtermStopsCleanlyWithExitZero) {
  Daemon daemon;
  depositKeys(daemon, 1);
  EXPECT_EQ(daemon.stop(SIGTERM), 0) << daemon.log();
  EXPECT_NE(daemon.log().find("stopped"), std::string::npos);
}

// An operator tells the daemon's threads apart in top -H or ps -L by their names.
TEST(Lifecycle, ThreadsAreNamedForWhatTheyDo) {
  Daemon daemon({.config = {{"server.workers", "3"}}});
  depositKeys(daemon, 1);
  std::multiset<std::string> names;
  for (const auto& task :
       std::filesystem::directory_iterator("/proc/" + std::to_string(daemon.pid()) + "/task")) {
    std::ifstream comm(task.path() / "comm");
    std::string name;
    std::getline(comm, name);
    names.insert(name);
  }
  EXPECT_EQ(names.count("kc-accept"), 1u);
  EXPECT_EQ(names.count("kc-worker"), 3u);
  EXPECT_EQ(names.count("kc-audit-write"), 1u);
  EXPECT_EQ(names.count("kc-access-time"), 1u);
  EXPECT_EQ(names.count("kc-refusals"), 1u);
}

TEST(Lifecycle, RestartKeepsEveryKey) {
  Daemon daemon;
  const auto deposits = depositKeys(daemon, 20);
  ASSERT_EQ(daemon.stop(SIGTERM), 0);
  daemon.start();
  expectKeys(daemon, deposits);
}

// The envelope's byte 4 (appliance/include/kc/appliance/Envelope.h) names the OAEP hash that
// wrapped its DEK: the strongest the token does (SHA-256 on softokn, SHA-1 on SoftHSM 2.6).
TEST(Lifecycle, EnvelopesRecordTheTokensOaepHashAndOpenAfterRestart) {
  Daemon daemon;
  const auto deposits = depositKeys(daemon, 5);
  ASSERT_EQ(daemon.stop(SIGTERM), 0);

  const auto expected = static_cast<int>(E2eEnvironment::get().token().strongestOaep());
  sqlite3* db = nullptr;
  ASSERT_EQ(sqlite3_open(daemon.databasePath().c_str(), &db), SQLITE_OK);
  sqlite3_stmt* select = nullptr;
  ASSERT_EQ(
      sqlite3_prepare_v2(db, "SELECT user_id, envelope FROM kc_user_keys", -1, &select, nullptr),
      SQLITE_OK);
  int rows = 0;
  while (sqlite3_step(select) == SQLITE_ROW) {
    ++rows;
    const auto* envelope = static_cast<const unsigned char*>(sqlite3_column_blob(select, 1));
    ASSERT_GT(sqlite3_column_bytes(select, 1), 4);
    EXPECT_EQ(envelope[4], expected) << sqlite3_column_text(select, 0);
  }
  sqlite3_finalize(select);
  sqlite3_close(db);
  EXPECT_EQ(rows, 5);

  daemon.start();
  expectKeys(daemon, deposits);
}

TEST(Lifecycle, SwappedRowsAreIntegrityFailuresAndReleaseNoKey) {
  Daemon daemon;
  const auto deposits = depositKeys(daemon, 2);
  ASSERT_EQ(daemon.stop(SIGTERM), 0);

  // Someone with write access to the database swaps the two users' envelopes.
  sqlite3* db = nullptr;
  ASSERT_EQ(sqlite3_open(daemon.databasePath().c_str(), &db), SQLITE_OK);
  std::vector<std::string> envelopes;
  for (const auto& deposit : deposits) {
    sqlite3_stmt* select = nullptr;
    sqlite3_prepare_v2(db, "SELECT envelope FROM kc_user_keys WHERE user_id = ?", -1, &select,
                       nullptr);
    sqlite3_bind_text(select, 1, deposit.user.c_str(), -1, SQLITE_TRANSIENT);
    ASSERT_EQ(sqlite3_step(select), SQLITE_ROW);
    envelopes.emplace_back(static_cast<const char*>(sqlite3_column_blob(select, 0)),
                           static_cast<std::size_t>(sqlite3_column_bytes(select, 0)));
    sqlite3_finalize(select);
  }
  for (std::size_t i = 0; i < deposits.size(); ++i) {
    sqlite3_stmt* update = nullptr;
    sqlite3_prepare_v2(db, "UPDATE kc_user_keys SET envelope = ? WHERE user_id = ?", -1, &update,
                       nullptr);
    const std::string& other = envelopes[1 - i];
    sqlite3_bind_blob(update, 1, other.data(), static_cast<int>(other.size()), SQLITE_TRANSIENT);
    sqlite3_bind_text(update, 2, deposits[i].user.c_str(), -1, SQLITE_TRANSIENT);
    ASSERT_EQ(sqlite3_step(update), SQLITE_DONE);
    ASSERT_EQ(sqlite3_changes(db), 1);
    sqlite3_finalize(update);
  }
  sqlite3_close(db);

  daemon.start();
  for (const auto& deposit : deposits) {
    auto response = daemon.get("/user-keys", deposit.token);
    EXPECT_EQ(response.status, 500) << deposit.user;
    for (const auto& any : deposits) {
      EXPECT_EQ(response.body.find(any.key), std::string::npos) << "a key was released";
    }
  }
  const std::string log = daemon.log();
  EXPECT_NE(log.find("integrity"), std::string::npos) << log;
  EXPECT_NE(log.find(deposits[0].user), std::string::npos);
}

TEST(Lifecycle, PostgreSqlBackendKeepsKeysAcrossRestarts) {
  std::string whyNot;
  auto* postgres = sharedPostgres(whyNot);
  if (postgres == nullptr) {
    if (databaseServersRequired()) FAIL() << whyNot;
    GTEST_SKIP() << whyNot;
  }
  Daemon daemon({.databaseProvider = "postgresql",
                 .connectionString = postgres->connectionString(postgres->createDatabase())});
  const auto deposits = depositKeys(daemon, 5);
  expectKeys(daemon, deposits);
  ASSERT_EQ(daemon.stop(SIGTERM), 0);
  daemon.start();
  expectKeys(daemon, deposits);
  EXPECT_EQ(daemon.log().find(postgres->password()), std::string::npos);
}

TEST(Lifecycle, WrongPinStopsStartUpNamingThePinSetting) {
  TempDir dir;
  writeFile(dir / "wrong.pin", "0000wrong\n");
  auto [code, log] = failedStart({.config = {{"pkcs11.pin_file", (dir / "wrong.pin").string()}}});
  EXPECT_NE(code, 0);
  EXPECT_NE(log.find("pkcs11.pin_file"), std::string::npos) << log;
  EXPECT_NE(log.find("CKR_PIN_INCORRECT"), std::string::npos) << log;
  EXPECT_EQ(log.find("0000wrong"), std::string::npos);
}

TEST(Lifecycle, MissingWrappingKeyStopsStartUpNamingTheSetting) {
  const std::string uri = E2eEnvironment::get().token().tokenUri() + ";object=no-such-key";
  auto [code, log] = failedStart({.config = {{"pkcs11.wrap_key", uri}}});
  EXPECT_NE(code, 0);
  EXPECT_NE(log.find("pkcs11.wrap_key"), std::string::npos) << log;
}

TEST(Lifecycle, AuditKeyAsWrappingKeyIsRefusedByPolicy) {
  const std::string uri =
      E2eEnvironment::get().token().tokenUri() + ";object=e2e-audit;type=private";
  auto [code, log] = failedStart({.config = {{"pkcs11.wrap_key", uri}}});
  EXPECT_NE(code, 0);
  EXPECT_NE(log.find("policy"), std::string::npos) << log;
}

// A wrapping key generated extractable whose CKA_EXTRACTABLE was cleared afterwards: its
// CKA_NEVER_EXTRACTABLE stays false. Made once per test process.
std::string onceExtractableKeyUri() {
  static const std::string uri = [] {
    auto& token = E2eEnvironment::get().token();
    generateOnceExtractableWrapKey(*token.openPool(), "e2e-once-extractable", 0x51);
    return token.tokenUri() + ";object=e2e-once-extractable;type=private";
  }();
  return uri;
}

TEST(Lifecycle, KeyThatWasOnceExtractableStopsStartUpNamingKeyAndSetting) {
  auto [code, log] = failedStart({.config = {{"pkcs11.wrap_key", onceExtractableKeyUri()}}});
  EXPECT_EQ(code, 78) << log;
  EXPECT_NE(log.find("e2e-once-extractable"), std::string::npos) << log;
  EXPECT_NE(log.find("CKA_NEVER_EXTRACTABLE=false"), std::string::npos) << log;
  EXPECT_NE(log.find("policy.allow_noncompliant_key"), std::string::npos) << log;
}

TEST(Lifecycle, AllowNoncompliantKeyStartsWithAKeyThatWasOnceExtractableAndWarns) {
  Daemon daemon({.config = {{"pkcs11.wrap_key", onceExtractableKeyUri()},
                            {"policy.allow_noncompliant_key", "true"}}});
  EXPECT_EQ(daemon.get("/alive").status, 200);
  const std::string log = daemon.log();
  EXPECT_NE(log.find("policy.allow_noncompliant_key is set"), std::string::npos) << log;
  EXPECT_NE(log.find("CKA_NEVER_EXTRACTABLE=false"), std::string::npos) << log;
}

TEST(Lifecycle, SighupRefusesAKeyThatWasOnceExtractable) {
  Daemon daemon;
  const auto deposits = depositKeys(daemon, 1);
  daemon.setConfig("pkcs11.wrap_key", onceExtractableKeyUri());
  daemon.sendSignal(SIGHUP);
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(20);
  while (daemon.log().find("wrapping keys not reloaded") == std::string::npos &&
         std::chrono::steady_clock::now() < deadline) {
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
  }
  const std::string log = daemon.log();
  EXPECT_NE(log.find("wrapping keys not reloaded"), std::string::npos) << log;
  EXPECT_NE(log.find("CKA_NEVER_EXTRACTABLE=false"), std::string::npos) << log;
  EXPECT_EQ(daemon.auditCount("keyring.reload"), 0u);
  expectKeys(daemon, deposits);
}

TEST(Lifecycle, PinFromTheEnvironmentIsNotInTheRunningDaemonsEnvironment) {
  std::string pin = readFile(E2eEnvironment::get().token().pinFile());
  while (!pin.empty() && (pin.back() == '\n' || pin.back() == '\r')) pin.pop_back();
  ASSERT_FALSE(pin.empty());
  Daemon daemon({.config = {{"pkcs11.pin_file", ""}}, .env = {{"KC_PKCS11_PIN", pin}}});
  const auto deposits = depositKeys(daemon, 1);
  std::string environment;
  try {
    environment = readFile("/proc/" + std::to_string(daemon.pid()) + "/environ");
  } catch (const std::runtime_error&) {
    // The daemon is not dumpable: only root reads its environ.
    GTEST_SKIP() << "/proc/<pid>/environ of the daemon is not readable by this user";
  }
  // The right file: the daemon's, with the variables the token needs.
  EXPECT_NE(environment.find("PATH="), std::string::npos);
  for (const auto& [name, value] : E2eEnvironment::get().token().childEnvironment()) {
    EXPECT_NE(environment.find(name + "="), std::string::npos) << name;
  }
  EXPECT_EQ(environment.find(pin), std::string::npos) << "the PIN is in /proc/<pid>/environ";
  // The PIN is kept in memory: a reload, and the keys, still work.
  daemon.sendSignal(SIGHUP);
  std::this_thread::sleep_for(std::chrono::milliseconds(500));
  expectKeys(daemon, deposits);
  EXPECT_EQ(daemon.stop(), 0);
}

TEST(Lifecycle, UnknownSettingStopsStartUpNamingIt) {
  auto [code, log] = failedStart({.config = {{"server.prot", "5000"}}});
  EXPECT_EQ(code, 78);
  EXPECT_NE(log.find("server.prot"), std::string::npos) << log;
}

TEST(Lifecycle, EnvironmentOverridesTheConfigFile) {
  const int port = freeLoopbackPort();
  Daemon daemon({.env = {{"KC_SERVER_PORT", std::to_string(port)}}, .waitUntilReady = false});
  bool answered = false;
  for (int i = 0; i < 200 && !answered; ++i) {
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
    try {
      Poco::Net::HTTPClientSession session("127.0.0.1", static_cast<Poco::UInt16>(port));
      Poco::Net::HTTPRequest request("GET", "/alive");
      session.sendRequest(request);
      Poco::Net::HTTPResponse response;
      session.receiveResponse(response);
      answered = response.getStatus() == Poco::Net::HTTPResponse::HTTP_OK;
    } catch (const std::exception&) {
    }
  }
  EXPECT_TRUE(answered) << daemon.log();
}

TEST(Lifecycle, HelpExitsZeroAndNamesTheConfigOption) {
  auto result = runProcess({KC_DAEMON_PATH, "--help"});
  EXPECT_EQ(result.exitCode, 0);
  EXPECT_NE(result.out.find("--config"), std::string::npos);
}

}  // namespace
}  // namespace kc::test
