// The reader of a reference Key Connector deployment against deployments the fixture builds in
// every form the reference leaves them: four data sources, three kinds of RSA key.

#include <gtest/gtest.h>
#include <stdlib.h>
#include <sys/resource.h>

#include <algorithm>
#include <map>
#include <memory>
#include <set>

#include "ReferenceFixture.h"
#include "kc/Text.h"
#include "kc/provisioning/BitwardenImport.h"
#include "support/DatabaseServers.h"
#include "support/SoftHsmToken.h"
#include "support/Subprocess.h"
#include "support/TempDir.h"

namespace kc::provisioning {
namespace {

using test::ReferenceData;
using test::ReferenceRsaKey;

constexpr char kPfxPassword[] = "pfx-Passw0rd-not-in-messages";
constexpr std::uint8_t kTokenKeyId[] = {0xB1, 0x7A};

// One RSA key, its files and a token holding it, shared by the suite (RSA generation and
// SoftHSM are slow; the token is one per process anyway).
struct Keys {
  test::TempDir dir{"kc-bitwarden-keys"};
  ReferenceRsaKey rsa;
  ReferenceRsaKey otherRsa;
  test::SoftHsmToken token{"kc-reference"};

  Keys() {
    rsa.writePkcs8Pem(dir / "key.pem");
    rsa.writePkcs12(dir / "key.pfx", kPfxPassword, dir / "pfx.password");
    otherRsa.writePkcs8Pem(dir / "other.pem");
    test::writeFile(dir / "wrong.password", "not-the-password\n");
    auto pool = token.openPool();
    rsa.importPrivateKey(*pool, "bitwarden-key-connector", kTokenKeyId);
  }

