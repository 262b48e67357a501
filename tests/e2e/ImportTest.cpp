// kc-setup import-bitwarden end to end: reference deployments built by ReferenceFixture in every
// form the reference leaves them (SQLite, the JSON file, PostgreSQL, MariaDB; PFX, PEM and a key
// on a SoftHSM token), imported by the real binary into a daemon's store, then every key fetched
// through the real daemon's HTTP API and compared with the fixture's.

#include <gtest/gtest.h>
#include <signal.h>

#include <algorithm>
#include <fstream>
#include <regex>
#include <set>
#include <thread>

#include "DaemonFixture.h"
#include "ReferenceFixture.h"
#include "kc/Text.h"
#include "kc/UserId.h"
#include "kc/appliance/Deployment.h"
#include "kc/pkcs11/Module.h"
#include "kc/pkcs11/Pkcs11Uri.h"
#include "support/DatabaseServers.h"
#include "support/SecretLedger.h"

extern char** environ;

namespace kc::test {
namespace {

constexpr char kPfxPassword[] = "pfx-Import-Passw0rd-7";
constexpr std::uint8_t kReferenceKeyId[] = {0x4B, 0x43};
constexpr char kReferenceTokenLabel[] = "kc-reference";
constexpr char kReferenceKeyLabel[] = "bitwarden-key-connector";

// The reference's RSA key in each form, shared by the suite: files, and the private key on a
// second token of the suite's SoftHSM.
struct ReferenceKeys {
  TempDir dir{"kc-import-keys"};
  ReferenceRsaKey rsa;
  std::string tokenSerial;

