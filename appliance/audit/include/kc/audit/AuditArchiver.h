#pragma once
// Hands every rotated audit file to the operator's archive command, as PostgreSQL's
// archive_command does with WAL segments, so the log leaves the server it could be cut on.
//
// Contract:
// - The command is run by /bin/sh -c with every "%p" replaced by the rotated file's path,
//   shell-quoted (any name is passed as one word); nothing else is substituted. Its stdin is
//   /dev/null; its stdout and stderr go to the daemon's log (logger "kc.audit").
// - A file is archived when the command exits 0; until then it is retried, oldest file first,
//   with a back-off that doubles from `retryInitial` to `retryMax`. Files are archived in
//   order: a later file waits for an earlier one.
// - The state lives in <directory>/archive_status/ (through the AuditFileSystem): "<file>.ready"
//   while a file waits, renamed "<file>.done" once archived. Every rotated file
//   (audit-*.log in <directory>) without a ".done" marker is pending, so what was not archived
//   survives a restart (or a crash between a rotation and its marker) and is retried at start.
// - Nothing is ever deleted: not the files, not the markers. Removing archived files is the
//   operator's decision (their ".done" marker says they are safe to remove).
// - It never runs on the log's append path: a thread of its own runs the commands.

#include <sys/types.h>

#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <deque>
#include <filesystem>
#include <memory>
#include <mutex>
#include <string>
#include <string_view>
#include <thread>

#include "kc/Result.h"
#include "kc/audit/AuditFileSystem.h"

namespace kc::audit {

struct ArchiveOptions {
  std::string command;  // e.g. "cp %p /mnt/archive/"; must not be empty
  std::chrono::milliseconds retryInitial{std::chrono::seconds(1)};
  std::chrono::milliseconds retryMax{std::chrono::minutes(1)};
};

// `command` with every "%p" replaced by shellQuote(path).
std::string archiveCommandFor(std::string_view command, const std::filesystem::path& path);
// `text` as one word for /bin/sh: in single quotes, each ' written as '\''.
std::string shellQuote(std::string_view text);

class AuditArchiver {
 public:
  // Starts the archiving thread for the rotated files of `directory`; the files still pending
  // from earlier runs are archived first. Fails when archive_status/ cannot be created or
  // `directory` cannot be listed.
  static Result<std::unique_ptr<AuditArchiver>> start(std::filesystem::path directory,
                                                      ArchiveOptions options,
                                                      std::shared_ptr<AuditFileSystem> fs);
  // stop().
  ~AuditArchiver();
  AuditArchiver(const AuditArchiver&) = delete;
  AuditArchiver& operator=(const AuditArchiver&) = delete;

  // Queues `file` (a rotated file's name in the directory) to be archived and returns at once.
  // Thread-safe. Its ".ready" marker is written by the archiving thread; a crash before that
  // loses nothing (the file has no ".done" marker, so the next start finds it).
  void enqueue(const std::filesystem::path& file);

  // Stops the thread after the command running now (if any) ends; pending files stay pending.
  void stop();

  // Files archived since start.
  std::uint64_t archived() const;

 private:
  AuditArchiver(std::filesystem::path directory, ArchiveOptions options,
                std::shared_ptr<AuditFileSystem> fs);
  void run();
  Status archive(const std::filesystem::path& file);
  int runCommand(const std::string& command);

  const std::filesystem::path directory_;
  const std::filesystem::path statusDirectory_;
  const ArchiveOptions options_;
  const std::shared_ptr<AuditFileSystem> fs_;

  mutable std::mutex mutex_;
  std::condition_variable wake_;               // guarded by mutex_: work, or stop
  std::deque<std::filesystem::path> pending_;  // guarded by mutex_; oldest first
  bool stopping_ = false;                      // guarded by mutex_
  std::uint64_t archived_ = 0;                 // guarded by mutex_
  // The archive command's process group, shared by the thread that runs it and stop(): a
  // command is never started once stop() has been called, and stop() signals a group only
  // while its leader is unreaped, so its id cannot have been reused by another process.
  struct RunningCommand {
    std::mutex mutex;
    pid_t group = 0;        // guarded by mutex: the running command's process group, or 0
    bool stopping = false;  // guarded by mutex
  };
  RunningCommand running_;
  std::thread thread_;
};

}  // namespace kc::audit
