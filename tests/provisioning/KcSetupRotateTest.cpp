// kc-setup rotate against a real SoftHSM token and a SQLite store of a few hundred records:
// the four steps, their refusals, re-runs and dry runs, the audit chain they leave, and the
// rewrap engine's compare-and-swap against a write that lands between its read and its
// replace.

#include <gtest/gtest.h>

#include <algorithm>
#include <atomic>
#include <map>
#include <mutex>

#include "RotationState.h"
#include "kc/appliance/Deployment.h"
#include "kc/appliance/Envelope.h"
#include "kc/pkcs11/KeyGeneration.h"
#include "kc/pkcs11/Pkcs11Uri.h"
#include "kc/provisioning/DevIdentity.h"
#include "kc/provisioning/Rewrap.h"
#include "support/SoftHsmToken.h"
#include "support/Subprocess.h"
#include "support/TempDir.h"
#include "support/UserIds.h"

namespace kc::test {
namespace {

constexpr int kRecords = 300;

SoftHsmToken& token() {
  static SoftHsmToken instance("kc-rotate");
  return instance;
}

std::shared_ptr<pkcs11::SessionPool> pool() {
  static auto instance = token().openPool({.size = 4});
  return instance;
}

std::string keyUri(const std::string& label) {
  return token().tokenUri() + ";object=" + label + ";type=private";
}

pkcs11::RsaKeyPair generate(const std::string& label, pkcs11::KeyPurpose purpose) {
  auto key = pkcs11::generateKeyPair(pool(), {.purpose = purpose, .bits = 2048, .label = label});
  if (!key) throw std::runtime_error(key.status().toString());
  return *key;
}

Result<pkcs11::RsaKeyPair> find(const std::string& uri) {
  auto parsed = pkcs11::Pkcs11Uri::parse(uri);
  if (!parsed) return parsed.status();
  return pkcs11::RsaKeyPair::find(pool(), *parsed);
}

class KcSetupRotate : public ::testing::Test {
 protected:
  void SetUp() override {
    static std::atomic<int> counter{0};
    suffix_ = std::to_string(::getpid()) + "-" + std::to_string(counter++);
    old_ = generate("old-" + suffix_, pkcs11::KeyPurpose::kWrap);
    static const pkcs11::RsaKeyPair audit = generate("rotate-audit", pkcs11::KeyPurpose::kAudit);
    static const bool exported = [] {
      auto pem = audit.exportPublicKey();
      if (!pem) throw std::runtime_error(pem.status().toString());
      writeFile(auditPem(), pem->pem);
      return true;
    }();
    (void)exported;
    ASSERT_TRUE(provisioning::createDevIdentity(dir_ / "identity", "https://id.invalid").isOk());
    config_ = dir_ / "keyconnector.properties";
    configText_ =
        "# The rotation test's daemon.\n"
        "identity.jwks_file = " +
        (dir_ / "identity" / "jwks.json").string() +
        "\n"
        "identity.issuer = https://id.invalid\n"
        "database.sqlite_path = " +
        (dir_ / "keys.db").string() +
        "\n"
        "pkcs11.module = " +
        token().modulePath() +
        "\n"
        "pkcs11.token = " +
        token().tokenUri() +
        "\n"
        "# the key that seals new records\n"
        "pkcs11.wrap_key = " +
        keyUri("old-" + suffix_) +
        "\n"
        "pkcs11.audit_key = " +
        keyUri("rotate-audit") +
        "\n"
        "pkcs11.pin_file = " +
        token().pinFile().string() +
        "\n"
        "audit.directory = " +
        (dir_ / "audit").string() + "\n";
    writeFile(config_, configText_);
    seed();
  }

  static std::filesystem::path auditPem() {
    static TempDir dir("kc-rotate-pem");
    return dir / "audit.pem";
  }

