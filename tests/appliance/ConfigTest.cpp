// The daemon's configuration: defaults, the properties file, KC_* overrides, the reference Key
// Connector's variables, validation errors that name the key and never a secret, and the
// settings handed to the store and the token.

#include <gtest/gtest.h>

#include <string>

#include "kc/appliance/Config.h"
#include "kc/appliance/ReferenceVariables.h"
#include "support/TempDir.h"

namespace kc::appliance {
namespace {

namespace fs = std::filesystem;

// The two settings every configuration needs.
Environment minimalEnvironment() {
  return {{"KC_IDENTITY_SERVER_URI", "https://identity.example.com"},
          {"KC_PKCS11_WRAP_KEY", "pkcs11:token=kc;object=kc-wrap"}};
}

class ConfigTest : public ::testing::Test {
 protected:
  Result<DaemonConfig> load(const std::string& properties, const Environment& environment) {
    test::writeFile(configPath(), properties);
    return loadDaemonConfig(configPath(), environment);
  }
  fs::path configPath() const { return dir_ / "kc.properties"; }
  // Runs `load` and returns its error message, failing the test if it loaded.
  std::string errorOf(const std::string& properties, const Environment& environment) {
    auto config = load(properties, environment);
    EXPECT_FALSE(config) << "expected an error";
    if (config) return "";
    EXPECT_EQ(config.status().code(), StatusCode::kInvalidArgument);
    const std::string message = config.status().message();
    EXPECT_EQ(message.find('\n'), std::string::npos) << "not one line: " << message;
    return message;
  }
  test::TempDir dir_{"kc-appliance-config"};
};

bool contains(const std::string& text, const std::string& part) {
  return text.find(part) != std::string::npos;
}

TEST_F(ConfigTest, DefaultsApplyWhenOnlyTheRequiredSettingsAreGiven) {
  auto config = load("", minimalEnvironment());
  ASSERT_TRUE(config) << config.status().toString();
  EXPECT_EQ(config->server.address, "127.0.0.1");
  EXPECT_EQ(config->server.port, 5000);
  EXPECT_EQ(config->server.workers, 16u);
  EXPECT_EQ(config->server.maxQueued, 64u);
  EXPECT_TRUE(config->server.keepAlive);
  EXPECT_EQ(config->server.maxKeepAliveRequests, 100u);
  EXPECT_EQ(config->server.keepAliveTimeout, std::chrono::seconds(15));
  EXPECT_EQ(config->server.readTimeout, std::chrono::seconds(15));
  EXPECT_EQ(config->server.writeTimeout, std::chrono::seconds(15));
  EXPECT_FALSE(config->tls.enabled());
  EXPECT_EQ(config->identity.serverUri, "https://identity.example.com");
  EXPECT_EQ(config->identity.clockSkew, std::chrono::seconds(300));
  EXPECT_EQ(config->identity.jwksRefreshMinInterval, std::chrono::seconds(60));
  EXPECT_TRUE(config->identity.issuer.empty());
  EXPECT_TRUE(config->webVault.origin.empty());
  EXPECT_EQ(config->database.provider, storage::StoreBackend::kSqlite);
  EXPECT_EQ(config->database.sqlitePath, dir_.path() / "keys.db");
  EXPECT_EQ(config->database.poolSize, 16u);
  EXPECT_EQ(config->pkcs11.module, "/usr/lib/softhsm/libsofthsm2.so");
  EXPECT_EQ(config->pkcs11.wrapKey, "pkcs11:token=kc;object=kc-wrap");
  EXPECT_EQ(config->pkcs11.pinEnv, "KC_PKCS11_PIN");
  EXPECT_TRUE(config->pkcs11.pinFile.empty());
  EXPECT_EQ(config->pkcs11.sessions, 16u);
  EXPECT_TRUE(config->pkcs11.previousWrapKeys.empty());
  EXPECT_FALSE(config->policy.allowNoncompliantKey);
  EXPECT_EQ(config->log.level, "information");
  EXPECT_EQ(config->log.format, LogFormat::kText);
  EXPECT_EQ(config->configFile, configPath());
}

TEST_F(ConfigTest, TrustedProxiesAndRefusalLimitsDefaultToNoneAnd20PerMinute) {
  auto config = load("", minimalEnvironment());
  ASSERT_TRUE(config) << config.status().toString();
  EXPECT_TRUE(config->server.trustedProxies.empty());
  EXPECT_EQ(config->audit.refusalsPerClient, 20u);
  EXPECT_EQ(config->audit.refusalInterval, std::chrono::seconds(60));
}

TEST_F(ConfigTest, TheAdminListenerIsOnLoopbackAndMetricsAndHealthDetailAreNotPublic) {
  auto config = load("", minimalEnvironment());
  ASSERT_TRUE(config) << config.status().toString();
  EXPECT_EQ(config->server.adminAddress, "127.0.0.1");
  EXPECT_EQ(config->server.adminPort, 5010);
  EXPECT_TRUE(config->server.metrics);
  EXPECT_FALSE(config->server.publicMetrics);
  EXPECT_FALSE(config->server.publicHealthDetail);
}

TEST_F(ConfigTest, AdminListenerSettingsAreReadAndPortZeroTurnsItOff) {
  auto config = load(
      "server.admin_address = ::1\nserver.admin_port = 0\nserver.public_metrics = true\n"
      "server.public_health_detail = true\n",
      minimalEnvironment());
  ASSERT_TRUE(config) << config.status().toString();
  EXPECT_EQ(config->server.adminAddress, "::1");
  EXPECT_EQ(config->server.adminPort, 0);
  EXPECT_TRUE(config->server.publicMetrics);
  EXPECT_TRUE(config->server.publicHealthDetail);
  const std::string message = errorOf("server.admin_port = 70000\n", minimalEnvironment());
  EXPECT_TRUE(contains(message, "server.admin_port")) << message;
}

TEST_F(ConfigTest, TrustedProxiesAndRefusalLimitsAreRead) {
  auto config = load(
      "server.trusted_proxies = 10.0.0.0/8, ::1\n"
      "audit.refusals_per_client = 5\naudit.refusal_interval_s = 10\n"
      "audit.refusals_total = 50\n",
      minimalEnvironment());
  ASSERT_TRUE(config) << config.status().toString();
  EXPECT_EQ(config->server.trustedProxies.describe(), "10.0.0.0/8,::1/128");
  EXPECT_EQ(config->audit.refusalsPerClient, 5u);
  EXPECT_EQ(config->audit.refusalsTotal, 50u);
  EXPECT_EQ(DaemonConfig{}.audit.refusalsTotal, 1000u) << "the default";
  EXPECT_EQ(config->audit.refusalInterval, std::chrono::seconds(10));
}

TEST_F(ConfigTest, MalformedTrustedProxiesNameTheSettingAndTheEntry) {
  const std::string message =
      errorOf("server.trusted_proxies = 10.0.0.0/8, 10.1.0.0/33\n", minimalEnvironment());
  EXPECT_TRUE(contains(message, "server.trusted_proxies")) << message;
  EXPECT_TRUE(contains(message, "10.1.0.0/33")) << message;
  EXPECT_TRUE(contains(errorOf("audit.refusal_interval_s = 0\n", minimalEnvironment()),
                       "audit.refusal_interval_s"));
}

TEST_F(ConfigTest, HeadDeadlineAndConnectionsPerClientDefaultTo5sAnd64AndAreRead) {
  auto defaults = load("", minimalEnvironment());
  ASSERT_TRUE(defaults) << defaults.status().toString();
  EXPECT_EQ(defaults->server.headTimeout, std::chrono::seconds(5));
  EXPECT_EQ(defaults->server.maxConnectionsPerClient, 64u);
  auto config = load("server.head_timeout_s = 3\nserver.max_connections_per_client = 8\n",
                     minimalEnvironment());
  ASSERT_TRUE(config) << config.status().toString();
  EXPECT_EQ(config->server.headTimeout, std::chrono::seconds(3));
  EXPECT_EQ(config->server.maxConnectionsPerClient, 8u);
  EXPECT_TRUE(contains(errorOf("server.head_timeout_s = 0\n", minimalEnvironment()),
                       "server.head_timeout_s"));
  EXPECT_TRUE(contains(errorOf("server.max_connections_per_client = 0\n", minimalEnvironment()),
                       "server.max_connections_per_client"));
}

TEST_F(ConfigTest, FileSettingsAreRead) {
  test::writeFile(dir_ / "pin", "1234\n");
  auto config = load(
      "# a comment\n"
      "server.address = 0.0.0.0\n"
      "server.port = 8443\n"
      "server.workers = 8\n"
      "server.keep_alive = false\n"
      "identity.server_uri = https://sso.example.org/identity\n"
      "identity.issuer = https://sso.example.org\n"
      "identity.clock_skew_s = 60\n"
      "web_vault.origin = https://vault.example.org\n"
      "database.provider = postgresql\n"
      "database.connection_string = host=db user=kc password=secret\n"
      "pkcs11.wrap_key = pkcs11:object=wrap\n"
      "pkcs11.audit_key = pkcs11:object=audit\n"
      "pkcs11.pin_file = pin\n"
      "pkcs11.previous_wrap_keys = pkcs11:object=old-1, pkcs11:object=old-2\n"
      "policy.allow_noncompliant_key = true\n"
      "log.level = debug\n"
      "log.format = json\n"
      "audit.archive_command = cp %p /mnt/audit-archive/\n",
      {});
  ASSERT_TRUE(config) << config.status().toString();
  EXPECT_EQ(config->server.address, "0.0.0.0");
  EXPECT_EQ(config->server.port, 8443);
  EXPECT_FALSE(config->server.keepAlive);
  EXPECT_EQ(config->identity.serverUri, "https://sso.example.org/identity");
  EXPECT_EQ(config->identity.issuer, "https://sso.example.org");
  EXPECT_EQ(config->identity.clockSkew, std::chrono::seconds(60));
  EXPECT_EQ(config->webVault.origin, "https://vault.example.org");
  EXPECT_EQ(config->database.provider, storage::StoreBackend::kPostgreSql);
  EXPECT_EQ(config->database.connectionString, "host=db user=kc password=secret");
  EXPECT_EQ(config->pkcs11.auditKey, "pkcs11:object=audit");
  EXPECT_EQ(config->pkcs11.pinFile, dir_.path() / "pin");
  EXPECT_TRUE(config->pkcs11.pinEnv.empty());
  ASSERT_EQ(config->pkcs11.previousWrapKeys.size(), 2u);
  EXPECT_EQ(config->pkcs11.previousWrapKeys[1], "pkcs11:object=old-2");
  EXPECT_TRUE(config->policy.allowNoncompliantKey);
  EXPECT_EQ(config->log.level, "debug");
  EXPECT_EQ(config->log.format, LogFormat::kJson);
  EXPECT_EQ(config->audit.archiveCommand, "cp %p /mnt/audit-archive/");
}

TEST_F(ConfigTest, WorkersSetTheDefaultDatabasePoolAndTokenSessions) {
  auto config = load("server.workers = 6\n", minimalEnvironment());
  ASSERT_TRUE(config) << config.status().toString();
  EXPECT_EQ(config->database.poolSize, 6u);
  EXPECT_EQ(config->pkcs11.sessions, 6u);
  auto explicitSizes = load("server.workers = 6\ndatabase.pool_size = 3\npkcs11.sessions = 2\n",
                            minimalEnvironment());
  ASSERT_TRUE(explicitSizes);
  EXPECT_EQ(explicitSizes->database.poolSize, 3u);
  EXPECT_EQ(explicitSizes->pkcs11.sessions, 2u);
}

TEST_F(ConfigTest, RelativePathsResolveAgainstTheConfigFilesDirectory) {
  fs::create_directories(dir_ / "secrets");
  test::writeFile(dir_ / "secrets" / "pin", "1234");
  test::writeFile(dir_ / "jwks.json", "{}");
  auto config = load(
      "database.sqlite_path = data/keys.db\n"
      "pkcs11.pin_file = secrets/pin\n"
      "identity.jwks_file = ./jwks.json\n",
      {{"KC_PKCS11_WRAP_KEY", "pkcs11:object=w"}});
  ASSERT_TRUE(config) << config.status().toString();
  EXPECT_EQ(config->database.sqlitePath, dir_.path() / "data" / "keys.db");
  EXPECT_EQ(config->pkcs11.pinFile, dir_.path() / "secrets" / "pin");
  EXPECT_EQ(config->identity.jwksFile, dir_.path() / "jwks.json");
  EXPECT_TRUE(config->identity.serverUri.empty());
}

TEST_F(ConfigTest, KcEnvironmentVariableWinsOverTheFile) {
  auto env = minimalEnvironment();
  env["KC_SERVER_PORT"] = "7000";
  env["KC_DATABASE_PROVIDER"] = "sqlite";
  auto config = load("server.port = 6000\ndatabase.provider = mysql\n", env);
  ASSERT_TRUE(config) << config.status().toString();
  EXPECT_EQ(config->server.port, 7000);
  EXPECT_EQ(config->database.provider, storage::StoreBackend::kSqlite);
}

TEST_F(ConfigTest, EmptyEnvironmentVariableLeavesTheFileValue) {
  auto env = minimalEnvironment();
  env["KC_SERVER_PORT"] = "";
  auto config = load("server.port = 6000\n", env);
  ASSERT_TRUE(config);
  EXPECT_EQ(config->server.port, 6000);
}

TEST_F(ConfigTest, ReferenceVariablesRankBelowKcAndAboveTheFile) {
  Environment env = {{"KC_PKCS11_WRAP_KEY", "pkcs11:object=w"},
                     {"keyConnectorSettings__identityServerUri", "https://from-reference"},
                     {"keyConnectorSettings__webVaultUri", "https://vault.from-reference"}};
  auto config = load(
      "identity.server_uri = https://from-file\nweb_vault.origin = https://vault.from-file\n", env);
  ASSERT_TRUE(config) << config.status().toString();
  EXPECT_EQ(config->identity.serverUri, "https://from-reference");
  EXPECT_EQ(config->webVault.origin, "https://vault.from-reference");

  env["KC_IDENTITY_SERVER_URI"] = "https://from-kc";
  auto overridden = load("identity.server_uri = https://from-file\n", env);
  ASSERT_TRUE(overridden);
  EXPECT_EQ(overridden->identity.serverUri, "https://from-kc");
}

TEST_F(ConfigTest, ReferenceSqlServerProviderBecomesOdbcWithTheSqlServerDialect) {
  auto env = minimalEnvironment();
  env["keyConnectorSettings__database__provider"] = "sqlserver";
  env["keyConnectorSettings__database__sqlServerConnectionString"] =
      "Server=tcp:sql.example.com,1433;Database=kc;User Id=kc;Password=p@ss;Encrypt=True";
  auto config = load("", env);
  ASSERT_TRUE(config) << config.status().toString();
  EXPECT_EQ(config->database.provider, storage::StoreBackend::kOdbc);
  EXPECT_EQ(config->database.odbcDialect, storage::OdbcDialect::kSqlServer);
  EXPECT_EQ(config->database.connectionString,
            "Driver={ODBC Driver 18 for SQL Server};Server=tcp:sql.example.com,1433;Database=kc;"
            "UID=kc;PWD=p@ss;Encrypt=yes");
}

TEST_F(ConfigTest, ReferencePostgresConnectionStringIsConvertedToLibpq) {
  auto env = minimalEnvironment();
  env["keyConnectorSettings__database__provider"] = "postgresql";
  env["keyConnectorSettings__database__postgreSqlConnectionString"] =
      "Host=db;Port=5432;Database=keyconnector;Username=kc;Password=s3cret";
  auto config = load("", env);
  ASSERT_TRUE(config) << config.status().toString();
  EXPECT_EQ(config->database.provider, storage::StoreBackend::kPostgreSql);
  EXPECT_EQ(config->database.connectionString,
            "host='db' port='5432' dbname='keyconnector' user='kc' password='s3cret'");
}

TEST_F(ConfigTest, ReferenceMySqlConnectionStringIsConvertedForPoco) {
  auto env = minimalEnvironment();
  env["keyConnectorSettings__database__provider"] = "mysql";
  env["keyConnectorSettings__database__mySqlConnectionString"] =
      "Server=db;Port=3306;Database=kc;Uid=kc;Pwd=s3cret";
  auto config = load("", env);
  ASSERT_TRUE(config) << config.status().toString();
  EXPECT_EQ(config->database.provider, storage::StoreBackend::kMySql);
  EXPECT_EQ(config->database.connectionString, "host=db;port=3306;db=kc;user=kc;password=s3cret");
}

TEST_F(ConfigTest, ReferenceSqliteDataSourceBecomesThePathRelativeToTheConfigFile) {
  auto env = minimalEnvironment();
  env["keyConnectorSettings__database__provider"] = "sqlite";
  env["keyConnectorSettings__database__sqliteConnectionString"] = "Data Source=data/kc.db";
  auto config = load("", env);
  ASSERT_TRUE(config) << config.status().toString();
  EXPECT_EQ(config->database.sqlitePath, dir_.path() / "data" / "kc.db");
}

TEST_F(ConfigTest, ReferenceConnectionStringOfTheProviderInTheFileIsUsed) {
  auto env = minimalEnvironment();
  env["keyConnectorSettings__database__postgreSqlConnectionString"] = "Host=db;Password=x";
  auto config = load("database.provider = postgresql\n", env);
  ASSERT_TRUE(config) << config.status().toString();
  EXPECT_EQ(config->database.connectionString, "host='db' password='x'");
}

TEST_F(ConfigTest, MalformedReferenceConnectionStringNamesTheVariableNotTheSecret) {
  auto env = minimalEnvironment();
  env["keyConnectorSettings__database__provider"] = "postgresql";
  env["keyConnectorSettings__database__postgreSqlConnectionString"] =
      "Host=db;Password='TopSecret99;Frobnicate=1";
  const std::string message = errorOf("", env);
  EXPECT_TRUE(contains(message, "database.connection_string")) << message;
  EXPECT_TRUE(contains(message, "keyConnectorSettings__database__postgreSqlConnectionString"))
      << message;
  EXPECT_FALSE(contains(message, "TopSecret99")) << message;
}

TEST_F(ConfigTest, ReferenceJsonAndMongoProvidersPointToKcSetup) {
  for (const char* provider : {"json", "mongo"}) {
    auto env = minimalEnvironment();
    env["keyConnectorSettings__database__provider"] = provider;
    const std::string message = errorOf("", env);
    EXPECT_TRUE(contains(message, "not supported")) << message;
    EXPECT_TRUE(contains(message, "kc-setup import-bitwarden")) << message;
    EXPECT_TRUE(contains(message, "keyConnectorSettings__database__provider")) << message;
  }
}

TEST_F(ConfigTest, ReferenceJsonProviderErrorIsTheImportCommandWithItsRealFlags) {
  auto env = minimalEnvironment();
  env["keyConnectorSettings__database__provider"] = "json";
  env["keyConnectorSettings__database__jsonFilePath"] = "/srv/keyconnector/data.json";
  const std::string message = errorOf("", env);
  EXPECT_TRUE(contains(message, "kc-setup import-bitwarden --config " +
                                    fs::absolute(configPath()).string() +
                                    " --source-json /srv/keyconnector/data.json"))
      << message;
  for (const char* flag :
       {"--source-pfx FILE", "--source-pfx-password-file FILE", "--source-pem FILE",
        "--source-pkcs11-module PATH", "--source-pkcs11-key URI", "--source-pin-file FILE"}) {
    EXPECT_TRUE(contains(message, flag)) << flag << " -> " << message;
  }
  env["keyConnectorSettings__database__provider"] = "mongo";
  // A mongo deployment sets its connection variables too: they are the reference's own
  // settings, not misspellings, so the message is what to do about the mongo provider.
  env["keyConnectorSettings__database__mongoConnectionString"] = "mongodb://old:27017";
  env["keyConnectorSettings__database__mongoDatabaseName"] = "keyconnector";
  const std::string mongo = errorOf("", env);
  EXPECT_FALSE(contains(mongo, "not a setting of Bitwarden Key Connector")) << mongo;
  EXPECT_TRUE(contains(mongo, "mongo provider is not supported")) << mongo;
  for (const char* flag :
       {"--source-sqlite FILE", "--source-postgresql-file FILE", "--source-mysql-file FILE"}) {
    EXPECT_TRUE(contains(mongo, flag)) << flag << " -> " << mongo;
  }
}

TEST_F(ConfigTest, KcProviderOverridesAnUnsupportedReferenceProvider) {
  auto env = minimalEnvironment();
  env["keyConnectorSettings__database__provider"] = "json";
  env["KC_DATABASE_PROVIDER"] = "sqlite";
  auto config = load("", env);
  ASSERT_TRUE(config) << config.status().toString();
}

TEST_F(ConfigTest, ReferenceRsaKeySettingsSelectModuleTokenKeyAndPin) {
  Environment env = {
      {"KC_IDENTITY_SERVER_URI", "https://identity.example.com"},
      {"keyConnectorSettings__rsaKey__pkcs11LibraryPath", "/usr/lib/softhsm/libsofthsm2.so"},
      {"keyConnectorSettings__rsaKey__pkcs11SlotTokenSerialNumber", "8f3a 21"},
      {"keyConnectorSettings__rsaKey__pkcs11PrivateKeyLabel", "key connector"},
      {"keyConnectorSettings__rsaKey__pkcs11PrivateKeyId", "258"},
      {"keyConnectorSettings__rsaKey__pkcs11LoginPin", "987654"}};
  auto config = load("", env);
  ASSERT_TRUE(config) << config.status().toString();
  EXPECT_EQ(config->pkcs11.module, "/usr/lib/softhsm/libsofthsm2.so");
  EXPECT_EQ(config->pkcs11.token, "pkcs11:serial=8f3a%2021");
  // As in the reference, the id wins over the label.
  EXPECT_EQ(config->pkcs11.wrapKey, "pkcs11:id=%02%01%00%00%00%00%00%00");
  EXPECT_TRUE(config->pkcs11.tokenSerialIgnoresCase);
  EXPECT_EQ(config->pkcs11.pinEnv, "keyConnectorSettings__rsaKey__pkcs11LoginPin");
  const auto token = tokenSettingsFrom(config->pkcs11);
  EXPECT_EQ(token.uri, "pkcs11:serial=8f3a%2021");
  EXPECT_EQ(token.match, pkcs11::TokenMatch::kSerialIgnoringCase);
  EXPECT_TRUE(contains(token.pin.describe(), "keyConnectorSettings__rsaKey__pkcs11LoginPin"));
}

TEST_F(ConfigTest, ReferenceNamesAreMatchedIgnoringCaseAsAspNetDoes) {
  Environment env = {{"KEYCONNECTORSETTINGS__IDENTITYSERVERURI", "https://identity.example.com"},
                     {"keyconnectorsettings__webvaulturi", "https://vault.example.com"},
                     {"KeyConnectorSettings__RsaKey__Pkcs11PrivateKeyLabel", "kc-wrap"}};
  auto config = load("", env);
  ASSERT_TRUE(config) << config.status().toString();
  EXPECT_EQ(config->identity.serverUri, "https://identity.example.com");
  EXPECT_EQ(config->webVault.origin, "https://vault.example.com");
  EXPECT_EQ(config->pkcs11.wrapKey, "pkcs11:object=kc-wrap");
  EXPECT_FALSE(config->pkcs11.tokenSerialIgnoresCase);
  EXPECT_EQ(config->origins.at("pkcs11.wrap_key"),
            "environment variable KeyConnectorSettings__RsaKey__Pkcs11PrivateKeyLabel");
}

TEST_F(ConfigTest, OneReferenceSettingSpeltTwiceIsRefusedNamingBoth) {
  auto env = minimalEnvironment();
  env["keyConnectorSettings__webVaultUri"] = "https://a.example.com";
  env["KEYCONNECTORSETTINGS__WEBVAULTURI"] = "https://b.example.com";
  const std::string message = errorOf("", env);
  EXPECT_TRUE(contains(message, "keyConnectorSettings__webVaultUri")) << message;
  EXPECT_TRUE(contains(message, "KEYCONNECTORSETTINGS__WEBVAULTURI")) << message;
}

TEST_F(ConfigTest, UnknownReferenceSettingIsRefusedByName) {
  auto env = minimalEnvironment();
  env["keyConnectorSettings__rsaKey__pkcs11LibaryPath"] = "/x.so";
  const std::string message = errorOf("", env);
  EXPECT_TRUE(contains(message, "keyConnectorSettings__rsaKey__pkcs11LibaryPath")) << message;
  EXPECT_TRUE(contains(message, "not a setting of Bitwarden Key Connector")) << message;
}

TEST_F(ConfigTest, UnsupportedReferenceSettingsStopStartUpSayingWhatToDo) {
  struct Case {
    std::string variable, value, mustSay;
  };
  const std::vector<Case> cases = {
      {"keyConnectorSettings__transferTo__database__provider", "sqlite", "import-bitwarden"},
      {"keyConnectorSettings__rsaKey__provider", "certificate", "kc-setup key generate"},
      {"keyConnectorSettings__rsaKey__provider", "awskms", "pkcs11.wrap_key"},
      {"keyConnectorSettings__rsaKey__azureKeyvaultUri", "https://kv", "pkcs11.wrap_key"},
      {"keyConnectorSettings__rsaKey__pkcs11LoginUserType", "so", "CKU_USER"},
      {"keyConnectorSettings__database__provider", "mongo", "import-bitwarden"},
  };
  for (const auto& c : cases) {
    Environment env = {{"KC_IDENTITY_SERVER_URI", "https://identity.example.com"},
                       {"keyConnectorSettings__rsaKey__pkcs11PrivateKeyLabel", "kc-wrap"},
                       {c.variable, c.value}};
    const std::string message = errorOf("", env);
    EXPECT_TRUE(contains(message, c.variable)) << c.variable << " -> " << message;
    EXPECT_TRUE(contains(message, c.mustSay)) << c.variable << " -> " << message;
  }
}

TEST_F(ConfigTest, OurWrapKeyLiftsTheRefusalOfTheReferencesRsaKeyProvider) {
  auto env = minimalEnvironment();
  env["keyConnectorSettings__rsaKey__provider"] = "certificate";
  env["keyConnectorSettings__certificate__provider"] = "filesystem";
  auto config = load("", env);
  ASSERT_TRUE(config) << config.status().toString();
  EXPECT_EQ(config->pkcs11.wrapKey, "pkcs11:token=kc;object=kc-wrap");

  // The properties file does not outrank the reference's variables: the message says what
  // does, rather than sending the operator to edit the file in vain.
  env.erase("KC_PKCS11_WRAP_KEY");
  const std::string message = errorOf("pkcs11.wrap_key = pkcs11:token=kc;object=kc-wrap\n", env);
  EXPECT_TRUE(contains(message, "KC_PKCS11_WRAP_KEY")) << message;
  EXPECT_TRUE(contains(message, "outrank the properties file")) << message;
}

TEST_F(ConfigTest, ReferencePkcs11ProviderSelectsTheVendorsDebianModule) {
  Environment env = {{"KC_IDENTITY_SERVER_URI", "https://identity.example.com"},
                     {"keyConnectorSettings__rsaKey__pkcs11PrivateKeyLabel", "kc-wrap"},
                     {"keyConnectorSettings__rsaKey__pkcs11Provider", "OpenSC"}};
  auto config = load("", env);
  ASSERT_TRUE(config) << config.status().toString();
  EXPECT_EQ(config->pkcs11.module, *modulePathForProvider("opensc"));
  EXPECT_TRUE(contains(config->pkcs11.module, "opensc-pkcs11.so"));
  EXPECT_TRUE(contains(*modulePathForProvider("yubihsm"), "pkcs11/yubihsm_pkcs11.so"));

  env["keyConnectorSettings__rsaKey__pkcs11Provider"] = "thales";
  std::string message = errorOf("", env);
  EXPECT_TRUE(contains(message, "pkcs11Provider")) << message;
  EXPECT_TRUE(contains(message, "pkcs11LibraryPath")) << message;

  env["keyConnectorSettings__rsaKey__pkcs11LibraryPath"] = "/usr/lib/softhsm/libsofthsm2.so";
  auto explicitPath = load("", env);
  ASSERT_TRUE(explicitPath) << explicitPath.status().toString();
  EXPECT_EQ(explicitPath->pkcs11.module, "/usr/lib/softhsm/libsofthsm2.so");
}

TEST_F(ConfigTest, ImportDestinationIsLoadedWithoutTheReferenceVariables) {
  auto env = minimalEnvironment();
  env["keyConnectorSettings__database__provider"] = "postgresql";
  env["keyConnectorSettings__database__postgreSqlConnectionString"] = "Host=old;Password=x";
  env["keyConnectorSettings__transferTo__lockfilePath"] = "/tmp/lock";
  test::writeFile(configPath(), "");
  auto config = loadDaemonConfig(configPath(), env, ConfigLayers::kWithoutReferenceVariables);
  ASSERT_TRUE(config) << config.status().toString();
  EXPECT_EQ(config->database.provider, storage::StoreBackend::kSqlite);

  // The case that matters: the destination uses the same provider as the reference, so the
  // reference's connection string would otherwise become the destination's.
  env["keyConnectorSettings__database__provider"] = "sqlite";
  env["keyConnectorSettings__database__sqliteConnectionString"] = "Data Source=/old/kc.db";
  env.erase("keyConnectorSettings__transferTo__lockfilePath");
  test::writeFile(configPath(), "database.sqlite_path = ours.db\n");
  auto sqlite = loadDaemonConfig(configPath(), env, ConfigLayers::kWithoutReferenceVariables);
  ASSERT_TRUE(sqlite) << sqlite.status().toString();
  EXPECT_EQ(sqlite->database.sqlitePath, configPath().parent_path() / "ours.db");
  // With every layer, the reference's database is the daemon's (the switch-over case).
  auto daemon = loadDaemonConfig(configPath(), env);
  ASSERT_TRUE(daemon) << daemon.status().toString();
  EXPECT_EQ(daemon->database.sqlitePath, std::filesystem::path("/old/kc.db"));

  env["keyConnectorSettings__database__provider"] = "postgresql";
  test::writeFile(configPath(),
                  "database.provider = postgresql\n"
                  "database.connection_string = host=new dbname=kc\n");
  auto postgres = loadDaemonConfig(configPath(), env, ConfigLayers::kWithoutReferenceVariables);
  ASSERT_TRUE(postgres) << postgres.status().toString();
  EXPECT_EQ(postgres->database.connectionString, "host=new dbname=kc");
}

TEST_F(ConfigTest, ReferenceKeyIdThatIsNotANumberIsRefused) {
  Environment env = {{"KC_IDENTITY_SERVER_URI", "https://identity.example.com"},
                     {"keyConnectorSettings__rsaKey__pkcs11PrivateKeyId", "0x12"}};
  const std::string message = errorOf("", env);
  EXPECT_TRUE(contains(message, "pkcs11.wrap_key")) << message;
  EXPECT_TRUE(contains(message, "keyConnectorSettings__rsaKey__pkcs11PrivateKeyId")) << message;
}

TEST_F(ConfigTest, ErrorNamesTheKeyAndTheFile) {
  const std::string message = errorOf("server.port = eighty\n", minimalEnvironment());
  EXPECT_TRUE(contains(message, "server.port")) << message;
  EXPECT_TRUE(contains(message, configPath().string())) << message;
  EXPECT_TRUE(contains(message, "eighty")) << message;
}

TEST_F(ConfigTest, ErrorNamesTheEnvironmentVariable) {
  auto env = minimalEnvironment();
  env["KC_SERVER_PORT"] = "70000";
  const std::string message = errorOf("", env);
  EXPECT_TRUE(contains(message, "server.port")) << message;
  EXPECT_TRUE(contains(message, "environment variable KC_SERVER_PORT")) << message;
  EXPECT_TRUE(contains(message, "1 to 65535")) << message;
}

TEST_F(ConfigTest, OutOfRangeAndMalformedValuesAreRefused) {
  const struct {
    const char* line;
    const char* key;
  } cases[] = {
      {"server.workers = 0", "server.workers"},
      {"server.workers = -3", "server.workers"},
      {"server.keep_alive = maybe", "server.keep_alive"},
      {"server.read_timeout_s = 0", "server.read_timeout_s"},
      {"identity.clock_skew_s = 99999", "identity.clock_skew_s"},
      {"database.provider = oracle", "database.provider"},
      {"database.provider = odbc\ndatabase.odbc_dialect = db2\n"
       "database.connection_string = x",
       "database.odbc_dialect"},
      {"database.provider = odbc\ndatabase.odbc_dialect = sqlite\n"
       "database.connection_string = x",
       "database.odbc_dialect"},
      {"log.level = loud", "log.level"},
      {"log.format = xml", "log.format"},
      {"web_vault.origin = https://vault.example.com/app", "web_vault.origin"},
      {"web_vault.origin = ftp://vault.example.com", "web_vault.origin"},
      {"pkcs11.token = token=kc", "pkcs11.token"},
      {"pkcs11.pin_env = NOT-A-NAME", "pkcs11.pin_env"},
      {"pkcs11.module = ./no-such-module.so", "pkcs11.module"},
      {"server.address = two words", "server.address"},
  };
  for (const auto& c : cases) {
    const std::string message = errorOf(std::string(c.line) + "\n", minimalEnvironment());
    EXPECT_TRUE(contains(message, c.key)) << c.line << " -> " << message;
  }
}

TEST_F(ConfigTest, IdentityServerMustBeAnHttpUrl) {
  for (const char* uri : {"not a url", "ftp://identity.example.com", "https://"}) {
    auto env = minimalEnvironment();
    env["KC_IDENTITY_SERVER_URI"] = uri;
    const std::string message = errorOf("", env);
    EXPECT_TRUE(contains(message, "identity.server_uri")) << uri << " -> " << message;
  }
}

TEST_F(ConfigTest, IdentityServerMustBeHttpsUnlessPlainHttpIsAllowed) {
  for (const auto& [name, value] :
       {std::pair{"KC_IDENTITY_SERVER_URI", "http://identity.example.com"},
        std::pair{"keyConnectorSettings__identityServerUri", "http://identity:5000/"}}) {
    Environment env = {{"KC_PKCS11_WRAP_KEY", "pkcs11:token=kc;object=kc-wrap"}, {name, value}};
    const std::string message = errorOf("", env);
    EXPECT_TRUE(contains(message, "identity.server_uri")) << message;
    EXPECT_TRUE(contains(message, "https")) << message;
    EXPECT_TRUE(contains(message, "identity.allow_insecure_http")) << message;

    env["KC_IDENTITY_ALLOW_INSECURE_HTTP"] = "true";
    auto config = load("", env);
    ASSERT_TRUE(config) << config.status().toString();
    EXPECT_TRUE(config->identity.allowInsecureHttp);
    EXPECT_EQ(config->identity.serverUri, value);
  }
  auto config = load("", minimalEnvironment());
  ASSERT_TRUE(config);
  EXPECT_FALSE(config->identity.allowInsecureHttp);
}

TEST_F(ConfigTest, ExplicitJwksUriIsReadAndMustBeHttps) {
  auto config = load("identity.jwks_uri = https://keys.example.com/jwks\n", minimalEnvironment());
  ASSERT_TRUE(config) << config.status().toString();
  EXPECT_EQ(config->identity.jwksUri, "https://keys.example.com/jwks");

  const std::string message =
      errorOf("identity.jwks_uri = http://keys.example.com/jwks\n", minimalEnvironment());
  EXPECT_TRUE(contains(message, "identity.jwks_uri")) << message;
  auto allowed = load(
      "identity.jwks_uri = http://keys.example.com/jwks\nidentity.allow_insecure_http = true\n",
      minimalEnvironment());
  EXPECT_TRUE(allowed) << allowed.status().toString();
}

TEST_F(ConfigTest, JwksUriAndJwksFileTogetherAreRefused) {
  test::writeFile(dir_ / "jwks.json", R"({"keys":[]})");
  const std::string message = errorOf(
      "identity.jwks_file = ./jwks.json\nidentity.jwks_uri = https://keys.example.com/jwks\n",
      minimalEnvironment());
  EXPECT_TRUE(contains(message, "identity.jwks_uri")) << message;
  EXPECT_TRUE(contains(message, "identity.jwks_file")) << message;
}

TEST_F(ConfigTest, UnknownKeyInTheFileIsRefusedByName) {
  const std::string message = errorOf("server.prot = 5000\n", minimalEnvironment());
  EXPECT_TRUE(contains(message, "server.prot")) << message;
  EXPECT_TRUE(contains(message, "not a setting")) << message;
}

TEST_F(ConfigTest, StrayLineIsRefusedWithoutQuotingIt) {
  const std::string message = errorOf("Hunter2-Secret!\n", minimalEnvironment());
  EXPECT_FALSE(contains(message, "Hunter2")) << message;
  EXPECT_TRUE(contains(message, configPath().string())) << message;
}

TEST_F(ConfigTest, MissingWrapKeyIsNamed) {
  const std::string message =
      errorOf("", {{"KC_IDENTITY_SERVER_URI", "https://identity.example.com"}});
  EXPECT_TRUE(contains(message, "pkcs11.wrap_key")) << message;
  EXPECT_TRUE(contains(message, "required")) << message;
}

TEST_F(ConfigTest, MissingIdentityServerIsNamedUnlessAJwksFileIsGiven) {
  const std::string message = errorOf("", {{"KC_PKCS11_WRAP_KEY", "pkcs11:object=w"}});
  EXPECT_TRUE(contains(message, "identity.server_uri")) << message;
  test::writeFile(dir_ / "jwks.json", "{}");
  auto config =
      load("identity.jwks_file = jwks.json\n", {{"KC_PKCS11_WRAP_KEY", "pkcs11:object=w"}});
  EXPECT_TRUE(config) << config.status().toString();
}

TEST_F(ConfigTest, WrapKeyUriMustNameAKeyAndCarryNoPin) {
  auto env = minimalEnvironment();
  env["KC_PKCS11_WRAP_KEY"] = "pkcs11:token=kc";
  EXPECT_TRUE(contains(errorOf("", env), "names no key"));
  env["KC_PKCS11_WRAP_KEY"] = "pkcs11:object=w?pin-value=55443322";
  const std::string message = errorOf("", env);
  EXPECT_TRUE(contains(message, "pkcs11.wrap_key")) << message;
  EXPECT_FALSE(contains(message, "55443322")) << message;
}

TEST_F(ConfigTest, ConnectionStringIsNeverQuotedInAnError) {
  auto env = minimalEnvironment();
  env["KC_DATABASE_PROVIDER"] = "postgresql";
  env["KC_DATABASE_CONNECTION_STRING"] = std::string("host=db password=Sekrit77\x01");
  const std::string message = errorOf("", env);
  EXPECT_TRUE(contains(message, "database.connection_string")) << message;
  EXPECT_FALSE(contains(message, "Sekrit77")) << message;
}

TEST_F(ConfigTest, ClientServerDatabaseNeedsAConnectionString) {
  const std::string message = errorOf("database.provider = mysql\n", minimalEnvironment());
  EXPECT_TRUE(contains(message, "database.connection_string")) << message;
  EXPECT_TRUE(contains(message, "mysql")) << message;
}

TEST_F(ConfigTest, TlsNeedsBothCertificateAndKeyAndExistingFiles) {
  test::writeFile(dir_ / "cert.pem", "x");
  test::writeFile(dir_ / "key.pem", "x");
  const std::string onlyCert = errorOf("tls.certificate = cert.pem\n", minimalEnvironment());
  EXPECT_TRUE(contains(onlyCert, "tls.private_key")) << onlyCert;
  const std::string missing =
      errorOf("tls.certificate = cert.pem\ntls.private_key = nope.pem\n", minimalEnvironment());
  EXPECT_TRUE(contains(missing, "tls.private_key")) << missing;
  EXPECT_TRUE(contains(missing, "no such file")) << missing;
  auto config =
      load("tls.certificate = cert.pem\ntls.private_key = key.pem\n", minimalEnvironment());
  ASSERT_TRUE(config) << config.status().toString();
  EXPECT_TRUE(config->tls.enabled());
  EXPECT_EQ(config->tls.privateKey, dir_.path() / "key.pem");
}

TEST_F(ConfigTest, PinFileAndPinEnvTogetherInOneLayerAreRefused) {
  test::writeFile(dir_ / "pin", "1");
  const std::string message =
      errorOf("pkcs11.pin_file = pin\npkcs11.pin_env = MY_PIN\n", minimalEnvironment());
  EXPECT_TRUE(contains(message, "not both")) << message;
}

TEST_F(ConfigTest, PinSourceFromAHigherLayerWins) {
  test::writeFile(dir_ / "pin", "1");
  auto env = minimalEnvironment();
  env["KC_PKCS11_PIN_FILE"] = "pin";
  auto config = load("pkcs11.pin_env = MY_PIN\n", env);
  ASSERT_TRUE(config) << config.status().toString();
  EXPECT_EQ(config->pkcs11.pinFile, dir_.path() / "pin");
  EXPECT_TRUE(config->pkcs11.pinEnv.empty());
}

TEST_F(ConfigTest, WebVaultOriginIsNormalised) {
  auto config = load("web_vault.origin = HTTPS://Vault.Example.com:8443/\n", minimalEnvironment());
  ASSERT_TRUE(config) << config.status().toString();
  EXPECT_EQ(config->webVault.origin, "https://vault.example.com:8443");
}

TEST_F(ConfigTest, PreviousWrapKeysMustNotRepeatTheCurrentKey) {
  const std::string message =
      errorOf("pkcs11.previous_wrap_keys = pkcs11:token=kc;object=kc-wrap\n", minimalEnvironment());
  EXPECT_TRUE(contains(message, "pkcs11.previous_wrap_keys")) << message;
}

TEST_F(ConfigTest, Pkcs11TokensNamesAClusterOfAtLeastTwoTokensNotBesidePkcs11Token) {
  auto config =
      load("pkcs11.tokens = pkcs11:token=hsm-a, pkcs11:token=hsm-b\n", minimalEnvironment());
  ASSERT_TRUE(config) << config.status().toString();
  EXPECT_EQ(config->pkcs11.tokens,
            (std::vector<std::string>{"pkcs11:token=hsm-a", "pkcs11:token=hsm-b"}));
  EXPECT_EQ(tokenSettingsFrom(config->pkcs11).uri, "pkcs11:token=hsm-a") << "tools: the first";

  std::string message = errorOf("pkcs11.tokens = pkcs11:token=hsm-a\n", minimalEnvironment());
  EXPECT_TRUE(contains(message, "at least two")) << message;
  message =
      errorOf("pkcs11.tokens = pkcs11:token=hsm-a, pkcs11:token=hsm-a\n", minimalEnvironment());
  EXPECT_TRUE(contains(message, "twice")) << message;
  message = errorOf(
      "pkcs11.token = pkcs11:token=hsm-a\npkcs11.tokens = pkcs11:token=hsm-a, pkcs11:token=hsm-b\n",
      minimalEnvironment());
  EXPECT_TRUE(contains(message, "not both")) << message;
}

TEST_F(ConfigTest, MissingFileIsNamed) {
  auto config = loadDaemonConfig(dir_ / "absent.properties", minimalEnvironment());
  ASSERT_FALSE(config);
  EXPECT_TRUE(contains(config.status().message(), "absent.properties"));
}

TEST_F(ConfigTest, StoreAndTokenSettingsFollowTheConfig) {
  auto config = load(
      "database.provider = odbc\n"
      "database.odbc_dialect = postgresql\n"
      "database.connection_string = Driver={X};Server=db\n"
      "database.pool_size = 5\n"
      "pkcs11.token = pkcs11:token=kc\n"
      "pkcs11.init_args = configDir=/tmp\n"
      "pkcs11.sessions = 3\n"
      "pkcs11.previous_wrap_keys = pkcs11:object=old\n",
      minimalEnvironment());
  ASSERT_TRUE(config) << config.status().toString();
  const auto store = storeConfigFrom(*config);
  EXPECT_EQ(store.backend, storage::StoreBackend::kOdbc);
  EXPECT_EQ(store.odbcDialect, storage::OdbcDialect::kPostgreSql);
  EXPECT_EQ(store.connectionString, "Driver={X};Server=db");
  EXPECT_EQ(store.poolSize, 5u);
  const auto token = tokenSettingsFrom(config->pkcs11);
  EXPECT_EQ(token.modulePath, "/usr/lib/softhsm/libsofthsm2.so");
  EXPECT_EQ(token.initArgs, "configDir=/tmp");
  EXPECT_EQ(token.uri, "pkcs11:token=kc");
  EXPECT_EQ(token.pool.size, 3u);
  EXPECT_TRUE(contains(token.pin.describe(), "KC_PKCS11_PIN"));
  const auto ring = keyRingSettingsFrom(*config);
  EXPECT_EQ(ring.currentKeyUri, "pkcs11:token=kc;object=kc-wrap");
  ASSERT_EQ(ring.previousKeyUris.size(), 1u);
  EXPECT_FALSE(ring.allowNoncompliantKeys);
}

// kc-setup's loader and the daemon's resolve the token settings identically.
TEST_F(ConfigTest, TokenConfigResolvesTheSameTokenSettingsAsTheDaemon) {
  test::writeFile(dir_ / "user.pin", "1234\n");
  // A folder literally named "${HOME}": the raw value names it, an expanded one would not.
  std::filesystem::create_directories(dir_ / "${HOME}");
  test::writeFile(dir_ / "${HOME}" / "user.pin", "1234\n");
  struct Case {
    std::string file;
    Environment environment;
  };
  const std::vector<Case> cases = {
      {"pkcs11.pin_file = user.pin\n", {}},
      {"pkcs11.pin_file = user.pin\n", {{"KC_PKCS11_PIN_ENV", "OTHER_PIN"}}},
      {"pkcs11.pin_env = FILE_PIN\n", {{"KC_PKCS11_PIN_FILE", (dir_ / "user.pin").string()}}},
      {"pkcs11.token = pkcs11:token=kc\nserver.workers = 5\n",
       {{"keyConnectorSettings__rsaKey__pkcs11PrivateKeyLabel", "ref-label"},
        {"keyConnectorSettings__rsaKey__pkcs11LoginPin", "x"}}},
      {"pkcs11.module = libsofthsm2.so\npkcs11.init_args = a=b\n",
       {{"keyConnectorSettings__rsaKey__pkcs11SlotTokenSerialNumber", "ABC 1"}}},
      // Taken as written by both: no ${...} expansion (the old kc-setup reader expanded it).
      {"pkcs11.pin_file = ${HOME}/user.pin\npkcs11.init_args = ${application.dir}\n", {}},
      {"pkcs11.tokens = pkcs11:token=a, pkcs11:token=b\n", {}},
  };
  for (const auto& c : cases) {
    auto environment = minimalEnvironment();
    environment.erase("KC_PKCS11_WRAP_KEY");
    if (!c.environment.contains("keyConnectorSettings__rsaKey__pkcs11PrivateKeyLabel")) {
      environment["KC_PKCS11_WRAP_KEY"] = "pkcs11:token=kc;object=kc-wrap";
    }
    environment.insert(c.environment.begin(), c.environment.end());
    auto daemon = load(c.file, environment);
    ASSERT_TRUE(daemon) << c.file << daemon.status().toString();
    auto token = loadTokenConfig(configPath(), environment);
    ASSERT_TRUE(token) << c.file << token.status().toString();
    const Pkcs11Settings& a = daemon->pkcs11;
    const Pkcs11Settings& b = token->pkcs11;
    EXPECT_EQ(a.module, b.module) << c.file;
    EXPECT_EQ(a.initArgs, b.initArgs) << c.file;
    EXPECT_EQ(a.token, b.token) << c.file;
    EXPECT_EQ(a.tokens, b.tokens) << c.file;
    EXPECT_EQ(tokenSettingsFrom(a).uri, tokenSettingsFrom(b).uri) << c.file;
    EXPECT_EQ(a.wrapKey, b.wrapKey) << c.file;
    EXPECT_EQ(a.pinFile, b.pinFile) << c.file;
    EXPECT_EQ(a.pinEnv, b.pinEnv) << c.file;
    EXPECT_EQ(a.sessions, b.sessions) << c.file;
    EXPECT_EQ(pinSourceFrom(a).describe(), pinSourceFrom(b).describe()) << c.file;
    for (const auto& [key, origin] : token->origins) {
      EXPECT_EQ(daemon->origins.at(key), origin) << key;
    }
  }
  ASSERT_TRUE(load("pkcs11.pin_file = ${HOME}/user.pin\npkcs11.init_args = ${application.dir}\n",
                   minimalEnvironment()));
  auto raw = loadTokenConfig(configPath(), minimalEnvironment());
  ASSERT_TRUE(raw) << raw.status().toString();
  EXPECT_EQ(raw->pkcs11.initArgs, "${application.dir}");
  EXPECT_EQ(raw->pkcs11.pinFile.filename(), "user.pin");
  EXPECT_NE(raw->pkcs11.pinFile.string().find("${HOME}"), std::string::npos) << raw->pkcs11.pinFile;
}

TEST_F(ConfigTest, TokenConfigNeedsNoWrapKeyAndIgnoresTheDaemonsOtherKeys) {
  test::writeFile(configPath(), "server.port = 5001\n");
  auto token = loadTokenConfig(configPath(), {});
  ASSERT_TRUE(token) << token.status().toString();
  EXPECT_TRUE(token->pkcs11.wrapKey.empty());
  EXPECT_EQ(token->pkcs11.pinEnv, "KC_PKCS11_PIN");
  EXPECT_EQ(token->origins.at("pkcs11.pin_env"), "default");
}

TEST_F(ConfigTest, EveryOriginNamesWhereTheValueCameFrom) {
  auto env = minimalEnvironment();
  auto config = load("server.port = 5001\n", env);
  ASSERT_TRUE(config) << config.status().toString();
  EXPECT_EQ(config->origins.at("server.port"), "file " + configPath().string());
  EXPECT_EQ(config->origins.at("pkcs11.wrap_key"), "environment variable KC_PKCS11_WRAP_KEY");
  EXPECT_EQ(config->origins.at("server.workers"), "default");
}

TEST_F(ConfigTest, ATypoIsReportedBeforeTheRequiredSettingItFailedToSet) {
  const std::string message = errorOf("pkcs11.wrap_kye = pkcs11:object=w\n",
                                      {{"KC_IDENTITY_SERVER_URI", "https://id.example.com"}});
  EXPECT_TRUE(contains(message, "pkcs11.wrap_kye")) << message;
  EXPECT_TRUE(contains(message, "not a setting")) << message;
}

TEST_F(ConfigTest, TokenIsSelectedByTheWrapKeyUriWhenNoTokenUriIsGiven) {
  auto config = load("", minimalEnvironment());
  ASSERT_TRUE(config);
  EXPECT_EQ(tokenSettingsFrom(config->pkcs11).uri, "pkcs11:token=kc;object=kc-wrap");
}

TEST(ConfigNames, EnvironmentVariableIsKcPlusTheKeyUpperCasedWithUnderscores) {
  EXPECT_EQ(environmentVariableFor("database.provider"), "KC_DATABASE_PROVIDER");
  EXPECT_EQ(environmentVariableFor("server.keep_alive_timeout_s"),
            "KC_SERVER_KEEP_ALIVE_TIMEOUT_S");
}

TEST(ConfigNames, ProcessEnvironmentIsRead) {
  const auto env = processEnvironment();
  EXPECT_TRUE(env.contains("PATH"));
}

TEST(ConfigNames, ParsesPropertiesFromAStream) {
  std::istringstream text("server.port = 9000\n");
  auto config = parseDaemonConfig(text, "test input", "/srv/kc", minimalEnvironment());
  ASSERT_TRUE(config) << config.status().toString();
  EXPECT_EQ(config->server.port, 9000);
  EXPECT_EQ(config->database.sqlitePath, fs::path("/srv/kc/keys.db"));
}

}  // namespace
}  // namespace kc::appliance
