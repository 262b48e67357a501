// kc-setup status against real deployments: a SoftHSM token with wrap and audit keys, a SQLite
// (or unreachable PostgreSQL) database, and the audit log the daemon's own code writes.

#include <Poco/Data/SQLite/Connector.h>
#include <Poco/Data/Session.h>
#include <Poco/JSON/Object.h>
#include <Poco/JSON/Parser.h>

#include <fstream>
#include <sstream>
#include <string>

#include "KcSetupFixture.h"
#include "kc/appliance/Config.h"
#include "kc/appliance/Deployment.h"
#include "kc/audit/AuditRecord.h"
#include "kc/storage/UserKeyStore.h"
#include "support/SoftHsmToken.h"
#include "support/UserIds.h"

namespace kc::test {
namespace {

using Poco::JSON::Array;
using Poco::JSON::Object;

class KcSetupStatusTest : public KcSetupTest {
 protected:
  struct Deployment {
    std::filesystem::path dir;
    std::filesystem::path config;
    std::string token;
    std::string wrapKey;
    std::string auditKey;
  };

  // A token of its own with a wrap and an audit key, and a config naming them, a SQLite file
  // and an audit directory beside it. `extra` lines are appended to the properties.
  Deployment makeDeployment(const std::string& extra = "") {
    const std::string name = ::testing::UnitTest::GetInstance()->current_test_info()->name();
    Deployment d;
    d.dir = dir() / uniqueLabel(name);
    std::filesystem::create_directories(d.dir);
    d.token = initToken(uniqueLabel(name));
    d.wrapKey = generateKey(d.token, "wrap", "wrap");
    d.auditKey = generateKey(d.token, "audit", "audit");
    d.config = d.dir / "kc.properties";
    writeProperties(d, extra);
    return d;
  }

  void writeProperties(const Deployment& d, const std::string& extra) {
    writeFile(d.config, "pkcs11.module = " + std::string(KC_TEST_PKCS11_MODULE) +
                            "\npkcs11.wrap_key = " + d.wrapKey + "\npkcs11.audit_key = " +
                            d.auditKey + "\npkcs11.pin_file = " + pinFile().string() +
                            "\nidentity.server_uri = https://identity.example.test" +
                            "\ndatabase.sqlite_path = " + (d.dir / "keys.db").string() +
                            "\naudit.directory = " + (d.dir / "audit").string() +
                            "\naudit.instance = kc-status-test\n" + extra);
  }

  static appliance::DaemonConfig loadConfig(const Deployment& d) {
    auto config = appliance::loadDaemonConfig(d.config, {});
    EXPECT_TRUE(config.isOk()) << config.status().toString();
    return *config;
  }

  // Deposits `count` records under the current key, as the daemon does (sealed by the key
  // ring, stored through the store), and writes an audit log sealed by a signed checkpoint.
  static void depositRecords(const Deployment& d, int count) {
    const auto config = loadConfig(d);
    auto pool = appliance::openTokenPool(config, 1);
    ASSERT_TRUE(pool.isOk()) << pool.status().toString();
    auto ring = appliance::openKeyRing(config, *pool);
    ASSERT_TRUE(ring.isOk()) << ring.status().toString();
    auto store = appliance::openStore(config);
    ASSERT_TRUE(store.isOk()) << store.status().toString();
    for (int i = 0; i < count; ++i) {
      const UserId user = testUserId("00000000-0000-4000-8000-00000000000" + std::to_string(i));
      const SecretBytes userKey(std::vector<std::uint8_t>(64, static_cast<std::uint8_t>(i)));
      auto envelope = ring->seal(user, userKey);
      ASSERT_TRUE(envelope.isOk()) << envelope.status().toString();
      ASSERT_TRUE(
          (*store)
              ->insert(
                  {.userId = user, .envelope = *envelope, .wrappingKeyId = ring->current().idHex()})
              .isOk());
    }
    auto signer = appliance::openCheckpointSigner(config, *pool);
    ASSERT_TRUE(signer.isOk()) << signer.status().toString();
    auto log =
        appliance::openAuditLog(config, config.audit.directory, config.audit.instance, *signer);
    ASSERT_TRUE(log.isOk()) << log.status().toString();
    ASSERT_TRUE((*log)
                    ->append({.operation = std::string(audit::op::kKeyDeposit),
                              .outcome = std::string(audit::outcome::kOk)})
                    .isOk());
    ASSERT_TRUE((*log)->close().isOk());
  }