  // kRecords records sealed under the old key, their values kept in values_.
  void seed() {
    auto ring = appliance::KeyRing::create(oldKey());
    ASSERT_TRUE(ring);
    auto store = openStore();
    for (int n = 0; n < kRecords; ++n) {
      const UserId user = sequentialUserId(static_cast<std::uint64_t>(n));
      std::vector<std::uint8_t> value(32, static_cast<std::uint8_t>(n));
      value[0] = static_cast<std::uint8_t>(n >> 8);
      auto sealed = ring->seal(user, SecretBytes(value));
      ASSERT_TRUE(sealed);
      ASSERT_TRUE(store
                      ->insert({.userId = user,
                                .envelope = std::move(*sealed),
                                .wrappingKeyId = oldKey().idHex()})
                      .isOk());
      values_[user.str()] = value;
    }
  }

  std::unique_ptr<storage::UserKeyStore> openStore() {
    storage::StoreConfig config;
    config.sqlitePath = (dir_ / "keys.db").string();
    auto store = storage::openUserKeyStore(config);
    if (!store) throw std::runtime_error(store.status().toString());
    return std::move(*store);
  }

  appliance::DaemonConfig daemonConfig() {
    auto config = appliance::loadDaemonConfig(config_, {});
    if (!config) throw std::runtime_error(config.status().toString());
    return *config;
  }

  ProcessResult kcSetup(std::vector<std::string> args,
                        const std::map<std::string, std::string>& env = {}) {
    args.insert(args.begin(), KC_SETUP_PATH);
    args.push_back("--config");
    args.push_back(config_.string());
    ProcessOptions options;
    options.env = token().childEnvironment();
    for (const auto& [name, value] : env) options.env[name] = value;
    return runProcess(args, options);
  }

  void expectOk(const std::vector<std::string>& args) {
    auto result = kcSetup(args);
    EXPECT_EQ(result.exitCode, 0) << result.out << result.err;
  }

  std::map<std::string, std::int64_t> counts() {
    auto counted = openStore()->countPerWrappingKey();
    if (!counted) throw std::runtime_error(counted.status().toString());
    return *counted;
  }

  // Every record opens with the configuration's ring to the value it was given.
  void expectEveryValueKept() {
    auto config = daemonConfig();
    auto ring = appliance::openKeyRing(config, pool());
    ASSERT_TRUE(ring) << ring.status().toString();
    auto store = openStore();
    for (const auto& [user, value] : values_) {
      auto record = store->get(testUserId(user));
      ASSERT_TRUE(record);
      auto opened = ring->open(record->userId, record->envelope);
      ASSERT_TRUE(opened) << user << ": " << opened.status().toString();
      EXPECT_TRUE(std::ranges::equal(opened->view(), value)) << user;
    }
  }

  std::string newUri() const { return keyUri("new-" + suffix_); }
  const pkcs11::RsaKeyPair& oldKey() const { return *old_; }

