// Rotation of the wrapping key while daemons serve: the SIGHUP reload of the key ring, and
// `kc-setup rotate` run end to end against two instances on one PostgreSQL database under a
// load of concurrent GETs and PUTs.

#include <gtest/gtest.h>
#include <signal.h>

#include <atomic>
#include <mutex>
#include <random>
#include <thread>

#include "DaemonFixture.h"
#include "kc/pkcs11/KeyGeneration.h"
#include "kc/pkcs11/Pkcs11Uri.h"
#include "kc/storage/UserKeyStore.h"
#include "support/DatabaseServers.h"

namespace kc::test {
namespace {

using namespace std::chrono_literals;

std::string randomSuffix() {
  return E2eEnvironment::newUserId().substr(0, 8);
}

// A new wrapping key on the shared token; its URI and CKA_ID (hex).
std::pair<std::string, std::string> newWrapKey(const std::string& label) {
  auto& token = E2eEnvironment::get().token();
  auto pool = token.openPool({.size = 1});
  auto key = pkcs11::generateKeyPair(
      pool, {.purpose = pkcs11::KeyPurpose::kWrap, .bits = 2048, .label = label});
  if (!key) throw std::runtime_error(key.status().toString());
  return {token.tokenUri() + ";object=" + label + ";type=private", key->idHex()};
}

std::string bodyFor(const std::string& key) {
  return "{\"key\":\"" + key + "\"}";
}

// How many times the daemon's log mentions `text`.
std::size_t logCount(const Daemon& daemon, const std::string& text) {
  const std::string log = daemon.log();
  std::size_t seen = 0;
  for (auto at = log.find(text); at != std::string::npos; at = log.find(text, at + 1)) ++seen;
  return seen;
}

// Waits until the daemon's log mentions `text` `count` times.
bool waitForLog(const Daemon& daemon, const std::string& text, std::size_t count) {
  const auto deadline = std::chrono::steady_clock::now() + 20s;
  while (std::chrono::steady_clock::now() < deadline) {
    if (logCount(daemon, text) >= count) return true;
    std::this_thread::sleep_for(20ms);
  }
  return false;
}

// SIGHUP, then the line kc-setup rotate tells operators to wait for. (Not the audit record:
// under load the audit log never stops growing, and Daemon::auditLines waits for it to.)
void reloadKeyRing(Daemon& daemon) {
  const std::string reloaded = "wrapping keys reloaded";
  const std::size_t before = logCount(daemon, reloaded);
  daemon.sendSignal(SIGHUP);
  if (!waitForLog(daemon, reloaded, before + 1)) {
    throw std::runtime_error("the key ring was not reloaded; log:\n" + daemon.log());
  }
}

std::unique_ptr<storage::UserKeyStore> openStore(const storage::StoreConfig& config) {
  auto store = storage::openUserKeyStore(config);
  if (!store) throw std::runtime_error(store.status().toString());
  return std::move(*store);
}

std::string storedKeyId(storage::UserKeyStore& store, const std::string& user) {
  auto id = UserId::parseCanonical(user);
  if (!id) throw std::runtime_error(id.status().toString());
  auto record = store.get(*id);
  if (!record) throw std::runtime_error(record.status().toString());
  return record->wrappingKeyId;
}

std::vector<std::filesystem::path> logFiles(const std::filesystem::path& dir) {
  std::vector<std::filesystem::path> out;
  for (const auto& entry : std::filesystem::directory_iterator(dir)) {
    if (entry.path().extension() == ".log") out.push_back(entry.path());
  }
  return out;
}

void expectAuditVerifies(const std::filesystem::path& dir) {
  std::vector<std::string> argv = {KC_AUDIT_PATH, "verify", "--public-key",
                                   E2eEnvironment::get().auditPublicKey().string()};
  for (const auto& file : logFiles(dir)) argv.push_back(file.string());
  ASSERT_GT(argv.size(), 4u) << "no audit log in " << dir;
  auto verified = runProcess(argv);
  EXPECT_EQ(verified.exitCode, 0) << dir << "\n" << verified.out << verified.err;
}

ProcessResult kcSetup(std::vector<std::string> args) {
  args.insert(args.begin(), KC_SETUP_PATH);
  ProcessOptions options;
  options.env = E2eEnvironment::get().token().childEnvironment();
  return runProcess(args, options);
}

TEST(KeyRingReload, SighupAddsTheNewKeyKeepsOldRecordsOpenAndKeepsTheRingOnABadConfig) {
  const std::string suffix = randomSuffix();
  const auto [oldUri, oldId] = newWrapKey("reload-old-" + suffix);
  const auto [newUri, newId] = newWrapKey("reload-new-" + suffix);
  Daemon daemon({.config = {{"pkcs11.wrap_key", oldUri}}});
  auto& environment = E2eEnvironment::get();
  const std::string before = E2eEnvironment::newUserId();
  const std::string beforeKey = randomKeyBase64();
  ASSERT_EQ(daemon.sendKey("POST", environment.tokenFor(before), bodyFor(beforeKey)).status, 200);

  // The rotation's first two steps, by hand: the new key is known, then current.
  daemon.setConfig("pkcs11.previous_wrap_keys", newUri);
  reloadKeyRing(daemon);
  daemon.setConfig("pkcs11.wrap_key", newUri);
  daemon.setConfig("pkcs11.previous_wrap_keys", oldUri);
  reloadKeyRing(daemon);
  // The line the documented rotation tells operators to wait for, once per reload.
  EXPECT_TRUE(waitForLog(daemon, "wrapping keys reloaded: current key " + newId, 1))
      << daemon.log();
  EXPECT_TRUE(waitForLog(daemon, "wrapping keys reloaded", 2)) << daemon.log();

  const std::string after = E2eEnvironment::newUserId();
  const std::string afterKey = randomKeyBase64();
  ASSERT_EQ(daemon.sendKey("PUT", environment.tokenFor(after), bodyFor(afterKey)).status, 200);
  EXPECT_EQ(daemon.get("/user-keys", environment.tokenFor(before)).body, bodyFor(beforeKey));
  EXPECT_EQ(daemon.get("/user-keys", environment.tokenFor(after)).body, bodyFor(afterKey));
  {
    auto store = openStore({.sqlitePath = daemon.databasePath().string()});
    EXPECT_EQ(storedKeyId(*store, before), oldId);
    EXPECT_EQ(storedKeyId(*store, after), newId);
  }

  // A configuration naming a key the token does not hold: the ring in use stays.
  daemon.setConfig("pkcs11.wrap_key",
                   environment.token().tokenUri() + ";object=no-such-key-" + suffix);
  daemon.sendSignal(SIGHUP);
  ASSERT_TRUE(waitForLog(daemon, "wrapping keys not reloaded", 1)) << daemon.log();
  const std::string later = E2eEnvironment::newUserId();
  const std::string laterKey = randomKeyBase64();
  ASSERT_EQ(daemon.sendKey("PUT", environment.tokenFor(later), bodyFor(laterKey)).status, 200);
  EXPECT_EQ(daemon.get("/user-keys", environment.tokenFor(before)).body, bodyFor(beforeKey));
  EXPECT_EQ(daemon.get("/user-keys", environment.tokenFor(later)).body, bodyFor(laterKey));
  auto store = openStore({.sqlitePath = daemon.databasePath().string()});
  EXPECT_EQ(storedKeyId(*store, later), newId);
}

// Concurrent GETs and PUTs spread over several daemons. Each worker owns its users, so the
// last value a PUT of its own was acknowledged with is the only right answer to a GET.
class LoadGenerator {
 public:
  LoadGenerator(std::vector<const Daemon*> daemons, int workers, int usersPerWorker)
      : daemons_(std::move(daemons)) {
    auto& environment = E2eEnvironment::get();
    for (int w = 0; w < workers; ++w) {
      std::vector<User> users;
      for (int u = 0; u < usersPerWorker; ++u) {
        User user{E2eEnvironment::newUserId(), {}, randomKeyBase64(32)};
        user.token = environment.tokenFor(user.id);
        auto response = daemons_[0]->sendKey("POST", user.token, bodyFor(user.acknowledged));
        if (response.status != 200) throw std::runtime_error("seed failed: " + response.body);
        users.push_back(std::move(user));
      }
      users_.push_back(std::move(users));
    }
  }
  ~LoadGenerator() { stop(); }

