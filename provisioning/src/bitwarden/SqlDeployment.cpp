// The reference's EF Core databases through Poco::Data: SQLite (opened read-only), PostgreSQL,
// MySQL/MariaDB. Every value is read as text, dates formatted by the database itself, so one
// parser serves all three; NULL reads as the empty string (COALESCE). The two long text columns
// (SymmetricKey, Key) are read as bytes: MySQL's longtext travels as a BLOB, which Poco's MySQL
// connector reads into neither a std::string nor a CLOB correctly. Poco also sizes its fetch
// buffer by the column's declared length, 4 GiB for a longtext, and fills it for every statement;
// so MySQL reads those columns cut to one byte more than the longest value decryption accepts
// (kMaxReferenceKeyColumnLength): a longer value still arrives too long and is refused.

#include <Poco/Data/LOB.h>
#include <Poco/Data/MySQL/Connector.h>
#include <Poco/Data/PostgreSQL/Connector.h>
#include <Poco/Data/SQLite/Connector.h>
#include <Poco/Data/Session.h>
#include <Poco/Data/Statement.h>
#include <Poco/Exception.h>

#include <mutex>
#include <system_error>

#include "ReferenceInternal.h"
#include "kc/UserId.h"
#include "kc/appliance/ConnectionStrings.h"
#include "kc/storage/Connectors.h"
#include "kc/storage/Redactor.h"

namespace kc::provisioning {
namespace {

using namespace Poco::Data::Keywords;
using Kind = ReferenceSource::Kind;

constexpr int kConnectTimeoutSeconds = 10;

// The statements of one provider. Identifiers are EF Core's, quoted as the provider quotes.
struct Sql {
  std::string connector;
  std::string name;  // "SQLite", "PostgreSQL", "MySQL"
  // How many of the columns "%COLUMNS%" (quoted names) the table "?" has; 0 when it is absent.
  // (SQLite reads an unknown double-quoted column as a string literal, so a query of the
  // columns would not notice one missing.)
  std::string tableColumns;
  std::string symmetricKey;
  std::string count;
  // The page query without and with the "after" condition; "%LIMIT%" is replaced.
  std::string firstPage;
  std::string nextPage;
};

Sql sqlFor(Kind kind) {
  if (kind == Kind::kPostgreSql) {
    auto text = [](const char* column) {
      return std::string("COALESCE(to_char(\"") + column +
             "\", 'YYYY-MM-DD\"T\"HH24:MI:SS.US'), '')";
    };
    const std::string columns = "SELECT \"Id\"::text, convert_to(COALESCE(\"Key\", ''), 'UTF8'), " +
                                text("CreationDate") + ", " + text("RevisionDate") + ", " +
                                text("LastAccessDate") + " FROM \"UserKeys\" ";
    return {
        "postgresql",
        "PostgreSQL",
        "SELECT COUNT(*) FROM information_schema.columns WHERE table_schema = "
        "current_schema() AND table_name = $1 AND column_name IN (%COLUMNS%)",
        "SELECT convert_to(COALESCE(\"SymmetricKey\", ''), 'UTF8') FROM \"ApplicationDatas\" ORDER "
        "BY \"Id\" LIMIT 1",
        "SELECT COUNT(*) FROM \"UserKeys\"",
        columns + "ORDER BY \"Id\" LIMIT %LIMIT%",
        columns + "WHERE \"Id\" > CAST($1 AS uuid) ORDER BY \"Id\" LIMIT %LIMIT%"};
  }
  if (kind == Kind::kMySql) {
    auto bytes = [](const char* column) {
      return std::string("LEFT(CAST(COALESCE(`") + column + "`, '') AS BINARY), " +
             std::to_string(kMaxReferenceKeyColumnLength + 1) + ")";
    };
    auto text = [](const char* column) {
      return std::string("COALESCE(DATE_FORMAT(`") + column + "`, '%Y-%m-%dT%H:%i:%s.%f'), '')";
    };
    const std::string columns = "SELECT `Id`, " + bytes("Key") + ", " + text("CreationDate") +
                                ", " + text("RevisionDate") + ", " + text("LastAccessDate") +
                                " FROM `UserKeys` ";
    return {"mysql",
            "MySQL",
            "SELECT COUNT(*) FROM information_schema.columns WHERE table_schema = DATABASE() AND "
            "table_name = ? AND column_name IN (%COLUMNS%)",
            "SELECT " + bytes("SymmetricKey") + " FROM `ApplicationDatas` ORDER BY `Id` LIMIT 1",
            "SELECT COUNT(*) FROM `UserKeys`",
            columns + "ORDER BY `Id` LIMIT %LIMIT%",
            columns + "WHERE `Id` > ? ORDER BY `Id` LIMIT %LIMIT%"};
  }
  const std::string columns =
      "SELECT CAST(\"Id\" AS TEXT), CAST(COALESCE(\"Key\", '') AS BLOB), "
      "CAST(COALESCE(\"CreationDate\", '') AS TEXT), CAST(COALESCE(\"RevisionDate\", '') AS TEXT), "
      "CAST(COALESCE(\"LastAccessDate\", '') AS TEXT) FROM \"UserKeys\" ";
  return {"sqlite",
          "SQLite",
          "SELECT COUNT(*) FROM pragma_table_info(?) WHERE name IN (%COLUMNS%)",
          "SELECT CAST(COALESCE(\"SymmetricKey\", '') AS BLOB) FROM \"ApplicationDatas\" ORDER BY "
          "\"Id\" LIMIT 1",
          "SELECT COUNT(*) FROM \"UserKeys\"",
          columns + "ORDER BY \"Id\" LIMIT %LIMIT%",
          columns + "WHERE \"Id\" > ? ORDER BY \"Id\" LIMIT %LIMIT%"};
}

std::string withLimit(std::string sql, std::size_t limit) {
  const auto at = sql.find("%LIMIT%");
  return sql.replace(at, 7, std::to_string(limit));
}

class SqlDeployment final : public ReferenceDeployment {
 public:
  SqlDeployment(Kind kind, Sql sql, std::string description, storage::Redactor redactor,
                Poco::Data::Session session)
      : kind_(kind),
        sql_(std::move(sql)),
        description_(std::move(description)),
        redactor_(std::move(redactor)),
        session_(std::move(session)) {}

