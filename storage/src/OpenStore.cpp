// openUserKeyStore: checks the configuration, registers the Poco::Data connectors, prepares the
// SQLite file, applies migrations on a session of its own, then hands out the store.
// inspectUserKeyStore: the same connection, read-only, and a few catalog queries.

#include <Poco/Data/MySQL/Connector.h>
#include <Poco/Data/ODBC/Connector.h>
#include <Poco/Data/PostgreSQL/Connector.h>
#include <Poco/Data/SQLite/Connector.h>
#include <Poco/Data/Statement.h>
#include <Poco/Logger.h>
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <filesystem>
#include <mutex>
#include <system_error>

#include "Migrations.h"
#include "SqlUserKeyStore.h"
#include "kc/Text.h"
#include "kc/storage/Connectors.h"
#include "kc/storage/StoreInspection.h"

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
    return {StatusCode::kUnavailable, "cannot open the SQLite database " + path + ": " +
                                          std::generic_category().message(errno)};
  }
  ::close(fd);
  return Status::ok();
}

enum class Access { kReadWrite, kReadOnly };

Poco::Data::Session openSession(const StoreConfig& config, const Dialect& dialect,
                                Access access = Access::kReadWrite) {
  const auto loginTimeout = static_cast<std::size_t>(config.connectTimeout.count());
  switch (config.backend) {
    case StoreBackend::kSqlite: {
      if (access == Access::kReadOnly) {
        Poco::Data::Session session(dialect.connector, readOnlySqliteUri(config.sqlitePath));
        session << "PRAGMA busy_timeout = " + std::to_string(config.busyTimeout.count()), now;
        return session;
      }
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

std::string readOnlySqliteUri(const std::string& path) {
  std::string uri = "file:";
  for (const char c : path) {
    if (c == '%' || c == '?' || c == '#') {
      const auto byte = static_cast<std::uint8_t>(c);
      uri += toHex(std::span(&byte, 1), "%");
    } else {
      uri += c;
    }
  }
  return uri + "?mode=ro";
}

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

namespace {

bool tableExists(Poco::Data::Session& session, const Dialect& dialect, const std::string& table) {
  Poco::Int64 count = 0;
  std::string name = table;
  session << dialect.sql(dialect.countTablesNamed), use(name), into(count), now;
  return count > 0;
}

// Sets the session read-only where the server supports it, so that a write would be refused
// by the database itself, not only left out by this code.
void makeReadOnly(Poco::Data::Session& session, const StoreConfig& config) {
  if (config.backend == StoreBackend::kPostgreSql) {
    session << "SET SESSION CHARACTERISTICS AS TRANSACTION READ ONLY", now;
  } else if (config.backend == StoreBackend::kMySql) {
    session << "SET SESSION TRANSACTION READ ONLY", now;
  }
}

}  // namespace

Result<StoreInspection> inspectUserKeyStore(const StoreConfig& config) {
  KC_RETURN_IF_ERROR(checkConfig(config));
  registerDatabaseConnectors();
  const Dialect dialect = dialectFor(config);
  const Redactor redactor(config.connectionString);
  if (config.backend == StoreBackend::kSqlite) {
    std::error_code error;
    if (!std::filesystem::exists(config.sqlitePath, error)) {
      return Status{StatusCode::kNotFound, "the SQLite database " + config.sqlitePath +
                                               " does not exist (the daemon creates it when it "
                                               "first starts)"};
    }
  }
  std::optional<Poco::Data::Session> session;
  try {
    session.emplace(openSession(config, dialect, Access::kReadOnly));
  } catch (const std::exception& error) {
    return SqlUserKeyStore::connectFailure("inspect the user-key store", dialect.name, redactor,
                                           error);
  }
  StoreInspection inspection;
  inspection.backend = dialect.name;
  try {
    makeReadOnly(*session, config);
    if (tableExists(*session, dialect, "kc_schema_version")) {
      std::vector<int> applied;
      *session << "SELECT version FROM kc_schema_version", into(applied), now;
      for (const int version : applied) {
        inspection.schemaVersion = std::max(inspection.schemaVersion, version);
      }
    }
    if (tableExists(*session, dialect, "kc_user_keys")) {
      std::vector<std::string> keys;
      std::vector<Poco::Int64> counts;
      *session << "SELECT wrapping_key_id, COUNT(*) FROM kc_user_keys GROUP BY wrapping_key_id",
          into(keys), into(counts), now;
      for (std::size_t i = 0; i < keys.size() && i < counts.size(); ++i) {
        inspection.recordsPerWrappingKey[keys[i]] = counts[i];
      }
    }
  } catch (const std::exception& error) {
    const auto* poco = dynamic_cast<const Poco::Exception*>(&error);
    return Status{StatusCode::kUnavailable,
                  "inspect the user-key store: a query on " + dialect.name +
                      " failed: " + redactor.redact(poco ? poco->displayText() : error.what())};
  }
  return inspection;
}

}  // namespace kc::storage
