// The SQLite store's group commit (storage/src/GroupCommit.h): concurrent writes share one
// transaction and one commit, yet each gets its own result, a failing write undoes only itself,
// and a failed COMMIT fails every write of its batch. Commits are counted, stalled and failed by
// SQLite itself: a commit hook installed on every connection this process opens
// (sqlite3_auto_extension), outside the code under test.

#include <gtest/gtest.h>
#include <sqlite3.h>

#include <atomic>
#include <condition_variable>
#include <deque>
#include <filesystem>
#include <functional>
#include <mutex>
#include <thread>
#include <unordered_map>

#include "StoreTargets.h"
#include "kc/storage/UserKeyStore.h"

namespace kc::test {
namespace {

using storage::StoreConfig;
using storage::UserKeyStore;

// What the commit hook does to commits on one database file.
class CommitWatch {
 public:
  static CommitWatch& instance() {
    static CommitWatch watch;
    return watch;
  }

  // Watches `path` from now on: counts its commits, none stalled or failed.
  void watch(const std::string& path) {
    std::lock_guard lock(mutex_);
    path_ = path;
    commits_ = 0;
    changesPerCommit_.clear();
    lastTotal_.clear();
    stallNext_ = stalled_ = released_ = false;
    failNextBatch_ = false;
  }
  int commits() {
    std::lock_guard lock(mutex_);
    return commits_;
  }
  // Rows changed by each commit, in commit order (failed ones included).
  std::vector<int> changesPerCommit() {
    std::lock_guard lock(mutex_);
    return changesPerCommit_;
  }
  // The next commit waits in the hook, holding the write lock, until release().
  void stallNextCommit() {
    std::lock_guard lock(mutex_);
    stallNext_ = true;
  }
  // Blocks until a commit is stalled.
  void awaitStall() {
    std::unique_lock lock(mutex_);
    ASSERT_TRUE(changed_.wait_for(lock, std::chrono::seconds(30), [&] { return stalled_; }));
  }
  void release() {
    std::lock_guard lock(mutex_);
    released_ = true;
    changed_.notify_all();
  }
  // The next commit that changes more than one row is turned into a rollback.
  void failNextBatch() {
    std::lock_guard lock(mutex_);
    failNextBatch_ = true;
  }

  static void install() {
    static std::once_flag once;
    std::call_once(once, [] {
      ASSERT_EQ(sqlite3_auto_extension(reinterpret_cast<void (*)()>(&onOpen)), SQLITE_OK);
    });
  }

 private:
  static int onOpen(sqlite3* db, const char** /*error*/, const sqlite3_api_routines* /*api*/) {
    sqlite3_commit_hook(db, &onCommit, db);
    return SQLITE_OK;
  }

  // Non-zero turns the commit into a rollback (COMMIT fails with SQLITE_CONSTRAINT_COMMITHOOK).
  static int onCommit(void* context) {
    auto* db = static_cast<sqlite3*>(context);
    const char* file = sqlite3_db_filename(db, "main");
    return instance().committing(db, file == nullptr ? "" : file);
  }

  int committing(sqlite3* db, const std::string& file) {
    std::unique_lock lock(mutex_);
    if (path_.empty() || file != path_) return 0;
    const int total = sqlite3_total_changes(db);
    const int changes = total - lastTotal_[db];
    lastTotal_[db] = total;
    ++commits_;
    changesPerCommit_.push_back(changes);
    if (stallNext_) {
      stallNext_ = false;
      stalled_ = true;
      changed_.notify_all();
      changed_.wait_for(lock, std::chrono::seconds(30), [&] { return released_; });
    }
    if (failNextBatch_ && changes > 1) {
      failNextBatch_ = false;
      return 1;
    }
    return 0;
  }

  std::mutex mutex_;
  std::condition_variable changed_;
  std::string path_;
  int commits_ = 0;
  std::vector<int> changesPerCommit_;
  std::unordered_map<sqlite3*, int> lastTotal_;
  bool stallNext_ = false, stalled_ = false, released_ = false;
  bool failNextBatch_ = false;
};

class SqliteGroupCommit : public ::testing::Test {
 protected:
  void SetUp() override {
    CommitWatch::install();
    KC_REQUIRE_STORE(StoreTarget::kSqlite, dir_, config_);
    config_.poolSize = 8;
    config_.accessFlushInterval = std::chrono::milliseconds(0);
    store_ = open();
    ASSERT_NE(store_, nullptr);
    // Canonical: the hook compares it with the name SQLite reports.
    CommitWatch::instance().watch(std::filesystem::canonical(config_.sqlitePath).string());
  }
  void TearDown() override { CommitWatch::instance().watch(""); }

