#include "Migrations.h"

#include <Poco/Data/Statement.h>
#include <Poco/Logger.h>

#include <algorithm>

#include "kc/storage/UserKeyRecord.h"
#include "kc/storage/UserKeyStore.h"

namespace kc::storage {

using namespace Poco::Data::Keywords;

namespace {

// Any fixed 64-bit number: the key of the PostgreSQL advisory lock that serialises migrations.
constexpr const char* kPostgresLockKey = "7163418120541";
constexpr int kLockWaitSeconds = 60;

void lock(Poco::Data::Session& session, const Dialect& dialect) {
  switch (dialect.lock) {
    case MigrationLock::kSqliteImmediateTransaction:
      session << "BEGIN IMMEDIATE", now;
      return;
    case MigrationLock::kPostgresAdvisoryLock: {
      int one = 0;
      session << std::string("SELECT 1 FROM (SELECT pg_advisory_lock(") + kPostgresLockKey +
                     ")) AS l",
          into(one), now;
      return;
    }
    case MigrationLock::kMySqlNamedLock: {
      int got = 0;
      session << "SELECT GET_LOCK('kc_schema_migration', " + std::to_string(kLockWaitSeconds) + ")",
          into(got), now;
      if (got != 1) {
        throw Poco::Data::DataException("another instance held the schema migration lock for " +
                                        std::to_string(kLockWaitSeconds) + " s");
      }
      return;
    }
    case MigrationLock::kSqlServerAppLock:
      session << "EXEC sp_getapplock @Resource = N'kc_schema_migration', @LockMode = 'Exclusive', "
                 "@LockOwner = 'Session', @LockTimeout = " +
                     std::to_string(kLockWaitSeconds * 1000),
          now;
      return;
  }
}

// Releases the lock; `committing` false rolls back what SQLite did under it.
void unlock(Poco::Data::Session& session, const Dialect& dialect, bool committing) {
  switch (dialect.lock) {
    case MigrationLock::kSqliteImmediateTransaction:
      session << (committing ? "COMMIT" : "ROLLBACK"), now;
      return;
    case MigrationLock::kPostgresAdvisoryLock: {
      int one = 0;
      session << std::string("SELECT 1 FROM (SELECT pg_advisory_unlock(") + kPostgresLockKey +
                     ")) AS l",
          into(one), now;
      return;
    }
    case MigrationLock::kMySqlNamedLock: {
      Poco::Int64 released = 0;
      session << "SELECT COALESCE(RELEASE_LOCK('kc_schema_migration'), 0)", into(released), now;
      return;
    }
    case MigrationLock::kSqlServerAppLock:
      session
          << "EXEC sp_releaseapplock @Resource = N'kc_schema_migration', @LockOwner = 'Session'",
          now;
      return;
  }
}

Status migrateLocked(Poco::Data::Session& session, const Dialect& dialect) {
  session << dialect.createVersionTable, now;
  std::vector<int> applied;
  session << "SELECT version FROM kc_schema_version", into(applied), now;
  const int current = applied.empty() ? 0 : *std::max_element(applied.begin(), applied.end());
  const int latest = static_cast<int>(dialect.migrations.size());
  if (current > latest) {
    return {StatusCode::kConflict, "the " + dialect.name + " database has schema version " +
                                       std::to_string(current) + ", newer than version " +
                                       std::to_string(latest) +
                                       " this build knows; upgrade keyconnectord"};
  }
  auto& log = Poco::Logger::get("kc.storage");
  for (int version = current; version < latest; ++version) {
    for (const auto& statement : dialect.migrations[static_cast<std::size_t>(version)]) {
      session << statement, now;
    }
    // The primary key makes a second, racing application of this version fail loudly.
    session << dialect.sql("INSERT INTO kc_schema_version (version, applied_ms) VALUES (?, ?)"),
        bind(version + 1), bind(static_cast<Poco::Int64>(storeNow().time_since_epoch().count())),
        now;
    log.information("storage: applied schema migration %d on %s", version + 1, dialect.name);
  }
  return Status::ok();
}

}  // namespace

int latestSchemaVersion() {
  return static_cast<int>(dialectFor(StoreConfig{}).migrations.size());
}

Status migrateSchema(Poco::Data::Session& session, const Dialect& dialect) {
  lock(session, dialect);
  Status status;
  try {
    status = migrateLocked(session, dialect);
  } catch (...) {
    try {
      unlock(session, dialect, false);
    } catch (...) {
      // The session is closed next, which releases the lock in every dialect.
    }
    throw;
  }
  unlock(session, dialect, status.isOk());
  return status;
}

}  // namespace kc::storage