  static ProcessResult status(const Deployment& d, std::vector<std::string> extra = {},
                              const std::map<std::string, std::string>& env = {}) {
    std::vector<std::string> args = {"status", "--config", d.config.string()};
    args.insert(args.end(), extra.begin(), extra.end());
    return kcSetup(args, env);
  }

  static Object::Ptr statusJson(const Deployment& d,
                                const std::map<std::string, std::string>& env = {}) {
    const auto result = status(d, {"--json"}, env);
    EXPECT_NE(result.exitCode, 2) << result.err;
    try {
      return Poco::JSON::Parser().parse(result.out).extract<Object::Ptr>();
    } catch (const Poco::Exception& e) {
      ADD_FAILURE() << "not JSON: " << e.displayText() << "\n" << result.out;
      return new Object;
    }
  }

  static std::string exportedFingerprint(const std::string& keyUri) {
    const auto result =
        kcSetup({"key", "export", "--key", keyUri, "--pin-file", pinFile().string()});
    EXPECT_EQ(result.exitCode, 0) << result.err;
    return field(result.err, "fingerprint");
  }

  static bool contains(const std::string& text, const std::string& part) {
    return text.find(part) != std::string::npos;
  }

  // The value of the first row "name: value" of `output` at any indentation; "" when none.
  static std::string row(const std::string& output, const std::string& name) {
    std::istringstream lines(output);
    std::string line;
    while (std::getline(lines, line)) {
      const auto start = line.find_first_not_of(' ');
      if (start == std::string::npos || line.compare(start, name.size() + 1, name + ":") != 0) {
        continue;
      }
      const auto value = line.find_first_not_of(' ', start + name.size() + 1);
      return value == std::string::npos ? std::string() : line.substr(value);
    }
    return {};
  }
};

TEST_F(KcSetupStatusTest, HealthyDeploymentExitsZeroAndReportsEverySection) {
  const auto d = makeDeployment();
  depositRecords(d, 3);
  const auto result = status(d);
  EXPECT_EQ(result.exitCode, 0) << result.out << result.err;
  EXPECT_EQ(field(result.out, "status"), "healthy") << result.out;
  for (const char* section : {"\ntoken\n", "\nkeys\n", "\ndatabase\n", "\naudit\n"}) {
    EXPECT_TRUE(contains(result.out, section)) << section << " missing:\n" << result.out;
  }
  EXPECT_TRUE(contains(result.out, "current (pkcs11.wrap_key)")) << result.out;
  EXPECT_TRUE(contains(result.out, "audit (pkcs11.audit_key)")) << result.out;
  EXPECT_TRUE(contains(result.out, "compliant with the wrap key policy")) << result.out;
  EXPECT_TRUE(contains(result.out, "compliant with the audit key policy")) << result.out;
  EXPECT_EQ(row(result.out, "records"), "3") << result.out;
  EXPECT_EQ(row(result.out, "schema"),
            "version " + std::to_string(storage::latestSchemaVersion()) + " (current)")
      << result.out;
  EXPECT_TRUE(row(result.out, "last checkpoint").ends_with(", signed, signature valid"))
      << result.out;
  EXPECT_EQ(row(result.out, "manufacturer"), "SoftHSM project") << result.out;
  EXPECT_FALSE(row(result.out, "sessions free").empty()) << result.out;
  EXPECT_FALSE(row(result.out, "disk free").empty()) << result.out;
  EXPECT_NE(row(result.out, "disk free"), "unknown") << result.out;
  EXPECT_EQ(row(result.out, "unsealed records"), "0") << result.out;
  EXPECT_FALSE(contains(result.out, "attention")) << result.out;
}

TEST_F(KcSetupStatusTest, JsonHoldsTheCountsFingerprintsAndCheckpoint) {
  const auto d = makeDeployment();
  depositRecords(d, 2);
  const auto json = statusJson(d);
  EXPECT_TRUE(json->getValue<bool>("healthy"));
  const auto token = json->getObject("token");
  ASSERT_TRUE(token);
  EXPECT_TRUE(token->getValue<bool>("loggedIn"));
  EXPECT_FALSE(token->getValue<std::string>("serial").empty());
  EXPECT_EQ(token->getValue<std::string>("manufacturer"), "SoftHSM project");

  const auto keys = json->getArray("keys");
  ASSERT_TRUE(keys);
  ASSERT_EQ(keys->size(), 2U);
  const auto wrap = keys->getObject(0);
  EXPECT_EQ(wrap->getValue<std::string>("role"), "current");
  EXPECT_TRUE(wrap->getValue<bool>("compliant"));
  EXPECT_EQ(wrap->getValue<std::string>("fingerprint"), exportedFingerprint(d.wrapKey));
  const auto auditKey = keys->getObject(1);
  EXPECT_EQ(auditKey->getValue<std::string>("role"), "audit");
  EXPECT_EQ(auditKey->getValue<std::string>("fingerprint"), exportedFingerprint(d.auditKey));

  const auto database = json->getObject("database");
  ASSERT_TRUE(database);
  EXPECT_TRUE(database->getValue<bool>("reachable"));
  EXPECT_EQ(database->getValue<std::string>("backend"), "sqlite");
  EXPECT_EQ(database->getValue<int>("schemaVersion"), storage::latestSchemaVersion());
  EXPECT_EQ(database->getValue<std::int64_t>("totalRecords"), 2);
  const auto records = database->getArray("records");
  ASSERT_EQ(records->size(), 1U);
  EXPECT_EQ(records->getObject(0)->getValue<std::string>("keyId"),
            wrap->getValue<std::string>("id"));
  EXPECT_EQ(records->getObject(0)->getValue<std::int64_t>("count"), 2);
  EXPECT_EQ(records->getObject(0)->getValue<std::string>("role"), "current");

  const auto chains = json->getObject("audit")->getArray("chains");
  ASSERT_TRUE(chains);
  const auto daemon = chains->getObject(0);
  EXPECT_EQ(daemon->getValue<std::string>("name"), "daemon");
  EXPECT_TRUE(daemon->getValue<bool>("present"));
  EXPECT_EQ(daemon->getValue<std::uint64_t>("unsealedRecords"), 0U);
  const auto checkpoint = daemon->getObject("lastCheckpoint");
  ASSERT_TRUE(checkpoint);
  EXPECT_TRUE(checkpoint->getValue<bool>("signed"));
  EXPECT_EQ(checkpoint->getValue<std::string>("signature"), "valid");
  EXPECT_FALSE(chains->getObject(1)->getValue<bool>("present")) << "no kc-setup chain yet";
}

TEST_F(KcSetupStatusTest, WrongPinExitsOneNamingThePinSourceAndStillReportsTheDatabase) {
  const auto d = makeDeployment();
  depositRecords(d, 1);
  const auto result = status(d, {}, {{"KC_PKCS11_PIN_FILE", wrongPinFile().string()}});
  EXPECT_EQ(result.exitCode, 1) << result.out << result.err;
  EXPECT_TRUE(row(result.out, "login").starts_with("FAILED: pkcs11.pin_file")) << result.out;
  EXPECT_EQ(row(result.out, "reachable"), "yes") << result.out;
  EXPECT_TRUE(contains(result.out, "not identified: the token is not reachable")) << result.out;
  EXPECT_TRUE(contains(result.out, "daemon chain")) << result.out;
}

TEST_F(KcSetupStatusTest, MissingPreviousKeyIsReportedWithTheOtherKeysAndExitsOne) {
  auto d = makeDeployment();
  depositRecords(d, 1);
  writeProperties(d, "pkcs11.previous_wrap_keys = " + d.token + ";object=retired;type=private\n");
  const auto json = statusJson(d);
  EXPECT_FALSE(json->getValue<bool>("healthy"));
  const auto keys = json->getArray("keys");
  ASSERT_EQ(keys->size(), 3U);
  EXPECT_TRUE(keys->getObject(0)->getValue<bool>("found"));
  const auto previous = keys->getObject(1);
  EXPECT_EQ(previous->getValue<std::string>("role"), "previous");
  EXPECT_FALSE(previous->getValue<bool>("found"));
  EXPECT_TRUE(previous->getValue<std::string>("error").starts_with("not found"))
      << previous->getValue<std::string>("error");
  EXPECT_TRUE(keys->getObject(2)->getValue<bool>("found"));
  const auto result = status(d);
  EXPECT_EQ(result.exitCode, 1);
  EXPECT_TRUE(contains(result.out, "pkcs11.previous_wrap_keys[1]: not found")) << result.out;
}

TEST_F(KcSetupStatusTest, WrappingKeyThatWasOnceExtractableBreaksThePolicyAndExitsOne) {
  auto d = makeDeployment();
  {
    auto config = loadConfig(d);
    auto pool = appliance::openTokenPool(config, 1);
    ASSERT_TRUE(pool.isOk()) << pool.status().toString();
    generateOnceExtractableWrapKey(**pool, "was-extractable", 0x71);
  }
  const std::string config = readFile(d.config);
  writeFile(d.config, config.substr(0, config.find("pkcs11.wrap_key")) + "pkcs11.wrap_key = " +
                          d.token + ";object=was-extractable;type=private\n" +
                          config.substr(config.find("\n", config.find("pkcs11.wrap_key")) + 1));
  const auto result = status(d);
  EXPECT_EQ(result.exitCode, 1) << result.out << result.err;
  EXPECT_TRUE(contains(result.out, "BREAKS the wrap key policy")) << result.out;
  EXPECT_TRUE(contains(result.out, "CKA_NEVER_EXTRACTABLE=false")) << result.out;
}

TEST_F(KcSetupStatusTest, RecordsUnderAnUnconfiguredKeyAreFlaggedAsUnknown) {
  const auto d = makeDeployment();
  depositRecords(d, 1);
  {
    auto store = appliance::openStore(loadConfig(d));
    ASSERT_TRUE(store.isOk());
    ASSERT_TRUE((*store)
                    ->insert({.userId = testUserId("00000000-0000-4000-8000-0000000000aa"),
                              .envelope = {1, 2, 3},
                              .wrappingKeyId = "00ff00ff"})
                    .isOk());
  }
  const auto result = status(d);
  EXPECT_EQ(result.exitCode, 1) << result.out;
  EXPECT_TRUE(row(result.out, "00ff00ff").starts_with("1 (UNKNOWN key")) << result.out;
  EXPECT_TRUE(contains(result.out, "1 record sealed by key 00ff00ff")) << result.out;
}

TEST_F(KcSetupStatusTest, UnreachablePostgreSqlExitsOneWithoutItsPasswordAndReportsTheRest) {
  const auto d = makeDeployment(
      "database.provider = postgresql\n"
      "database.connection_string = host=127.0.0.1 port=1 dbname=kcstatus user=kc "
      "password=Pg-Pa55word-status connect_timeout=2\n");
  const auto result = status(d);
  EXPECT_EQ(result.exitCode, 1) << result.out << result.err;
  EXPECT_FALSE(contains(result.out + result.err, "Pg-Pa55word-status")) << result.out;
  EXPECT_TRUE(row(result.out, "reachable").starts_with("NO: ")) << result.out;
  EXPECT_EQ(row(result.out, "location"), "host=127.0.0.1 port=1 dbname=kcstatus") << result.out;
  EXPECT_FALSE(contains(result.out, "user=kc")) << result.out;
  EXPECT_EQ(row(result.out, "login"), "ok") << result.out;
  EXPECT_TRUE(contains(result.out, "compliant with the wrap key policy")) << result.out;
  EXPECT_EQ(row(result.out, "log"), "MISSING") << "no daemon has run:\n" << result.out;
}

TEST_F(KcSetupStatusTest, DatabaseAtAnOlderSchemaIsReportedAndLeftUnmigrated) {
  const auto d = makeDeployment();
  const auto database = (d.dir / "keys.db").string();
  Poco::Data::SQLite::Connector::registerConnector();
  {
    Poco::Data::Session session("sqlite", database);
    session << "CREATE TABLE unrelated (x INTEGER)", Poco::Data::Keywords::now;
  }
  const auto json = statusJson(d);
  EXPECT_EQ(json->getObject("database")->getValue<int>("schemaVersion"), 0);
  const auto result = status(d);
  EXPECT_EQ(result.exitCode, 1);
  EXPECT_TRUE(contains(result.out, "version 0, OLDER than version")) << result.out;
  Poco::Data::Session session("sqlite", database);
  int tables = -1;
  session << "SELECT COUNT(*) FROM sqlite_master WHERE name LIKE 'kc_%'",
      Poco::Data::Keywords::into(tables), Poco::Data::Keywords::now;
  EXPECT_EQ(tables, 0) << "status migrated the database";
}

TEST_F(KcSetupStatusTest, UnsealedTailOlderThanTwiceTheCheckpointIntervalNeedsAttention) {
  const auto d = makeDeployment("audit.checkpoint_interval_s = 60\n");
  depositRecords(d, 1);
  // A record appended after the last checkpoint an hour ago, as a daemon that stopped
  // checkpointing would leave it.
  const auto file = d.dir / "audit" / "audit.log";
  std::ifstream in(file);
  std::string line;
  std::string last;
  while (std::getline(in, line)) last = line;
  auto checkpoint = audit::parseRecord(last);
  ASSERT_TRUE(checkpoint.isOk()) << checkpoint.status().toString();
  audit::AuditRecord record{.operation = std::string(audit::op::kKeyRelease),
                            .outcome = std::string(audit::outcome::kOk)};
  record.seq = checkpoint->seq + 1;
  record.instance = checkpoint->instance;
  record.timeMicros = audit::nowMicros() - 3600LL * 1000 * 1000;
  record.prev = audit::lineHash(last);
  std::ofstream(file, std::ios::app) << audit::serialize(record) << "\n";

  const auto result = status(d);
  EXPECT_EQ(result.exitCode, 1) << result.out;
  EXPECT_TRUE(row(result.out, "unsealed records").starts_with("1 (oldest ")) << result.out;
  EXPECT_TRUE(contains(result.out, "longer ago than twice audit.checkpoint_interval"))
      << result.out;
}

TEST_F(KcSetupStatusTest, ConfigErrorExitsTwoAndHelpStatesTheExitCodes) {
  auto result = kcSetup({"status", "--config", (dir() / "absent.properties").string()});
  EXPECT_EQ(result.exitCode, 2);
  EXPECT_TRUE(contains(result.err, "absent.properties")) << result.err;
  result = kcSetup({"status", "--help"});
  EXPECT_EQ(result.exitCode, 0);
  EXPECT_TRUE(contains(result.out, "\nExit status:\n  0  everything is healthy\n  1  something"))
      << result.out;
  EXPECT_TRUE(contains(result.out, "--json")) << result.out;
}

}  // namespace
}  // namespace kc::test
