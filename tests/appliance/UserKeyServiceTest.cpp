// UserKeyService over a real SQLite store in a temp dir and the suite's SoftHSM token.

#include <Poco/AutoPtr.h>
#include <Poco/Channel.h>
#include <Poco/Logger.h>
#include <Poco/Message.h>
#include <gtest/gtest.h>

#include <atomic>
#include <map>
#include <mutex>
#include <optional>
#include <string>
#include <thread>
#include <vector>

#include "ApplianceTokenEnvironment.h"
#include "kc/appliance/Envelope.h"
#include "kc/appliance/UserKeyService.h"
#include "kc/storage/UserKeyStore.h"
#include "support/TempDir.h"
#include "support/UserIds.h"

namespace kc::appliance {
namespace {

using api::DepositMode;
using api::RequestContext;

using test::kAlice;
using test::kBob;

SecretBytes userKey(std::size_t size, std::uint8_t seed) {
  SecretBytes out(size);
  for (std::size_t i = 0; i < size; ++i) out.data()[i] = static_cast<std::uint8_t>(seed + 31 * i);
  return out;
}

RequestContext contextFor(const UserId& userId, const std::string& requestId = "req-1") {
  return {.requestId = requestId, .clientAddress = "127.0.0.1", .userId = userId};
}

// Keeps every message logged to "kc.keys" while the test runs.
class CapturedLog : public Poco::Channel {
 public:
  void log(const Poco::Message& message) override {
    std::lock_guard lock(mutex_);
    lines_.push_back(message.getText());
  }
  std::vector<std::string> lines() const {
    std::lock_guard lock(mutex_);
    return lines_;
  }

 private:
  mutable std::mutex mutex_;
  std::vector<std::string> lines_;
};

// Forwards to a real store; ping can be made to fail.
class PingControlledStore : public storage::UserKeyStore {
 public:
  explicit PingControlledStore(std::shared_ptr<storage::UserKeyStore> inner)
      : inner_(std::move(inner)) {}
  std::atomic<bool> down{false};
  Result<storage::UserKeyRecord> get(const UserId& userId) override { return inner_->get(userId); }
  Status insert(const storage::UserKeyWrite& write) override { return inner_->insert(write); }
  Status insertMany(std::span<const storage::UserKeyWrite> writes) override {
    return inner_->insertMany(writes);
  }
  Status upsert(const storage::UserKeyWrite& write) override { return inner_->upsert(write); }
  Status replaceIfRevision(const storage::UserKeyWrite& write, std::int64_t expected) override {
    return inner_->replaceIfRevision(write, expected);
  }
  Status recordAccess(const UserId& userId, storage::Timestamp when) override {
    return inner_->recordAccess(userId, when);
  }
  Status flushAccessTimes() override { return inner_->flushAccessTimes(); }
  Result<std::vector<storage::UserKeyRecord>> listByWrappingKey(std::string_view id,
                                                                const std::optional<UserId>& after,
                                                                std::size_t limit) override {
    return inner_->listByWrappingKey(id, after, limit);
  }
  Result<std::int64_t> countByWrappingKey(std::string_view id) override {
    return inner_->countByWrappingKey(id);
  }
  Result<std::map<std::string, std::int64_t>> countPerWrappingKey() override {
    return inner_->countPerWrappingKey();
  }
  Status ping() override {
    if (down) return {StatusCode::kUnavailable, "the database does not answer"};
    return inner_->ping();
  }
  std::string_view backendName() const override { return inner_->backendName(); }