  std::string suffix_;
  TempDir dir_{"kc-rotate"};
  std::filesystem::path config_;
  std::string configText_;
  std::optional<pkcs11::RsaKeyPair> old_;  // the key the records start under
  std::map<std::string, std::vector<std::uint8_t>> values_;
};

TEST_F(KcSetupRotate, FourStepsMoveEveryRecordUnderTheNewKeyAndRetireTheOldOne) {
  auto begun = kcSetup({"rotate", "begin", "--label", "new-" + suffix_});
  ASSERT_EQ(begun.exitCode, 0) << begun.out << begun.err;
  EXPECT_NE(begun.out.find("rotate promote"), std::string::npos) << begun.out;
  auto config = daemonConfig();
  EXPECT_EQ(config.pkcs11.wrapKey, keyUri("old-" + suffix_));
  EXPECT_EQ(config.pkcs11.previousWrapKeys, std::vector<std::string>{newUri()});
  auto newKey = find(newUri());
  ASSERT_TRUE(newKey) << newKey.status().toString();

  expectOk({"rotate", "promote"});
  config = daemonConfig();
  EXPECT_EQ(config.pkcs11.wrapKey, newUri());
  EXPECT_EQ(config.pkcs11.previousWrapKeys, std::vector<std::string>{keyUri("old-" + suffix_)});

  auto rewrapped = kcSetup({"rotate", "rewrap", "--threads", "4", "--progress", "plain"});
  ASSERT_EQ(rewrapped.exitCode, 0) << rewrapped.out << rewrapped.err;
  EXPECT_NE(rewrapped.out.find("rewrapped: " + std::to_string(kRecords)), std::string::npos)
      << rewrapped.out;
  EXPECT_EQ(counts(), (std::map<std::string, std::int64_t>{{newKey->idHex(), kRecords}}));
  expectEveryValueKept();

  auto status = kcSetup({"rotate", "status"});
  EXPECT_NE(status.out.find("3 of 4"), std::string::npos) << status.out;

  expectOk({"rotate", "retire", "--destroy-old"});
  config = daemonConfig();
  EXPECT_EQ(config.pkcs11.wrapKey, newUri());
  EXPECT_TRUE(config.pkcs11.previousWrapKeys.empty());
  EXPECT_EQ(find(keyUri("old-" + suffix_)).status().code(), StatusCode::kNotFound);
  EXPECT_FALSE(std::filesystem::exists(setup::journalPath(config_)));
  const std::string text = readFile(config_);
  EXPECT_EQ(text.rfind("# The rotation test's daemon.\n", 0), 0u) << text;
  EXPECT_NE(text.find("# the key that seals new records\npkcs11.wrap_key = " + newUri()),
            std::string::npos)
      << text;
  expectEveryValueKept();

  // kc-setup's own audit chain: every rewrap, announced before it, and it verifies against the
  // audit key.
  std::vector<std::string> verify = {KC_AUDIT_PATH, "verify", "--public-key", auditPem().string()};
  std::size_t rewraps = 0, intents = 0;
  for (const auto& entry : std::filesystem::directory_iterator(dir_ / "audit" / "kc-setup")) {
    if (entry.path().extension() != ".log") continue;  // audit.lock
    verify.push_back(entry.path().string());
    const std::string log = readFile(entry.path());
    for (auto at = log.find("\"op\":\"key.rewrap\",\"outcome\":\"ok\""); at != std::string::npos;
         at = log.find("\"op\":\"key.rewrap\",\"outcome\":\"ok\"", at + 1)) {
      ++rewraps;
    }
    const std::string intent = "\"op\":\"key.rewrap.intent\",\"outcome\":\"pending\"";
    for (auto at = log.find(intent); at != std::string::npos; at = log.find(intent, at + 1)) {
      ++intents;
    }
    for (const char* op : {"rotate.begin", "rotate.promote", "rewrap.start", "rewrap.end",
                           "key.retire", "key.destroy"}) {
      EXPECT_NE(log.find(std::string("\"op\":\"") + op + "\""), std::string::npos) << op;
    }
  }
  EXPECT_EQ(rewraps, static_cast<std::size_t>(kRecords));
  EXPECT_GE(intents, rewraps) << "a rewrap without its intent record";
  auto verified = runProcess(verify);
  EXPECT_EQ(verified.exitCode, 0) << verified.out << verified.err;
}

TEST_F(KcSetupRotate, EveryStepRunTwiceChangesNothingMore) {
  expectOk({"rotate", "begin", "--label", "new-" + suffix_});
  expectOk({"rotate", "begin"});
  EXPECT_EQ(daemonConfig().pkcs11.previousWrapKeys, std::vector<std::string>{newUri()});
  expectOk({"rotate", "promote"});
  const std::string promoted = readFile(config_);
  expectOk({"rotate", "promote"});
  EXPECT_EQ(readFile(config_), promoted) << "a second promote swapped the keys back";
  EXPECT_EQ(daemonConfig().pkcs11.wrapKey, newUri());
  expectOk({"rotate", "rewrap"});
  auto again = kcSetup({"rotate", "rewrap"});
  EXPECT_EQ(again.exitCode, 0) << again.err;
  EXPECT_NE(again.out.find("rewrapped: 0"), std::string::npos) << again.out;
  expectOk({"rotate", "retire"});
  expectOk({"rotate", "retire"});
  EXPECT_TRUE(find(keyUri("old-" + suffix_))) << "retire without --destroy-old destroyed the key";
}

TEST_F(KcSetupRotate, RewrapStoppedPartWayIsFinishedByRunningItAgain) {
  expectOk({"rotate", "begin", "--label", "new-" + suffix_});
  expectOk({"rotate", "promote"});
  const std::string newId = find(newUri())->idHex();
  auto partial = kcSetup({"rotate", "rewrap", "--limit", "100", "--threads", "3"});
  ASSERT_EQ(partial.exitCode, 0) << partial.out << partial.err;
  EXPECT_NE(partial.out.find("run rewrap again"), std::string::npos) << partial.out;
  auto afterPartial = counts();
  EXPECT_EQ(afterPartial[newId], 100);
  EXPECT_EQ(afterPartial[oldKey().idHex()], kRecords - 100);

  // Retire refuses while records need the old key, and says how many.
  const std::string before = readFile(config_);
  auto refused = kcSetup({"rotate", "retire", "--destroy-old"});
  EXPECT_EQ(refused.exitCode, 1) << refused.out << refused.err;
  EXPECT_NE(refused.err.find(std::to_string(kRecords - 100) + " under " + oldKey().idHex()),
            std::string::npos)
      << refused.err;
  EXPECT_EQ(readFile(config_), before);
  EXPECT_TRUE(find(keyUri("old-" + suffix_)));

  expectOk({"rotate", "rewrap"});
  EXPECT_EQ(counts(), (std::map<std::string, std::int64_t>{{newId, kRecords}}));
  expectEveryValueKept();
  expectOk({"rotate", "retire"});
}

TEST_F(KcSetupRotate, DryRunsWriteNothing) {
  expectOk({"rotate", "begin", "--label", "new-" + suffix_});
  expectOk({"rotate", "promote"});
  const std::string before = readFile(config_);
  const auto countsBefore = counts();
  const auto auditBefore = readFile(dir_ / "audit" / "kc-setup" / "audit.log");
  auto rewrap = kcSetup({"rotate", "rewrap", "--dry-run"});
  EXPECT_EQ(rewrap.exitCode, 0) << rewrap.err;
  EXPECT_NE(rewrap.out.find(std::to_string(kRecords)), std::string::npos) << rewrap.out;
  // Retire's dry run after a real rewrap: it would retire, and does not.
  expectOk({"rotate", "rewrap"});
  const std::string rewrapped = readFile(config_);
  auto retire = kcSetup({"rotate", "retire", "--dry-run", "--destroy-old"});
  EXPECT_EQ(retire.exitCode, 0) << retire.err;
  EXPECT_NE(retire.out.find("would retire"), std::string::npos) << retire.out;
  EXPECT_EQ(readFile(config_), rewrapped);
  EXPECT_TRUE(find(keyUri("old-" + suffix_)));
  EXPECT_EQ(before, rewrapped);
  EXPECT_EQ(countsBefore.at(oldKey().idHex()), kRecords);
  EXPECT_FALSE(auditBefore.empty());
}

TEST_F(KcSetupRotate, StepsOutOfOrderAreRefused) {
  auto promote = kcSetup({"rotate", "promote"});
  EXPECT_EQ(promote.exitCode, 1) << promote.err;
  EXPECT_NE(promote.err.find("rotate begin"), std::string::npos) << promote.err;
  expectOk({"rotate", "begin", "--label", "new-" + suffix_});
  auto rewrap = kcSetup({"rotate", "rewrap"});
  EXPECT_EQ(rewrap.exitCode, 1) << rewrap.err;
  auto retire = kcSetup({"rotate", "retire"});
  EXPECT_EQ(retire.exitCode, 1) << retire.err;
  EXPECT_EQ(daemonConfig().pkcs11.previousWrapKeys, std::vector<std::string>{newUri()});
  auto second = kcSetup({"rotate", "begin", "--label", "other-" + suffix_});
  EXPECT_EQ(second.exitCode, 1) << second.err;
}

TEST_F(KcSetupRotate, BeginRefusesANewKeyThatWasOnceExtractable) {
  static unsigned char idByte = 0x60;
  generateOnceExtractableWrapKey(*pool(), "new-" + suffix_, idByte++);
  auto begin = kcSetup({"rotate", "begin", "--label", "new-" + suffix_});
  EXPECT_EQ(begin.exitCode, 1) << begin.out << begin.err;
  EXPECT_NE(begin.err.find("CKA_NEVER_EXTRACTABLE=false"), std::string::npos) << begin.err;
  EXPECT_NE(begin.err.find("policy.allow_noncompliant_key"), std::string::npos) << begin.err;
  EXPECT_EQ(readFile(config_), configText_);
}

TEST_F(KcSetupRotate, KeysSetByEnvironmentVariablesAreNotEditedAndTheToolSaysWhatToSet) {
  const std::map<std::string, std::string> env = {{"KC_PKCS11_WRAP_KEY", keyUri("old-" + suffix_)}};
  auto begun = kcSetup({"rotate", "begin", "--label", "new-" + suffix_}, env);
  ASSERT_EQ(begun.exitCode, 0) << begun.err;  // begin edits previous_wrap_keys, in the file
  auto promote = kcSetup({"rotate", "promote"}, env);
  EXPECT_EQ(promote.exitCode, 1) << promote.err;
  EXPECT_NE(promote.err.find("KC_PKCS11_WRAP_KEY=" + newUri()), std::string::npos) << promote.err;
  EXPECT_NE(promote.err.find("KC_PKCS11_PREVIOUS_WRAP_KEYS=" + keyUri("old-" + suffix_)),
            std::string::npos)
      << promote.err;
  EXPECT_EQ(daemonConfig().pkcs11.wrapKey, keyUri("old-" + suffix_));
  // Set as told, the step completes.
  auto done =
      kcSetup({"rotate", "promote"}, {{"KC_PKCS11_WRAP_KEY", newUri()},
                                      {"KC_PKCS11_PREVIOUS_WRAP_KEYS", keyUri("old-" + suffix_)}});
  EXPECT_EQ(done.exitCode, 0) << done.out << done.err;
}

// A real SQLite store that lets a "PUT" land between the rewrap's read and its replace.
class InterleavingStore : public storage::UserKeyStore {
 public:
  InterleavingStore(storage::UserKeyStore& inner, std::function<void(const UserId&)> beforeReplace)
      : inner_(inner), beforeReplace_(std::move(beforeReplace)) {}
  Result<storage::UserKeyRecord> get(const UserId& id) override { return inner_.get(id); }
  Status insert(const storage::UserKeyWrite& w) override { return inner_.insert(w); }
  Status insertMany(std::span<const storage::UserKeyWrite> w) override {
    return inner_.insertMany(w);
  }
  Status upsert(const storage::UserKeyWrite& w) override { return inner_.upsert(w); }
  Status replaceIfRevision(const storage::UserKeyWrite& w, std::int64_t revision) override {
    beforeReplace_(w.userId);
    return inner_.replaceIfRevision(w, revision);
  }
  Status recordAccess(const UserId& id, storage::Timestamp when) override {
    return inner_.recordAccess(id, when);
  }
  Status flushAccessTimes() override { return inner_.flushAccessTimes(); }
  Result<std::vector<storage::UserKeyRecord>> listByWrappingKey(std::string_view keyId,
                                                                const std::optional<UserId>& after,
                                                                std::size_t limit) override {
    return inner_.listByWrappingKey(keyId, after, limit);
  }
  Result<std::int64_t> countByWrappingKey(std::string_view keyId) override {
    return inner_.countByWrappingKey(keyId);
  }
  Result<std::map<std::string, std::int64_t>> countPerWrappingKey() override {
    return inner_.countPerWrappingKey();
  }
  Status ping() override { return inner_.ping(); }
  std::string_view backendName() const override { return inner_.backendName(); }

