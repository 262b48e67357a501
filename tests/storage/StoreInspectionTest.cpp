// inspectUserKeyStore on every back-end: what kc-setup status reports about a database, read
// without migrating or writing anything.

#include <gtest/gtest.h>

#include <filesystem>

#include "StoreTargets.h"
#include "kc/storage/StoreInspection.h"
#include "kc/storage/UserKeyStore.h"

namespace kc::test {
namespace {

using storage::inspectUserKeyStore;
using storage::StoreConfig;

class StoreInspection : public ::testing::TestWithParam<StoreTarget> {
 protected:
  void SetUp() override { KC_REQUIRE_STORE(GetParam(), dir_, config_); }

  storage::StoreInspection mustInspect() {
    auto inspection = inspectUserKeyStore(config_);
    EXPECT_TRUE(inspection.isOk()) << inspection.status().toString();
    return inspection.isOk() ? *inspection : storage::StoreInspection{};
  }

  TempDir dir_{"kc-inspect"};
  StoreConfig config_;
};

TEST_P(StoreInspection, ReportsTheCurrentSchemaAndTheRecordsOfEachWrappingKey) {
  {
    auto store = storage::openUserKeyStore(config_);
    ASSERT_TRUE(store.isOk()) << store.status().toString();
    for (std::uint64_t n = 1; n <= 3; ++n) {
      ASSERT_TRUE((*store)->insert(writeFor(n, "key-current", "e")).isOk());
    }
    ASSERT_TRUE((*store)->insert(writeFor(4, "key-old", "e")).isOk());
  }
  const auto inspection = mustInspect();
  EXPECT_EQ(inspection.schemaVersion, storage::latestSchemaVersion());
  EXPECT_FALSE(inspection.backend.empty());
  EXPECT_EQ(inspection.recordsPerWrappingKey,
            (std::map<std::string, std::int64_t>{{"key-current", 3}, {"key-old", 1}}));
}

// A newer kc-setup pointed at a database older daemons still serve must leave it as it is.
TEST_P(StoreInspection, ReportsAnUnmigratedDatabaseAsVersionZeroAndLeavesItUnmigrated) {
  executeSql(config_, "CREATE TABLE unrelated (x INTEGER)");
  auto inspection = mustInspect();
  EXPECT_EQ(inspection.schemaVersion, 0);
  EXPECT_TRUE(inspection.recordsPerWrappingKey.empty());
  EXPECT_ANY_THROW(executeSql(config_, "SELECT COUNT(*) FROM kc_schema_version"))
      << "inspection created the version table";
  EXPECT_ANY_THROW(executeSql(config_, "SELECT COUNT(*) FROM kc_user_keys"))
      << "inspection created the user-key table";

  // Opening the store, as the daemon does, migrates; inspection then sees the new version.
  ASSERT_TRUE(storage::openUserKeyStore(config_).isOk());
  EXPECT_EQ(mustInspect().schemaVersion, storage::latestSchemaVersion());
}

TEST_P(StoreInspection, ReportsAnOlderSchemaVersionFoundWithoutApplyingTheMissingMigrations) {
  ASSERT_TRUE(storage::openUserKeyStore(config_).isOk());
  // What a database of a build one migration behind looks like in its version table.
  executeSql(config_, "DELETE FROM kc_schema_version WHERE version = " +
                          std::to_string(storage::latestSchemaVersion()));
  EXPECT_EQ(mustInspect().schemaVersion, storage::latestSchemaVersion() - 1);
  EXPECT_EQ(mustInspect().schemaVersion, storage::latestSchemaVersion() - 1)
      << "the first inspection migrated";
}

TEST_P(StoreInspection, ReportsASchemaNewerThanThisBuildInsteadOfRefusingIt) {
  ASSERT_TRUE(storage::openUserKeyStore(config_).isOk());
  const int newer = storage::latestSchemaVersion() + 1;
  executeSql(config_, "INSERT INTO kc_schema_version (version, applied_ms) VALUES (" +
                          std::to_string(newer) + ", 0)");
  EXPECT_EQ(mustInspect().schemaVersion, newer);
}

INSTANTIATE_TEST_SUITE_P(AllBackends, StoreInspection, ::testing::ValuesIn(kAllStoreTargets),
                         targetParamName);

TEST(StoreInspectionSqlite, MissingFileIsNotFoundAndIsNotCreated) {
  TempDir dir("kc-inspect");
  StoreConfig config;
  config.sqlitePath = (dir / "absent.db").string();
  const auto inspection = inspectUserKeyStore(config);
  ASSERT_FALSE(inspection.isOk());
  EXPECT_EQ(inspection.status().code(), StatusCode::kNotFound);
  EXPECT_FALSE(std::filesystem::exists(config.sqlitePath));
}

TEST(StoreInspectionPostgreSql, ClosedPortIsUnavailableAndTheMessageHoldsNoPassword) {
  StoreConfig config;
  config.backend = storage::StoreBackend::kPostgreSql;
  // Port 1 on loopback: nothing listens there, so the connection is refused at once.
  config.connectionString = "host=127.0.0.1 port=1 dbname=kc user=kc password=s3cr3t-inspect-pw";
  config.connectTimeout = std::chrono::seconds(2);
  const auto inspection = inspectUserKeyStore(config);
  ASSERT_FALSE(inspection.isOk());
  EXPECT_EQ(inspection.status().code(), StatusCode::kUnavailable);
  EXPECT_EQ(inspection.status().message().find("s3cr3t-inspect-pw"), std::string::npos)
      << inspection.status().message();
}

}  // namespace
}  // namespace kc::test
