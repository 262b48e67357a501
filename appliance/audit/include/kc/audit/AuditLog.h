#pragma once
// The daemon's tamper-evident audit log: a hash chain of JSON lines (AuditRecord.h), made
// durable before append() returns, sealed by checkpoints signed on the token.
//
// Durability (fail closed): append() returns OK only after the record's line has been
// written and fdatasync'ed. The daemon releases a key only after an OK append. Appends of
// many threads are group-committed: one writer thread takes every pending record, writes
// them, calls fdatasync once and then wakes all their callers. appendStarted() starts the
// same write without waiting, so a caller can work while the sync runs and wait for it
// later; appendDeferred() queues records nobody waits for, made durable with the next batch
// (or within kDeferredDelay, or at close) so they cost no sync of their own.
//
// Failure: when a write or fdatasync fails (full disk, read-only file, I/O error) the
// records of that batch are refused with UNAVAILABLE, healthy() turns false, and the log
// retries (reopening the file) on the next append and about once a second by itself. The
// file is first truncated back to the end of the last durable record, so bytes of records
// that were never confirmed (a partial line included) are removed, never left unmarked;
// the chain then continues with a "log.recovery" record that says what happened.
//
// Files: the active file is <directory>/audit.log. When it reaches `rotateBytes` it is
// sealed with a checkpoint and renamed audit-<instance>-<UTC time>-<last seq>.log; the
// chain continues in a new audit.log. At open, an audit.log whose last record belongs to
// this instance is continued (a partial last line, from a crash, is cut off and the cut
// recorded); one of another instance is renamed like a rotated file first. Without an
// audit.log of this instance the chain continues from its newest rotated file, so one
// instance has one chain across restarts and rotations. When a rotation
// fails (the rename, say), the records already confirmed stay confirmed in audit.log; the
// log turns unhealthy and recovers as above, continuing audit.log, and rotates again after
// the next batch.
//
// Archiving: with an archive command, each rotated file is handed to it off the append path
// and retried until it succeeds (AuditArchiver.h); nothing is ever deleted.
//
// Every file operation goes through an AuditFileSystem (AuditFileSystem.h): the real one by
// default, one that injects faults in tests.

#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <deque>
#include <filesystem>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>
#include <thread>
#include <vector>

#include "kc/Result.h"
#include "kc/audit/AuditArchiver.h"
#include "kc/audit/AuditFileSystem.h"
#include "kc/audit/AuditRecord.h"
#include "kc/audit/CheckpointSigner.h"

namespace kc::audit {

struct AuditLogOptions {
  std::filesystem::path directory;  // created when missing; holds audit.log and rotated files
  // Recorded in every record; names this instance's chain. Empty: the id kept in
  // <directory>/instance-id, made ("<hostname>-<8 random hex digits>") on first use, so every
  // run continues one chain.
  std::string instance;
  // Signs checkpoints (the token's audit key). Null: no checkpoints (tests of the format).
  std::shared_ptr<CheckpointSigner> signer;
  // A checkpoint is written this often when records were appended since the last one;
  // zero turns the timer off. Checkpoints are also written at rotation and at close.
  std::chrono::milliseconds checkpointInterval{std::chrono::minutes(1)};
  std::uint64_t rotateBytes = 64u << 20;  // rotate after this size; 0: never
  bool syslog = false;  // also send each durable line to syslog (LOG_AUTHPRIV | LOG_INFO)
  // false: one write + fdatasync per record instead of group commit (the benchmark's
  // baseline; never in production).
  bool groupCommit = true;
  // Run on each rotated file (audit.archive_command; "%p" its path): AuditArchiver.h. Empty:
  // none. The files still unarchived from earlier runs are retried at open.
  std::string archiveCommand;
  // The archive command's first retry delay; it doubles up to a minute.
  std::chrono::milliseconds archiveRetry{std::chrono::seconds(1)};
  // Every file operation of the log goes through it. Null: posixAuditFileSystem(), the real
  // one; tests pass one that fails chosen operations.
  std::shared_ptr<AuditFileSystem> fileSystem;
};

struct AuditLogStats {
  std::uint64_t records = 0;      // lines made durable, checkpoints included
  std::uint64_t bytes = 0;        // bytes of those lines, '\n' included
  std::uint64_t syncs = 0;        // fdatasync calls that succeeded
  std::uint64_t failures = 0;     // batches refused because a write or sync failed
  std::uint64_t checkpoints = 0;  // checkpoints written
  std::uint64_t rotations = 0;    // files rotated
};

class AuditLog {
 private:
  struct Pending;

 public:
  // How long a deferred record waits for a batch to join before the writer syncs it alone.
  static constexpr std::chrono::milliseconds kDeferredDelay{20};

  // Records handed to the log by appendStarted(), being written while the caller works.
  // It must not outlive the log.
  class AppendTicket {
   public:
    // Blocks until the records are durable (OK) or refused (UNAVAILABLE): appendAll()'s
    // answer. Call at most once.
    Status wait();

   private:
    friend class AuditLog;
    AuditLog* log_ = nullptr;
    std::vector<std::shared_ptr<Pending>> batch_;
    Status refused_;  // not handed to the log at all
  };

  // Opens (or continues) the log in `options.directory` and writes a "log.open" record.
  // Fails when the directory or file cannot be written, and CONFLICT when another
  // process (or another open log) writes the directory: two writers would fork the chain.
  static Result<std::unique_ptr<AuditLog>> open(AuditLogOptions options);
  // close(), ignoring its result.
  ~AuditLog();
  AuditLog(const AuditLog&) = delete;
  AuditLog& operator=(const AuditLog&) = delete;

