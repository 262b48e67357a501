// The converters from the reference Key Connector's .NET connection strings: what carries over,
// and that malformed or unsupported input is refused without quoting any of it.

#include <gtest/gtest.h>

#include <string>
#include <vector>

#include "kc/appliance/ConnectionStrings.h"

namespace kc::appliance {
namespace {

// Each converter refuses `input` with INVALID_ARGUMENT and a message that quotes none of it.
void expectRefusedWithoutEcho(Result<std::string> (*convert)(std::string_view),
                              const std::string& input, const std::string& secret) {
  auto out = convert(input);
  ASSERT_FALSE(out) << "accepted: " << input;
  EXPECT_EQ(out.status().code(), StatusCode::kInvalidArgument);
  EXPECT_EQ(out.status().message().find(secret), std::string::npos) << out.status().message();
}

TEST(NpgsqlToLibpq, ConvertsTheReferenceForm) {
  auto out = libpqFromNpgsql(
      "Host=postgres;Port=5432;Database=keyconnector;Username=kc;"
      "Password=S3cret");
  ASSERT_TRUE(out) << out.status().toString();
  EXPECT_EQ(*out, "host='postgres' port='5432' dbname='keyconnector' user='kc' password='S3cret'");
}

TEST(NpgsqlToLibpq, AcceptsSynonymsCaseAndBlanksAndDropsPoolingKeywords) {
  auto out = libpqFromNpgsql(
      "  server = db.internal ; USER ID=kc; pwd=x;SSL Mode=VerifyFull;Pooling=true;"
      "Maximum Pool Size=20;Timeout=7;");
  ASSERT_TRUE(out) << out.status().toString();
  EXPECT_EQ(*out,
            "host='db.internal' user='kc' password='x' sslmode='verify-full' connect_timeout='7'");
}

TEST(NpgsqlToLibpq, QuotedValuesKeepSemicolonsQuotesAndBlanks) {
  auto out = libpqFromNpgsql("Host=db;Password=' a;b''c\\ '");
  ASSERT_TRUE(out) << out.status().toString();
  EXPECT_EQ(*out, "host='db' password=' a;b\\'c\\\\ '");
  auto doubleQuoted = libpqFromNpgsql("Host=db;Password=\"x\"\"y\"");
  ASSERT_TRUE(doubleQuoted);
  EXPECT_EQ(*doubleQuoted, "host='db' password='x\"y'");
}

TEST(NpgsqlToLibpq, RefusesMalformedInputWithoutQuotingIt) {
  const std::string secret = "Pw-0xDEADBEEF";
  const std::vector<std::string> inputs = {
      std::string(),
      std::string(";;;"),
      "Host=db;Password='" + secret,                    // unterminated quote
      "Host=db;Password='" + secret + "'trailing",      // text after a quoted value
      "Host=db;" + secret,                              // no '='
      "Host=db;Password=" + secret + ";Frobnicate=1",   // unknown keyword
      "Host=db;Password=" + secret + ";Pwd=again",      // same thing twice
      "Password=" + secret,                             // no host
      "Host=db;Port=99999;Password=" + secret,          // port out of range
      "Host=db;Port=54x;Password=" + secret,            // port not a number
      "Host=db;SSL Mode=Sometimes;Password=" + secret,  // unknown SSL mode
      "Host=db;Password=" + secret + "\x01",            // control character
      "=" + secret,                                     // empty keyword
  };
  for (const auto& input : inputs) {
    expectRefusedWithoutEcho(&libpqFromNpgsql, input, secret);
  }
}

TEST(MySqlToPoco, ConvertsTheReferenceForm) {
  auto out = pocoMySqlFromConnectionString("Server=mysql;Port=3306;Database=kc;Uid=kc;Pwd=S3cret");
  ASSERT_TRUE(out) << out.status().toString();
  EXPECT_EQ(*out, "host=mysql;port=3306;db=kc;user=kc;password=S3cret");
}

TEST(MySqlToPoco, AcceptsUserIdAndPasswordSpellings) {
  auto out = pocoMySqlFromConnectionString("server=db;user id=kc;password=a=b;database=kc");
  ASSERT_TRUE(out) << out.status().toString();
  EXPECT_EQ(*out, "host=db;db=kc;user=kc;password=a=b");
}

TEST(MySqlToPoco, RefusesWhatPocoCannotCarryWithoutQuotingIt) {
  const std::string secret = "My;Secret";
  expectRefusedWithoutEcho(&pocoMySqlFromConnectionString, "Server=db;Pwd='" + secret + "'",
                           secret);
  expectRefusedWithoutEcho(&pocoMySqlFromConnectionString, "Server=db;Pwd=' padded '", "padded");
  expectRefusedWithoutEcho(&pocoMySqlFromConnectionString, "Server=db;SslMode=Required;Pwd=Zq9",
                           "Zq9");
  expectRefusedWithoutEcho(&pocoMySqlFromConnectionString, "Uid=kc;Pwd=Zq9", "Zq9");
}

TEST(SqlServerToOdbc, ConvertsTheReferenceForm) {
  auto out = odbcFromSqlServer(
      "Data Source=sql,1433;Initial Catalog=kc;User ID=sa;Password=S3cret;"
      "TrustServerCertificate=True");
  ASSERT_TRUE(out) << out.status().toString();
  EXPECT_EQ(*out,
            "Driver={ODBC Driver 18 for SQL Server};Server=sql,1433;Database=kc;UID=sa;"
            "PWD=S3cret;TrustServerCertificate=yes");
}

TEST(SqlServerToOdbc, BracesValuesThatNeedThem) {
  auto out = odbcFromSqlServer("Server=sql;UID=sa;PWD='a;b}c'");
  ASSERT_TRUE(out) << out.status().toString();
  EXPECT_EQ(*out, "Driver={ODBC Driver 18 for SQL Server};Server=sql;UID=sa;PWD={a;b}}c}");
}

TEST(SqlServerToOdbc, RefusesIntegratedAuthenticationAndMalformedInput) {
  auto integrated = odbcFromSqlServer("Server=sql;Integrated Security=SSPI");
  ASSERT_FALSE(integrated);
  EXPECT_NE(integrated.status().message().find("integrated"), std::string::npos);
  EXPECT_TRUE(odbcFromSqlServer("Server=sql;Integrated Security=false;UID=a;PWD=b"));
  const std::string secret = "Pw$9876";
  expectRefusedWithoutEcho(&odbcFromSqlServer, "Database=kc;PWD=" + secret, secret);
  expectRefusedWithoutEcho(&odbcFromSqlServer, "Server=sql;Encrypt=perhaps;PWD=" + secret, secret);
  expectRefusedWithoutEcho(&odbcFromSqlServer, "Server=sql;PWD=\"" + secret, secret);
}

TEST(SqliteDataSource, ReturnsThePath) {
  auto out = sqlitePathFromConnectionString("Data Source=/etc/bitwarden/key-connector/data.db");
  ASSERT_TRUE(out) << out.status().toString();
  EXPECT_EQ(*out, "/etc/bitwarden/key-connector/data.db");
  auto withMode = sqlitePathFromConnectionString("DataSource='a b.db';Mode=ReadWriteCreate");
  ASSERT_TRUE(withMode);
  EXPECT_EQ(*withMode, "a b.db");
}

TEST(SqliteDataSource, RefusesMissingPathAndOtherModes) {
  EXPECT_FALSE(sqlitePathFromConnectionString("Mode=ReadWrite"));
  EXPECT_FALSE(sqlitePathFromConnectionString("Data Source=x.db;Mode=Memory"));
  EXPECT_FALSE(sqlitePathFromConnectionString("Data Source="));
  EXPECT_FALSE(sqlitePathFromConnectionString("Data Source=x.db;Password=1"));
}

}  // namespace
}  // namespace kc::appliance
