#include "kc/audit/AuditLog.h"

#include <syslog.h>
#include <unistd.h>

#include <algorithm>
#include <cstring>
#include <ctime>
#include <optional>
#include <random>
#include <vector>

#include "kc/Base64.h"
#include "kc/ThreadName.h"

namespace kc::audit {

namespace {

constexpr std::size_t kFieldLimit = 1024;  // longest caller-supplied text kept in a record

std::string clip(std::string_view text) {
  return sanitizeUtf8(text.substr(0, std::min(text.size(), kFieldLimit)));
}

std::string newInstanceId() {
  char host[256] = {};
  if (gethostname(host, sizeof host - 1) != 0 || host[0] == '\0') std::strcpy(host, "kc");
  std::random_device random;
  const std::uint32_t suffix = random();
  char buffer[16];
  (void)std::snprintf(buffer, sizeof buffer, "%08x", suffix);  // 8 hex digits: cannot fail
  return std::string(host) + "-" + buffer;
}

constexpr std::string_view kInstanceFile = "instance-id";

// The instance id kept in `directory`, made (and kept, durably) on first use, so every run of
// a daemon continues one chain even when its configuration names no instance.
Result<std::string> stableInstanceId(AuditFileSystem& fs, const std::filesystem::path& directory) {
  const auto path = directory / kInstanceFile;
  if (fs.exists(path)) {
    auto tail = fs.readTail(path, 512);
    if (!tail) return tail.status();
    std::string id = tail->bytes.substr(0, tail->bytes.find('\n'));
    if (!id.empty() && id.size() <= 128 && id == sanitizeUtf8(id)) return id;
    return Status(
        StatusCode::kUnavailable,
        path.string() + " does not hold an instance id; restore it or set audit.instance");
  }
  const std::string id = newInstanceId();
  const auto temporary = directory / (std::string(kInstanceFile) + ".new");
  {
    auto file = fs.openForAppend(temporary);
    if (!file) return file.status();
    KC_RETURN_IF_ERROR((*file)->truncate(0));
    KC_RETURN_IF_ERROR((*file)->append(id + "\n"));
    KC_RETURN_IF_ERROR((*file)->datasync());
  }
  KC_RETURN_IF_ERROR(fs.rename(temporary, path));
  KC_RETURN_IF_ERROR(fs.syncDirectory(directory));
  return id;
}

// The last complete line of a file, where it ends, and the file's size.
struct LastLine {
  std::string text;       // without '\n'; empty when the file holds no complete line
  std::uint64_t end = 0;  // the offset just past the last '\n' (0: none)
  std::uint64_t size = 0;
};

Result<LastLine> lastLineOf(AuditFileSystem& fs, const std::filesystem::path& path) {
  auto tail = fs.readTail(path, 1u << 20);
  if (!tail) return tail.status();
  const std::string& text = tail->bytes;
  LastLine out;
  out.size = tail->fileSize;
  const std::size_t lastNewline = text.rfind('\n');
  if (lastNewline == std::string::npos) {
    // No complete line: all of a small file is a partial line; of a larger one we cannot tell.
    out.end = text.size() == out.size ? 0 : out.size;
    return out;
  }
  out.end = out.size - text.size() + lastNewline + 1;
  const std::size_t begin =
      lastNewline == 0 ? std::string::npos : text.rfind('\n', lastNewline - 1);
  const std::size_t from = begin == std::string::npos ? 0 : begin + 1;
  out.text = text.substr(from, lastNewline - from);
  return out;
}

// Characters of an instance id that are safe in a file name.
std::string fileSafe(std::string_view text) {
  std::string out;
  for (const char c : text) {
    const bool safe = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
                      c == '-' || c == '_' || c == '.';
    out += safe ? c : '_';
  }
  return out.empty() ? "unknown" : out;
}

std::filesystem::path rotatedPath(AuditFileSystem& fs, const std::filesystem::path& directory,
                                  std::string_view instance, std::uint64_t lastSeq) {
  const std::time_t now = std::time(nullptr);
  std::tm utc{};
  gmtime_r(&now, &utc);
  char stamp[32];
  (void)std::strftime(stamp, sizeof stamp, "%Y%m%dT%H%M%SZ", &utc);  // 16 characters: fits
  const std::string base =
      "audit-" + fileSafe(instance) + "-" + stamp + "-" + std::to_string(lastSeq);
  std::filesystem::path path = directory / (base + ".log");
  for (int n = 1; fs.exists(path); ++n) {
    path = directory / (base + "-" + std::to_string(n) + ".log");
  }
  return path;
}

// The line of the latest checkpoint of `instance` in the last MiB of the file at `path`.
std::optional<std::string> latestCheckpointIn(AuditFileSystem& fs,
                                              const std::filesystem::path& path,
                                              std::string_view instance) {
  auto tail = fs.readTail(path, 1u << 20);
  if (!tail) return std::nullopt;
  std::string_view text = tail->bytes;
  while (!text.empty()) {
    const std::size_t end = text.back() == '\n' ? text.size() - 1 : text.size();
    const std::size_t begin = text.rfind('\n', end == 0 ? 0 : end - 1);
    const std::size_t from = begin == std::string_view::npos ? 0 : begin + 1;
    const std::string_view line = text.substr(from, end - from);
    auto record = parseRecord(line);
    if (record && record->instance == instance && record->operation == op::kCheckpoint) {
      return std::string(line);
    }
    if (from == 0) break;
    text = text.substr(0, from);
  }
  return std::nullopt;
}

}  // namespace

struct AuditLog::Pending {
  AuditRecord record;
  bool isCheckpoint = false;
  bool done = false;
  bool skipped = false;  // a checkpoint whose signing failed: it took no place in the chain
  Status result;
};

Result<std::unique_ptr<AuditLog>> AuditLog::open(AuditLogOptions options) {
  if (options.directory.empty())
    return Status(StatusCode::kInvalidArgument, "audit log directory not set");
  std::unique_ptr<AuditLog> log(new AuditLog(std::move(options)));
  KC_RETURN_IF_ERROR(log->start());
  return log;
}

AuditLog::AuditLog(AuditLogOptions options)
    : options_(std::move(options)),
      fs_(options_.fileSystem ? options_.fileSystem : posixAuditFileSystem()),
      directory_(options_.directory),
      instance_(clip(options_.instance)) {}

AuditLog::~AuditLog() {
  (void)close();
}

Status AuditLog::start() {
  KC_RETURN_IF_ERROR(fs_->createDirectories(directory_));
  auto lock = fs_->lockDirectory(directory_);
  if (!lock) return lock.status();
  lock_ = std::move(*lock);
  // An instance id kept in the directory means this instance wrote here before.
  knownInstance_ = instance_.empty() && fs_->exists(directory_ / kInstanceFile);
  if (instance_.empty()) {
    auto id = stableInstanceId(*fs_, directory_);
    if (!id) return id.status();
    instance_ = std::move(*id);
  }
  std::string detail;
  KC_RETURN_IF_ERROR(openActiveFile(detail));
  openDetail_ = detail;
  if (options_.syslog) openlog("kc-audit", LOG_PID | LOG_NDELAY, LOG_AUTHPRIV);
  std::deque<std::shared_ptr<Pending>> batch{makeInternal(op::kLogOpen, detail, false)};
  Status status = commit(batch);
  if (!status.isOk()) {
    closeFile();
    return status;
  }
  if (!options_.archiveCommand.empty()) {
    auto archiver = AuditArchiver::start(directory_,
                                         {.command = options_.archiveCommand,
                                          .retryInitial = options_.archiveRetry,
                                          .retryMax = std::max<std::chrono::milliseconds>(
                                              options_.archiveRetry, std::chrono::minutes(1))},
                                         fs_);
    if (!archiver) {
      closeFile();
      return archiver.status();
    }
    archiver_ = std::move(*archiver);
  }
  nextCheckpoint_ = std::chrono::steady_clock::now() + options_.checkpointInterval;
  writer_ = std::thread([this] {
    nameThisThread("kc-audit-write");
    runWriter();
  });
  return Status::ok();
}

Status AuditLog::openActiveFile(std::string& openDetail) {
  KC_RETURN_IF_ERROR(fs_->createDirectories(directory_));
  const auto path = activePath();
  seq_ = 0;
  prev_ = genesisHash(instance_);
  committedSize_ = 0;
  openDetail = "new chain";
  const auto existing = fs_->fileSize(path);
  if (existing && *existing > 0) {
    auto last = lastLineOf(*fs_, path);
    if (!last) return last.status();
    auto record = parseRecord(last->text);
    if (record && record->instance == instance_) {
      if (last->end < last->size) {
        auto file = fs_->openForAppend(path);
        if (!file) return file.status();
        KC_RETURN_IF_ERROR((*file)->truncate(last->end));
        file_ = std::move(*file);
        openDetail = "continuing chain after seq " + std::to_string(record->seq) + "; cut " +
                     std::to_string(last->size - last->end) +
                     " bytes of a partial last line (never confirmed)";
      } else {
        openDetail = "continuing chain after seq " + std::to_string(record->seq);
      }
      continueAfter(*record, last->text);
      committedSize_ = last->end;
      head_ = latestCheckpointIn(*fs_, path, instance_);
    } else {
      // Another instance's file (or one we cannot read the end of): keep it as it is, under
      // a rotated name, and start our own chain.
      const auto archived = rotatedPath(*fs_, directory_, record ? record->instance : "unknown",
                                        record ? record->seq : 0);
      KC_RETURN_IF_ERROR(fs_->rename(path, archived));
      openDetail = "new chain; previous audit.log kept as " + archived.filename().string();
    }
  }
  if (seq_ == 0) {
    // No audit.log of ours (a restart after a rotation, or a deleted file): the chain
    // continues from this instance's newest rotated file, never from the genesis value again.
    KC_RETURN_IF_ERROR(continueFromRotatedFile(openDetail));
  }
  if (seq_ == 0 && knownInstance_) {
    // The instance wrote here before, yet none of its files is left: say so in the chain
    // itself (and to the operator, through openDetail()) instead of starting afresh quietly.
    openDetail += "; " + std::string(kChainFilesMissing) +
                  " (the instance id file is kept, every audit file of this instance is gone)";
  }
  if (!file_) {
    auto file = fs_->openForAppend(path);
    if (!file) return file.status();
    file_ = std::move(*file);
  }
  return fs_->syncDirectory(directory_);
}

void AuditLog::continueAfter(const AuditRecord& last, const std::string& lastLine) {
  seq_ = last.seq;
  prev_ = lineHash(lastLine);
  sinceCheckpoint_ = last.operation == op::kCheckpoint ? 0 : 1;
}

Status AuditLog::continueFromRotatedFile(std::string& openDetail) {
  auto names = fs_->listFiles(directory_);
  if (!names) return names.status();
  const std::string prefix = "audit-" + fileSafe(instance_) + "-";
  std::optional<AuditRecord> newest;
  std::string newestLine;
  std::string newestName;
  for (const auto& name : *names) {
    const std::string text = name.string();
    if (text.rfind(prefix, 0) != 0 || name.extension() != ".log") continue;
    auto last = lastLineOf(*fs_, directory_ / name);
    if (!last) return last.status();
    auto record = parseRecord(last->text);
    if (!record || record->instance != instance_) continue;
    if (!newest || record->seq > newest->seq) {
      newest = std::move(*record);
      newestLine = last->text;
      newestName = text;
    }
  }
  if (!newest) return Status::ok();
  continueAfter(*newest, newestLine);
  head_ = latestCheckpointIn(*fs_, directory_ / newestName, instance_);
  openDetail = "continuing chain after seq " + std::to_string(newest->seq) + " of " + newestName;
  return Status::ok();
}

std::shared_ptr<AuditLog::Pending> AuditLog::makeInternal(std::string_view operation,
                                                          std::string_view detail,
                                                          bool isCheckpoint) {
  auto pending = std::make_shared<Pending>();
  pending->record.operation = std::string(operation);
  pending->record.outcome = std::string(outcome::kOk);
  pending->record.detail = clip(detail);
  pending->record.timeMicros = nowMicros();
  pending->isCheckpoint = isCheckpoint;
  return pending;
}

Status AuditLog::append(AuditRecord record) {
  std::vector<AuditRecord> records;
  records.push_back(std::move(record));
  return appendAll(records);
}

Result<std::vector<std::shared_ptr<AuditLog::Pending>>> AuditLog::pendingFor(
    const std::vector<AuditRecord>& records) {
  std::vector<std::shared_ptr<Pending>> batch;
  for (const auto& record : records) {
    auto pending = std::make_shared<Pending>();
    pending->record.operation = clip(record.operation);
    pending->record.outcome = clip(record.outcome);
    pending->record.httpStatus = record.httpStatus > 999 ? 0 : record.httpStatus;
    pending->record.userId = clip(record.userId);
    pending->record.keyId = clip(record.keyId);
    pending->record.requestId = clip(record.requestId);
    pending->record.clientRequestId = clip(record.clientRequestId);
    pending->record.clientAddress = clip(record.clientAddress);
    pending->record.durationMicros = record.durationMicros;
    pending->record.detail = clip(record.detail);
    pending->record.timeMicros = record.timeMicros;
    if (pending->record.operation.empty() || pending->record.operation == op::kCheckpoint)
      return Status(StatusCode::kInvalidArgument,
                    "an audit record needs an operation other than checkpoint");
    batch.push_back(std::move(pending));
  }
  return batch;
}

Status AuditLog::appendAll(const std::vector<AuditRecord>& records) {
  auto batch = pendingFor(records);
  if (!batch) return batch.status();
  return enqueue(*batch);
}

AuditLog::AppendTicket AuditLog::appendStarted(const std::vector<AuditRecord>& records) {
  AppendTicket ticket;
  auto batch = pendingFor(records);
  if (!batch) {
    ticket.refused_ = batch.status();
    return ticket;
  }
  ticket.refused_ = submit(*batch, false);
  if (ticket.refused_.isOk()) {
    ticket.log_ = this;
    ticket.batch_ = std::move(*batch);
  }
  return ticket;
}

Status AuditLog::AppendTicket::wait() {
  if (!log_) return refused_.isOk() ? Status(StatusCode::kInternal, "no records") : refused_;
  return log_->await(batch_);
}

Status AuditLog::appendDeferred(const std::vector<AuditRecord>& records) {
  auto batch = pendingFor(records);
  if (!batch) return batch.status();
  return submit(*batch, true);
}

Status AuditLog::checkpoint(std::string_view reason) {
  if (!options_.signer) return Status(StatusCode::kUnavailable, "no checkpoint signer configured");
  return enqueue(makeInternal(op::kCheckpoint, std::string(reason), true));
}

Status AuditLog::enqueue(const std::shared_ptr<Pending>& pending) {
  return enqueue(std::vector<std::shared_ptr<Pending>>{pending});
}

Status AuditLog::enqueue(const std::vector<std::shared_ptr<Pending>>& batch) {
  KC_RETURN_IF_ERROR(submit(batch, false));
  return await(batch);
}

Status AuditLog::submit(const std::vector<std::shared_ptr<Pending>>& batch, bool deferred) {
  bool wake = false;
  {
    std::lock_guard lock(mutex_);
    if (stopping_) return Status(StatusCode::kUnavailable, "the audit log is closed");
    const bool wasEmpty = queue_.empty();
    if (deferred && wasEmpty) deferredDue_ = std::chrono::steady_clock::now() + kDeferredDelay;
    // Queued under one lock, so the writer takes them into the same batch and one sync.
    for (const auto& pending : batch) {
      if (pending->record.timeMicros == 0) pending->record.timeMicros = nowMicros();
      queue_.push_back(pending);
    }
    if (!deferred) urgent_ += batch.size();
    // Deferred records wake the writer only when it would otherwise sleep past their due time:
    // under load it is awake or lingering after its last batch, and each wake is a thread
    // switch the request pays for.
    wake = !deferred || (wasEmpty && writerLooksBy_ > deferredDue_);
  }
  // Notified after the lock is released, so the writer does not wake only to wait for it.
  if (wake) wake_.notify_one();
  return Status::ok();
}

Status AuditLog::await(const std::vector<std::shared_ptr<Pending>>& batch) {
  std::unique_lock lock(mutex_);
  committed_.wait(lock, [&] {
    for (const auto& pending : batch) {
      if (!pending->done) return false;
    }
    return true;
  });
  for (const auto& pending : batch) {
    if (!pending->result.isOk()) return pending->result;
  }
  return Status::ok();
}

std::optional<std::string> AuditLog::head() const {
  std::lock_guard lock(mutex_);
  return head_;
}

bool AuditLog::healthy() const {
  std::lock_guard lock(mutex_);
  return healthy_ && !stopping_;
}

AuditLogStats AuditLog::stats() const {
  std::lock_guard lock(mutex_);
  return stats_;
}

void AuditLog::runWriter() {
  std::unique_lock lock(mutex_);
  while (true) {
    if (urgent_ == 0 && !stopping_) {
      const auto now = std::chrono::steady_clock::now();
      const bool onlyDeferred = !queue_.empty();
      auto deadline = now + std::chrono::hours(24);
      if (onlyDeferred) {
        deadline = deferredDue_;
      } else if (!healthy_) {
        deadline = now + std::chrono::seconds(1);
      } else if (options_.signer && options_.checkpointInterval.count() > 0) {
        deadline = nextCheckpoint_;
      }
      // After a batch the writer lingers a little: the deferred records that follow a burst
      // then need no wake of their own.
      if (!onlyDeferred && now < lastBatchEnd_ + kDeferredDelay) {
        deadline = std::min(deadline, lastBatchEnd_ + kDeferredDelay);
      }
      writerLooksBy_ = deadline;
      wake_.wait_until(lock, deadline, [&] {
        return urgent_ > 0 || stopping_ || (!onlyDeferred && !queue_.empty());
      });
      writerLooksBy_ = std::chrono::steady_clock::time_point::min();  // awake
      // Deferred records alone wait for a batch to join until they are due.
      if (urgent_ == 0 && !stopping_ && !queue_.empty() &&
          std::chrono::steady_clock::now() < deferredDue_) {
        continue;
      }
    }
    if (!queue_.empty()) {
      auto batch = std::move(queue_);
      queue_.clear();
      urgent_ = 0;
      lock.unlock();
      // The timer is looked at on every batch, not only when the queue runs dry: under a
      // sustained flood of records the checkpoint joins the batch that is due.
      if (checkpointDue(std::chrono::steady_clock::now())) {
        batch.push_back(makeInternal(op::kCheckpoint, "interval", true));
        nextCheckpoint_ = std::chrono::steady_clock::now() + options_.checkpointInterval;
      }
      writeBatch(std::move(batch));
      lock.lock();
      lastBatchEnd_ = std::chrono::steady_clock::now();
      continue;
    }
    if (stopping_) break;
    const bool wasHealthy = healthy_;
    lock.unlock();
    const auto now = std::chrono::steady_clock::now();
    if (!wasHealthy) {
      writeBatch({});  // retries the file; writes a log.recovery record when it works
    } else if (checkpointDue(now)) {
      if (sinceCheckpoint_ > 0) writeBatch({makeInternal(op::kCheckpoint, "interval", true)});
      nextCheckpoint_ = now + options_.checkpointInterval;
    }
    lock.lock();
  }
  lock.unlock();
  Status closing = Status::ok();
  if (options_.signer) {
    // Always, even right after an interval checkpoint: a file that ends in this checkpoint was
    // closed, one that ends in any other way was cut (or its writer crashed). The file stays
    // audit.log (no rotation now): the next run continues it right after this checkpoint.
    auto seal = makeInternal(
        op::kCheckpoint,
        std::string(kCloseDetail) + "; the next run continues at seq " + std::to_string(seq_ + 2),
        true);
    writeBatch({seal}, /*mayRotate=*/false);
    closing = seal->result;
  }
  closeFile();
  lock.lock();
  if (!closing.isOk()) lastError_ = closing.toString();
}

bool AuditLog::checkpointDue(std::chrono::steady_clock::time_point now) const {
  return options_.signer && options_.checkpointInterval.count() > 0 && now >= nextCheckpoint_;
}

void AuditLog::writeBatch(std::deque<std::shared_ptr<Pending>> batch, bool mayRotate) {
  Status status = Status::ok();
  bool wasHealthy;
  {
    std::lock_guard lock(mutex_);
    wasHealthy = healthy_;
  }
  if (!file_ || !wasHealthy) {
    std::string detail;
    status = recover(detail);
    if (status.isOk()) batch.push_front(makeInternal(op::kLogRecovery, detail, false));
  }
  std::size_t written = 0;
  if (status.isOk()) {
    if (options_.groupCommit) {
      status = commit(batch);
    } else {
      for (auto& one : batch) {
        std::deque<std::shared_ptr<Pending>> single{one};
        status = commit(single);
        if (!status.isOk()) break;
        ++written;
      }
    }
  }
  if (!status.isOk()) closeFile();
  std::size_t index = 0;
  {
    std::lock_guard lock(mutex_);
    for (auto& pending : batch) {
      const bool durable = status.isOk() || (!options_.groupCommit && index < written);
      ++index;
      if (pending->skipped) {
        // result already set by commit()
      } else if (durable) {
        pending->result = Status::ok();
      } else {
        pending->result =
            Status(StatusCode::kUnavailable, "audit record not durable: " + status.message());
      }
      pending->done = true;
    }
    healthy_ = status.isOk();
    if (!status.isOk()) {
      ++stats_.failures;
      lastError_ = status.message();
    }
  }
  committed_.notify_all();
  if (mayRotate && status.isOk() && options_.rotateBytes > 0 &&
      committedSize_ >= options_.rotateBytes) {
    const Status rotated = rotate();
    if (!rotated.isOk()) {
      closeFile();
      std::lock_guard lock(mutex_);
      healthy_ = false;
      ++stats_.failures;
      lastError_ = rotated.message();
    }
  }
}

Status AuditLog::commit(std::deque<std::shared_ptr<Pending>>& batch) {
  std::string buffer;
  std::vector<std::string> lines;
  std::uint64_t seq = seq_;
  std::string prev = prev_;
  std::uint64_t since = sinceCheckpoint_;
  std::uint64_t checkpoints = 0;
  std::optional<std::string> newHead;
  for (auto& pending : batch) {
    if (pending->skipped) continue;
    AuditRecord record = pending->record;
    record.instance = instance_;
    record.seq = seq + 1;
    record.prev = prev;
    record.signature.clear();
    if (pending->isCheckpoint) {
      record.keyId = options_.signer->keyId();
      const std::string message = checkpointMessage(record);
      auto signature = options_.signer->sign(
          {reinterpret_cast<const std::uint8_t*>(message.data()), message.size()});
      if (!signature) {
        pending->skipped = true;
        pending->result = signature.status();
        continue;
      }
      record.signature = encodeBase64(*signature);
      since = 0;
      ++checkpoints;
    } else {
      ++since;
    }
    std::string line = serialize(record);
    prev = lineHash(line);
    ++seq;
    buffer += line;
    buffer += '\n';
    if (pending->isCheckpoint) newHead = line;
    lines.push_back(std::move(line));
  }
  if (lines.empty()) return Status::ok();
  if (!file_) return Status(StatusCode::kUnavailable, "audit log file is not open");
  // Nothing below is advanced unless both succeed: a failed write or datasync leaves the
  // batch unconfirmed, and recover() cuts its bytes off.
  KC_RETURN_IF_ERROR(file_->append(buffer));
  KC_RETURN_IF_ERROR(file_->datasync());
  seq_ = seq;
  prev_ = prev;
  sinceCheckpoint_ = since;
  committedSize_ += buffer.size();
  if (options_.syslog) {
    for (const auto& line : lines) ::syslog(LOG_AUTHPRIV | LOG_INFO, "%s", line.c_str());
  }
  std::lock_guard lock(mutex_);
  if (newHead) head_ = std::move(newHead);
  stats_.records += lines.size();
  stats_.bytes += buffer.size();
  stats_.syncs += 1;
  stats_.checkpoints += checkpoints;
  return Status::ok();
}

Status AuditLog::recover(std::string& detail) {
  closeFile();
  const auto path = activePath();
  auto file = fs_->openForAppend(path);
  if (!file) return file.status();
  auto fileSize = (*file)->size();
  if (!fileSize) return fileSize.status();
  const std::uint64_t size = *fileSize;
  std::string lastError;
  {
    std::lock_guard lock(mutex_);
    lastError = lastError_;
  }
  detail = "resumed after: " + (lastError.empty() ? std::string("file not open") : lastError);
  if (size > committedSize_) {
    KC_RETURN_IF_ERROR((*file)->truncate(committedSize_));
    detail += "; removed " + std::to_string(size - committedSize_) +
              " bytes of records that were never confirmed";
  } else if (size < committedSize_) {
    detail += "; the file is shorter than its confirmed records (" + std::to_string(size) + " < " +
              std::to_string(committedSize_) + " bytes): changed outside the log";
    committedSize_ = size;
  }
  file_ = std::move(*file);
  return Status::ok();
}

Status AuditLog::rotate() {
  // The file's last record seals it and names its successor; the successor's first record
  // names it back, so a missing newest file shows as a chain that stops at a rotation.
  const std::uint64_t lastSeq = seq_ + (options_.signer ? 1 : 0);
  const auto archived = rotatedPath(*fs_, directory_, instance_, lastSeq);
  if (options_.signer) {
    auto seal =
        makeInternal(op::kCheckpoint,
                     std::string(kRotationDetail) + "; kept as " + archived.filename().string() +
                         ", continues at seq " + std::to_string(lastSeq + 1) + " in audit.log",
                     true);
    std::deque<std::shared_ptr<Pending>> batch{seal};
    KC_RETURN_IF_ERROR(commit(batch));
  }
  closeFile();
  const Status renamed = fs_->rename(activePath(), archived);
  if (!renamed.isOk())
    return Status(StatusCode::kUnavailable, "rotate audit.log: " + renamed.message());
  if (archiver_) archiver_->enqueue(archived.filename());
  committedSize_ = 0;
  auto file = fs_->openForAppend(activePath());
  if (!file) return file.status();
  file_ = std::move(*file);
  KC_RETURN_IF_ERROR(fs_->syncDirectory(directory_));
  std::deque<std::shared_ptr<Pending>> opening{makeInternal(
      op::kLogOpen,
      "continuing chain after seq " + std::to_string(seq_) + " of " + archived.filename().string(),
      false)};
  KC_RETURN_IF_ERROR(commit(opening));
  std::lock_guard lock(mutex_);
  ++stats_.rotations;
  return Status::ok();
}

void AuditLog::closeFile() {
  file_.reset();
}

Status AuditLog::close() {
  {
    std::lock_guard lock(mutex_);
    if (stopped_) return Status::ok();
    stopping_ = true;
    stopped_ = true;
  }
  wake_.notify_all();
  if (writer_.joinable()) writer_.join();
  if (archiver_) archiver_->stop();
  if (options_.syslog) closelog();
  lock_.reset();
  std::lock_guard lock(mutex_);
  if (!healthy_)
    return Status(StatusCode::kUnavailable, "audit log closed unhealthy: " + lastError_);
  return Status::ok();
}

}  // namespace kc::audit
