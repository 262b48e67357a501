#include "kc/audit/AuditArchiver.h"

#include <Poco/Logger.h>
#include <fcntl.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <cctype>
#include <cerrno>
#include <vector>

#include "kc/ThreadName.h"

namespace kc::audit {

namespace {

constexpr std::string_view kStatusDirectory = "archive_status";

Poco::Logger& logger() {
  return Poco::Logger::get("kc.audit");
}

bool isRotatedFile(const std::string& name) {
  return name.size() > 10 && name.rfind("audit-", 0) == 0 &&
         name.compare(name.size() - 4, 4, ".log") == 0;
}

// Name order with digit runs compared as numbers, so "...-99.log" comes before "...-100.log".
bool olderName(const std::string& a, const std::string& b) {
  std::size_t i = 0, j = 0;
  const auto digit = [](char c) { return std::isdigit(static_cast<unsigned char>(c)) != 0; };
  while (i < a.size() && j < b.size()) {
    if (digit(a[i]) && digit(b[j])) {
      const std::size_t ei = a.find_first_not_of("0123456789", i);
      const std::size_t ej = b.find_first_not_of("0123456789", j);
      std::string na = a.substr(i, ei == std::string::npos ? std::string::npos : ei - i);
      std::string nb = b.substr(j, ej == std::string::npos ? std::string::npos : ej - j);
      na.erase(0, std::min(na.find_first_not_of('0'), na.size()));
      nb.erase(0, std::min(nb.find_first_not_of('0'), nb.size()));
      if (na.size() != nb.size()) return na.size() < nb.size();
      if (na != nb) return na < nb;
      i = ei == std::string::npos ? a.size() : ei;
      j = ej == std::string::npos ? b.size() : ej;
      continue;
    }
    if (a[i] != b[j]) return a[i] < b[j];
    ++i;
    ++j;
  }
  return a.size() - i < b.size() - j;
}

}  // namespace

std::string shellQuote(std::string_view text) {
  std::string out = "'";
  for (const char c : text) {
    if (c == '\'') {
      out += "'\\''";
    } else {
      out += c;
    }
  }
  out += '\'';
  return out;
}

std::string archiveCommandFor(std::string_view command, const std::filesystem::path& path) {
  const std::string quoted = shellQuote(path.string());
  std::string out;
  for (std::size_t i = 0; i < command.size(); ++i) {
    if (command[i] == '%' && i + 1 < command.size() && command[i + 1] == 'p') {
      out += quoted;
      ++i;
    } else {
      out += command[i];
    }
  }
  return out;
}

Result<std::unique_ptr<AuditArchiver>> AuditArchiver::start(std::filesystem::path directory,
                                                            ArchiveOptions options,
                                                            std::shared_ptr<AuditFileSystem> fs) {
  if (options.command.empty())
    return Status(StatusCode::kInvalidArgument, "audit.archive_command is empty");
  std::unique_ptr<AuditArchiver> archiver(
      new AuditArchiver(std::move(directory), std::move(options), std::move(fs)));
  KC_RETURN_IF_ERROR(archiver->fs_->createDirectories(archiver->statusDirectory_));
  auto names = archiver->fs_->listFiles(archiver->directory_);
  if (!names) return names.status();
  std::vector<std::string> waiting;
  for (const auto& name : *names) {
    const std::string text = name.filename().string();
    if (!isRotatedFile(text)) continue;
    if (archiver->fs_->exists(archiver->statusDirectory_ / (text + ".done"))) continue;
    waiting.push_back(text);
  }
  std::sort(waiting.begin(), waiting.end(), olderName);
  for (const auto& name : waiting) archiver->pending_.emplace_back(name);
  if (!waiting.empty()) {
    logger().information("audit: %z rotated file(s) still to archive", waiting.size());
  }
  archiver->thread_ = std::thread([raw = archiver.get()] {
    nameThisThread("kc-audit-arch");
    raw->run();
  });
  return archiver;
}

AuditArchiver::AuditArchiver(std::filesystem::path directory, ArchiveOptions options,
                             std::shared_ptr<AuditFileSystem> fs)
    : directory_(std::move(directory)),
      statusDirectory_(directory_ / kStatusDirectory),
      options_(std::move(options)),
      fs_(std::move(fs)) {}

AuditArchiver::~AuditArchiver() {
  stop();
}

void AuditArchiver::enqueue(const std::filesystem::path& file) {
  {
    std::lock_guard lock(mutex_);
    const auto name = file.filename();
    if (std::find(pending_.begin(), pending_.end(), name) != pending_.end()) return;
    pending_.push_back(name);
  }
  wake_.notify_one();
}

void AuditArchiver::stop() {
  {
    std::lock_guard lock(mutex_);
    stopping_ = true;
  }
  wake_.notify_all();
  // A command still running (a slow upload) must not hold up the daemon's stop: it is ended
  // with its whole process group, and the file, not marked done, is archived again by the
  // next run.
  {
    std::lock_guard lock(running_.mutex);
    running_.stopping = true;
    if (running_.group > 0) {
      logger().warning(
          "audit: stopping: the archive command still running is ended (SIGTERM); "
          "its file is archived again at the next start");
      kill(-running_.group, SIGTERM);
    }
  }
  if (thread_.joinable()) thread_.join();
}

std::uint64_t AuditArchiver::archived() const {
  std::lock_guard lock(mutex_);
  return archived_;
}

void AuditArchiver::run() {
  std::unique_lock lock(mutex_);
  auto backoff = options_.retryInitial;
  while (!stopping_) {
    if (pending_.empty()) {
      wake_.wait(lock, [&] { return stopping_ || !pending_.empty(); });
      continue;
    }
    const std::filesystem::path file = pending_.front();
    lock.unlock();
    const Status status = archive(file);
    lock.lock();
    if (status.isOk()) {
      pending_.pop_front();
      ++archived_;
      backoff = options_.retryInitial;
      continue;
    }
    logger().warning("audit: archiving %s failed (retrying in %s ms): %s", file.string(),
                     std::to_string(backoff.count()), status.message());
    wake_.wait_for(lock, backoff, [&] { return stopping_; });
    backoff = std::min(backoff * 2, std::max(options_.retryMax, options_.retryInitial));
  }
}

// Runs `command` with /bin/sh -c in a process group of its own (published in running_ while it
// runs, so stop() can end it and whatever it started; not run at all once stop() was called),
// stdin from /dev/null, its output line by line to the log. Returns its exit status; -1 when it
// could not be run or was killed by a signal.
int AuditArchiver::runCommand(const std::string& command) {
  int out[2];
  if (pipe2(out, O_CLOEXEC) != 0) return -1;
  std::unique_lock lock(running_.mutex);
  const pid_t pid = running_.stopping ? -1 : fork();
  if (pid < 0) {
    close(out[0]);
    close(out[1]);
    return -1;
  }
  if (pid == 0) {
    // Only async-signal-safe calls until exec.
    setpgid(0, 0);
    const int devNull = open("/dev/null", O_RDONLY);
    if (devNull < 0 || dup2(devNull, 0) < 0 || dup2(out[1], 1) < 0 || dup2(out[1], 2) < 0)
      _exit(127);
    close_range(3, ~0U, 0);
    execl("/bin/sh", "sh", "-c", command.c_str(), static_cast<char*>(nullptr));
    _exit(127);
  }
  setpgid(pid, pid);  // as the child does: whichever runs first
  running_.group = pid;
  lock.unlock();
  close(out[1]);
  std::string pending;
  char buffer[4096];
  const auto flush = [&](bool all) {
    std::size_t newline;
    while ((newline = pending.find('\n')) != std::string::npos) {
      logger().information("audit.archive_command: %s", pending.substr(0, newline));
      pending.erase(0, newline + 1);
    }
    if (all && !pending.empty()) logger().information("audit.archive_command: %s", pending);
  };
  while (true) {
    const ssize_t n = read(out[0], buffer, sizeof buffer);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) break;
    pending.append(buffer, static_cast<std::size_t>(n));
    if (pending.size() > 65536) pending.resize(65536);
    flush(false);
  }
  flush(true);
  close(out[0]);
  // Waits for the exit without reaping, and only then withdraws the group from stop(): until
  // the leader is reaped its id cannot be reused.
  siginfo_t exited{};
  while (waitid(P_PID, static_cast<id_t>(pid), &exited, WEXITED | WNOWAIT) < 0 && errno == EINTR) {
  }
  lock.lock();
  running_.group = 0;
  lock.unlock();
  int status = 0;
  while (waitpid(pid, &status, 0) < 0) {
    if (errno != EINTR) return -1;
  }
  return WIFEXITED(status) ? WEXITSTATUS(status) : -1;
}

Status AuditArchiver::archive(const std::filesystem::path& file) {
  const auto done = statusDirectory_ / (file.string() + ".done");
  if (fs_->exists(done)) return Status::ok();
  const auto ready = statusDirectory_ / (file.string() + ".ready");
  if (!fs_->exists(ready)) {
    auto marker = fs_->openForAppend(ready);
    if (!marker) return marker.status();
    KC_RETURN_IF_ERROR((*marker)->datasync());
    marker->reset();
    KC_RETURN_IF_ERROR(fs_->syncDirectory(statusDirectory_));
  }
  const std::string command = archiveCommandFor(options_.command, directory_ / file);
  const int exitCode = runCommand(command);
  if (exitCode != 0) {
    return Status(
        StatusCode::kUnavailable,
        "audit.archive_command " + (exitCode < 0 ? std::string("could not run or was killed")
                                                 : "exited with " + std::to_string(exitCode)));
  }
  KC_RETURN_IF_ERROR(fs_->rename(ready, done));
  KC_RETURN_IF_ERROR(fs_->syncDirectory(statusDirectory_));
  logger().information("audit: archived %s", file.string());
  return Status::ok();
}

}  // namespace kc::audit