  ReferenceKeys() {
    rsa.writePkcs8Pem(dir / "key.pem");
    rsa.writePkcs12(dir / "key.pfx", kPfxPassword, dir / "pfx.password");
    // This suite runs on SoftHSM only: the reference token is one it initialises.
    auto& token = dynamic_cast<SoftHsmToken&>(E2eEnvironment::get().token());
    token.addToken(kReferenceTokenLabel);
    auto uri = pkcs11::Pkcs11Uri::parse(std::string("pkcs11:token=") + kReferenceTokenLabel);
    auto slot = token.module()->findToken(*uri);
    if (!slot) throw std::runtime_error(slot.status().toString());
    auto pool = pkcs11::SessionPool::open(token.module(), *slot,
                                          pkcs11::PinSource::fromFile(token.pinFile()), {});
    if (!pool) throw std::runtime_error(pool.status().toString());
    rsa.importPrivateKey(**pool, kReferenceKeyLabel, kReferenceKeyId);
    auto tokens = token.module()->tokens();
    for (const auto& description : *tokens) {
      if (description.label == kReferenceTokenLabel) tokenSerial = description.serial;
    }
  }
};

ReferenceKeys& keys() {
  static auto* shared = new ReferenceKeys();  // SoftHSM finalises at exit
  return *shared;
}

std::string pin() {
  return trim(readFile(E2eEnvironment::get().token().pinFile()));
}

// Everything secret a run could leak: the PIN, the PFX password, database passwords, every
// user key and the reference's AES key (base64, as a careless message would print them).
std::vector<std::string> secretsOf(const ReferenceData& data, std::vector<std::string> more = {}) {
  more.push_back(pin());
  more.push_back(kPfxPassword);
  more.push_back(encodeBase64(data.aesKey.view()));
  for (const auto& user : data.users) more.push_back(encodeBase64(user.key));
  // The raw bytes, for the scan over everything the e2e suites wrote (SecretScanTest).
  recordSecret("password", kPfxPassword);
  const auto aesKey = data.aesKey.view();
  recordSecret("reference-key", {reinterpret_cast<const char*>(aesKey.data()), aesKey.size()});
  for (const auto& user : data.users) {
    recordSecret("user-key", {reinterpret_cast<const char*>(user.key.data()), user.key.size()});
  }
  return more;
}

struct ImportRun {
  ProcessResult result;
  std::string output() const { return result.out + result.err; }
};

// The child's environment: the suite's SoftHSM, none of the caller's KC_* or reference
// variables, plus `env`.
ProcessOptions childOptions(const std::map<std::string, std::string>& env) {
  ProcessOptions options;
  options.env = E2eEnvironment::get().token().childEnvironment();
  for (const auto& [name, value] : env) options.env[name] = value;
  for (char** entry = environ; *entry != nullptr; ++entry) {
    std::string name(*entry);
    name = name.substr(0, name.find('='));
    if ((name.rfind("KC_", 0) == 0 || toLower(name).rfind("keyconnectorsettings__", 0) == 0) &&
        !env.count(name)) {
      options.unsetEnv.push_back(name);
    }
  }
  options.timeout = std::chrono::seconds(300);
  return options;
}

std::vector<std::string> importArgv(const Daemon& daemon, const std::vector<std::string>& args) {
  std::vector<std::string> argv = {KC_SETUP_PATH, "import-bitwarden",
                                   "--config",    daemon.configPath().string(),
                                   "--progress",  "plain"};
  argv.insert(argv.end(), args.begin(), args.end());
  return argv;
}

// Runs the import and checks that no secret of `secrets` shows in its output.
ImportRun runImport(const Daemon& daemon, const std::vector<std::string>& args,
                    const std::vector<std::string>& secrets,
                    const std::map<std::string, std::string>& env = {}) {
  ImportRun run{runProcess(importArgv(daemon, args), childOptions(env))};
  for (const auto& secret : secrets) {
    EXPECT_EQ(run.output().find(secret), std::string::npos) << "a secret in the output";
  }
  return run;
}

// "name: value" of the summary, as a number; -1 when absent.
long summaryCount(const std::string& output, const std::string& name) {
  const std::regex line("(^|\n)" + name + ": +([0-9]+)");
  std::smatch match;
  if (!std::regex_search(output, match, line)) return -1;
  return std::stol(match[2]);
}

std::vector<std::string> pfxArgs() {
  return {"--source-pfx", (keys().dir / "key.pfx").string(), "--source-pfx-password-file",
          (keys().dir / "pfx.password").string()};
}

// Every user's record in the daemon's store keeps the source's dates (to the millisecond; a
// NULL RevisionDate becomes the CreationDate). Read before any GET updates the access time.
void expectDatesKept(const Daemon& daemon, const ReferenceData& data) {
  auto config = appliance::loadDaemonConfig(daemon.configPath(), {});
  ASSERT_TRUE(config) << config.status().toString();
  auto store = appliance::openStore(*config);
  ASSERT_TRUE(store) << store.status().toString();
  for (const auto& user : data.users) {
    auto record = (*store)->get(*UserId::parse(user.id));
    ASSERT_TRUE(record) << user.id << ": " << record.status().toString();
    EXPECT_EQ(record->creationTime, toMillis(user.creationDate)) << user.id;
    EXPECT_EQ(record->revisionTime, toMillis(user.revisionDate.value_or(user.creationDate)))
        << user.id;
    EXPECT_EQ(record->lastAccessTime.has_value(), user.lastAccessDate.has_value()) << user.id;
    if (record->lastAccessTime && user.lastAccessDate) {
      EXPECT_EQ(*record->lastAccessTime, toMillis(*user.lastAccessDate)) << user.id;
    }
  }
}

// Every user's key through GET /user-keys, as a Bitwarden client fetches it.
void expectDaemonServes(const Daemon& daemon, const ReferenceData& data,
                        const std::set<std::string>& skip = {}) {
  for (const auto& user : data.users) {
    if (skip.count(user.id)) continue;
    const auto response =
        daemon.get("/user-keys", E2eEnvironment::get().tokenFor(toLower(user.id)));
    EXPECT_EQ(response.status, 200) << user.id << ": " << response.body;
    EXPECT_EQ(response.body, "{\"key\":\"" + encodeBase64(user.key) + "\"}") << user.id;
  }
}

// kc-setup's own audit chain verifies with the audit key and holds the runs' records: every user
// of `data` has an import.user record saying it is in our store (imported, or found present by
// a later run), and a durable token.wrap of its key (written before the record was stored, so
// even a run killed between the two leaves the write audited).
void expectAuditChainVerifies(const Daemon& daemon, const ReferenceData& data) {
  const auto dir = daemon.auditDir() / "kc-setup";
  std::vector<std::string> argv = {KC_AUDIT_PATH, "verify", "--public-key",
                                   E2eEnvironment::get().auditPublicKey().string()};
  for (const auto& entry : std::filesystem::directory_iterator(dir)) {
    if (entry.path().extension() == ".log") argv.push_back(entry.path().string());
  }
  const auto verified = runProcess(argv);
  EXPECT_EQ(verified.exitCode, 0) << verified.out << verified.err;
  const std::string log = readFile(dir / "audit.log");
  EXPECT_NE(log.find("\"op\":\"import.start\""), std::string::npos);
  EXPECT_NE(log.find("\"op\":\"import.end\""), std::string::npos);
  const std::regex userRecord(
      "\"op\":\"import.user\",\"outcome\":\"(ok|already_present)\",\"status\":0,\"user\":\"([^\"]+)"
      "\"");
  const std::regex wrapRecord(
      "\"op\":\"token.wrap\",\"outcome\":\"ok\",\"status\":0,\"user\":\"([^\"]+)\"");
  std::set<std::string> inStore;
  std::set<std::string> wrapped;
  for (std::sregex_iterator it(log.begin(), log.end(), userRecord), end; it != end; ++it) {
    inStore.insert((*it)[2]);
  }
  for (std::sregex_iterator it(log.begin(), log.end(), wrapRecord), end; it != end; ++it) {
    wrapped.insert((*it)[1]);
  }
  for (const auto& user : data.users) {
    EXPECT_TRUE(inStore.count(toLower(user.id))) << "no import.user record for " << user.id;
    EXPECT_TRUE(wrapped.count(toLower(user.id))) << "no token.wrap record for " << user.id;
  }
}

class ImportTest : public ::testing::Test {
 protected:
  static void SetUpTestSuite() { keys(); }
  TempDir dir_{"kc-import"};
};

TEST_F(ImportTest,
       SqliteWithUpperAndLowerCaseIdsAndPfxKeyIsServedByTheDaemonAndRerunChangesNothing) {
  const auto data = makeReferenceData(keys().rsa, 300, GuidCase::kMixed);
  writeReferenceSqlite(dir_ / "data.db", data);
  Daemon daemon({.startNow = false});
  std::vector<std::string> args = {"--source-sqlite", (dir_ / "data.db").string()};
  for (const auto& arg : pfxArgs()) args.push_back(arg);

  const auto first = runImport(daemon, args, secretsOf(data));
  ASSERT_EQ(first.result.exitCode, 0) << first.output();
  EXPECT_EQ(summaryCount(first.result.out, "imported"), 300) << first.output();
  EXPECT_EQ(summaryCount(first.result.out, "failed"), 0);
  EXPECT_NE(first.result.err.find("300 of 300 users"), std::string::npos) << first.result.err;
  expectDatesKept(daemon, data);

  const auto second = runImport(daemon, args, secretsOf(data));
  ASSERT_EQ(second.result.exitCode, 0) << second.output();
  EXPECT_EQ(summaryCount(second.result.out, "imported"), 0) << second.output();
  EXPECT_EQ(summaryCount(second.result.out, "already present"), 300) << second.output();
  EXPECT_NE(second.result.out.find("nothing to do"), std::string::npos) << second.output();
  expectDatesKept(daemon, data);  // nothing rewritten

  daemon.start();
  expectDaemonServes(daemon, data);
  expectAuditChainVerifies(daemon, data);
}

TEST_F(ImportTest, JsonFileNamedByTheReferencesVariablesWithPemKey) {
  const auto data = makeReferenceData(keys().rsa, 120, GuidCase::kLower);
  writeReferenceJson(dir_ / "data.json", data);
  Daemon daemon({.startNow = false});
  const auto run =
      runImport(daemon, {"--source-pem", (keys().dir / "key.pem").string()}, secretsOf(data),
                {{"keyConnectorSettings__database__provider", "json"},
                 {"keyConnectorSettings__database__jsonFilePath", (dir_ / "data.json").string()}});
  ASSERT_EQ(run.result.exitCode, 0) << run.output();
  EXPECT_EQ(summaryCount(run.result.out, "imported"), 120) << run.output();
  expectDatesKept(daemon, data);
  daemon.start();
  expectDaemonServes(daemon, data);
}

TEST_F(ImportTest, PostgreSqlAndKeyOnATokenFromTheReferencesOwnEnvironment) {
  std::string whyNot;
  auto* server = sharedPostgres(whyNot);
  if (!server) {
    if (databaseServersRequired()) FAIL() << whyNot;
    GTEST_SKIP() << whyNot;
  }
  const std::string database = server->createDatabase();
  const auto data = makeReferenceData(keys().rsa, 150, GuidCase::kUpper);
  writeReferencePostgres(server->connectionString(database), data);
  // Exactly the variables the reference deployment ran with: Npgsql's connection string, the
  // PKCS#11 key by serial (in other case) and label, the PIN in its own variable.
  std::string serial = keys().tokenSerial;
  for (char& c : serial) c = static_cast<char>(std::toupper(static_cast<unsigned char>(c)));
  const std::map<std::string, std::string> env = {
      {"keyConnectorSettings__database__provider", "postgreSQL"},
      {"keyConnectorSettings__database__postgreSqlConnectionString",
       "Host=127.0.0.1;Port=" + std::to_string(server->port()) + ";Database=" + database +
           ";Username=" + server->user() + ";Password=" + server->password()},
      {"keyConnectorSettings__rsaKey__provider", "pkcs11"},
      {"keyConnectorSettings__rsaKey__pkcs11LibraryPath",
       E2eEnvironment::get().token().modulePath()},
      {"keyConnectorSettings__rsaKey__pkcs11SlotTokenSerialNumber", serial},
      {"keyConnectorSettings__rsaKey__pkcs11PrivateKeyLabel", kReferenceKeyLabel},
      {"keyConnectorSettings__rsaKey__pkcs11LoginPin", pin()},
  };
  Daemon daemon({.startNow = false});
  const auto run = runImport(daemon, {}, secretsOf(data, {server->password()}), env);
  ASSERT_EQ(run.result.exitCode, 0) << run.output();
  EXPECT_EQ(summaryCount(run.result.out, "imported"), 150) << run.output();
  EXPECT_NE(run.result.out.find("PKCS#11 key"), std::string::npos) << run.output();
  expectDatesKept(daemon, data);
  daemon.start();
  expectDaemonServes(daemon, data);
}

TEST_F(ImportTest, MariaDbFromAConnectionFileWithTheKeyOnATokenByUri) {
  std::string whyNot;
  auto* server = sharedMariaDb(whyNot);
  if (!server) {
    if (databaseServersRequired()) FAIL() << whyNot;
    GTEST_SKIP() << whyNot;
  }
  const std::string database = server->createDatabase();
  const auto data = makeReferenceData(keys().rsa, 150, GuidCase::kMixed);
  writeReferenceMySql(server->connectionString(database), data);
  writeFile(dir_ / "mysql.connection", server->connectionString(database) + "\n");
  Daemon daemon({.startNow = false});
  const auto run = runImport(
      daemon,
      {"--source-mysql-file", (dir_ / "mysql.connection").string(), "--source-pkcs11-key",
       std::string("pkcs11:token=") + kReferenceTokenLabel + ";object=" + kReferenceKeyLabel,
       "--source-pkcs11-module", E2eEnvironment::get().token().modulePath(), "--source-pin-file",
       E2eEnvironment::get().token().pinFile().string()},
      secretsOf(data, {server->password()}));
  ASSERT_EQ(run.result.exitCode, 0) << run.output();
  EXPECT_EQ(summaryCount(run.result.out, "imported"), 150) << run.output();
  expectDatesKept(daemon, data);
  daemon.start();
  expectDaemonServes(daemon, data);
}

TEST_F(ImportTest, DryRunChecksEverythingAndWritesNothing) {
  const auto data = makeReferenceData(keys().rsa, 40, GuidCase::kLower);
  writeReferenceSqlite(dir_ / "data.db", data);
  Daemon daemon({.startNow = false});
  std::vector<std::string> args = {"--source-sqlite", (dir_ / "data.db").string(), "--dry-run"};
  for (const auto& arg : pfxArgs()) args.push_back(arg);
  const auto run = runImport(daemon, args, secretsOf(data));
  ASSERT_EQ(run.result.exitCode, 0) << run.output();
  EXPECT_EQ(summaryCount(run.result.out, "would import"), 40) << run.output();
  EXPECT_NE(run.result.out.find("nothing was written"), std::string::npos) << run.output();
  daemon.start();
  for (const auto& user : data.users) {
    EXPECT_EQ(daemon.get("/user-keys", E2eEnvironment::get().tokenFor(user.id)).status, 404)
        << user.id;
  }
}

TEST_F(ImportTest, BadRowsAndConflictsAreReportedPerUserWhileTheRestImports) {
  auto data = makeReferenceData(keys().rsa, 30, GuidCase::kLower);
  writeReferenceSqlite(dir_ / "data.db", data);
  const auto& tampered = data.users[3];
  const auto& twice = data.users[5];
  const auto& differs = data.users[7];
  const auto& same = data.users[9];
  SecretBytes otherAes(32);
  executeSqlite(dir_ / "data.db", "UPDATE UserKeys SET Key = '" +
                                      sealReferenceUserKey(otherAes, tampered.key) +
                                      "' WHERE Id = '" + tampered.id + "'");
  executeSqlite(dir_ / "data.db",
                "INSERT INTO UserKeys SELECT upper(Id), Key, CreationDate, RevisionDate, "
                "LastAccessDate FROM UserKeys WHERE Id = '" +
                    twice.id + "'");
  executeSqlite(dir_ / "data.db",
                "INSERT INTO UserKeys SELECT 'not-a-guid', Key, CreationDate, RevisionDate, "
                "LastAccessDate FROM UserKeys WHERE Id = '" +
                    same.id + "'");

  // Our store already holds two of them: one with another key, one with the same.
  Daemon daemon;
  const std::string otherKey = randomKeyBase64(64);
  ASSERT_EQ(
      daemon.sendKey("PUT", E2eEnvironment::get().tokenFor(differs.id), keyBody(otherKey)).status,
      200);
  ASSERT_EQ(
      daemon
          .sendKey("PUT", E2eEnvironment::get().tokenFor(same.id), keyBody(encodeBase64(same.key)))
          .status,
      200);
  daemon.stop();

  std::vector<std::string> args = {"--source-sqlite", (dir_ / "data.db").string()};
  for (const auto& arg : pfxArgs()) args.push_back(arg);
  const auto run = runImport(daemon, args, secretsOf(data));
  ASSERT_EQ(run.result.exitCode, 3) << run.output();
  const std::string& out = run.result.out;
  EXPECT_EQ(summaryCount(out, "users in the source"), 32) << out;
  EXPECT_EQ(summaryCount(out, "imported"), 26) << out;
  EXPECT_EQ(summaryCount(out, "already present"), 1) << out;
  EXPECT_EQ(summaryCount(out, "conflicting"), 3) << out;  // `differs`, `twice` in two cases
  EXPECT_EQ(summaryCount(out, "failed"), 2) << out;       // `tampered`, not-a-guid
  const auto reasonOf = [&](const std::string& id) {
    const auto at = out.find("\n  " + id + ": ");
    return at == std::string::npos ? std::string() : out.substr(at, out.find('\n', at + 1) - at);
  };
  EXPECT_NE(reasonOf(tampered.id).find("does not decrypt"), std::string::npos) << out;
  EXPECT_NE(reasonOf(twice.id).find("different case"), std::string::npos) << out;
  EXPECT_NE(reasonOf(differs.id).find("another key"), std::string::npos) << out;
  EXPECT_NE(reasonOf("not-a-guid").find("not a GUID"), std::string::npos) << out;

  daemon.start();
  // The conflicting record is untouched; the rest serve the source's keys.
  EXPECT_EQ(daemon.get("/user-keys", E2eEnvironment::get().tokenFor(differs.id)).body,
            "{\"key\":\"" + otherKey + "\"}");
  EXPECT_EQ(daemon.get("/user-keys", E2eEnvironment::get().tokenFor(tampered.id)).status, 404);
  EXPECT_EQ(daemon.get("/user-keys", E2eEnvironment::get().tokenFor(twice.id)).status, 404);
  expectDaemonServes(daemon, data, {tampered.id, twice.id, differs.id});
  daemon.stop();

  // --overwrite replaces the conflicting record with the source's.
  args.push_back("--overwrite");
  const auto again = runImport(daemon, args, secretsOf(data));
  EXPECT_EQ(again.result.exitCode, 3) << again.output();  // the bad rows are still bad
  EXPECT_NE(again.result.out.find("1 replaced under --overwrite"), std::string::npos)
      << again.output();
  EXPECT_EQ(summaryCount(again.result.out, "already present"), 27) << again.output();
  daemon.start();
  EXPECT_EQ(daemon.get("/user-keys", E2eEnvironment::get().tokenFor(differs.id)).body,
            "{\"key\":\"" + encodeBase64(differs.key) + "\"}");
}

// Waits until the import's plain progress shows at least `users` done; false on exit.
bool waitForProgress(const std::filesystem::path& log, BackgroundProcess& process,
                     std::uint64_t users) {
  const std::regex line("([0-9,]+) of [0-9,]+ users");
  for (int i = 0; i < 1200; ++i) {
    std::ifstream in(log);
    std::string text((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
    std::uint64_t done = 0;
    for (std::sregex_iterator it(text.begin(), text.end(), line), end; it != end; ++it) {
      std::string digits = (*it)[1];
      digits.erase(std::remove(digits.begin(), digits.end(), ','), digits.end());
      done = std::max<std::uint64_t>(done, std::stoull(digits));
    }
    if (done >= users) return true;
    if (!process.running()) return false;
    std::this_thread::sleep_for(std::chrono::milliseconds(25));
  }
  return false;
}

TEST_F(ImportTest, InterruptedByCtrlCOrKilledThenRerunFinishesWithTheRightTotals) {
  constexpr std::size_t kUsers = 3000;
  const auto data = makeReferenceData(keys().rsa, kUsers, GuidCase::kMixed);
  writeReferenceSqlite(dir_ / "data.db", data);
  Daemon daemon({.startNow = false});
  std::vector<std::string> args = {"--source-sqlite", (dir_ / "data.db").string(), "--threads",
                                   "2"};
  for (const auto& arg : pfxArgs()) args.push_back(arg);

  {  // Ctrl-C: stops after the users in flight, prints the summary so far, exits 4.
    const auto log = dir_ / "sigint.log";
    BackgroundProcess process(importArgv(daemon, args), log.string(), childOptions({}));
    ASSERT_TRUE(waitForProgress(log, process, 150)) << readFile(log);
    const int code = process.stop(SIGINT, std::chrono::seconds(60));
    const std::string output = readFile(log);
    ASSERT_EQ(code, 4) << output;
    EXPECT_NE(output.find("interrupted after"), std::string::npos) << output;
    EXPECT_GT(summaryCount(output, "imported"), 0) << output;
    EXPECT_GT(summaryCount(output, "not handled"), 0) << output;
  }
  {  // SIGKILL: no summary, no half-written record.
    const auto log = dir_ / "sigkill.log";
    BackgroundProcess process(importArgv(daemon, args), log.string(), childOptions({}));
    ASSERT_TRUE(waitForProgress(log, process, 300)) << readFile(log);
    EXPECT_EQ(process.stop(SIGKILL, std::chrono::seconds(10)), 128 + SIGKILL);
  }
  const auto rerun = runImport(daemon, args, secretsOf(data));
  ASSERT_EQ(rerun.result.exitCode, 0) << rerun.output();
  const long imported = summaryCount(rerun.result.out, "imported");
  const long present = summaryCount(rerun.result.out, "already present");
  EXPECT_GE(present, 300) << "every user the killed run reported done is stored: "
                          << rerun.output();
  EXPECT_EQ(imported + present, static_cast<long>(kUsers)) << rerun.output();
  expectDatesKept(daemon, data);

  daemon.start();
  ReferenceData sample;
  for (std::size_t i = 0; i < data.users.size(); i += 15) {
    sample.users.push_back(data.users[i]);
  }
  expectDaemonServes(daemon, sample);
  expectAuditChainVerifies(daemon, data);
}

// The reference ran on SQLite, and so will we: inside its environment its variables name the
// source only, and the import writes our database, never the reference's file.
TEST_F(ImportTest, FromTheReferencesEnvironmentWithTheSameProviderWritesOurDatabaseOnly) {
  const auto data = makeReferenceData(keys().rsa, 60, GuidCase::kUpper);
  const auto source = dir_ / "reference.db";
  writeReferenceSqlite(source, data);
  const std::string sourceBytes = readFile(source);
  const std::map<std::string, std::string> env = {
      {"keyConnectorSettings__database__provider", "sqlite"},
      {"keyConnectorSettings__database__sqliteConnectionString", "Data Source=" + source.string()},
      {"keyConnectorSettings__rsaKey__provider", "pkcs11"},
      {"keyConnectorSettings__rsaKey__pkcs11LibraryPath",
       E2eEnvironment::get().token().modulePath()},
      {"keyConnectorSettings__rsaKey__pkcs11SlotTokenSerialNumber", keys().tokenSerial},
      {"keyConnectorSettings__rsaKey__pkcs11PrivateKeyLabel", kReferenceKeyLabel},
      {"keyConnectorSettings__rsaKey__pkcs11LoginPin", pin()},
  };
  Daemon daemon({.startNow = false});
  const auto run = runImport(daemon, {}, secretsOf(data), env);
  ASSERT_EQ(run.result.exitCode, 0) << run.output();
  EXPECT_EQ(summaryCount(run.result.out, "imported"), 60) << run.output();
  EXPECT_NE(run.result.out.find("sqlite store at " + daemon.databasePath().string()),
            std::string::npos)
      << "the header names where it writes: " << run.output();
  EXPECT_EQ(readFile(source), sourceBytes) << "the reference's database was written to";
  daemon.start();
  expectDaemonServes(daemon, data);
}

// The reference's PKCS#11 key is an import source only: named by the reference's variables in
// the daemon's environment, it is refused as our wrapping key (here, as the reference keeps it:
// a private key imported alone, with no public key object; one that signs breaks the policy).
TEST_F(ImportTest, TheReferencesTokenKeyIsRefusedAsOurWrappingKey) {
  auto [code, log] = failedStart(
      {.env = {{"keyConnectorSettings__rsaKey__provider", "pkcs11"},
               {"keyConnectorSettings__rsaKey__pkcs11LibraryPath",
                E2eEnvironment::get().token().modulePath()},
               {"keyConnectorSettings__rsaKey__pkcs11SlotTokenSerialNumber", keys().tokenSerial},
               {"keyConnectorSettings__rsaKey__pkcs11PrivateKeyLabel", kReferenceKeyLabel},
               {"keyConnectorSettings__rsaKey__pkcs11LoginPin", pin()}}});
  EXPECT_NE(code, 0) << log;
  EXPECT_NE(code, -1) << "the daemon started with the reference's key";
  EXPECT_NE(log.find(kReferenceKeyLabel), std::string::npos) << log;
  EXPECT_NE(log.find("pkcs11.wrap_key"), std::string::npos) << log;
  EXPECT_EQ(log.find("listening"), std::string::npos) << "it served: " << log;
}

TEST_F(ImportTest, DaemonStartUpErrorForTheJsonProviderNamesTheCommandWithRealFlags) {
  const auto jsonPath = (dir_ / "keyconnector.json").string();
  Daemon daemon({.env = {{"keyConnectorSettings__database__provider", "json"},
                         {"keyConnectorSettings__database__jsonFilePath", jsonPath}},
                 .waitUntilReady = false});
  const auto code = daemon.waitForExit(std::chrono::seconds(30));
  ASSERT_TRUE(code.has_value());
  EXPECT_NE(*code, 0);
  const std::string log = daemon.log();
  const std::string command = "kc-setup import-bitwarden --config " + daemon.configPath().string() +
                              " --source-json " + jsonPath;
  EXPECT_NE(log.find(command), std::string::npos) << log;
  // Every flag the message names is one the command takes.
  const auto help = runProcess({KC_SETUP_PATH, "import-bitwarden", "--help"});
  const std::regex flag("--[a-z0-9-]+");
  std::size_t flags = 0;
  for (std::sregex_iterator it(log.begin(), log.end(), flag), end; it != end; ++it, ++flags) {
    EXPECT_NE(help.out.find("  " + it->str() + " "), std::string::npos) << it->str();
  }
  EXPECT_GE(flags, 8u);
}

}  // namespace
}  // namespace kc::test
