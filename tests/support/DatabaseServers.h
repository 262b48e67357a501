#pragma once
// Throwaway database servers for the storage tests: PostgreSQL and MariaDB started on a free
// 127.0.0.1 port, in a temp dir removed afterwards; and an odbcinst.ini naming Debian's ODBC
// drivers. Each is started once per test process, on first use.

#include <memory>
#include <optional>
#include <string>

#include "support/Subprocess.h"
#include "support/TempDir.h"

namespace kc::test {

// True when env CI=true: a missing server must fail a test, never skip it.
bool databaseServersRequired();

// PostgreSQL, run as the `postgres` system user (it refuses root), password authentication.
class PostgresServer {
 public:
  // Starts a new server; on failure returns nullptr and says why in `whyNot`.
  static std::unique_ptr<PostgresServer> start(std::string& whyNot);
  ~PostgresServer();
  PostgresServer(const PostgresServer&) = delete;
  PostgresServer& operator=(const PostgresServer&) = delete;

  int port() const { return port_; }
  const std::string& user() const { return user_; }
  const std::string& password() const { return password_; }
  // Creates an empty database and returns its name.
  std::string createDatabase();
  // libpq key=value connection string for `database`.
  std::string connectionString(const std::string& database) const;
  // Kills the server the way a crash would (immediate shutdown, no checkpoint).
  void crash();
  // Starts it again on the same port and data; waits until it answers.
  void restart();

 private:
  PostgresServer() : dir_("kc-pg") {}
  bool launch(std::string& whyNot);

  TempDir dir_;
  std::string binDir_;
  int port_ = 0;
  std::string user_ = "kc";
  std::string password_;
  int databases_ = 0;
  std::unique_ptr<BackgroundProcess> process_;
};

// MariaDB with --no-defaults, run with --user=root, a `kc` user with a password.
class MariaDbServer {
 public:
  static std::unique_ptr<MariaDbServer> start(std::string& whyNot);
  ~MariaDbServer();
  MariaDbServer(const MariaDbServer&) = delete;
  MariaDbServer& operator=(const MariaDbServer&) = delete;

  int port() const { return port_; }
  const std::string& user() const { return user_; }
  const std::string& password() const { return password_; }
  std::string createDatabase();
  // Poco::Data::MySQL connection string for `database`.
  std::string connectionString(const std::string& database) const;
  // SIGKILL, as a crash would.
  void crash();
  void restart();

 private:
  MariaDbServer() : dir_("kc-mariadb") {}
  bool launch(std::string& whyNot);
  ProcessResult runSql(const std::string& sql);

  TempDir dir_;
  int port_ = 0;
  std::string user_ = "kc";
  std::string password_;
  int databases_ = 0;
  std::unique_ptr<BackgroundProcess> process_;
};

// Driver names registered in the odbcinst.ini that ODBCSYSINI points at.
struct OdbcDrivers {
  std::string postgres = "KcPostgreSQL";
};

// The process-wide instances, started on first call; nullptr (and `whyNot`) if unavailable.
PostgresServer* sharedPostgres(std::string& whyNot);
MariaDbServer* sharedMariaDb(std::string& whyNot);
const OdbcDrivers* sharedOdbcDrivers(std::string& whyNot);

// A random password of hex digits.
std::string randomPassword();

}  // namespace kc::test
