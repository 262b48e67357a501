#pragma once
// The one UserKeyStore implementation: portable SQL through Poco::Data, with a Dialect for
// what differs between back-ends, a SessionPool, and an in-memory buffer that coalesces
// last-access times. On SQLite its writes go through a GroupCommit.

#include <condition_variable>
#include <mutex>
#include <stop_token>
#include <thread>
#include <unordered_map>

#include "Dialect.h"
#include "GroupCommit.h"
#include "SessionPool.h"
#include "kc/storage/Redactor.h"
#include "kc/storage/UserKeyStore.h"

namespace kc::storage {

class SqlUserKeyStore final : public UserKeyStore {
 public:
  SqlUserKeyStore(const StoreConfig& config, Dialect dialect, SessionPool::Opener opener);
  ~SqlUserKeyStore() override;

  Result<UserKeyRecord> get(const UserId& userId) override;
  Status insert(const UserKeyWrite& write) override;
  Status insertMany(std::span<const UserKeyWrite> writes) override;
  Status upsert(const UserKeyWrite& write) override;
  Status replaceIfRevision(const UserKeyWrite& write, std::int64_t expectedRevision) override;
  Status recordAccess(const UserId& userId, Timestamp when) override;
  Status flushAccessTimes() override;
  Result<std::vector<UserKeyRecord>> listByWrappingKey(std::string_view wrappingKeyId,
                                                       const std::optional<UserId>& afterUserId,
                                                       std::size_t limit) override;
  Result<std::int64_t> countByWrappingKey(std::string_view wrappingKeyId) override;
  Result<std::map<std::string, std::int64_t>> countPerWrappingKey() override;
  Status ping() override;
  std::string_view backendName() const override { return dialect_.name; }

  // Maps an exception thrown while opening a session to a Status (no secret in it).
  static Status connectFailure(std::string_view operation, const std::string& backend,
                               const Redactor& redactor, const std::exception& error);

 private:
  template <typename Body>
  Status withSession(std::string_view operation, Body&& body);
  // `operation` found no free session in time.
  Status noSession(std::string_view operation) const;
  // `operation` failed with `error`: kTimeout when SQLite stayed busy, else kInternal.
  Status statementError(std::string_view operation, const std::exception& error) const;
  // As statementError, and discards `lease`'s session; kUnavailable when it no longer answers.
  Status statementFailure(std::string_view operation, const std::exception& error,
                          SessionPool::Lease& lease);
  // Inserts `writes` inside a group commit's batch, all or none: kAlreadyExists naming the
  // first of them whose row exists (its message ending in `consequence`). Throws
  // Poco::Exception on any other failure.
  Status insertInBatch(Poco::Data::Session& session, std::span<const UserKeyWrite> writes,
                       std::string_view consequence);
  // `failure`, unless the row of one of `writes` exists after all (a racing insert won): then
  // kAlreadyExists naming that user, its message ending in `consequence`.
  Status alreadyExistsOr(Status failure, std::span<const UserKeyWrite> writes,
                         std::string_view consequence);
  enum class Replaced { kDone, kMissing, kOtherRevision };
  // Replaces the envelope and wrapping key of an existing row (revision + 1) if it exists and,
  // when `expectedRevision` is set, is at that revision. Throws Poco::Exception.
  Replaced replaceRow(Poco::Data::Session& session, const UserKeyWrite& write,
                      std::optional<std::int64_t> expectedRevision);
  Status writeAccessTimes(const std::unordered_map<std::string, std::int64_t>& batch);
  void runFlusher(const std::stop_token& stop);

  const StoreConfig config_;
  const Dialect dialect_;
  const Redactor redactor_;
  SessionPool pool_;
  std::optional<GroupCommit> groupCommit_;  // SQLite only

  std::mutex accessMutex_;
  std::condition_variable_any accessWake_;
  std::unordered_map<std::string, std::int64_t> pendingAccess_;  // user id -> ms since epoch
  std::jthread flusher_;  // last member: stopped and joined before the rest goes away
};

}  // namespace kc::storage
