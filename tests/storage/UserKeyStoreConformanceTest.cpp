// The one conformance suite every back-end must pass: SQLite, PostgreSQL, MariaDB, and ODBC
// (through Debian's PostgreSQL and SQLite drivers).

#include <gtest/gtest.h>

#include <algorithm>
#include <atomic>
#include <optional>
#include <set>
#include <thread>

#include "StoreTargets.h"
#include "kc/storage/UserKeyStore.h"
#include "support/UserIds.h"

namespace kc::test {
namespace {

using storage::StoreConfig;
using storage::Timestamp;
using storage::UserKeyRecord;
using storage::UserKeyStore;
using storage::UserKeyWrite;

std::string text(const std::vector<std::uint8_t>& bytes) {
  return {bytes.begin(), bytes.end()};
}

std::string upperCase(std::string text) {
  std::transform(text.begin(), text.end(), text.begin(), ::toupper);
  return text;
}

Timestamp at(std::int64_t ms) {
  return Timestamp(std::chrono::milliseconds(ms));
}

class UserKeyStoreConformance : public ::testing::TestWithParam<StoreTarget> {
 protected:
  void SetUp() override {
    KC_REQUIRE_STORE(GetParam(), dir_, config_);
    store_ = open(config_);
    ASSERT_NE(store_, nullptr);
  }

  static std::unique_ptr<UserKeyStore> open(const StoreConfig& config) {
    auto store = storage::openUserKeyStore(config);
    EXPECT_TRUE(store.isOk()) << store.status().toString();
    return store.isOk() ? std::move(store).value() : nullptr;
  }

  UserKeyRecord mustGet(const UserId& userId) {
    auto record = store_->get(userId);
    EXPECT_TRUE(record.isOk()) << record.status().toString();
    return record.isOk() ? *record : UserKeyRecord{.userId = userId};
  }

