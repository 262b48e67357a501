#pragma once
// An AuditFileSystem for tests: it passes every call to another one (the real POSIX one by
// default, on a temporary directory) and makes chosen calls fail with a chosen errno, as a
// full disk (ENOSPC) or a failing device (EIO) would. It counts the calls and the failures
// it injected, so a test can check that the fault it asked for really happened.

#include <climits>
#include <cstddef>
#include <cstdint>
#include <functional>
#include <memory>
#include <mutex>

#include "kc/audit/AuditFileSystem.h"

namespace kc::test {

class FaultInjectingFileSystem final : public audit::AuditFileSystem {
 public:
  static constexpr int kUntilCleared = INT_MAX;

  // Which calls of one kind fail: the first `after` calls from now succeed, the `times`
  // calls after them fail with `error`.
  struct Fault {
    int error = 0;  // an errno value: ENOSPC, EIO, ...
    int after = 0;
    int times = 1;
    // append only: the failing call first writes this many bytes of its data (a short write,
    // as when the disk fills in the middle of a line).
    std::size_t partialBytes = 0;
  };

  // What happened so far; every count includes the calls that failed.
  struct Counts {
    int appends = 0;
    int datasyncs = 0;
    int renames = 0;
    int opens = 0;  // openForAppend
    int failedAppends = 0;
    int failedDatasyncs = 0;
    int failedRenames = 0;
    std::uint64_t partialBytesWritten = 0;  // by failing appends
  };

  explicit FaultInjectingFileSystem(
      std::shared_ptr<audit::AuditFileSystem> real = audit::posixAuditFileSystem());

  // Arm a fault, replacing the one armed for that kind of call.
  void failAppend(const Fault& fault);
  void failDatasync(const Fault& fault);  // nothing is synced by a failing call
  void failRename(const Fault& fault);    // nothing is renamed by a failing call
  // Runs `hook` at the start of every datasync call, outside this file system's lock (to hold
  // a sync until a test lets it go, say). An empty hook removes it.
  void onDatasync(std::function<void()> hook);
  // Disarm every fault.
  void clear();
  Counts counts() const;

  Status createDirectories(const std::filesystem::path& directory) override;
  bool exists(const std::filesystem::path& path) override;
  Result<std::uint64_t> fileSize(const std::filesystem::path& path) override;
  Result<audit::FileTail> readTail(const std::filesystem::path& path,
                                   std::uint64_t maxBytes) override;
  Result<std::unique_ptr<audit::WritableFile>> openForAppend(
      const std::filesystem::path& path) override;
  Status rename(const std::filesystem::path& from, const std::filesystem::path& to) override;
  Status syncDirectory(const std::filesystem::path& directory) override;
  Result<std::unique_ptr<audit::DirectoryLock>> lockDirectory(
      const std::filesystem::path& directory) override;
  Result<std::vector<std::filesystem::path>> listFiles(
      const std::filesystem::path& directory) override;

  struct State;  // shared with the files it opened

 private:
  std::shared_ptr<audit::AuditFileSystem> real_;
  std::shared_ptr<State> state_;
};

}  // namespace kc::test
