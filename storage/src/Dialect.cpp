#include "Dialect.h"

namespace kc::storage {
namespace {

// Version 1: the user-key table and its index for rotation paging. Times are milliseconds since
// the Unix epoch (UTC) in BIGINT, the one time type every back-end stores without a time-zone
// surprise; last_access_ms is 0 until the first access.
// `text(n)` is the dialect's type for an n-character ASCII string compared byte by byte.
template <typename TextType>
std::vector<std::string> schemaV1(TextType text, const std::string& blobType,
                                  const std::string& tableSuffix) {
  return {
      "CREATE TABLE kc_user_keys ("
      "user_id " +
          text(36) +
          " NOT NULL PRIMARY KEY, "
          "envelope " +
          blobType +
          " NOT NULL, "
          "wrapping_key_id " +
          text(128) +
          " NOT NULL, "
          "revision BIGINT NOT NULL, "
          "created_ms BIGINT NOT NULL, "
          "revised_ms BIGINT NOT NULL, "
          "last_access_ms BIGINT NOT NULL)" +
          tableSuffix,
      "CREATE INDEX kc_user_keys_by_wrapping_key ON kc_user_keys (wrapping_key_id, user_id)",
  };
}

const std::string kVersionColumns =
    "(version INTEGER NOT NULL PRIMARY KEY, applied_ms BIGINT NOT NULL)";

Dialect sqlite() {
  return {"sqlite",
          "sqlite",
          false,
          true,
          MigrationLock::kSqliteImmediateTransaction,
          "CREATE TABLE IF NOT EXISTS kc_schema_version " + kVersionColumns,
          {schemaV1([](int n) { return "VARCHAR(" + std::to_string(n) + ")"; }, "BLOB", "")},
          "LIMIT ?"};
}

Dialect postgres(std::string name, const std::string& connector, bool dollars) {
  return {std::move(name),
          connector,
          dollars,
          connector != "odbc",
          MigrationLock::kPostgresAdvisoryLock,
          "CREATE TABLE IF NOT EXISTS kc_schema_version " + kVersionColumns,
          {schemaV1([](int n) { return "VARCHAR(" + std::to_string(n) + ") COLLATE \"C\""; },
                    "BYTEA", "")},
          "LIMIT ?"};
}

}  // namespace

std::string Dialect::sql(std::string_view withQuestionMarks) const {
  if (!dollarPlaceholders) return std::string(withQuestionMarks);
  std::string out;
  int n = 0;
  for (const char c : withQuestionMarks) {
    if (c == '?') {
      out += '$' + std::to_string(++n);
    } else {
      out += c;
    }
  }
  return out;
}

namespace {

Dialect dialectWithoutCatalog(const StoreConfig& config) {
  switch (config.backend) {
    case StoreBackend::kSqlite:
      return sqlite();
    case StoreBackend::kPostgreSql:
      return postgres("postgresql", "postgresql", true);
    case StoreBackend::kMySql:
      return {"mysql",
              "mysql",
              false,
              true,
              MigrationLock::kMySqlNamedLock,
              "CREATE TABLE IF NOT EXISTS kc_schema_version " + kVersionColumns + " ENGINE=InnoDB",
              {schemaV1(
                  [](int n) {
                    return "VARCHAR(" + std::to_string(n) +
                           ") CHARACTER SET ascii COLLATE ascii_bin";
                  },
                  "BLOB", " ENGINE=InnoDB")},
              "LIMIT ?"};
    case StoreBackend::kOdbc:
      switch (config.odbcDialect) {
        case OdbcDialect::kPostgreSql:
          return postgres("odbc/postgresql", "odbc", false);
        case OdbcDialect::kSqlServer:
          break;
      }
      return {"odbc/sqlserver",
              "odbc",
              false,
              false,
              MigrationLock::kSqlServerAppLock,
              "IF OBJECT_ID(N'kc_schema_version', N'U') IS NULL CREATE TABLE kc_schema_version " +
                  kVersionColumns,
              {schemaV1(
                  [](int n) {
                    return "VARCHAR(" + std::to_string(n) + ") COLLATE Latin1_General_BIN2";
                  },
                  "VARBINARY(MAX)", "")},
              "OFFSET 0 ROWS FETCH NEXT ? ROWS ONLY"};
  }
  return sqlite();
}

std::string countTablesQuery(const StoreConfig& config) {
  std::string sqlite = "SELECT COUNT(*) FROM sqlite_master WHERE type = 'table' AND name = ?";
  std::string postgres =
      "SELECT COUNT(*) FROM information_schema.tables "
      "WHERE table_schema = current_schema() AND table_name = ?";
  switch (config.backend) {
    case StoreBackend::kSqlite:
      return sqlite;
    case StoreBackend::kPostgreSql:
      return postgres;
    case StoreBackend::kMySql:
      return "SELECT COUNT(*) FROM information_schema.tables "
             "WHERE table_schema = DATABASE() AND table_name = ?";
    case StoreBackend::kOdbc:
      switch (config.odbcDialect) {
        case OdbcDialect::kPostgreSql:
          return postgres;
        case OdbcDialect::kSqlServer:
          break;
      }
      return "SELECT COUNT(*) FROM INFORMATION_SCHEMA.TABLES "
             "WHERE TABLE_SCHEMA = SCHEMA_NAME() AND TABLE_NAME = ?";
  }
  return sqlite;
}

}  // namespace

Dialect dialectFor(const StoreConfig& config) {
  Dialect dialect = dialectWithoutCatalog(config);
  dialect.countTablesNamed = countTablesQuery(config);
  return dialect;
}

}  // namespace kc::storage