  std::unique_ptr<UserKeyStore> open() {
    auto store = storage::openUserKeyStore(config_);
    EXPECT_TRUE(store.isOk()) << store.status().toString();
    return store.isOk() ? std::move(store).value() : nullptr;
  }

  // Closes the store and opens the file again: what is read now was committed to the file.
  void reopen() {
    store_.reset();
    store_ = open();
    ASSERT_NE(store_, nullptr);
  }

  std::int64_t revisionOf(std::uint64_t n) {
    auto record = store_->get(userIdFor(n));
    EXPECT_TRUE(record.isOk()) << n << ": " << record.status().toString();
    return record.isOk() ? record->revision : -1;
  }

  // Runs `body` on `threads` threads at once and joins them.
  static void concurrently(int threads, const std::function<void(int)>& body) {
    std::vector<std::thread> running;
    running.reserve(static_cast<std::size_t>(threads));
    for (int t = 0; t < threads; ++t) running.emplace_back(body, t);
    for (auto& thread : running) thread.join();
  }

  TempDir dir_{"kc-group-commit"};
  StoreConfig config_;
  std::unique_ptr<UserKeyStore> store_;
};

constexpr int kThreads = 8;
constexpr int kRounds = 40;
constexpr std::uint64_t kExisting = 1;     // inserted before the run; inserting it again fails
constexpr std::uint64_t kUpserted = 2;     // every thread upserts it every round
constexpr std::uint64_t kSwapped = 3;      // every thread compare-and-swaps it every round
constexpr std::uint64_t kFresh = 100'000;  // kFresh + t * kRounds + round: inserted once

TEST_F(SqliteGroupCommit, ConcurrentWritersGetTheirOwnResultsAndEveryAcknowledgedWriteIsDurable) {
  for (const auto n : {kExisting, kUpserted, kSwapped}) {
    ASSERT_TRUE(store_->insert(writeFor(n, "wrap-1", "first")).isOk());
  }
  std::atomic<int> swaps = 0;
  std::atomic<int> wrongResults = 0;
  auto expect = [&](const Status& status, StatusCode code, const char* what) {
    if (status.code() != code) {
      ++wrongResults;
      ADD_FAILURE() << what << ": " << status.toString();
    }
  };
  concurrently(kThreads, [&](int t) {
    for (int round = 0; round < kRounds; ++round) {
      const auto fresh = kFresh + static_cast<std::uint64_t>(t * kRounds + round);
      expect(store_->insert(writeFor(fresh, "wrap-1", "fresh")), StatusCode::kOk, "fresh insert");
      expect(store_->insert(writeFor(kExisting, "wrap-1", "again")), StatusCode::kAlreadyExists,
             "second insert");
      expect(store_->upsert(writeFor(kUpserted, "wrap-1", "upsert")), StatusCode::kOk, "upsert");
      auto seen = store_->get(userIdFor(kSwapped));
      ASSERT_TRUE(seen.isOk()) << seen.status().toString();
      const Status swapped =
          store_->replaceIfRevision(writeFor(kSwapped, "wrap-1", "swap"), seen->revision);
      if (swapped.isOk()) {
        ++swaps;
      } else {
        expect(swapped, StatusCode::kConflict, "compare-and-swap");
      }
    }
  });
  EXPECT_EQ(wrongResults, 0);

  reopen();
  for (int t = 0; t < kThreads; ++t) {
    for (int round = 0; round < kRounds; ++round) {
      const auto fresh = kFresh + static_cast<std::uint64_t>(t * kRounds + round);
      EXPECT_EQ(revisionOf(fresh), 1) << "acknowledged insert " << fresh;
    }
  }
  const auto existing = store_->get(userIdFor(kExisting));
  ASSERT_TRUE(existing.isOk());
  EXPECT_EQ(existing->revision, 1);
  EXPECT_EQ(existing->envelope, envelopeFor("first"));
  // Every acknowledged replace is counted once in the revision, and no swap overwrote another.
  EXPECT_EQ(revisionOf(kUpserted), 1 + kThreads * kRounds);
  EXPECT_EQ(revisionOf(kSwapped), 1 + swaps);
  EXPECT_GE(swaps, 1);
}

TEST_F(SqliteGroupCommit, ConcurrentWritesShareCommits) {
  constexpr int kWrites = kThreads * kRounds;
  const int before = CommitWatch::instance().commits();
  concurrently(kThreads, [&](int t) {
    for (int round = 0; round < kRounds; ++round) {
      const auto n = kFresh + static_cast<std::uint64_t>(t * kRounds + round);
      ASSERT_TRUE(store_->upsert(writeFor(n, "wrap-1", "x")).isOk());
    }
  });
  const int commits = CommitWatch::instance().commits() - before;
  EXPECT_LT(commits, kWrites) << "each write committed alone";
  EXPECT_GT(commits, 0) << "the commit hook saw no commit: it does not watch the store's file";
  reopen();
  EXPECT_EQ(*store_->countByWrappingKey("wrap-1"), kWrites);
}

// Writers queued while the leader's commit is stalled in the hook land in the next batch.
class StalledBatch {
 public:
  explicit StalledBatch(UserKeyStore& store) : store_(store) {
    CommitWatch::instance().stallNextCommit();
    leader_ = std::thread([&] { leaderStatus_ = store_.insert(writeFor(10, "wrap-1", "lead")); });
    CommitWatch::instance().awaitStall();
  }
  // Starts `write` on a thread of its own; it queues behind the stalled commit.
  void queue(std::function<Status()> write) {
    results_.emplace_back();
    Status* result = &results_.back();
    writers_.emplace_back([result, write = std::move(write)] { *result = write(); });
  }
  // Lets the stalled commit finish and waits for every writer: their writes ran as one batch.
  std::deque<Status>& finish() {
    // Each writer is blocked in the store once queued; give them time to get there.
    std::this_thread::sleep_for(std::chrono::milliseconds(500));
    CommitWatch::instance().release();
    leader_.join();
    for (auto& writer : writers_) writer.join();
    return results_;
  }
  Status leaderStatus() const { return leaderStatus_; }

