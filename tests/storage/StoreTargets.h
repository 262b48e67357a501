#pragma once
// The back-ends the storage suites run against, and a fresh, empty database for each test:
// a new file for SQLite, a new database on the shared throwaway server otherwise.

#include <gtest/gtest.h>

#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "kc/UserId.h"
#include "kc/storage/StoreConfig.h"
#include "kc/storage/UserKeyRecord.h"
#include "support/DatabaseServers.h"
#include "support/TempDir.h"

namespace kc::test {

enum class StoreTarget { kSqlite, kPostgreSql, kMariaDb, kOdbcPostgreSql };

inline const std::vector<StoreTarget> kAllStoreTargets = {
    StoreTarget::kSqlite, StoreTarget::kPostgreSql, StoreTarget::kMariaDb,
    StoreTarget::kOdbcPostgreSql};

std::string targetName(StoreTarget target);
// For INSTANTIATE_TEST_SUITE_P.
std::string targetParamName(const ::testing::TestParamInfo<StoreTarget>& info);

// A configuration for a fresh, empty database on `target`; files go under `dir`. Empty (and
// `whyNot`) when the target's server or driver is missing.
std::optional<storage::StoreConfig> freshStoreConfig(StoreTarget target, const TempDir& dir,
                                                     std::string& whyNot);

// Runs one SQL statement outside the store (to set up what a test needs).
void executeSql(const storage::StoreConfig& config, const std::string& sql);

// Deterministic user ids (whose order is not that of n) and envelopes.
UserId userIdFor(std::uint64_t n);
std::vector<std::uint8_t> envelopeFor(const std::string& text);
storage::UserKeyWrite writeFor(std::uint64_t n, const std::string& wrappingKeyId,
                               const std::string& envelopeText);

}  // namespace kc::test

// Skips the test (or fails it when CI=true) if `target` is unavailable; sets `config`.
#define KC_REQUIRE_STORE(target, dir, config)                                 \
  do {                                                                        \
    std::string kc_why_not_;                                                  \
    auto kc_config_ = ::kc::test::freshStoreConfig(target, dir, kc_why_not_); \
    if (!kc_config_) {                                                        \
      if (::kc::test::databaseServersRequired()) {                            \
        FAIL() << kc_why_not_;                                                \
      } else {                                                                \
        GTEST_SKIP() << kc_why_not_;                                          \
      }                                                                       \
    }                                                                         \
    config = *kc_config_;                                                     \
  } while (false)
