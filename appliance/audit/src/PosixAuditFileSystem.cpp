// The audit log's file operations on the real file system, with POSIX calls.

#include <fcntl.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <string>
#include <system_error>

#include "kc/FileDescriptor.h"
#include "kc/audit/AuditFileSystem.h"

namespace kc::audit {

namespace {

Status errnoStatus(std::string_view operation, const std::filesystem::path& path, int error) {
  return Status(StatusCode::kUnavailable, std::string(operation) + " " + path.string() + ": " +
                                              std::generic_category().message(error));
}

Result<std::uint64_t> sizeOf(int fd, const std::filesystem::path& path) {
  struct stat info {};
  if (::fstat(fd, &info) != 0) return errnoStatus("stat", path, errno);
  return static_cast<std::uint64_t>(info.st_size);
}

class PosixDirectoryLock final : public DirectoryLock {
 public:
  explicit PosixDirectoryLock(int fd) : fd_(fd) {}

 private:
  FileDescriptor fd_;  // closing it releases the lock
};

// The pid written in a lock file, for the message that names the holder; "unknown" when
// the holder has not written it yet or it cannot be read.
std::string holderOf(int fd) {
  char buffer[32] = {};
  const ssize_t n = ::pread(fd, buffer, sizeof buffer - 1, 0);
  std::string pid = n > 0 ? std::string(buffer, static_cast<std::size_t>(n)) : "";
  while (!pid.empty() && (pid.back() == '\n' || pid.back() == ' ')) pid.pop_back();
  return pid.empty() ? "unknown" : pid;
}

class PosixWritableFile final : public WritableFile {
 public:
  PosixWritableFile(int fd, std::filesystem::path path) : fd_(fd), path_(std::move(path)) {}

  Status append(std::string_view data) override {
    while (!data.empty()) {
      const ssize_t written = ::write(fd_.get(), data.data(), data.size());
      if (written < 0) {
        if (errno == EINTR) continue;
        return errnoStatus("write", path_, errno);
      }
      data.remove_prefix(static_cast<std::size_t>(written));
    }
    return Status::ok();
  }

  Status datasync() override {
    if (::fdatasync(fd_.get()) != 0) return errnoStatus("fdatasync", path_, errno);
    return Status::ok();
  }

  Result<std::uint64_t> size() override { return sizeOf(fd_.get(), path_); }

  Status truncate(std::uint64_t length) override {
    if (::ftruncate(fd_.get(), static_cast<off_t>(length)) != 0)
      return errnoStatus("truncate", path_, errno);
    if (::fsync(fd_.get()) != 0) return errnoStatus("fsync", path_, errno);
    return Status::ok();
  }

  const std::filesystem::path& path() const override { return path_; }

 private:
  FileDescriptor fd_;
  std::filesystem::path path_;
};

class PosixAuditFileSystem final : public AuditFileSystem {
 public:
  Status createDirectories(const std::filesystem::path& directory) override {
    std::error_code error;
    std::filesystem::create_directories(directory, error);
    if (error)
      return Status(StatusCode::kUnavailable,
                    "create directory " + directory.string() + ": " + error.message());
    return Status::ok();
  }

  bool exists(const std::filesystem::path& path) override {
    struct stat info {};
    return ::stat(path.c_str(), &info) == 0;
  }

  Result<std::uint64_t> fileSize(const std::filesystem::path& path) override {
    struct stat info {};
    if (::stat(path.c_str(), &info) != 0) {
      if (errno == ENOENT) return Status(StatusCode::kNotFound, path.string() + " does not exist");
      return errnoStatus("stat", path, errno);
    }
    return static_cast<std::uint64_t>(info.st_size);
  }

  Result<FileTail> readTail(const std::filesystem::path& path, std::uint64_t maxBytes) override {
    const FileDescriptor fd(::open(path.c_str(), O_RDONLY | O_CLOEXEC));
    if (fd.get() < 0) return errnoStatus("open", path, errno);
    auto size = sizeOf(fd.get(), path);
    if (!size) return size.status();
    const std::uint64_t length = std::min(*size, maxBytes);
    FileTail tail{std::string(length, '\0'), *size};
    std::size_t got = 0;
    while (got < length) {
      const ssize_t n = ::pread(fd.get(), tail.bytes.data() + got, length - got,
                                static_cast<off_t>(*size - length + got));
      if (n < 0 && errno == EINTR) continue;
      if (n < 0) return errnoStatus("read", path, errno);
      if (n == 0)
        return Status(StatusCode::kUnavailable, "read " + path.string() + ": file shrank");
      got += static_cast<std::size_t>(n);
    }
    return tail;
  }

  Result<std::unique_ptr<WritableFile>> openForAppend(const std::filesystem::path& path) override {
    const int fd = ::open(path.c_str(), O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0640);
    if (fd < 0) return errnoStatus("open", path, errno);
    return std::unique_ptr<WritableFile>(std::make_unique<PosixWritableFile>(fd, path));
  }

  Status rename(const std::filesystem::path& from, const std::filesystem::path& to) override {
    if (::rename(from.c_str(), to.c_str()) != 0)
      return errnoStatus("rename " + from.string() + " to", to, errno);
    return Status::ok();
  }

  Status syncDirectory(const std::filesystem::path& directory) override {
    const FileDescriptor fd(::open(directory.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC));
    if (fd.get() < 0) return errnoStatus("open", directory, errno);
    if (::fsync(fd.get()) != 0) return errnoStatus("fsync", directory, errno);
    return Status::ok();
  }

  Result<std::unique_ptr<DirectoryLock>> lockDirectory(
      const std::filesystem::path& directory) override {
    const auto path = directory / "audit.lock";
    const int fd = ::open(path.c_str(), O_RDWR | O_CREAT | O_CLOEXEC | O_NOFOLLOW, 0640);
    if (fd < 0) return errnoStatus("open", path, errno);
    auto lock = std::make_unique<PosixDirectoryLock>(fd);
    if (::flock(fd, LOCK_EX | LOCK_NB) != 0) {
      if (errno != EWOULDBLOCK) return errnoStatus("lock", path, errno);
      return Status(StatusCode::kConflict,
                    "audit log " + directory.string() + " is in use by another process (pid " +
                        holderOf(fd) + "): one process writes an audit directory at a time");
    }
    const std::string pid = std::to_string(::getpid()) + "\n";
    if (::ftruncate(fd, 0) != 0 || ::pwrite(fd, pid.data(), pid.size(), 0) < 0)
      return errnoStatus("write", path, errno);
    return std::unique_ptr<DirectoryLock>(std::move(lock));
  }

  Result<std::vector<std::filesystem::path>> listFiles(
      const std::filesystem::path& directory) override {
    std::error_code error;
    std::vector<std::filesystem::path> out;
    for (std::filesystem::directory_iterator it(directory, error), end; !error && it != end;
         it.increment(error)) {
      std::error_code typeError;
      if (it->is_regular_file(typeError)) out.push_back(it->path().filename());
    }
    if (error) {
      return Status(StatusCode::kUnavailable,
                    "list " + directory.string() + ": " + error.message());
    }
    return out;
  }
};

}  // namespace

std::shared_ptr<AuditFileSystem> posixAuditFileSystem() {
  static const auto fileSystem = std::make_shared<PosixAuditFileSystem>();
  return fileSystem;
}

}  // namespace kc::audit