 private:
  UserKeyStore& store_;
  std::thread leader_;
  Status leaderStatus_;
  std::deque<Status> results_;
  std::vector<std::thread> writers_;
};

TEST_F(SqliteGroupCommit, OneFailingWriteInABatchFailsAloneAndTheOthersCommit) {
  ASSERT_TRUE(store_->insert(writeFor(kExisting, "wrap-1", "first")).isOk());
  ASSERT_TRUE(store_->insert(writeFor(kSwapped, "wrap-1", "first")).isOk());
  const int before = CommitWatch::instance().commits();
  StalledBatch batch(*store_);
  constexpr int kInserts = 4;
  for (int i = 0; i < kInserts; ++i) {
    batch.queue([&, i] { return store_->insert(writeFor(kFresh + i, "wrap-1", "fresh")); });
  }
  batch.queue([&] { return store_->insert(writeFor(kExisting, "wrap-1", "again")); });
  // Two swaps from revision 1 in one batch: the second sees the first and must lose.
  batch.queue([&] { return store_->replaceIfRevision(writeFor(kSwapped, "wrap-1", "a"), 1); });
  batch.queue([&] { return store_->replaceIfRevision(writeFor(kSwapped, "wrap-1", "b"), 1); });
  const auto& results = batch.finish();
  EXPECT_TRUE(batch.leaderStatus().isOk()) << batch.leaderStatus().toString();
  for (int i = 0; i < kInserts; ++i) EXPECT_TRUE(results[i].isOk()) << results[i].toString();
  EXPECT_EQ(results[kInserts].code(), StatusCode::kAlreadyExists) << results[kInserts].toString();
  const Status& swapA = results[kInserts + 1];
  const Status& swapB = results[kInserts + 2];
  EXPECT_TRUE(swapA.isOk() != swapB.isOk()) << swapA.toString() << " / " << swapB.toString();
  EXPECT_EQ((swapA.isOk() ? swapB : swapA).code(), StatusCode::kConflict);

  // The stalled commit, then one for everything queued behind it.
  EXPECT_EQ(CommitWatch::instance().commits() - before, 2);
  EXPECT_EQ(CommitWatch::instance().changesPerCommit().back(), kInserts + 1);
  reopen();
  for (int i = 0; i < kInserts; ++i) EXPECT_EQ(revisionOf(kFresh + i), 1);
  const auto existing = store_->get(userIdFor(kExisting));
  ASSERT_TRUE(existing.isOk());
  EXPECT_EQ(existing->envelope, envelopeFor("first"));
  const auto swapped = store_->get(userIdFor(kSwapped));
  ASSERT_TRUE(swapped.isOk());
  EXPECT_EQ(swapped->revision, 2);
  EXPECT_EQ(swapped->envelope, envelopeFor(swapA.isOk() ? "a" : "b"));
}

TEST_F(SqliteGroupCommit, BulkInsertInABatchIsAllOrNothingAndNamesTheUserThatExisted) {
  ASSERT_TRUE(store_->insert(writeFor(kExisting, "wrap-1", "first")).isOk());
  const int before = CommitWatch::instance().commits();
  StalledBatch batch(*store_);
  // The batch's transaction holds kFresh's row when kExisting fails: that row must be undone
  // before the store looks for the row that was there, or it would blame kFresh.
  const std::vector<storage::UserKeyWrite> failing = {writeFor(kFresh, "wrap-1", "bulk"),
                                                      writeFor(kExisting, "wrap-1", "bulk")};
  const std::vector<storage::UserKeyWrite> passing = {writeFor(kFresh + 1, "wrap-1", "bulk"),
                                                      writeFor(kFresh + 2, "wrap-1", "bulk")};
  batch.queue([&] { return store_->insertMany(failing); });
  batch.queue([&] { return store_->insertMany(passing); });
  batch.queue([&] { return store_->insert(writeFor(kFresh + 3, "wrap-1", "single")); });
  const auto& results = batch.finish();
  EXPECT_EQ(results[0].code(), StatusCode::kAlreadyExists) << results[0].toString();
  EXPECT_NE(results[0].message().find(userIdFor(kExisting).str()), std::string::npos)
      << results[0].toString();
  EXPECT_TRUE(results[1].isOk()) << results[1].toString();
  EXPECT_TRUE(results[2].isOk()) << results[2].toString();
  EXPECT_EQ(CommitWatch::instance().commits() - before, 2);

  reopen();
  EXPECT_EQ(store_->get(userIdFor(kFresh)).status().code(), StatusCode::kNotFound);
  for (const std::uint64_t n : {kFresh + 1, kFresh + 2, kFresh + 3}) EXPECT_EQ(revisionOf(n), 1);
}

TEST_F(SqliteGroupCommit, FailedCommitFailsEveryWriteOfItsBatchAndKeepsNoneOfIt) {
  CommitWatch::instance().failNextBatch();
  StalledBatch batch(*store_);
  constexpr int kInserts = 5;
  for (int i = 0; i < kInserts; ++i) {
    batch.queue([&, i] { return store_->insert(writeFor(kFresh + i, "wrap-1", "lost")); });
  }
  const auto& results = batch.finish();
  EXPECT_TRUE(batch.leaderStatus().isOk()) << batch.leaderStatus().toString();
  EXPECT_EQ(CommitWatch::instance().changesPerCommit().back(), kInserts);
  for (const auto& result : results) {
    EXPECT_EQ(result.code(), StatusCode::kInternal) << result.toString();
  }
  // The store goes on with a fresh session.
  EXPECT_TRUE(store_->insert(writeFor(kFresh + 100, "wrap-1", "after")).isOk());
  reopen();
  EXPECT_EQ(revisionOf(10), 1);
  for (int i = 0; i < kInserts; ++i) {
    EXPECT_EQ(store_->get(userIdFor(kFresh + i)).status().code(), StatusCode::kNotFound);
  }
  EXPECT_EQ(revisionOf(kFresh + 100), 1);
}

}  // namespace
}  // namespace kc::test
