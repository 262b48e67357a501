#include "SqlUserKeyStore.h"

#include <Poco/Data/DataException.h>
#include <Poco/Data/LOB.h>
#include <Poco/Data/SQLite/SQLiteException.h>
#include <Poco/Data/Statement.h>
#include <Poco/Logger.h>

#include <algorithm>

#include "kc/ThreadName.h"

namespace kc::storage {

using namespace Poco::Data::Keywords;
using Poco::Data::BLOB;
using Poco::Data::Session;
using Poco::Data::Statement;

namespace {

constexpr int kUpsertAttempts = 5;
// Writes per SQLite group commit: bounds how long one batch holds the database's write lock.
constexpr std::size_t kMaxWritesPerCommit = 64;
constexpr const char* kColumns =
    "user_id, envelope, wrapping_key_id, revision, created_ms, revised_ms, last_access_ms";

Poco::Int64 toMillis(Timestamp t) {
  return t.time_since_epoch().count();
}
Timestamp fromMillis(Poco::Int64 ms) {
  return Timestamp(std::chrono::milliseconds(ms));
}

Status checkWrappingKeyId(std::string_view id) {
  if (id.empty() || id.size() > kMaxWrappingKeyIdLength ||
      !std::all_of(id.begin(), id.end(), [](char c) { return c >= 0x20 && c < 0x7f; })) {
    return {StatusCode::kInvalidArgument, "wrapping-key id must be 1.." +
                                              std::to_string(kMaxWrappingKeyIdLength) +
                                              " printable ASCII characters"};
  }
  return Status::ok();
}

// The user id needs no check: a UserId is canonical by construction.
Status checkWrite(const UserKeyWrite& write) {
  if (write.envelope.empty() || write.envelope.size() > kMaxEnvelopeBytes) {
    return {StatusCode::kInvalidArgument, "envelope of " + std::to_string(write.envelope.size()) +
                                              " bytes is outside 1.." +
                                              std::to_string(kMaxEnvelopeBytes)};
  }
  return checkWrappingKeyId(write.wrappingKeyId);
}

// The columns of kColumns, extracted row by row into parallel vectors.
struct RecordRows {
  std::vector<std::string> userIds;
  std::vector<BLOB> envelopes;
  std::vector<std::string> wrappingKeyIds;
  std::vector<Poco::Int64> revisions, created, revised, accessed;

  void extractInto(Statement& statement) {
    statement, into(userIds), into(envelopes), into(wrappingKeyIds), into(revisions), into(created),
        into(revised), into(accessed);
  }

