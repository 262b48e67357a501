// openUserKeyStore: checks the configuration, registers the Poco::Data connectors, prepares the
// SQLite file, applies migrations on a session of its own, then hands out the store.

#include <Poco/Data/MySQL/Connector.h>
#include <Poco/Data/ODBC/Connector.h>
#include <Poco/Data/PostgreSQL/Connector.h>
#include <Poco/Data/SQLite/Connector.h>
#include <Poco/Data/Statement.h>
#include <Poco/Logger.h>
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <mutex>

#include "Migrations.h"
#include "SqlUserKeyStore.h"
#include "kc/storage/Connectors.h"

namespace kc::storage {

using namespace Poco::Data::Keywords;

Timestamp storeNow() {
  return std::chrono::time_point_cast<std::chrono::milliseconds>(std::chrono::system_clock::now());
}

namespace {

// Large enough for any envelope: the ODBC connector truncates longer values.
constexpr std::size_t kOdbcMaxFieldSize = 2 * kMaxEnvelopeBytes;

Status checkConfig(const StoreConfig& config) {
  if (config.backend == StoreBackend::kSqlite) {
    if (config.sqlitePath.empty()) {
      return {StatusCode::kInvalidArgument, "database: the SQLite file path is empty"};
    }
  } else if (config.connectionString.empty()) {
    return {StatusCode::kInvalidArgument, "database: the connection string is empty"};
  }
  if (config.poolSize == 0) {
    return {StatusCode::kInvalidArgument, "database: the session pool size must be at least 1"};
  }
  return Status::ok();
}

// Creates the SQLite file readable by its owner only. SQLite gives its -wal and -shm files the
// database file's permissions, so they are 0600 too.
Status createSqliteFile(const std::string& path) {
  const int fd = ::open(path.c_str(), O_RDWR | O_CREAT | O_CLOEXEC | O_NOFOLLOW, 0600);
  if (fd < 0) {
    return {StatusCode::kUnavailable,
            "cannot open the SQLite database " + path + ": " + std::strerror(errno)};
  }
  ::close(fd);
  return Status::ok();
}

Poco::Data::Session openSession(const StoreConfig& config, const Dialect& dialect) {
  const auto loginTimeout = static_cast<std::size_t>(config.connectTimeout.count());
  switch (config.backend) {
    case StoreBackend::kSqlite: {
      Poco::Data::Session session(dialect.connector, config.sqlitePath);
      session << "PRAGMA busy_timeout = " + std::to_string(config.busyTimeout.count()), now;
      std::string mode;
      session << "PRAGMA journal_mode = WAL", into(mode), now;
      if (mode != "wal") {
        throw Poco::Data::DataException("SQLite refused WAL journal mode (it reports '" + mode +
                                        "')");
      }
      // FULL: a commit syncs the WAL, so an acknowledged write survives a power loss too.
      session << "PRAGMA synchronous = FULL", now;
      return session;
    }
    case StoreBackend::kPostgreSql:
      // A keyword the caller repeats later in its own string overrides this default.
      return Poco::Data::Session(
          dialect.connector,
          "connect_timeout=" + std::to_string(config.connectTimeout.count()) + " " +
              config.connectionString,
          loginTimeout);
    case StoreBackend::kMySql:
      return Poco::Data::Session(dialect.connector, config.connectionString, loginTimeout);
    case StoreBackend::kOdbc: {
      Poco::Data::Session session(dialect.connector, config.connectionString, loginTimeout);
      session.setProperty("maxFieldSize", Poco::Any(kOdbcMaxFieldSize));
      return session;
    }
  }
  throw Poco::Data::DataException("unknown database back-end");
}

}  // namespace

void registerDatabaseConnectors() {
  static std::once_flag once;
  std::call_once(once, [] {
    Poco::Data::SQLite::Connector::registerConnector();
    Poco::Data::PostgreSQL::Connector::registerConnector();
    Poco::Data::MySQL::Connector::registerConnector();
    Poco::Data::ODBC::Connector::registerConnector();
  });
}

Result<std::unique_ptr<UserKeyStore>> openUserKeyStore(const StoreConfig& config) {
  KC_RETURN_IF_ERROR(checkConfig(config));
  registerDatabaseConnectors();
  const Dialect dialect = dialectFor(config);
  const Redactor redactor(config.connectionString);
  if (config.backend == StoreBackend::kSqlite) {
    KC_RETURN_IF_ERROR(createSqliteFile(config.sqlitePath));
  }
  auto opener = [config, dialect] { return openSession(config, dialect); };

  std::optional<Poco::Data::Session> session;
  try {
    session.emplace(opener());
  } catch (const std::exception& error) {
    return SqlUserKeyStore::connectFailure("open the user-key store", dialect.name, redactor,
                                           error);
  }
  try {
    KC_RETURN_IF_ERROR(migrateSchema(*session, dialect));
  } catch (const std::exception& error) {
    const auto* poco = dynamic_cast<const Poco::Exception*>(&error);
    return Status{StatusCode::kUnavailable,
                  "open the user-key store: schema migration on " + dialect.name +
                      " failed: " + redactor.redact(poco ? poco->displayText() : error.what())};
  }
  session.reset();  // closing it also releases any migration lock left behind
  Poco::Logger::get("kc.storage").information("storage: %s user-key store open", dialect.name);
  return std::unique_ptr<UserKeyStore>(
      std::make_unique<SqlUserKeyStore>(config, dialect, std::move(opener)));
}

}  // namespace kc::storage
