// Where kc-setup import-bitwarden finds the reference deployment: its flags, else the
// reference's own keyConnectorSettings__* variables, and the refusals that say what to do.

#include <gtest/gtest.h>

#include "ImportSources.h"
#include "support/TempDir.h"

namespace kc::setup {
namespace {

using provisioning::ReferenceKeySource;
using provisioning::ReferenceSource;

cli::ParsedFlags flagsOf(std::initializer_list<std::pair<std::string, std::string>> values) {
  cli::ParsedFlags flags;
  for (const auto& [name, value] : values) flags.set(name, value);
  return flags;
}

bool contains(const std::string& text, const std::string& part) {
  return text.find(part) != std::string::npos;
}

class ImportSourcesTest : public ::testing::Test {
 protected:
  test::TempDir dir_{"kc-import-sources"};
};

TEST_F(ImportSourcesTest, FlagsWinOverTheReferencesVariables) {
  const appliance::Environment env = {
      {"keyConnectorSettings__database__provider", "json"},
      {"keyConnectorSettings__database__jsonFilePath", "/srv/kc/data.json"},
      {"keyConnectorSettings__certificate__provider", "filesystem"},
      {"keyConnectorSettings__certificate__filesystemPath", "/srv/kc/cert.pfx"}};
  auto source = resolveImportSource(
      flagsOf({{"--source-sqlite", "/tmp/data.db"}, {"--source-pem", "/tmp/key.pem"}}), env);
  ASSERT_TRUE(source) << source.status().toString();
  EXPECT_EQ(source->data.kind, ReferenceSource::Kind::kSqlite);
  EXPECT_EQ(source->data.location, "/tmp/data.db");
  EXPECT_FALSE(source->data.referenceConnectionString);
  EXPECT_EQ(source->key.kind, ReferenceKeySource::Kind::kPem);
  EXPECT_EQ(source->key.path, "/tmp/key.pem");
}

TEST_F(ImportSourcesTest, ReferenceVariablesNamePostgresAndAPfxWhosePasswordStaysInTheEnvironment) {
  const appliance::Environment env = {
      {"KEYCONNECTORSETTINGS__DATABASE__PROVIDER", "PostgreSQL"},
      {"keyConnectorSettings__database__postgreSqlConnectionString",
       "Host=db;Database=kc;Username=kc;Password=Secret-Pg-1"},
      {"keyConnectorSettings__certificate__provider", "filesystem"},
      {"keyConnectorSettings__certificate__filesystemPath", "/srv/kc/cert.pfx"},
      {"keyConnectorSettings__certificate__filesystemPassword", "Secret-Pfx-2"}};
  auto source = resolveImportSource(cli::ParsedFlags(), env);
  ASSERT_TRUE(source) << source.status().toString();
  EXPECT_EQ(source->data.kind, ReferenceSource::Kind::kPostgreSql);
  EXPECT_TRUE(source->data.referenceConnectionString);
  EXPECT_EQ(source->key.kind, ReferenceKeySource::Kind::kPkcs12);
  EXPECT_EQ(source->key.path, "/srv/kc/cert.pfx");
  // The variable's name, never its value.
  EXPECT_EQ(source->key.passwordEnv, "keyConnectorSettings__certificate__filesystemPassword");
  EXPECT_TRUE(contains(source->dataOrigin, "postgreSqlConnectionString")) << source->dataOrigin;
}

TEST_F(ImportSourcesTest, ReferencePkcs11KeyIsFoundBySerialIgnoringCaseAndItsIdAsEightBytes) {
  const appliance::Environment env = {
      {"keyConnectorSettings__database__provider", "sqlite"},
      {"keyConnectorSettings__database__sqliteConnectionString", "Data Source=/srv/kc/data.db"},
      {"keyConnectorSettings__rsaKey__provider", "pkcs11"},
      {"keyConnectorSettings__rsaKey__pkcs11LibraryPath", "/usr/lib/libvendor.so"},
      {"keyConnectorSettings__rsaKey__pkcs11SlotTokenSerialNumber", "AB12"},
      {"keyConnectorSettings__rsaKey__pkcs11PrivateKeyLabel", "kc key"},
      {"keyConnectorSettings__rsaKey__pkcs11PrivateKeyId", "258"},
      {"keyConnectorSettings__rsaKey__pkcs11LoginPin", "123456"}};
  auto source = resolveImportSource(cli::ParsedFlags(), env);
  ASSERT_TRUE(source) << source.status().toString();
  EXPECT_EQ(source->data.kind, ReferenceSource::Kind::kSqlite);
  EXPECT_TRUE(source->data.referenceConnectionString);
  EXPECT_EQ(source->key.kind, ReferenceKeySource::Kind::kPkcs11);
  EXPECT_EQ(source->key.pkcs11Module, "/usr/lib/libvendor.so");
  EXPECT_EQ(source->key.pkcs11KeyUri, "pkcs11:serial=AB12;id=%02%01%00%00%00%00%00%00");
  EXPECT_EQ(source->key.tokenMatch, pkcs11::TokenMatch::kSerialIgnoringCase);
  ASSERT_TRUE(source->key.pin);
  EXPECT_TRUE(
      contains(source->key.pin->describe(), "keyConnectorSettings__rsaKey__pkcs11LoginPin"));
}

TEST_F(ImportSourcesTest, ConnectionFilesTellTheReferencesFormFromTheNativeOne) {
  test::writeFile(dir_ / "npgsql", "Host=db;Port=5432;Database=kc;Username=kc;Password=x\n");
  test::writeFile(dir_ / "libpq", "host=db port=5432 dbname=kc user=kc password='a;b'\n");
  test::writeFile(dir_ / "dotnet-mysql", "Server=db;Database=kc;Uid=kc;Pwd=x\n");
  test::writeFile(dir_ / "poco-mysql", "host=db;port=3306;db=kc;user=kc;password=x\n");
  const auto resolve = [&](const std::string& flag, const std::string& file) {
    auto source = resolveImportSource(
        flagsOf({{flag, (dir_ / file).string()}, {"--source-pem", "/k.pem"}}), {});
    EXPECT_TRUE(source) << source.status().toString();
    return source ? source->data : ReferenceSource();
  };
  EXPECT_TRUE(resolve("--source-postgresql-file", "npgsql").referenceConnectionString);
  const auto libpq = resolve("--source-postgresql-file", "libpq");
  EXPECT_FALSE(libpq.referenceConnectionString);
  EXPECT_EQ(libpq.location, "host=db port=5432 dbname=kc user=kc password='a;b'");
  EXPECT_TRUE(resolve("--source-mysql-file", "dotnet-mysql").referenceConnectionString);
  EXPECT_FALSE(resolve("--source-mysql-file", "poco-mysql").referenceConnectionString);
}

TEST_F(ImportSourcesTest, AConnectionFileOthersMayReadIsRefused) {
  test::writeFile(dir_ / "open", "host=db password=x\n",
                  std::filesystem::perms::owner_read | std::filesystem::perms::others_read);
  auto source = resolveImportSource(
      flagsOf({{"--source-postgresql-file", (dir_ / "open").string()}, {"--source-pem", "/k"}}),
      {});
  ASSERT_FALSE(source);
  EXPECT_TRUE(contains(source.status().message(), "--source-postgresql-file"));
}

TEST_F(ImportSourcesTest, RefusalsNameTheFlagOrVariableAndWhatToDo) {
  struct Case {
    cli::ParsedFlags flags;
    appliance::Environment env;
    std::string mustSay;
  };
  const std::vector<Case> cases = {
      {flagsOf({{"--source-sqlite", "/a"}, {"--source-json", "/b"}}), {}, "--source-json"},
      {flagsOf({{"--source-sqlite", "/s"}, {"--source-pem", "/a"}, {"--source-pfx", "/b"}}),
       {},
       "give one"},
      {cli::ParsedFlags(), {}, "--source-sqlite FILE"},
      {flagsOf({{"--source-sqlite", "/a"}}), {}, "--source-pfx FILE"},
      {flagsOf({{"--source-sqlite", "/a"}}),
       {{"keyConnectorSettings__rsaKey__provider", "awskms"}},
       "keyConnectorSettings__rsaKey__provider"},
      {flagsOf({{"--source-sqlite", "/a"}}),
       {{"keyConnectorSettings__certificate__provider", "azurekv"}},
       "--source-pfx FILE"},
      {cli::ParsedFlags(),
       {{"keyConnectorSettings__database__provider", "sqlserver"}},
       "sqlserver"},
      {cli::ParsedFlags(), {{"keyConnectorSettings__database__provider", "json"}}, "jsonFilePath"},
      {flagsOf({{"--source-sqlite", "/a"}, {"--source-pkcs11-key", "pkcs11:object=k"}}),
       {},
       "--source-pkcs11-module"},
      {flagsOf({{"--source-sqlite", "/a"}, {"--source-pem", "/k"}, {"--source-pin-file", "/p"}}),
       {},
       "--source-pin-file"},
  };
  for (const auto& c : cases) {
    auto source = resolveImportSource(c.flags, c.env);
    ASSERT_FALSE(source) << c.mustSay;
    EXPECT_EQ(source.status().code(), StatusCode::kInvalidArgument);
    EXPECT_TRUE(contains(source.status().message(), c.mustSay))
        << c.mustSay << " -> " << source.status().message();
  }
}

TEST_F(ImportSourcesTest, NoMessageQuotesASecretOfTheReferencesVariables) {
  const appliance::Environment env = {
      {"keyConnectorSettings__database__provider", "mysql"},
      {"keyConnectorSettings__rsaKey__provider", "pkcs11"},
      {"keyConnectorSettings__rsaKey__pkcs11PrivateKeyId", "Secret-Id-3"},
      {"keyConnectorSettings__rsaKey__pkcs11LoginPin", "Secret-Pin-4"}};
  auto source = resolveImportSource(flagsOf({{"--source-sqlite", "/a"}}), env);
  ASSERT_FALSE(source);
  EXPECT_FALSE(contains(source.status().message(), "Secret-")) << source.status().message();
}

}  // namespace
}  // namespace kc::setup
