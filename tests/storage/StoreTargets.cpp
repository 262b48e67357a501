#include "StoreTargets.h"

#include <Poco/Data/MySQL/Connector.h>
#include <Poco/Data/ODBC/Connector.h>
#include <Poco/Data/PostgreSQL/Connector.h>
#include <Poco/Data/SQLite/Connector.h>
#include <Poco/Data/Session.h>

#include <cstdio>
#include <mutex>

#include "kc/storage/Connectors.h"
#include "support/DatabaseServers.h"
#include "support/UserIds.h"

namespace kc::test {

using storage::OdbcDialect;
using storage::StoreBackend;
using storage::StoreConfig;

std::string targetName(StoreTarget target) {
  switch (target) {
    case StoreTarget::kSqlite:
      return "SQLite";
    case StoreTarget::kPostgreSql:
      return "PostgreSQL";
    case StoreTarget::kMariaDb:
      return "MariaDB";
    case StoreTarget::kOdbcPostgreSql:
      return "OdbcPostgreSQL";
  }
  return "unknown";
}

std::string targetParamName(const ::testing::TestParamInfo<StoreTarget>& info) {
  return targetName(info.param);
}

std::optional<StoreConfig> freshStoreConfig(StoreTarget target, const TempDir& dir,
                                            std::string& whyNot) {
  static int files = 0;
  StoreConfig config;
  config.accessFlushInterval = std::chrono::milliseconds(0);  // tests opt in to coalescing
  config.busyTimeout = std::chrono::milliseconds(5000);
  switch (target) {
    case StoreTarget::kSqlite:
      config.backend = StoreBackend::kSqlite;
      config.sqlitePath = (dir / ("keys-" + std::to_string(++files) + ".db")).string();
      return config;
    case StoreTarget::kPostgreSql: {
      auto* server = sharedPostgres(whyNot);
      if (!server) return std::nullopt;
      config.backend = StoreBackend::kPostgreSql;
      config.connectionString = server->connectionString(server->createDatabase());
      return config;
    }
    case StoreTarget::kMariaDb: {
      auto* server = sharedMariaDb(whyNot);
      if (!server) return std::nullopt;
      config.backend = StoreBackend::kMySql;
      config.connectionString = server->connectionString(server->createDatabase());
      return config;
    }
    case StoreTarget::kOdbcPostgreSql: {
      const auto* drivers = sharedOdbcDrivers(whyNot);
      if (!drivers) return std::nullopt;
      auto* server = sharedPostgres(whyNot);
      if (!server) return std::nullopt;
      config.backend = StoreBackend::kOdbc;
      config.odbcDialect = OdbcDialect::kPostgreSql;
      config.connectionString = "Driver={" + drivers->postgres +
                                "};Server=127.0.0.1;Port=" + std::to_string(server->port()) +
                                ";Database=" + server->createDatabase() + ";Uid=" + server->user() +
                                ";Pwd=" + server->password() + ";";
      return config;
    }
  }
  whyNot = "unknown target";
  return std::nullopt;
}

void executeSql(const StoreConfig& config, const std::string& sql) {
  storage::registerDatabaseConnectors();
  switch (config.backend) {
    case StoreBackend::kSqlite: {
      Poco::Data::Session session("sqlite", config.sqlitePath);
      session << sql, Poco::Data::Keywords::now;
      return;
    }
    case StoreBackend::kPostgreSql: {
      Poco::Data::Session session("postgresql", config.connectionString);
      session << sql, Poco::Data::Keywords::now;
      return;
    }
    case StoreBackend::kMySql: {
      Poco::Data::Session session("mysql", config.connectionString);
      session << sql, Poco::Data::Keywords::now;
      return;
    }
    case StoreBackend::kOdbc: {
      Poco::Data::Session session("odbc", config.connectionString);
      session << sql, Poco::Data::Keywords::now;
      return;
    }
  }
}

UserId userIdFor(std::uint64_t n) {
  char buffer[40];
  std::snprintf(buffer, sizeof buffer, "%08x-0000-4000-8000-%012llx",
                static_cast<unsigned>(n * 2654435761u % 0xffffffffu),
                static_cast<unsigned long long>(n));
  return testUserId(buffer);
}

std::vector<std::uint8_t> envelopeFor(const std::string& text) {
  return {text.begin(), text.end()};
}

storage::UserKeyWrite writeFor(std::uint64_t n, const std::string& wrappingKeyId,
                               const std::string& envelopeText) {
  return {.userId = userIdFor(n),
          .envelope = envelopeFor(envelopeText),
          .wrappingKeyId = wrappingKeyId};
}

}  // namespace kc::test