  // The rows as records. INTERNAL naming `operation` if a row's user id is not canonical: the
  // store writes only canonical ids, so someone edited the database, and a row is never
  // silently skipped.
  Result<std::vector<UserKeyRecord>> records(std::string_view operation) const {
    std::vector<UserKeyRecord> out;
    out.reserve(userIds.size());
    for (std::size_t i = 0; i < userIds.size(); ++i) {
      auto userId = UserId::parseCanonical(userIds[i]);
      if (!userId) {
        return Status{StatusCode::kInternal,
                      std::string(operation) +
                          ": the database holds a malformed row: " + userId.status().message()};
      }
      out.push_back(UserKeyRecord{
          .userId = std::move(userId).value(),
          .envelope = envelopes[i].content(),
          .wrappingKeyId = wrappingKeyIds[i],
          .revision = revisions[i],
          .creationTime = fromMillis(created[i]),
          .revisionTime = fromMillis(revised[i]),
          .lastAccessTime = accessed[i] > 0 ? std::optional(fromMillis(accessed[i])) : std::nullopt,
      });
    }
    return out;
  }
};

bool exists(Session& session, const Dialect& dialect, const UserId& userId) {
  Poco::Int64 count = 0;
  session << dialect.sql("SELECT COUNT(*) FROM kc_user_keys WHERE user_id = ?"), bind(userId.str()),
      into(count), now;
  return count > 0;
}

// Rows per INSERT of insertRows: 7 parameters each, far below every back-end's limit on
// parameters per statement (SQLite's is 32766), and a round trip to a remote database per
// this many rows rather than per row.
constexpr std::size_t kRowsPerInsert = 100;

// Inserts `writes` (revision 1; times left empty become `at`) as multi-row INSERTs; all or, on
// an error, none of a statement's rows are inserted (the caller's transaction decides about the
// earlier ones).
void insertRows(Session& session, const Dialect& dialect, std::span<const UserKeyWrite> writes,
                Timestamp at) {
  std::string sql;
  std::size_t sqlRows = 0;
  for (std::size_t first = 0; first < writes.size(); first += kRowsPerInsert) {
    const auto rows = writes.subspan(first, std::min(kRowsPerInsert, writes.size() - first));
    if (rows.size() != sqlRows) {
      std::string text = std::string("INSERT INTO kc_user_keys (") + kColumns + ") VALUES ";
      for (std::size_t i = 0; i < rows.size(); ++i) {
        text += i == 0 ? "(?, ?, ?, 1, ?, ?, ?)" : ", (?, ?, ?, 1, ?, ?, ?)";
      }
      sql = dialect.sql(text);
      sqlRows = rows.size();
    }
    Statement statement(session);
    statement << sql;
    for (const auto& write : rows) {
      statement, bind(write.userId.str()), bind(BLOB(write.envelope)), bind(write.wrappingKeyId),
          bind(toMillis(write.creationTime.value_or(at))),
          bind(toMillis(write.revisionTime.value_or(at))),
          bind(write.lastAccessTime ? toMillis(*write.lastAccessTime) : Poco::Int64{0});
    }
    statement.execute();
  }
}

// One transaction on a session: rolled back unless committed. Poco's ODBC connector starts
// transactions only with autocommit off, so it is switched off for the transaction's lifetime.
class SqlTransaction {
 public:
  SqlTransaction(Session& session, const Dialect& dialect)
      : session_(session), manualCommit_(dialect.connector == "odbc") {
    if (manualCommit_) session_.setFeature("autoCommit", false);
    session_.begin();
  }
  ~SqlTransaction() {
    try {
      if (!committed_) session_.rollback();
      if (manualCommit_) session_.setFeature("autoCommit", true);
    } catch (...) {
      // A broken session: the caller reports the failure that got us here and discards it.
    }
  }
  SqlTransaction(const SqlTransaction&) = delete;
  SqlTransaction& operator=(const SqlTransaction&) = delete;

  void commit() {
    session_.commit();
    committed_ = true;
  }