  ReferenceKeySource pkcs12() const {
    ReferenceKeySource source;
    source.kind = ReferenceKeySource::Kind::kPkcs12;
    source.path = dir / "key.pfx";
    source.passwordFile = dir / "pfx.password";
    return source;
  }
  ReferenceKeySource pem(const std::string& file = "key.pem") const {
    ReferenceKeySource source;
    source.kind = ReferenceKeySource::Kind::kPem;
    source.path = dir / file;
    return source;
  }
  ReferenceKeySource pkcs11() const {
    ReferenceKeySource source;
    source.kind = ReferenceKeySource::Kind::kPkcs11;
    source.pkcs11Module = token.modulePath();
    source.pkcs11KeyUri = token.tokenUri() + ";object=bitwarden-key-connector";
    source.pin = pkcs11::PinSource::fromFile(token.pinFile());
    return source;
  }
};

Keys& keys() {
  static Keys* shared = new Keys();  // outlives every test; SoftHSM finalises at exit
  return *shared;
}

ReferenceKey openKey(const ReferenceKeySource& source) {
  auto key = ReferenceKey::open(source);
  if (!key) throw std::runtime_error(key.status().toString());
  return std::move(*key);
}

std::unique_ptr<ReferenceDeployment> openSource(ReferenceSource::Kind kind, std::string location,
                                                bool dotNet = false) {
  auto deployment = ReferenceDeployment::open({kind, std::move(location), dotNet});
  if (!deployment) throw std::runtime_error(deployment.status().toString());
  return std::move(*deployment);
}

// `server` gets the shared server `get` gives; without one the test fails (CI, where the
// servers are required) or is skipped, and `server` stays null for the caller to return.
template <typename Server>
void takeSharedServer(Server* (*get)(std::string&), Server*& server) {
  std::string whyNot;
  server = get(whyNot);
  if (server) return;
  if (test::databaseServersRequired()) FAIL() << whyNot;
  GTEST_SKIP() << whyNot;
}

// Every row, page by page.
std::vector<ReferenceUserKeyRow> readAll(ReferenceDeployment& deployment, std::size_t pageSize) {
  std::vector<ReferenceUserKeyRow> rows;
  std::string after;
  for (;;) {
    auto page = deployment.readUserKeys(after, pageSize);
    if (!page) throw std::runtime_error(page.status().toString());
    if (page->empty()) return rows;
    EXPECT_LE(page->size(), pageSize);
    after = page->back().id;
    for (auto& row : *page) rows.push_back(std::move(row));
  }
}

// Opens the symmetric key with `key`, reads every row and checks each against what the fixture
// wrote: the id as stored (`idsKeepCase`), the key bytes, the dates to the millisecond.
void expectDeploymentMatches(ReferenceDeployment& deployment, const ReferenceKey& key,
                             const ReferenceData& data, bool idsKeepCase,
                             std::size_t pageSize = 7) {
  auto aes = openSymmetricKey(deployment, key);
  ASSERT_TRUE(aes) << aes.status().toString();
  EXPECT_TRUE(*aes == data.aesKey);
  auto count = deployment.countUserKeys();
  ASSERT_TRUE(count) << count.status().toString();
  EXPECT_EQ(*count, data.users.size());

  std::map<std::string, const test::ReferenceUser*> expected;
  for (const auto& user : data.users) expected[toLower(user.id)] = &user;
  const auto rows = readAll(deployment, pageSize);
  ASSERT_EQ(rows.size(), data.users.size());
  std::set<std::string> seen;
  for (const auto& row : rows) {
    ASSERT_TRUE(row.problem.isOk()) << row.problem.toString();
    const auto it = expected.find(toLower(row.id));
    ASSERT_NE(it, expected.end()) << row.id;
    const auto& user = *it->second;
    EXPECT_TRUE(seen.insert(toLower(row.id)).second) << "row read twice: " << row.id;
    if (idsKeepCase) {
      EXPECT_EQ(row.id, user.id);
    }
    EXPECT_EQ(row.key, user.keyColumn);
    auto plain = decryptReferenceUserKey(*aes, row.key);
    ASSERT_TRUE(plain) << row.id << ": " << plain.status().toString();
    EXPECT_TRUE(*plain == SecretBytes(user.key)) << row.id;
    ASSERT_TRUE(row.creationDate);
    EXPECT_EQ(*row.creationDate, test::toMillis(user.creationDate)) << row.id;
    EXPECT_EQ(row.revisionDate.has_value(), user.revisionDate.has_value()) << row.id;
    if (user.revisionDate && row.revisionDate) {
      EXPECT_EQ(*row.revisionDate, test::toMillis(*user.revisionDate)) << row.id;
    }
    EXPECT_EQ(row.lastAccessDate.has_value(), user.lastAccessDate.has_value()) << row.id;
    if (user.lastAccessDate && row.lastAccessDate) {
      EXPECT_EQ(*row.lastAccessDate, test::toMillis(*user.lastAccessDate)) << row.id;
    }
  }
}

// A message must never hold a secret.
void expectNoSecret(const Status& status, const std::vector<std::string>& secrets) {
  for (const auto& secret : secrets) {
    if (secret.empty()) continue;
    EXPECT_EQ(status.message().find(secret), std::string::npos)
        << "a secret in: " << status.toString();
  }
}

class BitwardenImportTest : public ::testing::Test {
 protected:
  static void SetUpTestSuite() { keys(); }
  test::TempDir dir_{"kc-bitwarden"};
};

// --- positive: each source with each key kind ------------------------------------------------

TEST_F(BitwardenImportTest, SqliteWithUpperAndLowerCaseGuidsOpensWithPkcs12Key) {
  const auto data = test::makeReferenceData(keys().rsa, 24, test::GuidCase::kMixed);
  test::writeReferenceSqlite(dir_ / "data.db", data);
  auto deployment = openSource(ReferenceSource::Kind::kSqlite, (dir_ / "data.db").string());
  expectDeploymentMatches(*deployment, openKey(keys().pkcs12()), data, true);
}

TEST_F(BitwardenImportTest, SqliteThroughItsDotNetConnectionStringOpensWithPemKey) {
  const auto data = test::makeReferenceData(keys().rsa, 13, test::GuidCase::kUpper);
  test::writeReferenceSqlite(dir_ / "data.db", data);
  auto deployment = openSource(ReferenceSource::Kind::kSqlite,
                               "Data Source=" + (dir_ / "data.db").string(), true);
  expectDeploymentMatches(*deployment, openKey(keys().pem()), data, true);
}

TEST_F(BitwardenImportTest, SqliteOpensWithTheKeyOnAToken) {
  const auto data = test::makeReferenceData(keys().rsa, 9, test::GuidCase::kLower);
  test::writeReferenceSqlite(dir_ / "data.db", data);
  auto deployment = openSource(ReferenceSource::Kind::kSqlite, (dir_ / "data.db").string());
  expectDeploymentMatches(*deployment, openKey(keys().pkcs11()), data, true);
}

TEST_F(BitwardenImportTest, JsonFileOpensWithEachKeyKind) {
  const auto data = test::makeReferenceData(keys().rsa, 11, test::GuidCase::kLower);
  test::writeReferenceJson(dir_ / "data.json", data);
  for (const auto& source : {keys().pkcs12(), keys().pem(), keys().pkcs11()}) {
    auto deployment = openSource(ReferenceSource::Kind::kJsonFile, (dir_ / "data.json").string());
    expectDeploymentMatches(*deployment, openKey(source), data, true, 4);
  }
}

TEST_F(BitwardenImportTest, PostgreSqlThroughItsNpgsqlConnectionString) {
  test::PostgresServer* server = nullptr;
  takeSharedServer(test::sharedPostgres, server);
  if (!server) return;
  const std::string database = server->createDatabase();
  const auto data = test::makeReferenceData(keys().rsa, 21, test::GuidCase::kUpper);
  test::writeReferencePostgres(server->connectionString(database), data);
  const std::string npgsql = "Host=127.0.0.1;Port=" + std::to_string(server->port()) +
                             ";Database=" + database + ";Username=" + server->user() +
                             ";Password=" + server->password();
  auto deployment = openSource(ReferenceSource::Kind::kPostgreSql, npgsql, true);
  EXPECT_EQ(deployment->describe().find(server->password()), std::string::npos);
  expectDeploymentMatches(*deployment, openKey(keys().pkcs12()), data, false);
  // uuid reads back in lower case.
  auto page = deployment->readUserKeys("", 1);
  ASSERT_TRUE(page && !page->empty());
  EXPECT_EQ(page->front().id, toLower(page->front().id));
}

TEST_F(BitwardenImportTest, MariaDbThroughItsDotNetConnectionStringWithTokenKey) {
  test::MariaDbServer* server = nullptr;
  takeSharedServer(test::sharedMariaDb, server);
  if (!server) return;
  const std::string database = server->createDatabase();
  const auto data = test::makeReferenceData(keys().rsa, 21, test::GuidCase::kMixed);
  test::writeReferenceMySql(server->connectionString(database), data);
  const std::string dotNet = "Server=127.0.0.1;Port=" + std::to_string(server->port()) +
                             ";Database=" + database + ";Uid=" + server->user() +
                             ";Pwd=" + server->password();
  auto deployment = openSource(ReferenceSource::Kind::kMySql, dotNet, true);
  expectDeploymentMatches(*deployment, openKey(keys().pkcs11()), data, true, 5);
  // Poco's own form works too.
  auto direct = openSource(ReferenceSource::Kind::kMySql, server->connectionString(database));
  expectDeploymentMatches(*direct, openKey(keys().pem()), data, true, 100);
}

// The process's peak resident set so far, in KiB.
long peakResidentKiB() {
  struct rusage usage {};
  ::getrusage(RUSAGE_SELF, &usage);
  return usage.ru_maxrss;
}

// Poco's MySQL connector sizes its fetch buffer by the declared column length, 4 GiB for the
// reference's longtext. A Key longer than decryption accepts still arrives too long (and is
// refused), not cut to something that looks like a key; and no read fills gigabytes.
TEST_F(BitwardenImportTest, MariaDbLongtextIsReadWithoutItsDeclaredLengthAndNeverCut) {
  test::MariaDbServer* server = nullptr;
  takeSharedServer(test::sharedMariaDb, server);
  if (!server) return;
  const std::string database = server->createDatabase();
  auto data = test::makeReferenceData(keys().rsa, 3);
  data.users[1].keyColumn = std::string(kMaxReferenceKeyColumnLength + 100, 'A');
  test::writeReferenceMySql(server->connectionString(database), data);
  const long before = peakResidentKiB();
  auto deployment = openSource(ReferenceSource::Kind::kMySql, server->connectionString(database));
  auto aes = openSymmetricKey(*deployment, openKey(keys().pem()));
  ASSERT_TRUE(aes) << aes.status().toString();
  const auto rows = readAll(*deployment, 2);
  EXPECT_LT(peakResidentKiB() - before, 256 * 1024) << "KiB more at peak after three rows";
  ASSERT_EQ(rows.size(), 3u);
  for (const auto& row : rows) {
    const bool tooLong = toLower(row.id) == toLower(data.users[1].id);
    auto plain = decryptReferenceUserKey(*aes, row.key);
    if (tooLong) {
      EXPECT_GT(row.key.size(), kMaxReferenceKeyColumnLength);
      ASSERT_FALSE(plain);
      EXPECT_EQ(plain.status().code(), StatusCode::kInvalidArgument);
      EXPECT_NE(plain.status().message().find("more than"), std::string::npos);
    } else {
      ASSERT_TRUE(plain) << row.id << ": " << plain.status().toString();
    }
  }
}

TEST_F(BitwardenImportTest, HundredThousandUsersArePagedInIdOrder) {
  const auto data = test::makeReferenceData(keys().rsa, 100000, test::GuidCase::kMixed);
  test::writeReferenceSqlite(dir_ / "big.db", data);
  auto deployment = openSource(ReferenceSource::Kind::kSqlite, (dir_ / "big.db").string());
  auto aes = openSymmetricKey(*deployment, openKey(keys().pem()));
  ASSERT_TRUE(aes);
  EXPECT_EQ(*deployment->countUserKeys(), 100000u);
  std::string after;
  std::size_t total = 0;
  for (;;) {
    auto page = deployment->readUserKeys(after, 1000);
    ASSERT_TRUE(page) << page.status().toString();
    if (page->empty()) break;
    for (const auto& row : *page) {
      ASSERT_LT(after, row.id);  // SQLite's binary order, strictly increasing
      after = row.id;
      ASSERT_TRUE(row.problem.isOk());
      ASSERT_TRUE(decryptReferenceUserKey(*aes, row.key));
      ++total;
    }
  }
  EXPECT_EQ(total, 100000u);
}

// --- negative: keys ---------------------------------------------------------------------------

TEST_F(BitwardenImportTest, WrongPfxPasswordIsPermissionDeniedAndNotQuoted) {
  auto source = keys().pkcs12();
  source.passwordFile = keys().dir / "wrong.password";
  auto key = ReferenceKey::open(source);
  ASSERT_FALSE(key);
  EXPECT_EQ(key.status().code(), StatusCode::kPermissionDenied);
  EXPECT_NE(key.status().message().find("key.pfx"), std::string::npos);
  expectNoSecret(key.status(), {kPfxPassword, "not-the-password"});
}

TEST_F(BitwardenImportTest, PfxPasswordFromTheReferencesEnvironmentVariable) {
  // As the reference's keyConnectorSettings__certificate__filesystemPassword holds it.
  const std::string variable = "KC_TEST_REFERENCE_PFX_PASSWORD";
  ::setenv(variable.c_str(), kPfxPassword, 1);
  auto source = keys().pkcs12();
  source.passwordFile.clear();
  source.passwordEnv = variable;
  const auto data = test::makeReferenceData(keys().rsa, 3, test::GuidCase::kLower);
  test::writeReferenceSqlite(dir_ / "data.db", data);
  auto deployment = openSource(ReferenceSource::Kind::kSqlite, (dir_ / "data.db").string());
  expectDeploymentMatches(*deployment, openKey(source), data, true);

  ::setenv(variable.c_str(), "not-the-password", 1);
  auto wrong = ReferenceKey::open(source);
  ::unsetenv(variable.c_str());
  ASSERT_FALSE(wrong);
  EXPECT_EQ(wrong.status().code(), StatusCode::kPermissionDenied);
  expectNoSecret(wrong.status(), {kPfxPassword, "not-the-password"});
}

TEST_F(BitwardenImportTest, MissingKeyFilesAreNamed) {
  auto pem = ReferenceKey::open(keys().pem("absent.pem"));
  ASSERT_FALSE(pem);
  EXPECT_EQ(pem.status().code(), StatusCode::kInvalidArgument);
  EXPECT_NE(pem.status().message().find("absent.pem"), std::string::npos);
  test::writeFile(dir_ / "garbage.pem", "-----BEGIN PRIVATE KEY-----\nAAAA\n");
  auto source = keys().pem();
  source.path = dir_ / "garbage.pem";
  EXPECT_EQ(ReferenceKey::open(source).status().code(), StatusCode::kInvalidArgument);
  auto pfx = keys().pkcs12();
  pfx.path = keys().dir / "key.pem";  // not DER PKCS#12
  EXPECT_EQ(ReferenceKey::open(pfx).status().code(), StatusCode::kInvalidArgument);
}

TEST_F(BitwardenImportTest, KeyFilesHoldingNoRsaPrivateKeyAreRefused) {
  const auto run = [](const std::vector<std::string>& argv) {
    ASSERT_EQ(test::runProcess(argv).exitCode, 0) << argv[1];
  };
  const auto ec = dir_ / "ec.pem", cert = dir_ / "cert.pem", certOnly = dir_ / "cert-only.pfx";
  run({"openssl", "genpkey", "-algorithm", "EC", "-pkeyopt", "ec_paramgen_curve:P-256", "-out",
       ec.string()});
  auto pem = keys().pem();
  pem.path = ec;
  auto notRsa = ReferenceKey::open(pem);
  ASSERT_FALSE(notRsa);
  EXPECT_EQ(notRsa.status().code(), StatusCode::kInvalidArgument);
  EXPECT_NE(notRsa.status().message().find("not RSA"), std::string::npos);

  run({"openssl", "req", "-new", "-x509", "-key", ec.string(), "-subj", "/CN=kc", "-days", "1",
       "-out", cert.string()});
  run({"openssl", "pkcs12", "-export", "-nokeys", "-in", cert.string(), "-passout", "pass:", "-out",
       certOnly.string()});
  auto pfx = keys().pkcs12();
  pfx.path = certOnly;
  pfx.passwordFile.clear();
  auto noKey = ReferenceKey::open(pfx);
  ASSERT_FALSE(noKey);
  EXPECT_EQ(noKey.status().code(), StatusCode::kInvalidArgument);
  EXPECT_NE(noKey.status().message().find("no private key"), std::string::npos);
}

TEST_F(BitwardenImportTest, WrongRsaKeyDoesNotOpenTheSymmetricKey) {
  const auto data = test::makeReferenceData(keys().rsa, 2);
  test::writeReferenceJson(dir_ / "data.json", data);
  auto deployment = openSource(ReferenceSource::Kind::kJsonFile, (dir_ / "data.json").string());
  auto aes = openSymmetricKey(*deployment, openKey(keys().pem("other.pem")));
  ASSERT_FALSE(aes);
  EXPECT_EQ(aes.status().code(), StatusCode::kIntegrity);
  EXPECT_NE(aes.status().message().find("other.pem"), std::string::npos);
}

TEST_F(BitwardenImportTest, TokenKeyMissingOrWrongPinIsRefusedWithoutThePin) {
  auto source = keys().pkcs11();
  source.pkcs11KeyUri = keys().token.tokenUri() + ";object=no-such-key";
  auto missing = ReferenceKey::open(source);
  ASSERT_FALSE(missing);
  EXPECT_EQ(missing.status().code(), StatusCode::kNotFound);

  test::writeFile(dir_ / "wrong.pin", "99999999\n");
  source = keys().pkcs11();
  source.pin = pkcs11::PinSource::fromFile(dir_ / "wrong.pin");
  auto refused = ReferenceKey::open(source);
  ASSERT_FALSE(refused);
  EXPECT_EQ(refused.status().code(), StatusCode::kPermissionDenied);
  expectNoSecret(refused.status(), {"99999999", test::readFile(keys().token.pinFile())});
}

TEST_F(BitwardenImportTest, SymmetricKeyOfTheWrongLengthIsIntegrity) {
  auto data = test::makeReferenceData(keys().rsa, 1);
  const std::vector<std::uint8_t> sixteen(16, 7);
  data.symmetricKeyColumn = keys().rsa.wrapBase64(sixteen);
  test::writeReferenceJson(dir_ / "data.json", data);
  auto deployment = openSource(ReferenceSource::Kind::kJsonFile, (dir_ / "data.json").string());
  EXPECT_EQ(openSymmetricKey(*deployment, openKey(keys().pem())).status().code(),
            StatusCode::kIntegrity);
  data.symmetricKeyColumn = "not base64!";
  test::writeReferenceJson(dir_ / "data.json", data);
  deployment = openSource(ReferenceSource::Kind::kJsonFile, (dir_ / "data.json").string());
  EXPECT_EQ(openSymmetricKey(*deployment, openKey(keys().pem())).status().code(),
            StatusCode::kIntegrity);
}

// --- negative: rows ---------------------------------------------------------------------------

TEST_F(BitwardenImportTest, BadRowsAreReportedOneByOneAndTheOthersStillOpen) {
  auto data = test::makeReferenceData(keys().rsa, 10, test::GuidCase::kUpper);
  auto tampered = test::decodeBase64(data.users[3].keyColumn);
  tampered[0] ^= 1;
  auto truncated = data.users[4].keyColumn;
  truncated.resize(truncated.size() - 4);
  const std::vector<std::uint8_t> shortBytes(28, 1);  // nonce + tag, no ciphertext
  data.users[0].keyColumn = "%%%not-base64%%%";
  data.users[1].keyColumn = test::encodeBase64(shortBytes);
  data.users[2].keyColumn = data.users[2].keyColumn.substr(1);  // bad padding/length
  data.users[3].keyColumn = test::encodeBase64(tampered);
  data.users[4].keyColumn = truncated;
  test::writeReferenceSqlite(dir_ / "data.db", data);
  test::executeSqlite(dir_ / "data.db", "UPDATE \"UserKeys\" SET \"Key\" = NULL WHERE \"Id\" = '" +
                                            data.users[5].id + "'");
  test::executeSqlite(dir_ / "data.db",
                      "UPDATE \"UserKeys\" SET \"CreationDate\" = 'yesterday' WHERE \"Id\" = '" +
                          data.users[6].id + "'");

  auto deployment = openSource(ReferenceSource::Kind::kSqlite, (dir_ / "data.db").string());
  auto aes = openSymmetricKey(*deployment, openKey(keys().pkcs12()));
  ASSERT_TRUE(aes);
  const std::string aesBase64 = test::encodeBase64(aes->view());
  std::map<std::string, Status> outcome;
  for (const auto& row : readAll(*deployment, 3)) {
    if (!row.problem.isOk()) {
      outcome[row.id] = row.problem;
      continue;
    }
    auto plain = decryptReferenceUserKey(*aes, row.key);
    outcome[row.id] = plain ? Status::ok() : plain.status();
  }
  ASSERT_EQ(outcome.size(), 10u);
  const StatusCode expected[] = {
      StatusCode::kInvalidArgument,
      StatusCode::kInvalidArgument,
      StatusCode::kInvalidArgument,
      StatusCode::kIntegrity,  // tampered
      StatusCode::kIntegrity,  // truncated: the nonce and tag shift, the tag fails
      StatusCode::kInvalidArgument,
      StatusCode::kInvalidArgument,
      StatusCode::kOk,
      StatusCode::kOk,
      StatusCode::kOk};
  for (std::size_t i = 0; i < data.users.size(); ++i) {
    const Status& status = outcome[data.users[i].id];
    EXPECT_EQ(status.code(), expected[i]) << i << ": " << status.toString();
    expectNoSecret(status,
                   {aesBase64, data.users[i].keyColumn, test::encodeBase64(data.users[i].key)});
  }
  // Row problems name the row and the column.
  EXPECT_NE(outcome[data.users[5].id].message().find(data.users[5].id), std::string::npos);
  EXPECT_NE(outcome[data.users[5].id].message().find("Key"), std::string::npos);
  EXPECT_NE(outcome[data.users[6].id].message().find("CreationDate"), std::string::npos);
}

TEST_F(BitwardenImportTest, DecryptRefusesAnAesKeyOfTheWrongSize) {
  const SecretBytes shortKey(16);
  EXPECT_EQ(decryptReferenceUserKey(shortKey, "AAAA").status().code(),
            StatusCode::kInvalidArgument);
  const SecretBytes key(32);
  EXPECT_EQ(decryptReferenceUserKey(key, std::string(kMaxReferenceKeyColumnLength + 4, 'A'))
                .status()
                .code(),
            StatusCode::kInvalidArgument);
}

// --- negative: sources ------------------------------------------------------------------------

TEST_F(BitwardenImportTest, MissingSqliteFileIsNotFoundAndNotCreated) {
  const auto path = dir_ / "absent.db";
  auto deployment = ReferenceDeployment::open({ReferenceSource::Kind::kSqlite, path.string()});
  ASSERT_FALSE(deployment);
  EXPECT_EQ(deployment.status().code(), StatusCode::kNotFound);
  EXPECT_NE(deployment.status().message().find("absent.db"), std::string::npos);
  EXPECT_FALSE(std::filesystem::exists(path));
}

TEST_F(BitwardenImportTest, MissingTablesAreNamed) {
  test::executeSqlite(dir_ / "empty.db",
                      "CREATE TABLE \"ApplicationDatas\" (\"Id\" INTEGER, \"SymmetricKey\" TEXT)");
  auto deployment =
      ReferenceDeployment::open({ReferenceSource::Kind::kSqlite, (dir_ / "empty.db").string()});
  ASSERT_FALSE(deployment);
  EXPECT_EQ(deployment.status().code(), StatusCode::kNotFound);
  EXPECT_NE(deployment.status().message().find("UserKeys"), std::string::npos);

  test::executeSqlite(dir_ / "columns.db",
                      "CREATE TABLE \"ApplicationDatas\" (\"Id\" INTEGER, \"SymmetricKey\" TEXT)");
  test::executeSqlite(dir_ / "columns.db",
                      "CREATE TABLE \"UserKeys\" (\"Id\" TEXT, \"Value\" TEXT)");
  deployment =
      ReferenceDeployment::open({ReferenceSource::Kind::kSqlite, (dir_ / "columns.db").string()});
  ASSERT_FALSE(deployment);
  EXPECT_NE(deployment.status().message().find("UserKeys"), std::string::npos);
}

TEST_F(BitwardenImportTest, EmptyApplicationDatasIsNotFound) {
  const auto data = test::makeReferenceData(keys().rsa, 3);
  test::writeReferenceSqlite(dir_ / "data.db", data, false);
  auto deployment = openSource(ReferenceSource::Kind::kSqlite, (dir_ / "data.db").string());
  auto aes = openSymmetricKey(*deployment, openKey(keys().pem()));
  ASSERT_FALSE(aes);
  EXPECT_EQ(aes.status().code(), StatusCode::kNotFound);
  EXPECT_NE(aes.status().message().find("ApplicationDatas"), std::string::npos);
}

TEST_F(BitwardenImportTest, MalformedJsonFilesAreRefusedNamingTheMember) {
  const auto path = dir_ / "data.json";
  auto openText = [&](const std::string& text) {
    test::writeFile(path, text);
    return ReferenceDeployment::open({ReferenceSource::Kind::kJsonFile, path.string()});
  };
  for (const char* text :
       {"", "{", "[]", "42", "{\"symmetricKey\": 5}", "{\"userKey\": {}}", "{\"userKey\": [5]}",
        "{\"userKey\": [{\"key\": \"AAAA\"}]}", "{\"userKey\": [{\"id\": 7}]}",
        "{\"userKey\": [{\"id\": \"a\"}, {\"id\": \"A\"}]}"}) {
    auto deployment = openText(text);
    ASSERT_FALSE(deployment) << text;
    EXPECT_EQ(deployment.status().code(), StatusCode::kInvalidArgument) << text;
    EXPECT_NE(deployment.status().message().find("data.json"), std::string::npos) << text;
  }
  // No userKey member: no users. No symmetricKey: NOT_FOUND when asked for.
  auto empty = openText("{}");
  ASSERT_TRUE(empty);
  EXPECT_EQ(*(*empty)->countUserKeys(), 0u);
  EXPECT_EQ((*empty)->wrappedSymmetricKey().status().code(), StatusCode::kNotFound);
}

TEST_F(BitwardenImportTest, JsonEntriesOfTheWrongTypeAreRowProblems) {
  auto deployment = [&] {
    test::writeFile(dir_ / "data.json",
                    "{\"symmetricKey\": \"AAAA\", \"userKey\": ["
                    "{\"id\": \"b\", \"key\": 12, \"creationDate\": \"2021-08-20T15:59:54Z\"},"
                    "{\"id\": \"a\", \"key\": \"AAAA\", \"creationDate\": true},"
                    "{\"id\": \"c\", \"key\": \"AAAA\", \"creationDate\": "
                    "\"2021-08-20T15:59:54.1234567+02:00\","
                    " \"revisionDate\": null, \"extra\": [1]}]}");
    return openSource(ReferenceSource::Kind::kJsonFile, (dir_ / "data.json").string());
  }();
  const auto rows = readAll(*deployment, 10);
  ASSERT_EQ(rows.size(), 3u);
  EXPECT_EQ(rows[0].id, "a");
  EXPECT_EQ(rows[0].problem.code(), StatusCode::kInvalidArgument);
  EXPECT_NE(rows[0].problem.message().find("creationDate"), std::string::npos);
  EXPECT_EQ(rows[1].problem.code(), StatusCode::kInvalidArgument);
  EXPECT_NE(rows[1].problem.message().find("key"), std::string::npos);
  ASSERT_TRUE(rows[2].problem.isOk()) << rows[2].problem.toString();
  EXPECT_EQ(rows[2].creationDate->time_since_epoch().count(), 1629467994123LL);
  EXPECT_FALSE(rows[2].revisionDate);
}

TEST_F(BitwardenImportTest, ServerConnectionFailuresDoNotQuoteThePassword) {
  const std::string password = "Sup3r-Secret-Pwd";
  const int port = test::freeLoopbackPort();
  auto pg = ReferenceDeployment::open({ReferenceSource::Kind::kPostgreSql,
                                       "Host=127.0.0.1;Port=" + std::to_string(port) +
                                           ";Database=kc;Username=kc;Password=" + password,
                                       true});
  ASSERT_FALSE(pg);
  EXPECT_EQ(pg.status().code(), StatusCode::kUnavailable);
  expectNoSecret(pg.status(), {password});
  auto my = ReferenceDeployment::open(
      {ReferenceSource::Kind::kMySql,
       "host=127.0.0.1;port=" + std::to_string(port) + ";user=kc;password=" + password + ";db=kc"});
  ASSERT_FALSE(my);
  EXPECT_EQ(my.status().code(), StatusCode::kUnavailable);
  expectNoSecret(my.status(), {password});
}

TEST_F(BitwardenImportTest, PageSizeIsBounded) {
  const auto data = test::makeReferenceData(keys().rsa, 1);
  test::writeReferenceJson(dir_ / "data.json", data);
  auto deployment = openSource(ReferenceSource::Kind::kJsonFile, (dir_ / "data.json").string());
  EXPECT_EQ(deployment->readUserKeys("", 0).status().code(), StatusCode::kInvalidArgument);
  EXPECT_EQ(deployment->readUserKeys("", 10001).status().code(), StatusCode::kInvalidArgument);
}

// --- dates ------------------------------------------------------------------------------------

TEST(ReferenceDateTest, ReadsEachProvidersForm) {
  const auto at = [](std::string_view text) {
    auto parsed = parseReferenceDate(text);
    EXPECT_TRUE(parsed) << text << ": " << parsed.status().toString();
    return parsed ? parsed->time_since_epoch().count() : -1;
  };
  EXPECT_EQ(at("2021-08-20 15:59:54"), 1629475194000LL);
  EXPECT_EQ(at("2021-08-20 15:59:54.1234567"), 1629475194123LL);  // SQLite, EF Core
  EXPECT_EQ(at("2021-08-20T15:59:54.999999"), 1629475194999LL);   // PostgreSQL, MySQL
  EXPECT_EQ(at("2021-08-20T15:59:54.5Z"), 1629475194500LL);       // JSON
  EXPECT_EQ(at("2021-08-20T17:59:54+02:00"), 1629475194000LL);
  EXPECT_EQ(at("2021-08-20T13:29:54-02:30"), 1629475194000LL);
  EXPECT_EQ(at("1969-12-31T23:59:59.999Z"), -1LL);
}

TEST(ReferenceDateTest, RefusesAnythingElse) {
  for (const char* text :
       {"", "2021-08-20", "2021-08-20X15:59:54", "2021-02-30 00:00:00", "2021-08-20 24:00:00",
        "2021-08-20 15:59:54.", "2021-08-20 15:59:54.12345678", "2021-08-20 15:59:54Z ",
        "2021-08-20 15:59:54+0200", "yesterday", "2021-08-20 15:59:54+15:00",
        "+021-08-20 15:59:54"}) {
    EXPECT_EQ(parseReferenceDate(text).status().code(), StatusCode::kInvalidArgument) << text;
  }
}

}  // namespace
}  // namespace kc::provisioning
