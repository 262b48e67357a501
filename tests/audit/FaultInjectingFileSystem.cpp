#include "FaultInjectingFileSystem.h"

#include <cstring>
#include <optional>
#include <string>

namespace kc::test {

namespace {

using Fault = FaultInjectingFileSystem::Fault;

// The armed fault of one kind of call; take() decides whether this call fails.
struct Armed {
  std::optional<Fault> fault;

  std::optional<Fault> take() {
    if (fault && fault->times <= 0) fault.reset();
    if (!fault) return std::nullopt;
    if (fault->after > 0) {
      --fault->after;
      return std::nullopt;
    }
    const Fault failing = *fault;
    if (fault->times != FaultInjectingFileSystem::kUntilCleared && --fault->times <= 0)
      fault.reset();
    return failing;
  }
};

Status injected(std::string_view operation, const std::filesystem::path& path, int error) {
  return Status(StatusCode::kUnavailable, std::string(operation) + " " + path.string() + ": " +
                                              std::strerror(error) + " (injected)");
}

}  // namespace

struct FaultInjectingFileSystem::State {
  mutable std::mutex mutex;
  Armed append, datasync, rename;
  std::function<void()> datasyncHook;
  Counts counts;
};

namespace {

class FaultInjectingFile final : public audit::WritableFile {
 public:
  FaultInjectingFile(std::unique_ptr<audit::WritableFile> real,
                     std::shared_ptr<FaultInjectingFileSystem::State> state)
      : real_(std::move(real)), state_(std::move(state)) {}

  Status append(std::string_view data) override {
    std::optional<Fault> fault;
    {
      std::lock_guard lock(state_->mutex);
      ++state_->counts.appends;
      fault = state_->append.take();
      if (fault) ++state_->counts.failedAppends;
    }
    if (!fault) return real_->append(data);
    const std::string_view written = data.substr(0, std::min(fault->partialBytes, data.size()));
    if (!written.empty()) {
      KC_RETURN_IF_ERROR(real_->append(written));
      std::lock_guard lock(state_->mutex);
      state_->counts.partialBytesWritten += written.size();
    }
    return injected("write", path(), fault->error);
  }

  Status datasync() override {
    std::optional<Fault> fault;
    std::function<void()> hook;
    {
      std::lock_guard lock(state_->mutex);
      hook = state_->datasyncHook;
    }
    if (hook) hook();
    {
      std::lock_guard lock(state_->mutex);
      ++state_->counts.datasyncs;
      fault = state_->datasync.take();
      if (fault) ++state_->counts.failedDatasyncs;
    }
    if (fault) return injected("fdatasync", path(), fault->error);
    return real_->datasync();
  }

  Result<std::uint64_t> size() override { return real_->size(); }
  Status truncate(std::uint64_t length) override { return real_->truncate(length); }
  const std::filesystem::path& path() const override { return real_->path(); }

 private:
  std::unique_ptr<audit::WritableFile> real_;
  std::shared_ptr<FaultInjectingFileSystem::State> state_;
};

}  // namespace

FaultInjectingFileSystem::FaultInjectingFileSystem(std::shared_ptr<audit::AuditFileSystem> real)
    : real_(std::move(real)), state_(std::make_shared<State>()) {}

void FaultInjectingFileSystem::failAppend(const Fault& fault) {
  std::lock_guard lock(state_->mutex);
  state_->append.fault = fault;
}

void FaultInjectingFileSystem::failDatasync(const Fault& fault) {
  std::lock_guard lock(state_->mutex);
  state_->datasync.fault = fault;
}

void FaultInjectingFileSystem::onDatasync(std::function<void()> hook) {
  std::lock_guard lock(state_->mutex);
  state_->datasyncHook = std::move(hook);
}

void FaultInjectingFileSystem::failRename(const Fault& fault) {
  std::lock_guard lock(state_->mutex);
  state_->rename.fault = fault;
}

void FaultInjectingFileSystem::clear() {
  std::lock_guard lock(state_->mutex);
  state_->append.fault.reset();
  state_->datasync.fault.reset();
  state_->rename.fault.reset();
}

FaultInjectingFileSystem::Counts FaultInjectingFileSystem::counts() const {
  std::lock_guard lock(state_->mutex);
  return state_->counts;
}

Status FaultInjectingFileSystem::createDirectories(const std::filesystem::path& directory) {
  return real_->createDirectories(directory);
}

bool FaultInjectingFileSystem::exists(const std::filesystem::path& path) {
  return real_->exists(path);
}

Result<std::uint64_t> FaultInjectingFileSystem::fileSize(const std::filesystem::path& path) {
  return real_->fileSize(path);
}

Result<audit::FileTail> FaultInjectingFileSystem::readTail(const std::filesystem::path& path,
                                                           std::uint64_t maxBytes) {
  return real_->readTail(path, maxBytes);
}

Result<std::unique_ptr<audit::WritableFile>> FaultInjectingFileSystem::openForAppend(
    const std::filesystem::path& path) {
  {
    std::lock_guard lock(state_->mutex);
    ++state_->counts.opens;
  }
  auto file = real_->openForAppend(path);
  if (!file) return file.status();
  return std::unique_ptr<audit::WritableFile>(
      std::make_unique<FaultInjectingFile>(std::move(*file), state_));
}

Status FaultInjectingFileSystem::rename(const std::filesystem::path& from,
                                        const std::filesystem::path& to) {
  std::optional<Fault> fault;
  {
    std::lock_guard lock(state_->mutex);
    ++state_->counts.renames;
    fault = state_->rename.take();
    if (fault) ++state_->counts.failedRenames;
  }
  if (fault) return injected("rename " + from.string() + " to", to, fault->error);
  return real_->rename(from, to);
}

Status FaultInjectingFileSystem::syncDirectory(const std::filesystem::path& directory) {
  return real_->syncDirectory(directory);
}

Result<std::unique_ptr<audit::DirectoryLock>> FaultInjectingFileSystem::lockDirectory(
    const std::filesystem::path& directory) {
  return real_->lockDirectory(directory);
}

Result<std::vector<std::filesystem::path>> FaultInjectingFileSystem::listFiles(
    const std::filesystem::path& directory) {
  return real_->listFiles(directory);
}

}  // namespace kc::test
