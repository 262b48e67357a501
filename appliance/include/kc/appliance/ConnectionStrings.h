#pragma once
// Converters from the .NET connection strings of Bitwarden's reference Key Connector (its
// keyConnectorSettings__database__*ConnectionString variables) to what our store's back-ends
// take. The input is untrusted and secret (it usually holds a password): errors say what is
// wrong and where ("keyword 3"), never quote any part of the input.
//
// Input syntax (ADO.NET): "keyword=value;keyword=value", keywords case-insensitive with
// surrounding blanks ignored, a value optionally in single or double quotes (a doubled quote
// inside stands for itself), empty segments ignored. A keyword given twice is refused. Each
// converter knows the keywords it can carry over and refuses any other, rather than silently
// dropping a setting that might matter (TLS, authentication).

#include <string>
#include <string_view>

#include "kc/Result.h"

namespace kc::appliance {

// sqliteConnectionString "Data Source=/path/keys.db" (also "DataSource", "Filename") → the
// path. Only that keyword and the harmless "Mode=ReadWriteCreate"/"Cache" are accepted.
Result<std::string> sqlitePathFromConnectionString(std::string_view text);

// postgreSqlConnectionString (Npgsql: "Host=..;Port=..;Database=..;Username=..;Password=..",
// also "Server", "User Id", "Uid", "Pwd", "SSL Mode", "Timeout") → a libpq key=value string
// ("host='..' port='..' dbname='..' user='..' password='..' sslmode='..'"), every value quoted.
// Host is required. Npgsql's pooling keywords are accepted and dropped (the store pools).
Result<std::string> libpqFromNpgsql(std::string_view text);

// mySqlConnectionString ("Server=..;Port=..;Database=..;Uid=..;Pwd=..", also "Host",
// "User Id", "Username", "User", "Password") → Poco's MySQL form
// "host=..;port=..;db=..;user=..;password=..". Host is required. Poco's form has no quoting,
// so a value holding ';' is refused.
Result<std::string> pocoMySqlFromConnectionString(std::string_view text);

// sqlServerConnectionString ("Server=host,port;Database=..;User Id=..;Password=..", also
// "Data Source", "Initial Catalog", "UID", "PWD", "Encrypt", "TrustServerCertificate") → a
// DSN-less ODBC string for Microsoft's driver:
// "Driver={ODBC Driver 18 for SQL Server};Server=..;Database=..;UID=..;PWD=..", values braced
// when they need it. Server is required; integrated (Windows) authentication is refused.
Result<std::string> odbcFromSqlServer(std::string_view text);

}  // namespace kc::appliance
