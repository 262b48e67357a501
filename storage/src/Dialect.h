#pragma once
// The SQL that differs between back-ends: column types, the migration lock, paging and the
// placeholder style. Everything else the store sends is the same portable SQL.

#include <string>
#include <string_view>
#include <vector>

#include "kc/storage/StoreConfig.h"

namespace kc::storage {

enum class MigrationLock {
  kSqliteImmediateTransaction,  // BEGIN IMMEDIATE ... COMMIT around the whole migration
  kPostgresAdvisoryLock,        // pg_advisory_lock on the migration session
  kMySqlNamedLock,              // GET_LOCK / RELEASE_LOCK
  kSqlServerAppLock,            // sp_getapplock with a session owner
};

struct Dialect {
  std::string name;         // for logs and messages: "sqlite", "postgresql", "odbc/sqlserver"
  std::string connector;    // Poco::Data connector key
  bool dollarPlaceholders;  // PostgreSQL's native $1, $2 instead of ?
  // Whether Statement::execute() reports the rows an UPDATE with bound parameters matched.
  // Poco's ODBC connector does not (it counts parameter sets), so ODBC locks and reads instead.
  bool reportsAffectedRows;
  MigrationLock lock;
  std::string createVersionTable;
  // Schema migrations: element i brings the schema from version i to version i + 1.
  std::vector<std::vector<std::string>> migrations;
  // Appended to "... ORDER BY user_id" with one parameter: the page size.
  std::string pageClause;
  // One row, one integer column: how many tables named by the one ? parameter exist in the
  // session's schema (the catalog query of this dialect, written with ? placeholders).
  std::string countTablesNamed = {};

  // `sql` written with ? placeholders, in this dialect's placeholder style.
  std::string sql(std::string_view withQuestionMarks) const;
};

Dialect dialectFor(const StoreConfig& config);

}  // namespace kc::storage
