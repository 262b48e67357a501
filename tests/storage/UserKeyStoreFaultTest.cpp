// Faults the store must survive: database servers crashing and coming back, a writer killed
// mid-stream, a SQLite file locked by another process, bad credentials, a schema from the
// future, and several instances migrating at once.

#include <gtest/gtest.h>
#include <signal.h>
#include <sys/stat.h>

#include <future>
#include <sstream>
#include <thread>

#include "StoreTargets.h"
#include "kc/storage/UserKeyStore.h"
#include "support/Subprocess.h"
#include "support/UserIds.h"

namespace kc::test {
namespace {

using storage::StoreBackend;
using storage::StoreConfig;
using storage::UserKeyStore;

std::unique_ptr<UserKeyStore> mustOpen(const StoreConfig& config) {
  auto store = storage::openUserKeyStore(config);
  EXPECT_TRUE(store.isOk()) << store.status().toString();
  return store.isOk() ? std::move(store).value() : nullptr;
}

// ---- a database server crashing and restarting mid-run ----

class ServerRestart : public ::testing::TestWithParam<StoreTarget> {};

TEST_P(ServerRestart, OutageGivesRetryableErrorsAndNoAcknowledgedWriteIsLost) {
  TempDir dir("kc-restart");
  StoreConfig config;
  KC_REQUIRE_STORE(GetParam(), dir, config);
  std::string whyNot;
  auto crash = [&] {
    if (GetParam() == StoreTarget::kPostgreSql) {
      sharedPostgres(whyNot)->crash();
    } else {
      sharedMariaDb(whyNot)->crash();
    }
  };
  auto restart = [&] {
    if (GetParam() == StoreTarget::kPostgreSql) {
      sharedPostgres(whyNot)->restart();
    } else {
      sharedMariaDb(whyNot)->restart();
    }
  };
  auto store = mustOpen(config);
  ASSERT_NE(store, nullptr);
  std::vector<std::uint64_t> acknowledged;
  std::uint64_t next = 0;
  for (int i = 0; i < 50; ++i, ++next) {
    ASSERT_TRUE(store->insert(writeFor(next, "wrap-1", "before")).isOk());
    acknowledged.push_back(next);
  }

  crash();
  for (int i = 0; i < 5; ++i, ++next) {
    const Status status = store->insert(writeFor(next, "wrap-1", "during"));
    EXPECT_EQ(status.code(), StatusCode::kUnavailable) << status.toString();
    EXPECT_NE(status.message().find("retry"), std::string::npos) << status.toString();
  }
  EXPECT_EQ(store->get(userIdFor(0)).status().code(), StatusCode::kUnavailable);
  EXPECT_FALSE(store->ping().isOk());

  restart();
  for (int i = 0; i < 50; ++i, ++next) {
    const Status status = store->insert(writeFor(next, "wrap-1", "after"));
    ASSERT_TRUE(status.isOk()) << "insert " << i << " after the restart: " << status.toString();
    acknowledged.push_back(next);
  }
  for (const auto n : acknowledged) {
    EXPECT_TRUE(store->get(userIdFor(n)).isOk()) << "acknowledged record " << n << " is missing";
  }
}

INSTANTIATE_TEST_SUITE_P(ClientServer, ServerRestart,
                         ::testing::Values(StoreTarget::kPostgreSql, StoreTarget::kMariaDb),
                         targetParamName);

// ---- a writer process killed with SIGKILL ----

std::vector<unsigned long long> completeAcks(const std::string& log) {
  std::vector<unsigned long long> acks;
  std::istringstream lines(log);
  std::string line;
  while (std::getline(lines, line)) {
    if (lines.eof()) break;  // a last line without its newline was cut by the kill
    if (line.rfind("ack ", 0) == 0) acks.push_back(std::stoull(line.substr(4)));
  }
  return acks;
}

class KilledWriter : public ::testing::TestWithParam<StoreTarget> {};

TEST_P(KilledWriter, EveryAcknowledgedWriteSurvivesSigkill) {
  TempDir dir("kc-killed");
  StoreConfig config;
  KC_REQUIRE_STORE(GetParam(), dir, config);
  const bool sqlite = config.backend == StoreBackend::kSqlite;
  const std::string kind = sqlite                                        ? "sqlite"
                           : config.backend == StoreBackend::kPostgreSql ? "postgresql"
                                                                         : "mysql";
  const auto logPath = dir / "writer.log";
  std::vector<unsigned long long> acks;
  {
    BackgroundProcess writer(
        {KC_STORAGE_TEST_WRITER}, logPath.string(),
        ProcessOptions{.env = {{"KC_TEST_STORE_BACKEND", kind},
                               {"KC_TEST_STORE_TARGET",
                                sqlite ? config.sqlitePath : config.connectionString}}});
    const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(120);
    while (completeAcks(readFile(logPath)).size() < 300) {
      ASSERT_TRUE(writer.running()) << "writer exited: " << readFile(logPath);
      ASSERT_LT(std::chrono::steady_clock::now(), deadline) << "writer made no progress";
      std::this_thread::sleep_for(std::chrono::milliseconds(20));
    }
    EXPECT_EQ(writer.stop(SIGKILL, std::chrono::milliseconds(0)), 128 + SIGKILL);
    acks = completeAcks(readFile(logPath));
  }
  auto store = mustOpen(config);
  ASSERT_NE(store, nullptr);
  for (const auto n : acks) {
    const auto record = store->get(sequentialUserId(n));
    EXPECT_TRUE(record.isOk()) << "acknowledged write " << n << ": " << record.status().toString();
  }
  EXPECT_GE(*store->countByWrappingKey("wrap-1"), static_cast<std::int64_t>(acks.size()));
}

INSTANTIATE_TEST_SUITE_P(Durable, KilledWriter,
                         ::testing::Values(StoreTarget::kSqlite, StoreTarget::kPostgreSql,
                                           StoreTarget::kMariaDb),
                         targetParamName);

// ---- SQLite specifics ----

TEST(SqliteStore, FileLockedByAnotherProcessGivesATimeoutNotAHang) {
  TempDir dir("kc-locked");
  StoreConfig config;
  KC_REQUIRE_STORE(StoreTarget::kSqlite, dir, config);
  config.busyTimeout = std::chrono::milliseconds(300);
  auto store = mustOpen(config);
  ASSERT_NE(store, nullptr);
  ASSERT_TRUE(store->insert(writeFor(1, "wrap-1", "x")).isOk());

  const auto logPath = dir / "locker.log";
  auto locker = std::make_unique<BackgroundProcess>(
      std::vector<std::string>{"sqlite3", config.sqlitePath, "BEGIN EXCLUSIVE;",
                               "INSERT INTO kc_schema_version VALUES (1000, 0);",
                               // The shell writes straight to the log; sqlite3's own output
                               // would sit in its buffer until it exits.
                               ".shell echo locked; sleep 120"},
      logPath.string());
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(30);
  while (readFile(logPath).find("locked") == std::string::npos) {
    ASSERT_TRUE(locker->running()) << "sqlite3 could not lock: " << readFile(logPath);
    ASSERT_LT(std::chrono::steady_clock::now(), deadline) << "sqlite3 says: " << readFile(logPath);
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
  // Generous watchdog: only a hang can exceed it.
  auto pending =
      std::async(std::launch::async, [&] { return store->insert(writeFor(2, "wrap-1", "y")); });
  ASSERT_EQ(pending.wait_for(std::chrono::seconds(60)), std::future_status::ready)
      << "insert hung on a locked database";
  const Status status = pending.get();
  EXPECT_EQ(status.code(), StatusCode::kTimeout) << status.toString();
  EXPECT_NE(status.message().find("locked"), std::string::npos) << status.toString();
  // WAL readers are not blocked by a writer.
  EXPECT_TRUE(store->get(userIdFor(1)).isOk());

  locker.reset();  // the lock dies with the process
  EXPECT_TRUE(store->insert(writeFor(2, "wrap-1", "y")).isOk());
}

TEST(SqliteStore, DatabaseFileAndItsWalAreOwnerOnly) {
  TempDir dir("kc-mode");
  StoreConfig config;
  KC_REQUIRE_STORE(StoreTarget::kSqlite, dir, config);
  auto store = mustOpen(config);
  ASSERT_NE(store, nullptr);
  ASSERT_TRUE(store->insert(writeFor(1, "wrap-1", "x")).isOk());
  for (const std::string suffix : {"", "-wal"}) {
    struct stat info {};
    ASSERT_EQ(::stat((config.sqlitePath + suffix).c_str(), &info), 0) << suffix;
    EXPECT_EQ(info.st_mode & 0777, 0600u) << config.sqlitePath + suffix;
  }
}

// ---- secrets, schema versions, concurrent start-up ----

class Credentials : public ::testing::TestWithParam<StoreTarget> {};

TEST_P(Credentials, ErrorFromABadPasswordDoesNotContainThePassword) {
  TempDir dir("kc-password");
  StoreConfig config;
  KC_REQUIRE_STORE(GetParam(), dir, config);
  const std::string wrong = "Wr0ng-Passw0rd-5e1f7a";
  std::string realPassword;
  for (const std::string key : {"password=", "Pwd="}) {
    const auto at = config.connectionString.find(key);
    if (at == std::string::npos) continue;
    const auto start = at + key.size();
    const auto end = config.connectionString.find_first_of("; ", start);
    realPassword = config.connectionString.substr(start, end - start);
    config.connectionString.replace(start, realPassword.size(), wrong);
  }
  ASSERT_FALSE(realPassword.empty());
  const auto store = storage::openUserKeyStore(config);
  ASSERT_FALSE(store.isOk());
  const std::string message = store.status().toString();
  EXPECT_EQ(store.status().code(), StatusCode::kUnavailable) << message;
  EXPECT_EQ(message.find(wrong), std::string::npos) << message;
  EXPECT_EQ(message.find(realPassword), std::string::npos) << message;
  EXPECT_EQ(message.find(config.connectionString), std::string::npos) << message;
  EXPECT_NE(message.find("cannot connect"), std::string::npos) << message;
}

INSTANTIATE_TEST_SUITE_P(ClientServer, Credentials,
                         ::testing::Values(StoreTarget::kPostgreSql, StoreTarget::kMariaDb,
                                           StoreTarget::kOdbcPostgreSql),
                         targetParamName);

TEST(Credentials, UnreachableServerIsUnavailable) {
  StoreConfig config;
  config.backend = StoreBackend::kPostgreSql;
  config.connectionString = "host=127.0.0.1 port=" + std::to_string(freeLoopbackPort()) +
                            " dbname=kc user=kc password=Unused-Secret-1";
  const auto store = storage::openUserKeyStore(config);
  ASSERT_FALSE(store.isOk());
  EXPECT_EQ(store.status().code(), StatusCode::kUnavailable) << store.status().toString();
  EXPECT_EQ(store.status().message().find("Unused-Secret-1"), std::string::npos);
}

class Migrations : public ::testing::TestWithParam<StoreTarget> {};

TEST_P(Migrations, SchemaNewerThanThisBuildIsRefused) {
  TempDir dir("kc-schema");
  StoreConfig config;
  KC_REQUIRE_STORE(GetParam(), dir, config);
  ASSERT_NE(mustOpen(config), nullptr);
  executeSql(config, "INSERT INTO kc_schema_version (version, applied_ms) VALUES (" +
                         std::to_string(storage::latestSchemaVersion() + 1) + ", 0)");
  const auto store = storage::openUserKeyStore(config);
  ASSERT_FALSE(store.isOk());
  EXPECT_EQ(store.status().code(), StatusCode::kConflict) << store.status().toString();
  EXPECT_NE(store.status().message().find("newer"), std::string::npos);
}

TEST_P(Migrations, InstancesStartingTogetherAllOpenTheSameSchema) {
  TempDir dir("kc-race");
  StoreConfig config;
  KC_REQUIRE_STORE(GetParam(), dir, config);
  constexpr int kInstances = 4;
  std::vector<std::future<Result<std::unique_ptr<UserKeyStore>>>> opening;
  for (int i = 0; i < kInstances; ++i) {
    opening.push_back(
        std::async(std::launch::async, [&] { return storage::openUserKeyStore(config); }));
  }
  std::vector<std::unique_ptr<UserKeyStore>> stores;
  for (auto& future : opening) {
    auto store = future.get();
    ASSERT_TRUE(store.isOk()) << store.status().toString();
    stores.push_back(std::move(store).value());
  }
  for (int i = 0; i < kInstances; ++i) {
    ASSERT_TRUE(stores[i]->insert(writeFor(i, "wrap-1", "x")).isOk());
  }
  EXPECT_EQ(*stores[0]->countByWrappingKey("wrap-1"), kInstances);
}

INSTANTIATE_TEST_SUITE_P(AllBackends, Migrations, ::testing::ValuesIn(kAllStoreTargets),
                         targetParamName);

}  // namespace
}  // namespace kc::test