 private:
  storage::UserKeyStore& inner_;
  std::function<void(const UserId&)> beforeReplace_;
};

TEST_F(KcSetupRotate, RewrapNeverOverwritesAWriteThatLandsBetweenItsReadAndItsReplace) {
  const auto newKey = generate("new-" + suffix_, pkcs11::KeyPurpose::kWrap);
  auto newRing = appliance::KeyRing::create(newKey, {oldKey()});
  auto oldRing = appliance::KeyRing::create(oldKey(), {newKey});
  ASSERT_TRUE(newRing && oldRing);
  auto real = openStore();
  // User 7 gets a PUT from an instance already on the new key; user 8 from one still on the
  // old key (before it reloaded): the first is skipped, the second rewrapped again.
  const UserId putNew = sequentialUserId(7), putOld = sequentialUserId(8);
  const std::vector<std::uint8_t> newValue(32, 0xA1), oldValue(32, 0xB2);
  std::mutex mutex;
  std::map<std::string, int> interleaved;
  InterleavingStore store(*real, [&](const UserId& user) {
    {
      std::lock_guard lock(mutex);
      if (interleaved[user.str()]++ != 0) return;
    }
    const bool isNew = user == putNew;
    if (!isNew && user != putOld) return;
    const auto& ring = isNew ? *newRing : *oldRing;
    auto sealed = ring.seal(user, SecretBytes(isNew ? newValue : oldValue));
    ASSERT_TRUE(sealed);
    ASSERT_TRUE(real->upsert({.userId = user,
                              .envelope = std::move(*sealed),
                              .wrappingKeyId = ring.current().idHex()})
                    .isOk());
  });
  audit::AuditLogOptions options{.directory = dir_ / "engine-audit", .instance = "test"};
  auto log = audit::AuditLog::open(options);
  ASSERT_TRUE(log);
  auto summary =
      provisioning::rewrapRecords(*newRing, store, log->get(), {.threads = 4, .pageSize = 64});
  ASSERT_TRUE(summary) << summary.status().toString();
  EXPECT_EQ(summary->rewrapped, static_cast<std::uint64_t>(kRecords - 1));
  EXPECT_EQ(summary->skipped, 1u);
  EXPECT_EQ(summary->retried, 1u);
  EXPECT_TRUE(summary->failures.empty());
  values_[putNew.str()] = newValue;
  values_[putOld.str()] = oldValue;
  auto after = real->countPerWrappingKey();
  ASSERT_TRUE(after);
  EXPECT_EQ(*after, (std::map<std::string, std::int64_t>{{newKey.idHex(), kRecords}}));
  for (const auto& [user, value] : values_) {
    auto record = real->get(testUserId(user));
    ASSERT_TRUE(record);
    auto opened = newRing->open(record->userId, record->envelope);
    ASSERT_TRUE(opened) << user;
    EXPECT_TRUE(std::ranges::equal(opened->view(), value)) << user;
  }
}

TEST_F(KcSetupRotate, RewrapKeepsTheRevisionTimeAndReportsRecordsUnderUnknownKeys) {
  const auto newKey = generate("new-" + suffix_, pkcs11::KeyPurpose::kWrap);
  auto store = openStore();
  const UserId first = sequentialUserId(0);
  const auto revisedBefore = store->get(first)->revisionTime;
  // A record naming a key no configuration holds.
  const UserId stray = sequentialUserId(9999);
  auto strayRing =
      appliance::KeyRing::create(generate("stray-" + suffix_, pkcs11::KeyPurpose::kWrap));
  ASSERT_TRUE(strayRing);
  auto sealed = strayRing->seal(stray, SecretBytes(std::vector<std::uint8_t>(32, 1)));
  ASSERT_TRUE(sealed);
  ASSERT_TRUE(
      store
          ->insert(
              {.userId = stray, .envelope = *sealed, .wrappingKeyId = strayRing->current().idHex()})
          .isOk());
  auto ring = appliance::KeyRing::create(newKey, {oldKey()});
  ASSERT_TRUE(ring);
  auto log = audit::AuditLog::open({.directory = dir_ / "engine-audit", .instance = "test"});
  ASSERT_TRUE(log);
  auto summary = provisioning::rewrapRecords(*ring, *store, log->get(), {.threads = 2});
  ASSERT_TRUE(summary) << summary.status().toString();
  EXPECT_EQ(summary->rewrapped, static_cast<std::uint64_t>(kRecords));
  EXPECT_EQ(summary->unknown, 1u);
  ASSERT_EQ(summary->failures.size(), 1u);
  EXPECT_EQ(summary->failures[0].userId, stray.str());
  EXPECT_EQ(summary->failures[0].status.code(), StatusCode::kIntegrity);
  auto record = store->get(first);
  ASSERT_TRUE(record);
  EXPECT_EQ(record->revisionTime, revisedBefore);
  EXPECT_EQ(record->revision, 2);
}

}  // namespace
}  // namespace kc::test