 private:
  std::shared_ptr<storage::UserKeyStore> inner_;
};

std::string_view nameOf(KeyOperation operation) {
  switch (operation) {
    case KeyOperation::kFetch:
      return "fetch";
    case KeyOperation::kDepositCreate:
      return "deposit-create";
    case KeyOperation::kDepositReplace:
      return "deposit-replace";
  }
  return "?";
}

class CountingObserver : public KeyServiceObserver {
 public:
  void onTokenOperation(TokenOperation operation, const RequestContext& context,
                        std::string_view keyId, double seconds, const Status& outcome) override {
    EXPECT_FALSE(context.requestId.empty());
    EXPECT_FALSE(keyId.empty());
    std::lock_guard lock(mutex_);
    EXPECT_GE(seconds, 0.0);
    ++tokenOperations[std::string(tokenOperationName(operation)) +
                      (outcome.isOk() ? ":ok" : ":failed")];
  }
  void onKeyOperation(KeyOperation operation, const RequestContext& context,
                      const Status& outcome) override {
    std::lock_guard lock(mutex_);
    keyOperations.push_back(std::string(nameOf(operation)) + " " +
                            (context.userId ? context.userId->str() : "(no user)") + " " +
                            std::string(statusCodeName(outcome.code())));
  }
  std::mutex mutex_;
  std::map<std::string, int> tokenOperations;
  std::vector<std::string> keyOperations;
};

class UserKeyServiceTest : public ::testing::Test {
 protected:
  void SetUp() override {
    storage::StoreConfig config;
    config.backend = storage::StoreBackend::kSqlite;
    config.sqlitePath = (dir_ / "keys.db").string();
    config.poolSize = 4;
    auto opened = storage::openUserKeyStore(config);
    ASSERT_TRUE(opened) << opened.status().toString();
    realStore_ = std::shared_ptr<storage::UserKeyStore>(std::move(*opened));
    store_ = std::make_shared<PingControlledStore>(realStore_);
    observer_ = std::make_shared<CountingObserver>();
    service_ = std::make_unique<UserKeyService>(test::suiteRing(), store_, observer_);
    log_ = new CapturedLog;
    Poco::Logger::get("kc.keys").setChannel(log_);
  }
  void TearDown() override { Poco::Logger::get("kc.keys").setChannel(nullptr); }