  void start(std::chrono::seconds maxDuration, std::uint64_t maxRequestsPerWorker) {
    const auto deadline = std::chrono::steady_clock::now() + maxDuration;
    for (std::size_t w = 0; w < users_.size(); ++w) {
      threads_.emplace_back([this, w, deadline, maxRequestsPerWorker] {
        std::mt19937 random(static_cast<unsigned>(w) * 7919u + 1u);
        for (std::uint64_t n = 0;
             n < maxRequestsPerWorker && !stopping_ && std::chrono::steady_clock::now() < deadline;
             ++n) {
          User& user = users_[w][random() % users_[w].size()];
          const Daemon& daemon = *daemons_[random() % daemons_.size()];
          request(daemon, user, random() % 2 == 0);
        }
      });
    }
  }
  void stop() {
    stopping_ = true;
    for (auto& thread : threads_) thread.join();
    threads_.clear();
  }

  std::uint64_t requests() const { return requests_; }
  std::uint64_t puts() const { return puts_; }
  std::vector<std::string> failures() const {
    std::lock_guard lock(mutex_);
    return failures_;
  }
  template <typename Check>
  void forEachUser(Check check) const {
    for (const auto& users : users_) {
      for (const auto& user : users) check(user.id, user.token, user.acknowledged);
    }
  }

