#include "kc/provisioning/Rewrap.h"

#include <atomic>
#include <chrono>
#include <mutex>
#include <optional>
#include <thread>

#include "kc/Text.h"
#include "kc/appliance/Envelope.h"

namespace kc::provisioning {
namespace {

using Clock = std::chrono::steady_clock;

std::uint64_t microsSince(Clock::time_point start) {
  return static_cast<std::uint64_t>(
      std::chrono::duration_cast<std::chrono::microseconds>(Clock::now() - start).count());
}

// What became of one record.
enum class Outcome { kRewrapped, kSkipped, kFailed };

class Run {
 public:
  Run(const appliance::KeyRing& ring, storage::UserKeyStore& store, audit::AuditLog* audit,
      RewrapSummary& summary)
      : ring_(ring), store_(store), audit_(audit), summary_(summary) {}

  // Rewraps one record read from the store; failures land in the summary.
  Status rewrap(storage::UserKeyRecord record) {
    for (int attempt = 1;; ++attempt) {
      const auto start = Clock::now();
      // The intent is synced while the token works, and must be durable before the new
      // envelope is written: no rewrap without its record, even after a crash.
      std::optional<audit::AuditLog::AppendTicket> intent = announce(record);
      auto userKey = ring_.open(record.userId, record.envelope);
      if (!userKey) {
        KC_RETURN_IF_ERROR(awaitIntent(intent));
        return fail(record, userKey.status());
      }
      auto sealed = ring_.seal(record.userId, *userKey);
      KC_RETURN_IF_ERROR(awaitIntent(intent));
      if (!sealed) return fail(record, sealed.status());
      storage::UserKeyWrite write{.userId = record.userId,
                                  .envelope = std::move(*sealed),
                                  .wrappingKeyId = summary_.currentKeyId,
                                  .revisionTime = record.revisionTime};
      Status replaced = store_.replaceIfRevision(write, record.revision);
      if (replaced.isOk()) {
        KC_RETURN_IF_ERROR(
            audited(record, audit::outcome::kOk, "from " + record.wrappingKeyId, start));
        count(Outcome::kRewrapped);
        return Status::ok();
      }
      if (replaced.code() != StatusCode::kConflict && replaced.code() != StatusCode::kNotFound) {
        return fail(record, replaced);
      }
      // Someone wrote the record between our read and our replace: theirs stands.
      KC_RETURN_IF_ERROR(audited(
          record, audit::outcome::kConflict,
          "from " + record.wrappingKeyId + ": the record changed meanwhile; the newer one stands",
          start));
      auto fresh = store_.get(record.userId);
      if (!fresh && fresh.status().code() == StatusCode::kNotFound) {
        count(Outcome::kSkipped);
        return Status::ok();
      }
      if (!fresh) return fail(record, fresh.status());
      if (fresh->wrappingKeyId == summary_.currentKeyId) {
        count(Outcome::kSkipped);
        return Status::ok();
      }
      if (attempt == kMaxRewrapAttempts) {
        return fail(*fresh, Status(StatusCode::kConflict, "the record kept changing during " +
                                                              std::to_string(kMaxRewrapAttempts) +
                                                              " attempts; run rewrap again"));
      }
      {
        std::lock_guard lock(mutex_);
        ++summary_.retried;
      }
      record = std::move(*fresh);
    }
  }

  std::uint64_t handled() const { return handled_; }

 private:
  std::optional<audit::AuditLog::AppendTicket> announce(const storage::UserKeyRecord& record) {
    if (audit_ == nullptr) return std::nullopt;
    audit::AuditRecord entry;
    entry.operation = std::string(audit::op::kKeyRewrapIntent);
    entry.outcome = std::string(audit::outcome::kPending);
    entry.userId = record.userId.str();
    entry.detail = "from " + record.wrappingKeyId;
    return audit_->appendStarted({std::move(entry)});
  }

  static Status awaitIntent(std::optional<audit::AuditLog::AppendTicket>& intent) {
    if (!intent) return Status::ok();
    Status written = intent->wait();
    intent.reset();
    if (!written.isOk()) {
      return Status(StatusCode::kUnavailable,
                    "the audit log refused a key.rewrap.intent record, so the run stops: " +
                        written.message());
    }
    return Status::ok();
  }

  Status audited(const storage::UserKeyRecord& record, std::string_view outcome, std::string detail,
                 Clock::time_point start) {
    if (audit_ == nullptr) return Status::ok();
    audit::AuditRecord entry;
    entry.operation = std::string(audit::op::kKeyRewrap);
    entry.outcome = std::string(outcome);
    entry.userId = record.userId.str();
    entry.keyId = summary_.currentKeyId;
    entry.durationMicros = microsSince(start);
    entry.detail = std::move(detail);
    Status written = audit_->append(std::move(entry));
    if (!written.isOk()) {
      return Status(
          StatusCode::kUnavailable,
          "the audit log refused a key.rewrap record, so the run stops: " + written.message());
    }
    return Status::ok();
  }

  Status fail(const storage::UserKeyRecord& record, const Status& why) {
    if (audit_ != nullptr) {
      KC_RETURN_IF_ERROR(
          audited(record, audit::outcome::kError,
                  "from " + record.wrappingKeyId + ": " + std::string(statusCodeName(why.code())),
                  Clock::now()));
    }
    std::lock_guard lock(mutex_);
    summary_.failures.push_back({record.userId.str(), record.wrappingKeyId, why});
    ++handled_;
    return Status::ok();
  }