  // Appends `record` (its time is now when left 0; seq, instance, prev and sig are set by
  // the log) and returns OK once the line is durably on disk. UNAVAILABLE when it could not
  // be made durable: then nothing was released on its account and the caller must refuse
  // (503). Thread-safe.
  Status append(AuditRecord record);

  // Appends `records` in order, made durable together by one sync: OK only when all are.
  // For the records of one request (the token operation and the key release).
  Status appendAll(const std::vector<AuditRecord>& records);

  // appendAll() without the wait: the writer starts on `records` now; the caller waits with
  // the ticket. For the record that must be durable before a key leaves, synced while the
  // token unwraps.
  AppendTicket appendStarted(const std::vector<AuditRecord>& records);

  // Queues `records` in order without waking the writer or waiting: they join the next batch
  // and its sync, or are synced alone kDeferredDelay later, or at close(). For records that
  // follow a durable one that already says what happens (a release's outcome after its
  // intent). A failure to make them durable shows as healthy() false and in stats().failures;
  // UNAVAILABLE only when the log is closed, INVALID_ARGUMENT as appendAll().
  Status appendDeferred(const std::vector<AuditRecord>& records);

  // Writes a checkpoint signed by the signer and returns once it is durable. UNAVAILABLE
  // when the log is not writable, TOKEN_ERROR (or the signer's error) when signing failed.
  Status checkpoint(std::string_view reason = "manual");

  // False after a write failed and until a write succeeds again.
  bool healthy() const;

  // The chain head: the line of the latest durable, signed checkpoint of this instance (found
  // in audit.log at open, then each one written), without '\n'; none before the first.
  std::optional<std::string> head() const;

  // Writes the closing checkpoint (when a signer is set and records were appended since the
  // last one), stops the writer and closes the file. Later appends are UNAVAILABLE.
  Status close();

  const std::string& instance() const { return instance_; }
  // The detail of this run's log.open record: how the chain was found ("new chain",
  // "continuing chain after seq N ...", with kChainFilesMissing when this instance's files
  // were all gone), for the operator's log.
  const std::string& openDetail() const { return openDetail_; }
  std::filesystem::path activePath() const { return directory_ / "audit.log"; }
  AuditLogStats stats() const;

 private:
  explicit AuditLog(AuditLogOptions options);
  Status start();
  Status enqueue(const std::shared_ptr<Pending>& pending);
  // submit() then await().
  Status enqueue(const std::vector<std::shared_ptr<Pending>>& batch);
  static Result<std::vector<std::shared_ptr<Pending>>> pendingFor(
      const std::vector<AuditRecord>& records);
  // Queues `batch` under one lock; wakes the writer unless `deferred`.
  Status submit(const std::vector<std::shared_ptr<Pending>>& batch, bool deferred);
  // Blocks until every record of `batch` is done; the first refusal, else OK.
  Status await(const std::vector<std::shared_ptr<Pending>>& batch);
  void runWriter();
  // Commits `batch`, then rotates audit.log when it has grown past rotateBytes and `mayRotate`
  // (not for the checkpoint that closes the file).
  void writeBatch(std::deque<std::shared_ptr<Pending>> batch, bool mayRotate = true);
  bool checkpointDue(std::chrono::steady_clock::time_point now) const;
  Status commit(std::deque<std::shared_ptr<Pending>>& batch);
  Status openActiveFile(std::string& openDetail);
  Status continueFromRotatedFile(std::string& openDetail);
  void continueAfter(const AuditRecord& last, const std::string& lastLine);
  Status recover(std::string& detail);
  Status rotate();
  void closeFile();
  std::shared_ptr<Pending> makeInternal(std::string_view operation, std::string_view detail,
                                        bool isCheckpoint);

  const AuditLogOptions options_;
  const std::shared_ptr<AuditFileSystem> fs_;
  const std::filesystem::path directory_;
  std::string instance_;
  bool knownInstance_ = false;  // its id was kept in the directory by an earlier run
  std::string openDetail_;

  // Shared with appenders.
  mutable std::mutex mutex_;
  std::condition_variable wake_;       // the writer: work, or stop
  std::condition_variable committed_;  // appenders: a batch finished
  std::deque<std::shared_ptr<Pending>> queue_;
  std::size_t urgent_ = 0;  // records in queue_ someone waits for (not deferred)
  std::chrono::steady_clock::time_point deferredDue_;  // when queue_'s deferred records sync
  // The latest time the writer looks at queue_ unprompted: min() while it is awake.
  std::chrono::steady_clock::time_point writerLooksBy_ =
      std::chrono::steady_clock::time_point::min();
  std::chrono::steady_clock::time_point lastBatchEnd_;  // when the writer last wrote a batch
  bool stopping_ = false;
  bool stopped_ = false;
  bool healthy_ = true;
  AuditLogStats stats_;
  std::optional<std::string> head_;

  // The directory's lock, from open() to close(): one writer per directory.
  std::unique_ptr<DirectoryLock> lock_;

  // The writer's own (and open()'s before the writer starts).
  std::unique_ptr<WritableFile> file_;  // the active file; null while closed
  std::uint64_t seq_ = 0;               // last durable record's seq
  std::string prev_;                    // hash of the last durable line
  std::uint64_t committedSize_ = 0;     // bytes of audit.log that are durable records
  std::uint64_t sinceCheckpoint_ = 0;
  std::string lastError_;
  std::chrono::steady_clock::time_point nextCheckpoint_;
  std::thread writer_;
  // Set before the writer starts, stopped after it ends; enqueue() is thread-safe.
  std::unique_ptr<AuditArchiver> archiver_;
};

}  // namespace kc::audit