 private:
  struct User {
    std::string id;
    std::string token;
    std::string acknowledged;  // the value of the last PUT answered 200
  };

  void request(const Daemon& daemon, User& user, bool put) {
    ++requests_;
    try {
      if (put) {
        const std::string value = randomKeyBase64(32);
        auto response = daemon.sendKey("PUT", user.token, bodyFor(value));
        if (response.status != 200) return fail("PUT " + user.id, response);
        user.acknowledged = value;
        ++puts_;
      } else {
        auto response = daemon.get("/user-keys", user.token);
        if (response.status != 200 || response.body != bodyFor(user.acknowledged)) {
          return fail("GET " + user.id + " (expected the last acknowledged value)", response);
        }
      }
    } catch (const std::exception& e) {
      std::lock_guard lock(mutex_);
      failures_.push_back(std::string(put ? "PUT " : "GET ") + user.id + ": " + e.what());
    }
  }
  void fail(const std::string& what, const HttpResponse& response) {
    std::lock_guard lock(mutex_);
    failures_.push_back(what + ": HTTP " + std::to_string(response.status) + " " + response.body);
  }

  std::vector<const Daemon*> daemons_;
  std::vector<std::vector<User>> users_;  // users_[w] belongs to worker w alone
  std::vector<std::thread> threads_;
  std::atomic<bool> stopping_{false};
  std::atomic<std::uint64_t> requests_{0};
  std::atomic<std::uint64_t> puts_{0};
  mutable std::mutex mutex_;
  std::vector<std::string> failures_;
};

TEST(RotationUnderLoad, TwoInstancesServeEveryRequestWhileKcSetupRotatesTheWrappingKey) {
  std::string whyNot;
  auto* postgres = sharedPostgres(whyNot);
  if (postgres == nullptr) {
    if (databaseServersRequired()) FAIL() << whyNot;
    GTEST_SKIP() << whyNot;
  }
  const std::string suffix = randomSuffix();
  // The test's own starting key: retire --destroy-old must not take the other tests' key.
  const auto [oldUri, oldId] = newWrapKey("rot-old-" + suffix);
  const std::string newLabel = "rot-new-" + suffix;
  TempDir shared("kc-e2e-rotation");
  const std::string connection = postgres->connectionString(postgres->createDatabase());
  DaemonOptions options{
      .databaseProvider = "postgresql",
      .connectionString = connection,
      .config = {{"pkcs11.wrap_key", oldUri}, {"audit.directory", (shared / "audit").string()}}};
  const std::filesystem::path config = shared / "keyconnector.properties";
  writeFile(config, "# Both instances of the rotation test read this file.\n" +
                        daemonConfigText(options, shared.path(), 1));
  options.sharedConfigFile = config;
  Daemon first(options);
  Daemon second(options);

  LoadGenerator load({&first, &second}, 3, 6);
  // Until stopped: the deadline is only a safety net (under ASan the steps before rewrap took
  // longer than the 45 s it was, and the load had ended before the new key was current).
  load.start(300s, 100000);
  auto step = [&](std::vector<std::string> args) {
    args.push_back("--config");
    args.push_back(config.string());
    auto result = kcSetup(args);
    EXPECT_EQ(result.exitCode, 0) << args[1] << ":\n" << result.out << result.err;
    return result;
  };
  auto reloadBoth = [&] {
    reloadKeyRing(first);
    reloadKeyRing(second);
    std::this_thread::sleep_for(300ms);  // requests that took the old ring finish
  };
  std::this_thread::sleep_for(500ms);
  step({"rotate", "begin", "--label", newLabel, "--bits", "2048"});
  reloadBoth();
  step({"rotate", "promote"});
  reloadBoth();
  const std::uint64_t putsBeforeRewrap = load.puts();
  step({"rotate", "rewrap", "--threads", "2", "--progress", "plain"});
  std::this_thread::sleep_for(300ms);
  step({"rotate", "retire", "--destroy-old"});
  reloadBoth();
  std::this_thread::sleep_for(300ms);
  load.stop();

  const auto failures = load.failures();
  EXPECT_TRUE(failures.empty()) << failures.size() << " failed, first: " << failures.front();
  EXPECT_GT(load.requests(), 50u);
  EXPECT_GT(load.puts(), putsBeforeRewrap) << "no PUT ran after the new key became current";
  load.forEachUser(
      [&](const std::string& user, const std::string& token, const std::string& acknowledged) {
        EXPECT_EQ(first.get("/user-keys", token).body, bodyFor(acknowledged)) << user;
        EXPECT_EQ(second.get("/user-keys", token).body, bodyFor(acknowledged)) << user;
      });

  auto store =
      openStore({.backend = storage::StoreBackend::kPostgreSql, .connectionString = connection});
  auto counts = store->countPerWrappingKey();
  ASSERT_TRUE(counts) << counts.status().toString();
  EXPECT_EQ(counts->count(oldId), 0u) << "records are still under the old key";
  EXPECT_EQ(counts->size(), 1u);
  auto pool = E2eEnvironment::get().token().openPool({.size = 1});
  auto oldUriParsed = pkcs11::Pkcs11Uri::parse(oldUri);
  ASSERT_TRUE(oldUriParsed);
  EXPECT_EQ(pkcs11::RsaKeyPair::find(pool, *oldUriParsed).status().code(), StatusCode::kNotFound)
      << "the old key is still on the token";

  EXPECT_EQ(first.stop(SIGTERM), 0);
  EXPECT_EQ(second.stop(SIGTERM), 0);
  expectAuditVerifies(first.auditDir());
  expectAuditVerifies(second.auditDir());
  expectAuditVerifies(shared / "audit" / "kc-setup");
}

}  // namespace
}  // namespace kc::test