  const std::string& describe() const override { return description_; }

  // Every table and column the reader uses is there.
  Status checkSchema() {
    struct Table {
      std::string name;
      std::vector<std::string> columns;
    };
    const Table tables[] = {
        {"ApplicationDatas", {"Id", "SymmetricKey"}},
        {"UserKeys", {"Id", "Key", "CreationDate", "RevisionDate", "LastAccessDate"}},
    };
    for (const auto& table : tables) {
      std::string quoted;
      for (const auto& column : table.columns)
        quoted += (quoted.empty() ? "'" : ", '") + column + "'";
      std::string sql = sql_.tableColumns;
      sql.replace(sql.find("%COLUMNS%"), 9, quoted);
      std::string name = table.name;
      std::int64_t found = 0;
      KC_RETURN_IF_ERROR(
          guarded("look for table " + name, [&] { session_ << sql, use(name), into(found), now; }));
      if (found == 0) {
        return Status(StatusCode::kNotFound, "the " + description_ + " has no table " + name +
                                                 ": is it the reference Key Connector's database?");
      }
      if (found != static_cast<std::int64_t>(table.columns.size())) {
        return Status(StatusCode::kInvalidArgument,
                      "the table " + name + " in the " + description_ +
                          " lacks some of the reference's columns (" + quoted + ")");
      }
    }
    return Status::ok();
  }

  Result<std::string> wrappedSymmetricKey() override {
    std::vector<Poco::Data::BLOB> values;  // NULL reads as ''

    Status ran = guarded("read ApplicationDatas.SymmetricKey",
                         [&] { session_ << sql_.symmetricKey, into(values), now; });
    if (!ran.isOk()) return ran;
    if (values.empty() || values.front().size() == 0) {
      return Status(StatusCode::kNotFound,
                    "the " + description_ + " holds no symmetric key (ApplicationDatas is empty)");
    }
    return std::string(values.front().begin(), values.front().end());
  }

  Result<std::uint64_t> countUserKeys() override {
    std::int64_t count = 0;
    Status ran = guarded("count UserKeys", [&] { session_ << sql_.count, into(count), now; });
    if (!ran.isOk()) return ran;
    return static_cast<std::uint64_t>(count);
  }

  Result<std::vector<ReferenceUserKeyRow>> readUserKeys(std::string_view after,
                                                        std::size_t limit) override {
    if (limit == 0 || limit > kMaxReferencePageRows) {
      return Status(StatusCode::kInvalidArgument,
                    "a page holds 1.." + std::to_string(kMaxReferencePageRows) + " rows");
    }
    std::string cursor(after);
    if (kind_ == Kind::kPostgreSql && !cursor.empty() && !UserId::parse(cursor)) {
      return Status(StatusCode::kInvalidArgument, "the page cursor " + cursor + " is not a GUID");
    }
    std::vector<std::string> ids, created, revised, accessed;
    std::vector<Poco::Data::BLOB> keys;
    Status ran = guarded("read UserKeys", [&] {
      Poco::Data::Statement statement(session_);
      if (cursor.empty()) {
        statement << withLimit(sql_.firstPage, limit);
      } else {
        statement << withLimit(sql_.nextPage, limit), use(cursor);
      }
      statement, into(ids), into(keys), into(created), into(revised), into(accessed);
      statement.execute();
    });
    if (!ran.isOk()) return ran;
    std::vector<ReferenceUserKeyRow> rows;
    rows.reserve(ids.size());
    for (std::size_t i = 0; i < ids.size(); ++i) {
      rows.push_back(makeReferenceRow("UserKeys", std::move(ids[i]),
                                      std::string(keys[i].begin(), keys[i].end()), created[i],
                                      revised[i], accessed[i]));
    }
    return rows;
  }