  test::TempDir dir_{"kc-appliance-service"};
  std::shared_ptr<storage::UserKeyStore> realStore_;
  std::shared_ptr<PingControlledStore> store_;
  std::shared_ptr<CountingObserver> observer_;
  std::unique_ptr<UserKeyService> service_;
  Poco::AutoPtr<CapturedLog> log_;
};

TEST_F(UserKeyServiceTest, DepositedKeyIsFetchedBack) {
  const auto key = userKey(64, 1);
  ASSERT_TRUE(service_->depositUserKey(contextFor(kAlice), key, DepositMode::kCreateOnly).isOk());
  auto fetched = service_->fetchUserKey(contextFor(kAlice));
  ASSERT_TRUE(fetched) << fetched.status().toString();
  EXPECT_TRUE(*fetched == key);
}

TEST_F(UserKeyServiceTest, StoreHoldsAnEnvelopeNamingTheCurrentKeyNotThePlaintext) {
  const auto key = userKey(64, 1);
  ASSERT_TRUE(service_->depositUserKey(contextFor(kAlice), key, DepositMode::kCreateOnly).isOk());
  auto record = realStore_->get(kAlice);
  ASSERT_TRUE(record);
  EXPECT_EQ(record->wrappingKeyId, test::currentWrapKey().idHex());
  auto parsed = parseEnvelope(record->envelope);
  ASSERT_TRUE(parsed) << parsed.status().toString();
  EXPECT_EQ(parsed->wrappingKeyId, test::currentWrapKey().id());
  const std::string stored(record->envelope.begin(), record->envelope.end());
  const std::string plain(key.data(), key.data() + key.size());
  EXPECT_EQ(stored.find(plain), std::string::npos);
}

TEST_F(UserKeyServiceTest, FetchOfAUserWithoutKeyIsNotFound) {
  auto fetched = service_->fetchUserKey(contextFor(kBob));
  ASSERT_FALSE(fetched);
  EXPECT_EQ(fetched.status().code(), StatusCode::kNotFound);
}

TEST_F(UserKeyServiceTest, CreateOnlyTwiceIsAlreadyExistsAndKeepsTheFirstKey) {
  const auto first = userKey(64, 1);
  ASSERT_TRUE(service_->depositUserKey(contextFor(kAlice), first, DepositMode::kCreateOnly).isOk());
  Status second =
      service_->depositUserKey(contextFor(kAlice), userKey(64, 2), DepositMode::kCreateOnly);
  EXPECT_EQ(second.code(), StatusCode::kAlreadyExists);
  auto fetched = service_->fetchUserKey(contextFor(kAlice));
  ASSERT_TRUE(fetched);
  EXPECT_TRUE(*fetched == first);
}

TEST_F(UserKeyServiceTest, CreateOrReplaceCreatesThenReplacesTheKey) {
  ASSERT_TRUE(
      service_->depositUserKey(contextFor(kAlice), userKey(64, 1), DepositMode::kCreateOrReplace)
          .isOk());
  const auto replacement = userKey(80, 9);
  ASSERT_TRUE(
      service_->depositUserKey(contextFor(kAlice), replacement, DepositMode::kCreateOrReplace)
          .isOk());
  auto fetched = service_->fetchUserKey(contextFor(kAlice));
  ASSERT_TRUE(fetched);
  EXPECT_TRUE(*fetched == replacement);
  auto record = realStore_->get(kAlice);
  ASSERT_TRUE(record);
  EXPECT_EQ(record->revision, 2);
}

TEST_F(UserKeyServiceTest, KeysOutside16To512BytesAreRefusedAndTheBoundsAccepted) {
  EXPECT_EQ(
      service_->depositUserKey(contextFor(kAlice), userKey(15, 1), DepositMode::kCreateOrReplace)
          .code(),
      StatusCode::kInvalidArgument);
  EXPECT_EQ(
      service_->depositUserKey(contextFor(kAlice), userKey(513, 1), DepositMode::kCreateOrReplace)
          .code(),
      StatusCode::kInvalidArgument);
  EXPECT_EQ(
      service_->depositUserKey(contextFor(kAlice), SecretBytes(), DepositMode::kCreateOnly).code(),
      StatusCode::kInvalidArgument);
  EXPECT_EQ(service_->fetchUserKey(contextFor(kAlice)).status().code(), StatusCode::kNotFound);

  for (const std::size_t size : {std::size_t{16}, std::size_t{512}}) {
    const auto key = userKey(size, 5);
    ASSERT_TRUE(
        service_->depositUserKey(contextFor(kAlice), key, DepositMode::kCreateOrReplace).isOk());
    auto fetched = service_->fetchUserKey(contextFor(kAlice));
    ASSERT_TRUE(fetched);
    EXPECT_TRUE(*fetched == key);
  }
}

// A non-canonical id cannot reach the service (a UserId is canonical by construction); a
// context with no user at all is refused before the token or the store is asked anything.
TEST_F(UserKeyServiceTest, RequestNamingNoUserIsRefusedBeforeAnythingIsTouched) {
  const RequestContext nobody{.requestId = "req-nobody", .clientAddress = "127.0.0.1"};
  const Status deposited =
      service_->depositUserKey(nobody, userKey(32, 1), DepositMode::kCreateOrReplace);
  EXPECT_EQ(deposited.code(), StatusCode::kInvalidArgument);
  EXPECT_EQ(deposited.message(), "the request names no user");
  const auto fetched = service_->fetchUserKey(nobody);
  EXPECT_EQ(fetched.status().code(), StatusCode::kInvalidArgument);
  EXPECT_EQ(fetched.status().message(), "the request names no user");
  EXPECT_TRUE(observer_->tokenOperations.empty()) << "the token was asked";
  const auto counts = realStore_->countPerWrappingKey();
  ASSERT_TRUE(counts) << counts.status().toString();
  EXPECT_TRUE(counts->empty()) << "something was stored";
}

TEST_F(UserKeyServiceTest, SwappedRowsBetweenTwoUsersAreIntegrityFailuresAndReleaseNoKey) {
  const auto aliceKey = userKey(64, 1);
  const auto bobKey = userKey(64, 2);
  ASSERT_TRUE(
      service_->depositUserKey(contextFor(kAlice), aliceKey, DepositMode::kCreateOnly).isOk());
  ASSERT_TRUE(service_->depositUserKey(contextFor(kBob), bobKey, DepositMode::kCreateOnly).isOk());
  auto alice = realStore_->get(kAlice);
  auto bob = realStore_->get(kBob);
  ASSERT_TRUE(alice && bob);
  // Someone with write access to the database swaps the two rows' envelopes.
  ASSERT_TRUE(
      realStore_
          ->upsert(
              {.userId = kAlice, .envelope = bob->envelope, .wrappingKeyId = bob->wrappingKeyId})
          .isOk());
  ASSERT_TRUE(
      realStore_
          ->upsert(
              {.userId = kBob, .envelope = alice->envelope, .wrappingKeyId = alice->wrappingKeyId})
          .isOk());

  auto forAlice = service_->fetchUserKey(contextFor(kAlice, "req-alice"));
  auto forBob = service_->fetchUserKey(contextFor(kBob, "req-bob"));
  ASSERT_FALSE(forAlice);
  ASSERT_FALSE(forBob);
  EXPECT_EQ(forAlice.status().code(), StatusCode::kIntegrity);
  EXPECT_EQ(forBob.status().code(), StatusCode::kIntegrity);

  // Logged as integrity failures naming user and request, never with key material.
  const auto lines = log_->lines();
  bool aliceLogged = false;
  for (const auto& line : lines) {
    if (line.find("integrity failure") != std::string::npos &&
        line.find(kAlice.str()) != std::string::npos &&
        line.find("req-alice") != std::string::npos) {
      aliceLogged = true;
    }
    for (const auto* key : {&aliceKey, &bobKey}) {
      EXPECT_EQ(line.find(std::string(key->data(), key->data() + key->size())), std::string::npos);
    }
  }
  EXPECT_TRUE(aliceLogged) << "no integrity failure logged for Alice's request";
  // A failed fetch is not an access.
  auto record = realStore_->get(kAlice);
  ASSERT_TRUE(record);
  EXPECT_FALSE(record->lastAccessTime.has_value());
}

TEST_F(UserKeyServiceTest, FetchRecordsTheLastAccessTime) {
  ASSERT_TRUE(service_->depositUserKey(contextFor(kAlice), userKey(32, 1), DepositMode::kCreateOnly)
                  .isOk());
  auto before = realStore_->get(kAlice);
  ASSERT_TRUE(before);
  EXPECT_FALSE(before->lastAccessTime.has_value());
  const auto start = storage::storeNow();
  ASSERT_TRUE(service_->fetchUserKey(contextFor(kAlice)));
  auto after = realStore_->get(kAlice);
  ASSERT_TRUE(after);
  ASSERT_TRUE(after->lastAccessTime.has_value());
  EXPECT_GE(*after->lastAccessTime, start);
}

TEST_F(UserKeyServiceTest, HealthReportsTokenWrappingKeyAndDatabase) {
  auto report = service_->checkHealth();
  EXPECT_TRUE(report.healthy);
  ASSERT_EQ(report.components.size(), 3u);
  EXPECT_EQ(report.components[0].name, "token");
  EXPECT_EQ(report.components[1].name, "wrapping-key");
  EXPECT_EQ(report.components[2].name, "database");
  for (const auto& component : report.components) {
    EXPECT_TRUE(component.healthy) << component.name << ": " << component.detail;
  }
  EXPECT_NE(report.components[1].detail.find(test::currentWrapKey().idHex()), std::string::npos);
  EXPECT_NE(report.components[2].detail.find("sqlite"), std::string::npos);
}

TEST_F(UserKeyServiceTest, HealthIsUnhealthyWhenTheDatabaseDoesNotAnswer) {
  store_->down = true;
  auto report = service_->checkHealth();
  EXPECT_FALSE(report.healthy);
  ASSERT_EQ(report.components.size(), 3u);
  EXPECT_TRUE(report.components[0].healthy);
  EXPECT_TRUE(report.components[1].healthy);
  EXPECT_FALSE(report.components[2].healthy);
  EXPECT_NE(report.components[2].detail.find("UNAVAILABLE"), std::string::npos);
}

TEST_F(UserKeyServiceTest, ObserverSeesTokenOperationsAndRequests) {
  ASSERT_TRUE(service_->depositUserKey(contextFor(kAlice), userKey(32, 1), DepositMode::kCreateOnly)
                  .isOk());
  ASSERT_TRUE(service_->fetchUserKey(contextFor(kAlice)));
  EXPECT_FALSE(service_->fetchUserKey(contextFor(kBob)));
  std::lock_guard lock(observer_->mutex_);
  EXPECT_EQ(observer_->tokenOperations["wrap:ok"], 1);
  EXPECT_EQ(observer_->tokenOperations["unwrap:ok"], 1);
  ASSERT_EQ(observer_->keyOperations.size(), 3u);
  EXPECT_EQ(observer_->keyOperations[0], "deposit-create " + kAlice.str() + " OK");
  EXPECT_EQ(observer_->keyOperations[1], "fetch " + kAlice.str() + " OK");
  EXPECT_EQ(observer_->keyOperations[2], "fetch " + kBob.str() + " NOT_FOUND");
}

TEST_F(UserKeyServiceTest, ServesManyUsersFromManyThreadsAtOnce) {
  constexpr int kThreads = 4;
  constexpr int kUsersPerThread = 5;
  std::atomic<int> failures{0};
  std::vector<std::thread> threads;
  for (int t = 0; t < kThreads; ++t) {
    threads.emplace_back([&, t] {
      for (int u = 0; u < kUsersPerThread; ++u) {
        const UserId id = test::sequentialUserId(static_cast<std::uint64_t>(t * 100 + u));
        const auto key = userKey(48, static_cast<std::uint8_t>(t * 10 + u));
        if (!service_->depositUserKey(contextFor(id), key, DepositMode::kCreateOrReplace).isOk()) {
          ++failures;
          continue;
        }
        auto fetched = service_->fetchUserKey(contextFor(id));
        if (!fetched || !(*fetched == key)) ++failures;
      }
    });
  }
  for (auto& thread : threads) thread.join();
  EXPECT_EQ(failures.load(), 0);
}

}  // namespace
}  // namespace kc::appliance