  TempDir dir_{"kc-store"};
  StoreConfig config_;
  std::unique_ptr<UserKeyStore> store_;
};

TEST_P(UserKeyStoreConformance, GetOfUnknownUserIsNotFound) {
  const auto record = store_->get(userIdFor(1));
  ASSERT_FALSE(record.isOk());
  EXPECT_EQ(record.status().code(), StatusCode::kNotFound);
}

TEST_P(UserKeyStoreConformance, InsertedRecordReadsBackWithRevisionOneAndNoAccess) {
  const auto before = storage::storeNow();
  ASSERT_TRUE(store_->insert(writeFor(1, "wrap-1", "envelope-one")).isOk());
  const auto after = storage::storeNow();
  const auto record = mustGet(userIdFor(1));
  EXPECT_EQ(record.userId, userIdFor(1));
  EXPECT_EQ(text(record.envelope), "envelope-one");
  EXPECT_EQ(record.wrappingKeyId, "wrap-1");
  EXPECT_EQ(record.revision, 1);
  EXPECT_GE(record.creationTime, before);
  EXPECT_LE(record.creationTime, after);
  EXPECT_EQ(record.revisionTime, record.creationTime);
  EXPECT_FALSE(record.lastAccessTime.has_value());
}

TEST_P(UserKeyStoreConformance, EnvelopeBytesRoundTripExactly) {
  UserKeyWrite write = writeFor(2, "wrap-1", "");
  for (int i = 0; i < 1024; ++i) write.envelope.push_back(static_cast<std::uint8_t>(i * 7));
  write.envelope[0] = 0;  // a leading NUL must survive too
  ASSERT_TRUE(store_->insert(write).isOk());
  const auto stored = mustGet(write.userId).envelope;
  ASSERT_EQ(stored.size(), write.envelope.size());
  const auto mismatch = std::mismatch(stored.begin(), stored.end(), write.envelope.begin());
  EXPECT_TRUE(mismatch.first == stored.end())
      << "first difference at byte " << (mismatch.first - stored.begin());
}

TEST_P(UserKeyStoreConformance, InsertKeepsDatesGivenByAnImporter) {
  UserKeyWrite write = writeFor(3, "wrap-1", "imported");
  write.creationTime = at(1'500'000'000'123);
  write.revisionTime = at(1'600'000'000'456);
  write.lastAccessTime = at(1'700'000'000'789);
  ASSERT_TRUE(store_->insert(write).isOk());
  const auto record = mustGet(write.userId);
  EXPECT_EQ(record.creationTime, *write.creationTime);
  EXPECT_EQ(record.revisionTime, *write.revisionTime);
  EXPECT_EQ(record.lastAccessTime, write.lastAccessTime);
}

TEST_P(UserKeyStoreConformance, SecondInsertForOneUserIsAlreadyExistsAndKeepsTheFirst) {
  ASSERT_TRUE(store_->insert(writeFor(4, "wrap-1", "first")).isOk());
  const Status second = store_->insert(writeFor(4, "wrap-1", "second"));
  EXPECT_EQ(second.code(), StatusCode::kAlreadyExists) << second.toString();
  EXPECT_EQ(text(mustGet(userIdFor(4)).envelope), "first");
}

TEST_P(UserKeyStoreConformance, ConcurrentInsertsForOneUserHaveExactlyOneWinner) {
  constexpr int kUsers = 10;
  constexpr int kThreads = 4;
  std::vector<std::vector<Status>> results(kThreads);
  std::atomic<bool> go{false};
  std::vector<std::thread> threads;
  for (int t = 0; t < kThreads; ++t) {
    threads.emplace_back([&, t] {
      while (!go) std::this_thread::yield();
      for (int u = 0; u < kUsers; ++u) {
        results[t].push_back(store_->insert(writeFor(100 + u, "wrap-1", "t" + std::to_string(t))));
      }
    });
  }
  go = true;
  for (auto& thread : threads) thread.join();
  for (int u = 0; u < kUsers; ++u) {
    int winners = 0;
    int winner = -1;
    for (int t = 0; t < kThreads; ++t) {
      const Status& status = results[t][u];
      if (status.isOk()) {
        ++winners;
        winner = t;
      } else {
        EXPECT_EQ(status.code(), StatusCode::kAlreadyExists) << status.toString();
      }
    }
    EXPECT_EQ(winners, 1) << "user " << u;
    EXPECT_EQ(text(mustGet(userIdFor(100 + u)).envelope), "t" + std::to_string(winner));
  }
}

TEST_P(UserKeyStoreConformance, UpsertCreatesThenReplacesKeepingCreationAndAccessTimes) {
  ASSERT_TRUE(store_->upsert(writeFor(5, "wrap-1", "v1")).isOk());
  auto first = mustGet(userIdFor(5));
  EXPECT_EQ(first.revision, 1);
  ASSERT_TRUE(store_->recordAccess(userIdFor(5), at(1'700'000'000'000)).isOk());
  UserKeyWrite replacement = writeFor(5, "wrap-2", "v2");
  replacement.revisionTime = first.creationTime + std::chrono::seconds(5);
  ASSERT_TRUE(store_->upsert(replacement).isOk());
  const auto second = mustGet(userIdFor(5));
  EXPECT_EQ(text(second.envelope), "v2");
  EXPECT_EQ(second.wrappingKeyId, "wrap-2");
  EXPECT_EQ(second.revision, 2);
  EXPECT_EQ(second.creationTime, first.creationTime);
  EXPECT_EQ(second.revisionTime, *replacement.revisionTime);
  EXPECT_EQ(second.lastAccessTime, at(1'700'000'000'000));
}

TEST_P(UserKeyStoreConformance, ConcurrentUpsertsAreEachCountedInTheRevision) {
  constexpr int kThreads = 4;
  constexpr int kEach = 15;
  std::vector<std::thread> threads;
  std::atomic<int> failures{0};
  for (int t = 0; t < kThreads; ++t) {
    threads.emplace_back([&, t] {
      for (int i = 0; i < kEach; ++i) {
        const Status status = store_->upsert(writeFor(6, "wrap-1", "t" + std::to_string(t)));
        if (!status.isOk()) {
          ++failures;
          ADD_FAILURE() << status.toString();
        }
      }
    });
  }
  for (auto& thread : threads) thread.join();
  EXPECT_EQ(failures, 0);
  EXPECT_EQ(mustGet(userIdFor(6)).revision, kThreads * kEach);
}

TEST_P(UserKeyStoreConformance, ReplaceIfRevisionAppliesOnlyAtTheExpectedRevision) {
  ASSERT_TRUE(store_->insert(writeFor(7, "wrap-1", "v1")).isOk());
  const Status stale = store_->replaceIfRevision(writeFor(7, "wrap-2", "stale"), 2);
  EXPECT_EQ(stale.code(), StatusCode::kConflict) << stale.toString();
  EXPECT_EQ(text(mustGet(userIdFor(7)).envelope), "v1");
  ASSERT_TRUE(store_->replaceIfRevision(writeFor(7, "wrap-2", "v2"), 1).isOk());
  const auto record = mustGet(userIdFor(7));
  EXPECT_EQ(text(record.envelope), "v2");
  EXPECT_EQ(record.wrappingKeyId, "wrap-2");
  EXPECT_EQ(record.revision, 2);
  EXPECT_EQ(store_->replaceIfRevision(writeFor(7, "wrap-3", "v3"), 1).code(),
            StatusCode::kConflict);
}

TEST_P(UserKeyStoreConformance, ReplaceIfRevisionOfMissingUserIsNotFound) {
  const Status status = store_->replaceIfRevision(writeFor(8, "wrap-1", "x"), 1);
  EXPECT_EQ(status.code(), StatusCode::kNotFound) << status.toString();
  EXPECT_EQ(store_->get(userIdFor(8)).status().code(), StatusCode::kNotFound);
}

// A rotation (read, rewrap, compare-and-swap) racing with PUTs must never drop a PUT: the final
// envelope is the last PUT's, possibly rewrapped.
TEST_P(UserKeyStoreConformance, CompareAndSwapNeverOverwritesAConcurrentWriter) {
  const UserId user = userIdFor(9);
  ASSERT_TRUE(store_->insert(writeFor(9, "old", "put-0")).isOk());
  constexpr int kPuts = 40;
  std::atomic<bool> putsDone{false};
  std::atomic<int> swaps{0};
  std::thread rotator([&] {
    while (!putsDone) {
      auto record = store_->get(user);
      if (!record.isOk()) continue;
      UserKeyWrite rewrap{user, envelopeFor("rot:" + text(record->envelope)), "new", {}, {}, {}};
      const Status status = store_->replaceIfRevision(rewrap, record->revision);
      if (status.isOk()) {
        ++swaps;
      } else if (status.code() != StatusCode::kConflict) {
        ADD_FAILURE() << status.toString();
      }
    }
  });
  for (int i = 1; i <= kPuts; ++i) {
    ASSERT_TRUE(store_->upsert(writeFor(9, "old", "put-" + std::to_string(i))).isOk());
  }
  putsDone = true;
  rotator.join();
  const auto record = mustGet(user);
  std::string envelope = text(record.envelope);
  while (envelope.rfind("rot:", 0) == 0) envelope = envelope.substr(4);
  EXPECT_EQ(envelope, "put-" + std::to_string(kPuts));
  EXPECT_EQ(record.revision, 1 + kPuts + swaps.load());
}

TEST_P(UserKeyStoreConformance, RecordedAccessIsStoredAndNeverMovesBackwards) {
  ASSERT_TRUE(store_->insert(writeFor(10, "wrap-1", "x")).isOk());
  ASSERT_TRUE(store_->recordAccess(userIdFor(10), at(2'000'000'000'000)).isOk());
  ASSERT_TRUE(store_->recordAccess(userIdFor(10), at(1'000'000'000'000)).isOk());
  EXPECT_EQ(mustGet(userIdFor(10)).lastAccessTime, at(2'000'000'000'000));
  // Access of a user without a record is not an error: the key may just have been removed.
  EXPECT_TRUE(store_->recordAccess(userIdFor(11), at(1'000)).isOk());
}

TEST_P(UserKeyStoreConformance, CoalescedAccessTimesReachTheDatabaseOnFlush) {
  ASSERT_TRUE(store_->insert(writeFor(12, "wrap-1", "x")).isOk());
  StoreConfig buffered = config_;
  buffered.accessFlushInterval = std::chrono::hours(1);
  auto writer = open(buffered);
  ASSERT_NE(writer, nullptr);
  ASSERT_TRUE(writer->recordAccess(userIdFor(12), at(1'800'000'000'000)).isOk());
  // The writer sees its own pending access; another instance sees the database only.
  EXPECT_EQ(writer->get(userIdFor(12))->lastAccessTime, at(1'800'000'000'000));
  EXPECT_FALSE(mustGet(userIdFor(12)).lastAccessTime.has_value());
  ASSERT_TRUE(writer->flushAccessTimes().isOk());
  EXPECT_EQ(mustGet(userIdFor(12)).lastAccessTime, at(1'800'000'000'000));
}

TEST_P(UserKeyStoreConformance, ClosingTheStoreFlushesPendingAccessTimes) {
  ASSERT_TRUE(store_->insert(writeFor(13, "wrap-1", "x")).isOk());
  StoreConfig buffered = config_;
  buffered.accessFlushInterval = std::chrono::hours(1);
  {
    auto writer = open(buffered);
    ASSERT_NE(writer, nullptr);
    ASSERT_TRUE(writer->recordAccess(userIdFor(13), at(1'800'000'000'000)).isOk());
  }
  EXPECT_EQ(mustGet(userIdFor(13)).lastAccessTime, at(1'800'000'000'000));
}

TEST_P(UserKeyStoreConformance, PagingByWrappingKeyVisitsEachRecordOnceInAscendingOrder) {
  std::set<UserId> expectedA;
  for (int i = 0; i < 53; ++i) {
    ASSERT_TRUE(store_->insert(writeFor(200 + i, "key-A", "a")).isOk());
    expectedA.insert(userIdFor(200 + i));
  }
  for (int i = 0; i < 7; ++i) ASSERT_TRUE(store_->insert(writeFor(300 + i, "key-B", "b")).isOk());
  std::vector<UserId> seen;
  std::optional<UserId> after;
  for (;;) {
    auto page = store_->listByWrappingKey("key-A", after, 10);
    ASSERT_TRUE(page.isOk()) << page.status().toString();
    if (page->empty()) break;
    EXPECT_LE(page->size(), 10u);
    for (const auto& record : *page) {
      EXPECT_EQ(record.wrappingKeyId, "key-A");
      seen.push_back(record.userId);
    }
    after = page->back().userId;
  }
  EXPECT_TRUE(std::is_sorted(seen.begin(), seen.end()));
  EXPECT_EQ(std::set<UserId>(seen.begin(), seen.end()), expectedA);
  EXPECT_EQ(seen.size(), expectedA.size());
  EXPECT_EQ(*store_->countByWrappingKey("key-A"), 53);
  EXPECT_EQ(*store_->countByWrappingKey("key-none"), 0);
  const auto counts = store_->countPerWrappingKey();
  ASSERT_TRUE(counts.isOk()) << counts.status().toString();
  EXPECT_EQ(*counts, (std::map<std::string, std::int64_t>{{"key-A", 53}, {"key-B", 7}}));
}

TEST_P(UserKeyStoreConformance, PagingIsStableUnderConcurrentWrites) {
  constexpr int kOriginal = 150;
  std::vector<UserKeyWrite> writes;
  for (int i = 0; i < kOriginal; ++i) writes.push_back(writeFor(1000 + i, "key-A", "a"));
  ASSERT_TRUE(store_->insertMany(writes).isOk());
  std::atomic<bool> done{false};
  std::atomic<int> written{0};
  std::thread writer([&] {
    // New records under both keys, and PUTs that keep existing ones under key-A.
    for (int i = 0; !done && i < 2000; ++i) {
      EXPECT_TRUE(store_->insert(writeFor(5000 + i, i % 2 ? "key-A" : "key-B", "n")).isOk());
      EXPECT_TRUE(store_->upsert(writeFor(1000 + (i * 37) % kOriginal, "key-A", "put")).isOk());
      ++written;
    }
  });
  while (written < 10) std::this_thread::yield();  // the walk starts amid the writes
  std::vector<UserId> seen;
  std::optional<UserId> after;
  for (;;) {
    auto page = store_->listByWrappingKey("key-A", after, 7);
    ASSERT_TRUE(page.isOk()) << page.status().toString();
    if (page->empty()) break;
    for (const auto& record : *page) seen.push_back(record.userId);
    after = page->back().userId;
  }
  done = true;
  writer.join();
  EXPECT_TRUE(std::adjacent_find(seen.begin(), seen.end(), std::greater_equal<>()) == seen.end())
      << "pages overlap or go backwards";
  const std::set<UserId> seenSet(seen.begin(), seen.end());
  for (int i = 0; i < kOriginal; ++i) {
    EXPECT_EQ(seenSet.count(userIdFor(1000 + i)), 1u) << "record " << i << " missed";
  }
}

TEST_P(UserKeyStoreConformance, InsertManyIsAllOrNothing) {
  ASSERT_TRUE(store_->insert(writeFor(20, "wrap-1", "existing")).isOk());
  std::vector<UserKeyWrite> writes = {writeFor(21, "wrap-1", "a"), writeFor(20, "wrap-1", "b"),
                                      writeFor(22, "wrap-1", "c")};
  EXPECT_EQ(store_->insertMany(writes).code(), StatusCode::kAlreadyExists);
  EXPECT_EQ(store_->get(userIdFor(21)).status().code(), StatusCode::kNotFound);
  EXPECT_EQ(store_->get(userIdFor(22)).status().code(), StatusCode::kNotFound);
  EXPECT_EQ(text(mustGet(userIdFor(20)).envelope), "existing");
}

// insertMany writes a large batch as several multi-row statements: a conflict in a later one
// still leaves nothing of the earlier ones, and each row keeps its own values and dates.
TEST_P(UserKeyStoreConformance, InsertManyOfSeveralStatementsIsAllOrNothingAndKeepsEachRow) {
  ASSERT_TRUE(store_->insert(writeFor(2'230, "wrap-1", "existing")).isOk());
  std::vector<UserKeyWrite> writes;
  for (std::uint64_t i = 2'000; i < 2'250; ++i) {
    UserKeyWrite write = writeFor(i, i % 2 ? "wrap-odd" : "wrap-even", "row-" + std::to_string(i));
    write.creationTime = at(1'500'000'000'000 + static_cast<std::int64_t>(i));
    write.revisionTime = at(1'600'000'000'000 + static_cast<std::int64_t>(i));
    if (i % 3 == 0) write.lastAccessTime = at(1'700'000'000'000 + static_cast<std::int64_t>(i));
    writes.push_back(std::move(write));
  }
  EXPECT_EQ(store_->insertMany(writes).code(), StatusCode::kAlreadyExists);
  for (const std::uint64_t i : {2'000, 2'099, 2'100, 2'229, 2'249}) {
    EXPECT_EQ(store_->get(userIdFor(i)).status().code(), StatusCode::kNotFound) << i;
  }
  EXPECT_EQ(text(mustGet(userIdFor(2'230)).envelope), "existing");

  writes.erase(writes.begin() + 230);
  ASSERT_TRUE(store_->insertMany(writes).isOk());
  EXPECT_EQ(*store_->countByWrappingKey("wrap-odd") + *store_->countByWrappingKey("wrap-even"),
            249);
  for (const auto& write : writes) {
    const auto record = mustGet(write.userId);
    EXPECT_EQ(record.envelope, write.envelope) << write.userId.str();
    EXPECT_EQ(record.wrappingKeyId, write.wrappingKeyId) << write.userId.str();
    EXPECT_EQ(record.revision, 1);
    EXPECT_EQ(record.creationTime, *write.creationTime);
    EXPECT_EQ(record.revisionTime, *write.revisionTime);
    EXPECT_EQ(record.lastAccessTime, write.lastAccessTime) << write.userId.str();
  }
}

TEST_P(UserKeyStoreConformance, HundredThousandRecordsAreStoredPagedAndCounted) {
  constexpr int kRecords = 100'000;
  constexpr int kBatch = 5'000;
  for (int start = 0; start < kRecords; start += kBatch) {
    std::vector<UserKeyWrite> batch;
    for (int i = start; i < start + kBatch; ++i) {
      batch.push_back(writeFor(static_cast<std::uint64_t>(i), i % 4 ? "key-A" : "key-B",
                               "envelope-" + std::to_string(i)));
    }
    const Status status = store_->insertMany(batch);
    ASSERT_TRUE(status.isOk()) << status.toString();
  }
  EXPECT_EQ(*store_->countByWrappingKey("key-A"), kRecords * 3 / 4);
  EXPECT_EQ(*store_->countByWrappingKey("key-B"), kRecords / 4);
  std::size_t paged = 0;
  std::optional<UserId> after;
  for (;;) {
    auto page = store_->listByWrappingKey("key-B", after, 1000);
    ASSERT_TRUE(page.isOk()) << page.status().toString();
    if (page->empty()) break;
    paged += page->size();
    after = page->back().userId;
  }
  EXPECT_EQ(paged, static_cast<std::size_t>(kRecords / 4));
  for (const int i : {0, 1, 4'999, 50'000, 99'999}) {
    EXPECT_EQ(text(mustGet(userIdFor(static_cast<std::uint64_t>(i))).envelope),
              "envelope-" + std::to_string(i));
  }
}

// The store takes a UserId, which only parsing makes, so a malformed id never reaches the
// database; the spellings it used to refuse are ones UserId::parseCanonical refuses.
TEST(UserKeyStoreInput, MalformedUserIdsCannotBeMadeForTheStore) {
  const std::string valid = userIdFor(30).str();
  const std::string upper = upperCase(valid);
  for (const std::string& bad :
       {upper, "{" + valid + "}", valid.substr(1), valid + "0", std::string("' OR 1=1 --"),
        std::string(""), std::string("g0000000-0000-4000-8000-000000000000")}) {
    EXPECT_EQ(UserId::parseCanonical(bad).status().code(), StatusCode::kInvalidArgument) << bad;
  }
}

// Only an edit outside the store makes such a row; it is reported, never skipped or served.
TEST_P(UserKeyStoreConformance, RowWithMalformedUserIdIsAnInternalErrorNamingTheOperation) {
  ASSERT_TRUE(store_->insert(writeFor(32, "wrap-edited", "x")).isOk());
  const std::string valid = userIdFor(32).str();
  const std::string upper = upperCase(valid);
  executeSql(config_,
             "UPDATE kc_user_keys SET user_id = '" + upper + "' WHERE user_id = '" + valid + "'");
  const auto page = store_->listByWrappingKey("wrap-edited", std::nullopt, 10);
  ASSERT_FALSE(page.isOk());
  EXPECT_EQ(page.status().code(), StatusCode::kInternal) << page.status().toString();
  EXPECT_NE(page.status().message().find("list user keys by wrapping key"), std::string::npos)
      << page.status().message();
  EXPECT_NE(page.status().message().find(upper), std::string::npos) << page.status().message();
}

TEST_P(UserKeyStoreConformance, EmptyOrOversizedEnvelopeIsRejected) {
  EXPECT_EQ(store_->insert(writeFor(31, "wrap-1", "")).code(), StatusCode::kInvalidArgument);
  UserKeyWrite big = writeFor(31, "wrap-1", "");
  big.envelope.assign(storage::kMaxEnvelopeBytes + 1, 1);
  EXPECT_EQ(store_->upsert(big).code(), StatusCode::kInvalidArgument);
  EXPECT_EQ(store_->insert(writeFor(31, "", "x")).code(), StatusCode::kInvalidArgument);
}

TEST_P(UserKeyStoreConformance, PingAnswersAndReopeningKeepsRecords) {
  EXPECT_TRUE(store_->ping().isOk());
  ASSERT_TRUE(store_->insert(writeFor(40, "wrap-1", "kept")).isOk());
  store_.reset();
  store_ = open(config_);  // migrations find the schema current and do nothing
  ASSERT_NE(store_, nullptr);
  EXPECT_EQ(text(mustGet(userIdFor(40)).envelope), "kept");
}

INSTANTIATE_TEST_SUITE_P(AllBackends, UserKeyStoreConformance,
                         ::testing::ValuesIn(kAllStoreTargets), targetParamName);

}  // namespace
}  // namespace kc::test