 private:
  // Runs `op`, turning a driver's exception into a Status naming `what` and this database;
  // its text passes through the redactor so no password reaches the message.
  template <typename Op>
  Status guarded(const std::string& what, Op&& op) {
    try {
      op();
      return Status::ok();
    } catch (const Poco::Exception& error) {
      return Status(StatusCode::kUnavailable, "cannot " + what + " in the " + description_ + ": " +
                                                  redactor_.redact(error.displayText()));
    } catch (const std::exception& error) {
      return Status(StatusCode::kUnavailable, "cannot " + what + " in the " + description_ + ": " +
                                                  redactor_.redact(error.what()));
    }
  }

  Kind kind_;
  Sql sql_;
  std::string description_;
  storage::Redactor redactor_;
  Poco::Data::Session session_;
};

// What the connection string names, without its secrets: "database kc on db:5432".
std::string describeServer(std::string_view connection, char separator) {
  std::string host, port, database;
  std::size_t at = 0;
  while (at < connection.size()) {
    std::size_t end = connection.find(separator, at);
    if (end == std::string_view::npos) end = connection.size();
    const std::string_view part = trimView(connection.substr(at, end - at));
    const auto equals = part.find('=');
    if (equals != std::string_view::npos) {
      const std::string keyword = toLower(trimView(part.substr(0, equals)));
      const std::string value = trim(trimView(part.substr(equals + 1)), " '");
      if (keyword == "host") host = value;
      if (keyword == "port") port = value;
      if (keyword == "dbname" || keyword == "db") database = value;
    }
    at = end + 1;
  }
  std::string out = "database " + (database.empty() ? std::string("(default)") : database);
  if (!host.empty()) out += " on " + host + (port.empty() ? "" : ":" + port);
  return out;
}

}  // namespace

Result<std::unique_ptr<ReferenceDeployment>> openSqlDeployment(const ReferenceSource& source) {
  storage::registerDatabaseConnectors();
  std::string location = source.location;
  const storage::Redactor sourceRedactor(source.location);
  if (source.referenceConnectionString) {
    Result<std::string> converted =
        source.kind == Kind::kSqlite       ? appliance::sqlitePathFromConnectionString(location)
        : source.kind == Kind::kPostgreSql ? appliance::libpqFromNpgsql(location)
                                           : appliance::pocoMySqlFromConnectionString(location);
    if (!converted) return converted.status();
    location = std::move(*converted);
  }
  Sql sql = sqlFor(source.kind);
  std::string description;
  std::string connect;
  if (source.kind == Kind::kSqlite) {
    description = "SQLite database " + location;
    std::error_code error;
    if (!std::filesystem::is_regular_file(location, error)) {
      return Status(StatusCode::kNotFound, "the " + description + " does not exist");
    }
    connect = storage::readOnlySqliteUri(location);
  } else if (source.kind == Kind::kPostgreSql) {
    description = "PostgreSQL " + describeServer(location, ' ');
    connect = "connect_timeout=" + std::to_string(kConnectTimeoutSeconds) + " " + location;
  } else {
    description = "MySQL " + describeServer(location, ';');
    connect = location;
  }
  if (location.empty()) {
    return Status(StatusCode::kInvalidArgument,
                  "the reference's " + sql.name + " location is empty");
  }
  const storage::Redactor redactor(location);
  try {
    Poco::Data::Session session(sql.connector, connect, kConnectTimeoutSeconds);
    auto deployment = std::make_unique<SqlDeployment>(source.kind, std::move(sql), description,
                                                      redactor, std::move(session));
    KC_RETURN_IF_ERROR(deployment->checkSchema());
    return std::unique_ptr<ReferenceDeployment>(std::move(deployment));
  } catch (const Poco::Exception& error) {
    return Status(StatusCode::kUnavailable,
                  "cannot open the " + description + ": " +
                      sourceRedactor.redact(redactor.redact(error.displayText())));
  }
}

}  // namespace kc::provisioning