  void count(Outcome outcome) {
    std::lock_guard lock(mutex_);
    if (outcome == Outcome::kRewrapped) ++summary_.rewrapped;
    if (outcome == Outcome::kSkipped) ++summary_.skipped;
    ++handled_;
  }

  const appliance::KeyRing& ring_;
  storage::UserKeyStore& store_;
  audit::AuditLog* audit_;
  std::mutex mutex_;
  RewrapSummary& summary_;  // counters guarded by mutex_
  std::uint64_t handled_ = 0;
};

bool ringHolds(const appliance::KeyRing& ring, const std::string& keyId) {
  for (const auto& key : ring.keys()) {
    if (key.idHex() == keyId) return true;
  }
  return false;
}

// Rewraps `page` on up to `threads` workers; the first fatal error (an audit failure) stops
// every worker and is returned.
Status rewrapPage(Run& run, std::vector<storage::UserKeyRecord>& page, std::size_t threads,
                  const std::function<void(std::uint64_t)>& progress) {
  std::atomic<std::size_t> next{0};
  std::atomic<bool> stop{false};
  std::mutex errorMutex;
  Status fatal;
  auto work = [&] {
    while (!stop) {
      const std::size_t i = next++;
      if (i >= page.size()) return;
      Status done = run.rewrap(std::move(page[i]));
      if (!done.isOk()) {
        std::lock_guard lock(errorMutex);
        if (fatal.isOk()) fatal = done;
        stop = true;
        return;
      }
      if (progress) progress(1);
    }
  };
  const std::size_t workers = std::min(std::max<std::size_t>(threads, 1), page.size());
  std::vector<std::jthread> pool;
  for (std::size_t i = 1; i < workers; ++i) pool.emplace_back(work);
  work();
  pool.clear();  // joins
  return fatal;
}

}  // namespace

Result<RewrapSummary> rewrapRecords(const appliance::KeyRing& ring, storage::UserKeyStore& store,
                                    audit::AuditLog* audit, const RewrapOptions& options) {
  if (audit == nullptr && !options.dryRun) {
    return Status(StatusCode::kInvalidArgument, "a rewrap that writes needs an audit log");
  }
  RewrapSummary summary;
  summary.currentKeyId = ring.current().idHex();
  auto counts = store.countPerWrappingKey();
  if (!counts) return counts.status();
  for (const auto& [keyId, count] : *counts) {
    if (keyId == summary.currentKeyId || count <= 0) continue;
    summary.pendingByKey[keyId] = count;
    summary.pending += static_cast<std::uint64_t>(count);
    if (!ringHolds(ring, keyId)) summary.unknown += static_cast<std::uint64_t>(count);
  }
  if (options.dryRun) return summary;

  const auto started = Clock::now();
  audit::AuditRecord start;
  start.operation = std::string(audit::op::kRewrapStart);
  start.outcome = std::string(audit::outcome::kOk);
  start.keyId = summary.currentKeyId;
  start.detail = std::to_string(summary.pending) + " record(s) under " +
                 std::to_string(summary.pendingByKey.size()) + " other key(s); " +
                 std::to_string(options.threads) + " thread(s)";
  if (Status written = audit->append(std::move(start)); !written.isOk()) {
    return Status(StatusCode::kUnavailable,
                  "the audit log refused the rewrap.start record: " + written.message());
  }

  Run run(ring, store, audit, summary);
  Status fatal;
  for (const auto& [keyId, count] : summary.pendingByKey) {
    std::optional<UserId> after;
    while (fatal.isOk()) {
      std::size_t pageSize = std::max<std::size_t>(options.pageSize, 1);
      if (options.limit) {
        if (run.handled() >= *options.limit) {
          summary.stoppedAtLimit = true;
          break;
        }
        pageSize = static_cast<std::size_t>(
            std::min<std::uint64_t>(pageSize, *options.limit - run.handled()));
      }
      auto page = store.listByWrappingKey(keyId, after, pageSize);
      if (!page) {
        fatal = page.status();
        break;
      }
      if (page->empty()) break;
      after = page->back().userId;
      const bool last = page->size() < pageSize;
      fatal = rewrapPage(run, *page, options.threads, options.progress);
      if (last) break;
    }
    if (!fatal.isOk() || summary.stoppedAtLimit) break;
  }

  audit::AuditRecord end;
  end.operation = std::string(audit::op::kRewrapEnd);
  end.outcome = std::string(fatal.isOk() && summary.failures.empty() ? audit::outcome::kOk
                                                                     : audit::outcome::kError);
  end.keyId = summary.currentKeyId;
  end.durationMicros = microsSince(started);
  end.detail = "rewrapped " + std::to_string(summary.rewrapped) + ", skipped " +
               std::to_string(summary.skipped) + ", failed " +
               std::to_string(summary.failures.size()) +
               (summary.stoppedAtLimit ? ", stopped at the limit" : "") +
               (fatal.isOk() ? "" : ", stopped: " + std::string(statusCodeName(fatal.code())));
  Status ended = audit->append(std::move(end));
  if (!fatal.isOk()) return fatal;
  if (!ended.isOk()) {
    return Status(StatusCode::kUnavailable,
                  "the audit log refused the rewrap.end record: " + ended.message());
  }
  return summary;
}

}  // namespace kc::provisioning
