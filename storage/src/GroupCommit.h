#pragma once
// Group commit for the SQLite store's writes. SQLite has one write lock per database file and a
// commit in WAL mode with synchronous=FULL pays one fsync; writers that each commit alone
// collide on the lock (and back off in SQLite's busy handler, which sleeps) and each pay their
// own sync. Here concurrent writers queue their writes instead; one of them at a time, the
// leader, takes everything queued (up to a cap), runs it in ONE transaction (BEGIN IMMEDIATE)
// on one pooled session, each write inside its own SAVEPOINT, and commits once. No extra thread:
// when a leader is done it hands leadership to a waiting writer.
//
// Guarantees: a write's Status is its own (a write that fails or throws is rolled back to its
// savepoint alone, the others of its batch commit); writes of one batch run in queue order, each
// seeing the ones before it; OK is returned only after the batch's COMMIT succeeded, and a failed
// COMMIT fails every write of the batch and discards the session.

#include <Poco/Data/Session.h>

#include <condition_variable>
#include <cstddef>
#include <deque>
#include <exception>
#include <functional>
#include <mutex>
#include <span>
#include <string_view>

#include "SessionPool.h"
#include "kc/Result.h"

namespace kc::storage {

class GroupCommit {
 public:
  // One write's statements, run inside the batch's transaction and the write's own savepoint.
  // A non-OK Status or an exception rolls this write back, and only this one.
  using Write = std::function<Status(Poco::Data::Session&)>;

  // How the store words its failures (redacted: no secret in any of them).
  struct Failures {
    // `operation` could not open a session: opening threw `error`.
    std::function<Status(std::string_view operation, const std::exception& error)> connect;
    // `operation` found no free session within the acquire timeout.
    std::function<Status(std::string_view operation)> noSession;
    // A statement of `operation`, or of its batch, threw `error`.
    std::function<Status(std::string_view operation, const std::exception& error)> statement;
  };

  GroupCommit(SessionPool& pool, Failures failures, std::size_t maxBatch);
  GroupCommit(const GroupCommit&) = delete;
  GroupCommit& operator=(const GroupCommit&) = delete;

  // Queues `write` (named `operation` in failures) and returns its Status once its batch has
  // committed or failed. OK means the write is durable.
  Status run(std::string_view operation, const Write& write);

 private:
  struct Pending {
    std::string_view operation;
    const Write* write;
    Status result;
    bool done = false;
  };

  // Runs `batch` in one transaction on a pooled session and sets each one's result (not
  // `done`).
  void execute(std::span<Pending* const> batch);
  // execute() on `session`; false when the session must not be reused (its transaction broke or
  // its COMMIT failed).
  bool transact(Poco::Data::Session& session, std::span<Pending* const> batch);
  static void rollBack(Poco::Data::Session& session) noexcept;
  // Runs one write inside its savepoint and sets its result. Returns the error when the
  // transaction itself broke (the savepoint could not be set or rolled back): the batch fails.
  std::exception_ptr executeOne(Poco::Data::Session& session, Pending& pending);
  // Fails every write of `batch` not failed already with `error`, a failure of the batch's
  // transaction (a write that failed alone keeps its own reason: it is rolled back either way).
  void failAll(std::span<Pending* const> batch, const std::exception& error);

  SessionPool& pool_;
  const Failures failures_;
  const std::size_t maxBatch_;

  std::mutex mutex_;
  std::condition_variable finished_;
  std::deque<Pending*> queue_;  // guarded by mutex_
  bool leading_ = false;        // guarded by mutex_: a leader is executing a batch
};

}  // namespace kc::storage
