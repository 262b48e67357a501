#pragma once
// The file operations of the audit log, behind an interface as LevelDB's Env, so that tests
// can make a write, an fdatasync or a rename fail (full disk, I/O error) without root, a
// mount or a process-wide limit. The log uses posixAuditFileSystem() unless given another
// (AuditLogOptions::fileSystem).
//
// Errors: every failure is UNAVAILABLE (the log refuses records and retries later) with a
// message naming the operation, the path and the errno text, except where a method says
// otherwise. Implementations must be thread-safe; a WritableFile is used by one thread.

#include <cstdint>
#include <filesystem>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "kc/Result.h"

namespace kc::audit {

// An open file that bytes are appended to. Closed when destroyed (a close error is ignored:
// durability is decided by datasync(), never by close).
class WritableFile {
 public:
  virtual ~WritableFile() = default;

  // Writes all of `data` at the end of the file, retrying short writes. On success returns
  // OK; on failure UNAVAILABLE, and a prefix of `data` may already be in the file.
  virtual Status append(std::string_view data) = 0;

  // Makes the bytes appended so far durable (fdatasync). On success returns OK; on failure
  // UNAVAILABLE, and nothing appended since the last successful datasync may be counted on.
  virtual Status datasync() = 0;

  // The file's current size in bytes. UNAVAILABLE when it cannot be read.
  virtual Result<std::uint64_t> size() = 0;

  // Cuts the file to its first `length` bytes and syncs it (data and size). On success
  // returns OK; on failure UNAVAILABLE.
  virtual Status truncate(std::uint64_t length) = 0;

  // The path the file was opened at, for error messages.
  virtual const std::filesystem::path& path() const = 0;
};

// The end of a file as readTail() returns it.
struct FileTail {
  std::string bytes;           // the file's last bytes (all of them when it is small)
  std::uint64_t fileSize = 0;  // the whole file's size
};

// Held by the one process that writes a log directory; released when destroyed.
class DirectoryLock {
 public:
  virtual ~DirectoryLock() = default;
};

class AuditFileSystem {
 public:
  virtual ~AuditFileSystem() = default;

  // Creates `directory` and any missing parents. OK when it exists already.
  virtual Status createDirectories(const std::filesystem::path& directory) = 0;

  // True when something (a file, a directory) exists at `path`; false when nothing does or
  // when that cannot be told.
  virtual bool exists(const std::filesystem::path& path) = 0;

  // The size of the file at `path`. NOT_FOUND when nothing is there; UNAVAILABLE on any
  // other failure.
  virtual Result<std::uint64_t> fileSize(const std::filesystem::path& path) = 0;

  // The last `maxBytes` bytes of the file at `path` (fewer when it is smaller) and its size.
  virtual Result<FileTail> readTail(const std::filesystem::path& path, std::uint64_t maxBytes) = 0;

  // Opens `path` for appending, creating it (mode 0640) when missing.
  virtual Result<std::unique_ptr<WritableFile>> openForAppend(
      const std::filesystem::path& path) = 0;

  // Renames `from` to `to`, replacing `to` (rename(2): atomic within one file system). The
  // new name is durable only after syncDirectory().
  virtual Status rename(const std::filesystem::path& from, const std::filesystem::path& to) = 0;

  // Makes the names in `directory` durable (fsync of the directory): files created or
  // renamed there survive a crash once this returns OK.
  virtual Status syncDirectory(const std::filesystem::path& directory) = 0;

  // Takes the exclusive lock of `directory`, without waiting: flock(2) on its "audit.lock"
  // (created 0640; it holds the locking process's pid, for messages). CONFLICT
  // naming that pid when another process, or another open log of this one, holds it. The
  // kernel drops the lock with its holder, so a killed writer never leaves it behind.
  virtual Result<std::unique_ptr<DirectoryLock>> lockDirectory(
      const std::filesystem::path& directory) = 0;

  // The names of the regular files in `directory` (not recursive, in no particular order).
  virtual Result<std::vector<std::filesystem::path>> listFiles(
      const std::filesystem::path& directory) = 0;
};

// The real file system (POSIX calls); shared, stateless, lives for the whole process.
std::shared_ptr<AuditFileSystem> posixAuditFileSystem();

}  // namespace kc::audit
