#pragma once
// How to open a user-key store. The connection string is a secret (it usually holds a
// password): the store never logs it nor puts it, or the password in it, in a Status.

#include <chrono>
#include <cstddef>
#include <string>

namespace kc::storage {

enum class StoreBackend {
  kSqlite,      // embedded, the default: one file on local disk
  kPostgreSql,  // libpq key=value connection string
  kMySql,       // MySQL or MariaDB: Poco's "host=...;port=...;user=...;password=...;db=..."
  kOdbc,        // any ODBC driver: a DSN-less "Driver={...};Server=...;..." string
};

// The SQL dialect behind an ODBC connection: it decides only the DDL, the migration lock and
// the paging clause; every data statement is portable SQL.
enum class OdbcDialect {
  kSqlServer,   // Microsoft SQL Server 2012 or newer (untested here, see README)
  kPostgreSql,  // Debian's psqlodbc driver
};

struct StoreConfig {
  StoreBackend backend = StoreBackend::kSqlite;
  // kSqlite: the database file; created with mode 0600 if absent.
  std::string sqlitePath;
  // kPostgreSql, kMySql, kOdbc: where and how to connect. Secret.
  std::string connectionString;
  OdbcDialect odbcDialect = OdbcDialect::kSqlServer;

  // Database sessions kept open; size it to the daemon's worker threads.
  std::size_t poolSize = 8;
  // How long an operation waits for a free session before failing with kUnavailable.
  std::chrono::milliseconds acquireTimeout{5000};
  // SQLite: how long a write waits for another connection's lock before kTimeout.
  std::chrono::milliseconds busyTimeout{5000};
  // Client-server back-ends: how long opening a connection may take.
  std::chrono::seconds connectTimeout{5};
  // A pooled session idle for longer than this is checked with a ping before it is handed
  // out, so the first request after a server restart does not fail on a dead connection.
  std::chrono::milliseconds validateAfterIdle{1000};

  // Last-access times are coalesced in memory and written in one batch at this interval
  // (or when accessFlushMaxPending users are waiting). Zero writes each one through at once.
  std::chrono::milliseconds accessFlushInterval{10000};
  std::size_t accessFlushMaxPending = 10000;
};

}  // namespace kc::storage