 private:
  Session& session_;
  const bool manualCommit_;
  bool committed_ = false;
};

bool isSqliteBusy(const std::exception& error) {
  return dynamic_cast<const Poco::Data::SQLite::DBLockedException*>(&error) != nullptr ||
         dynamic_cast<const Poco::Data::SQLite::TableLockedException*>(&error) != nullptr;
}

std::string describe(const std::exception& error, const Redactor& redactor) {
  const auto* poco = dynamic_cast<const Poco::Exception*>(&error);
  std::string text = poco ? poco->displayText() : error.what();
  // Drivers end messages with newlines and pad them; one line reads better in a log.
  std::replace(text.begin(), text.end(), '\n', ' ');
  while (!text.empty() && text.back() == ' ') text.pop_back();
  return redactor.redact(std::move(text));
}

}  // namespace

SqlUserKeyStore::SqlUserKeyStore(const StoreConfig& config, Dialect dialect,
                                 SessionPool::Opener opener)
    : config_(config),
      dialect_(std::move(dialect)),
      redactor_(config.connectionString),
      pool_(std::move(opener), config.poolSize, config.acquireTimeout, config.validateAfterIdle) {
  if (dialect_.connector == "sqlite") {
    // The client-server back-ends (and ODBC) keep a transaction per request: their servers
    // group-commit concurrent transactions themselves.
    groupCommit_.emplace(
        pool_,
        GroupCommit::Failures{
            .connect =
                [this](std::string_view operation, const std::exception& error) {
                  return connectFailure(operation, dialect_.name, redactor_, error);
                },
            .noSession = [this](std::string_view operation) { return noSession(operation); },
            .statement =
                [this](std::string_view operation, const std::exception& error) {
                  return statementError(operation, error);
                }},
        kMaxWritesPerCommit);
  }
  if (config_.accessFlushInterval.count() > 0) {
    flusher_ = std::jthread([this](const std::stop_token& stop) {
      nameThisThread("kc-access-time");
      runFlusher(stop);
    });
  }
}

SqlUserKeyStore::~SqlUserKeyStore() {
  if (flusher_.joinable()) {
    flusher_.request_stop();
    flusher_.join();
  }
  const Status flushed = flushAccessTimes();
  if (!flushed.isOk()) {
    Poco::Logger::get("kc.storage")
        .warning("storage: last-access times lost at close: %s", flushed.toString());
  }
}

Status SqlUserKeyStore::connectFailure(std::string_view operation, const std::string& backend,
                                       const Redactor& redactor, const std::exception& error) {
  return {StatusCode::kUnavailable, std::string(operation) + ": cannot connect to the " + backend +
                                        " database; retry later (" + describe(error, redactor) +
                                        ")"};
}

Status SqlUserKeyStore::noSession(std::string_view operation) const {
  return {StatusCode::kUnavailable, std::string(operation) +
                                        ": no database session became free within " +
                                        std::to_string(config_.acquireTimeout.count()) + " ms"};
}

Status SqlUserKeyStore::statementError(std::string_view operation,
                                       const std::exception& error) const {
  const std::string detail = describe(error, redactor_);
  if (isSqliteBusy(error)) {
    return {StatusCode::kTimeout,
            std::string(operation) + ": the SQLite database stayed locked by another connection " +
                "for longer than the busy timeout of " +
                std::to_string(config_.busyTimeout.count()) + " ms (" + detail + ")"};
  }
  return {StatusCode::kInternal,
          std::string(operation) + " failed on " + dialect_.name + ": " + detail};
}

Status SqlUserKeyStore::statementFailure(std::string_view operation, const std::exception& error,
                                         SessionPool::Lease& lease) {
  // A driver's state after an error is its own business: a driver may keep the failed
  // statement's read snapshot open, so the session would go on answering from the past.
  lease.discard();
  if (!isSqliteBusy(error) && !SessionPool::answers(lease.session())) {
    // The connection is gone, and the idle ones most likely with it.
    pool_.discardIdle();
    return {StatusCode::kUnavailable, std::string(operation) + ": lost the connection to the " +
                                          dialect_.name + " database; retry later (" +
                                          describe(error, redactor_) + ")"};
  }
  return statementError(operation, error);
}

template <typename Body>
Status SqlUserKeyStore::withSession(std::string_view operation, Body&& body) {
  std::optional<SessionPool::Lease> lease;
  try {
    lease = pool_.acquire();
  } catch (const std::exception& error) {
    return connectFailure(operation, dialect_.name, redactor_, error);
  }
  if (!lease) return noSession(operation);
  try {
    return body(lease->session());
  } catch (const std::exception& error) {
    return statementFailure(operation, error, *lease);
  }
}

Result<UserKeyRecord> SqlUserKeyStore::get(const UserId& userId) {
  constexpr std::string_view kOperation = "get user key";
  const std::string& id = userId.str();
  RecordRows rows;
  KC_RETURN_IF_ERROR(withSession(kOperation, [&](Session& session) {
    Statement statement(session);
    statement << dialect_.sql(std::string("SELECT ") + kColumns +
                              " FROM kc_user_keys WHERE user_id = ?"),
        bind(id);
    rows.extractInto(statement);
    statement.execute();
    return Status::ok();
  }));
  if (rows.userIds.empty()) {
    return Status{StatusCode::kNotFound, "no key stored for user " + id};
  }
  auto records = rows.records(kOperation);
  if (!records) return records.status();
  UserKeyRecord record = std::move(records->front());
  std::lock_guard lock(accessMutex_);
  if (const auto pending = pendingAccess_.find(id); pending != pendingAccess_.end()) {
    const Timestamp when = fromMillis(pending->second);
    if (!record.lastAccessTime || *record.lastAccessTime < when) record.lastAccessTime = when;
  }
  return record;
}

Status SqlUserKeyStore::alreadyExistsOr(Status failure, std::span<const UserKeyWrite> writes,
                                        std::string_view consequence) {
  // The primary key decides between racing inserts; the loser finds the winner's row. It asks on
  // another session, as the failed one was discarded.
  const UserId* existing = nullptr;
  const Status asked =
      withSession("look up user keys after a failed insert", [&](Session& session) {
        for (const auto& write : writes) {
          if (exists(session, dialect_, write.userId)) {
            existing = &write.userId;
            break;
          }
        }
        return Status::ok();
      });
  if (!asked.isOk() || existing == nullptr) return failure;
  return Status{StatusCode::kAlreadyExists,
                "user " + existing->str() + " already has a key" + std::string(consequence)};
}

Status SqlUserKeyStore::insertInBatch(Session& session, std::span<const UserKeyWrite> writes,
                                      std::string_view consequence) {
  const Timestamp at = storeNow();
  try {
    session << "SAVEPOINT kc_insert", now;
    insertRows(session, dialect_, writes, at);
    session << "RELEASE kc_insert", now;
    return Status::ok();
  } catch (const Poco::Exception&) {
    // Undo this write's own rows first, so the check below finds only rows written before it.
    session << "ROLLBACK TO kc_insert", now;
    session << "RELEASE kc_insert", now;
    // The batch holds the write lock and sees its own uncommitted rows: the primary key's
    // verdict is final, so there is no race to retry.
    for (const auto& write : writes) {
      if (exists(session, dialect_, write.userId)) {
        return Status{
            StatusCode::kAlreadyExists,
            "user " + write.userId.str() + " already has a key" + std::string(consequence)};
      }
    }
    throw;
  }
}

Status SqlUserKeyStore::insert(const UserKeyWrite& write) {
  KC_RETURN_IF_ERROR(checkWrite(write));
  if (groupCommit_) {
    return groupCommit_->run("insert user key", [&](Session& session) {
      return insertInBatch(session, {&write, 1}, "");
    });
  }
  Status inserted = withSession("insert user key", [&](Session& session) {
    insertRows(session, dialect_, {&write, 1}, storeNow());
    return Status::ok();
  });
  if (inserted.isOk()) return inserted;
  return alreadyExistsOr(std::move(inserted), {&write, 1}, "");
}

Status SqlUserKeyStore::insertMany(std::span<const UserKeyWrite> writes) {
  for (const auto& write : writes) KC_RETURN_IF_ERROR(checkWrite(write));
  if (writes.empty()) return Status::ok();
  if (groupCommit_) {
    return groupCommit_->run("insert user keys in bulk", [&](Session& session) {
      return insertInBatch(session, writes, "; nothing was inserted");
    });
  }
  Status inserted = withSession("insert user keys in bulk", [&](Session& session) {
    const Timestamp at = storeNow();
    SqlTransaction transaction(session, dialect_);
    insertRows(session, dialect_, writes, at);
    transaction.commit();
    return Status::ok();
  });
  if (inserted.isOk()) return inserted;
  return alreadyExistsOr(std::move(inserted), writes, "; nothing was inserted");
}

SqlUserKeyStore::Replaced SqlUserKeyStore::replaceRow(
    Session& session, const UserKeyWrite& write, std::optional<std::int64_t> expectedRevision) {
  const Poco::Int64 revised = toMillis(write.revisionTime.value_or(storeNow()));
  auto update = [&](Statement& statement, bool guarded) {
    statement << dialect_.sql(
        std::string("UPDATE kc_user_keys SET envelope = ?, wrapping_key_id = ?, "
                    "revision = revision + 1, revised_ms = ? WHERE user_id = ?") +
        (guarded ? " AND revision = ?" : "")),
        bind(BLOB(write.envelope)), bind(write.wrappingKeyId), bind(revised),
        bind(write.userId.str());
    if (guarded) statement, bind(static_cast<Poco::Int64>(*expectedRevision));
  };
  if (dialect_.reportsAffectedRows) {
    Statement statement(session);
    update(statement, expectedRevision.has_value());
    if (statement.execute() > 0) return Replaced::kDone;
    if (!expectedRevision) return Replaced::kMissing;
    return exists(session, dialect_, write.userId) ? Replaced::kOtherRevision : Replaced::kMissing;
  }
  // No row count to trust: lock the row with a no-op update, read its revision, then decide.
  // The lock holds until commit, so no writer slips in between the read and the update.
  SqlTransaction transaction(session, dialect_);
  session << dialect_.sql("UPDATE kc_user_keys SET revision = revision WHERE user_id = ?"),
      bind(write.userId.str()), now;
  std::vector<Poco::Int64> revisions;
  session << dialect_.sql("SELECT revision FROM kc_user_keys WHERE user_id = ?"),
      bind(write.userId.str()), into(revisions), now;
  Replaced outcome = Replaced::kDone;
  if (revisions.empty()) {
    outcome = Replaced::kMissing;
  } else if (expectedRevision && revisions.front() != *expectedRevision) {
    outcome = Replaced::kOtherRevision;
  } else {
    Statement statement(session);
    update(statement, false);
    statement.execute();
  }
  transaction.commit();
  return outcome;
}

Status SqlUserKeyStore::upsert(const UserKeyWrite& write) {
  KC_RETURN_IF_ERROR(checkWrite(write));
  if (groupCommit_) {
    // The batch holds the write lock: nobody can insert between the replace and the insert.
    return groupCommit_->run("upsert user key", [&](Session& session) {
      if (replaceRow(session, write, std::nullopt) != Replaced::kDone) {
        insertRows(session, dialect_, {&write, 1}, storeNow());
      }
      return Status::ok();
    });
  }
  // Replace, else insert, else (an insert raced us) replace again: each step is atomic on its
  // own, which works the same on every back-end without a dialect's MERGE or ON CONFLICT.
  for (int attempt = 0; attempt < kUpsertAttempts; ++attempt) {
    bool inserting = false;
    Status written = withSession("upsert user key", [&](Session& session) {
      if (replaceRow(session, write, std::nullopt) != Replaced::kDone) {
        inserting = true;
        insertRows(session, dialect_, {&write, 1}, storeNow());
      }
      return Status::ok();
    });
    if (written.isOk() || !inserting) return written;
    written = alreadyExistsOr(std::move(written), {&write, 1}, "");
    if (written.code() != StatusCode::kAlreadyExists) return written;
  }
  return Status{StatusCode::kConflict,
                "upsert for user " + write.userId.str() + " kept racing with concurrent writers"};
}

Status SqlUserKeyStore::replaceIfRevision(const UserKeyWrite& write,
                                          std::int64_t expectedRevision) {
  KC_RETURN_IF_ERROR(checkWrite(write));
  constexpr std::string_view kOperation = "replace user key if revision matches";
  auto replace = [&](Session& session) {
    switch (replaceRow(session, write, expectedRevision)) {
      case Replaced::kDone:
        return Status::ok();
      case Replaced::kMissing:
        return Status{StatusCode::kNotFound, "no key stored for user " + write.userId.str()};
      case Replaced::kOtherRevision:
        break;
    }
    return Status{StatusCode::kConflict, "user " + write.userId.str() +
                                             "'s key is no longer at revision " +
                                             std::to_string(expectedRevision)};
  };
  // In a group commit, writes of one user earlier in the batch are visible to the comparison.
  if (groupCommit_) return groupCommit_->run(kOperation, replace);
  return withSession(kOperation, replace);
}

Status SqlUserKeyStore::recordAccess(const UserId& userId, Timestamp when) {
  std::unordered_map<std::string, std::int64_t> single;
  {
    std::lock_guard lock(accessMutex_);
    if (config_.accessFlushInterval.count() > 0) {
      auto [it, added] = pendingAccess_.try_emplace(userId.str(), toMillis(when));
      if (!added) it->second = std::max(it->second, toMillis(when));
      if (pendingAccess_.size() >= config_.accessFlushMaxPending) accessWake_.notify_one();
      return Status::ok();
    }
  }
  single.emplace(userId.str(), toMillis(when));
  return writeAccessTimes(single);
}

Status SqlUserKeyStore::flushAccessTimes() {
  std::unordered_map<std::string, std::int64_t> batch;
  {
    std::lock_guard lock(accessMutex_);
    batch.swap(pendingAccess_);
  }
  if (batch.empty()) return Status::ok();
  Status status = writeAccessTimes(batch);
  if (!status.isOk()) {
    // Keep them for the next flush; newer accesses recorded meanwhile win.
    std::lock_guard lock(accessMutex_);
    for (const auto& [id, ms] : batch) {
      auto [it, added] = pendingAccess_.try_emplace(id, ms);
      if (!added) it->second = std::max(it->second, ms);
    }
  }
  return status;
}

Status SqlUserKeyStore::writeAccessTimes(
    const std::unordered_map<std::string, std::int64_t>& batch) {
  constexpr std::string_view kOperation = "record last-access times";
  auto update = [&](Session& session) {
    for (const auto& [id, ms] : batch) {
      const Poco::Int64 when = ms;
      session << dialect_.sql(
          "UPDATE kc_user_keys SET last_access_ms = ? "
          "WHERE user_id = ? AND last_access_ms < ?"),
          bind(when), bind(id), bind(when), now;
    }
    return Status::ok();
  };
  if (groupCommit_) return groupCommit_->run(kOperation, update);
  return withSession(kOperation, [&](Session& session) {
    SqlTransaction transaction(session, dialect_);
    KC_RETURN_IF_ERROR(update(session));
    transaction.commit();
    return Status::ok();
  });
}

void SqlUserKeyStore::runFlusher(const std::stop_token& stop) {
  auto& log = Poco::Logger::get("kc.storage");
  while (!stop.stop_requested()) {
    {
      std::unique_lock lock(accessMutex_);
      accessWake_.wait_for(lock, stop, config_.accessFlushInterval,
                           [&] { return pendingAccess_.size() >= config_.accessFlushMaxPending; });
    }
    if (stop.stop_requested()) return;  // the destructor flushes
    const Status flushed = flushAccessTimes();
    if (!flushed.isOk()) {
      log.warning("storage: could not write last-access times, will retry: %s", flushed.toString());
    }
  }
}

Result<std::vector<UserKeyRecord>> SqlUserKeyStore::listByWrappingKey(
    std::string_view wrappingKeyId, const std::optional<UserId>& afterUserId, std::size_t limit) {
  constexpr std::string_view kOperation = "list user keys by wrapping key";
  KC_RETURN_IF_ERROR(checkWrappingKeyId(wrappingKeyId));
  if (limit == 0) return std::vector<UserKeyRecord>{};
  // Every canonical id sorts after the empty string, so "from the start" needs no other query.
  const std::string after = afterUserId ? afterUserId->str() : std::string();
  RecordRows rows;
  KC_RETURN_IF_ERROR(withSession(kOperation, [&](Session& session) {
    Statement statement(session);
    statement << dialect_.sql(std::string("SELECT ") + kColumns +
                              " FROM kc_user_keys WHERE wrapping_key_id = ? AND user_id > ? "
                              "ORDER BY user_id " +
                              dialect_.pageClause),
        bind(std::string(wrappingKeyId)), bind(after), bind(static_cast<Poco::Int64>(limit));
    rows.extractInto(statement);
    statement.execute();
    return Status::ok();
  }));
  return rows.records(kOperation);
}

Result<std::int64_t> SqlUserKeyStore::countByWrappingKey(std::string_view wrappingKeyId) {
  KC_RETURN_IF_ERROR(checkWrappingKeyId(wrappingKeyId));
  Poco::Int64 count = 0;
  KC_RETURN_IF_ERROR(withSession("count user keys", [&](Session& session) {
    session << dialect_.sql("SELECT COUNT(*) FROM kc_user_keys WHERE wrapping_key_id = ?"),
        bind(std::string(wrappingKeyId)), into(count), now;
    return Status::ok();
  }));
  return static_cast<std::int64_t>(count);
}

Result<std::map<std::string, std::int64_t>> SqlUserKeyStore::countPerWrappingKey() {
  std::vector<std::string> keys;
  std::vector<Poco::Int64> counts;
  KC_RETURN_IF_ERROR(withSession("count user keys per wrapping key", [&](Session& session) {
    session << "SELECT wrapping_key_id, COUNT(*) FROM kc_user_keys GROUP BY wrapping_key_id",
        into(keys), into(counts), now;
    return Status::ok();
  }));
  std::map<std::string, std::int64_t> out;
  for (std::size_t i = 0; i < keys.size() && i < counts.size(); ++i) out[keys[i]] = counts[i];
  return out;
}

Status SqlUserKeyStore::ping() {
  return withSession("ping the database", [&](Session& session) {
    int one = 0;
    session << "SELECT 1", into(one), now;
    if (one != 1) return Status{StatusCode::kInternal, "ping: unexpected answer"};
    return Status::ok();
  });
}

}  // namespace kc::storage
