#pragma once
// The audit trail of the key service: every key release, deposit, replacement, refusal and
// integrity failure, and the token operation behind each, goes into the tamper-evident
// audit log (kc/audit/AuditLog.h). Fail closed: a key is handed back only after a record
// saying it will be is durably on disk; when the log cannot be written, nothing is released or
// stored and the answer is UNAVAILABLE (503), and the health report says the audit log is
// unhealthy.
//
// Refusals cost bounded work: the first refusals of each client per interval are recorded
// one by one, the rest counted into one "key.refused.summary" record per client and interval
// (RefusalLimiter.h), written when the interval ends (a background thread watches) and at
// close(). So a flood of bad tokens can neither fill the disk nor take the fsyncs key
// releases wait for.
//
// Each request's token operations are buffered under its request id, which the daemon
// generates (never the client's X-Request-Id): concurrent requests never share a buffer.
//
// A release overlaps its audit sync with the token: a "key.release.intent" record is handed
// to the log before the store read and unwrap, and the key leaves only once that record is
// durable; the token operation and the outcome follow without a sync of their own. A deposit
// writes its records after storing, made durable by one group-committed sync.
//
// Wiring: the AuditTrail observes the inner UserKeyService (it buffers the token operations
// of each request); the AuditedKeyService wraps that service.
//
//   auto trail = std::make_shared<AuditTrail>(log, metricsObserver);
//   auto inner = std::make_shared<UserKeyService>(ring, store, trail);
//   AuditedKeyService service(inner, trail);

#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "kc/api/KeyService.h"
#include "kc/appliance/RefusalLimiter.h"
#include "kc/appliance/UserKeyService.h"
#include "kc/audit/AuditLog.h"

namespace kc::appliance {

class AuditTrail final : public KeyServiceObserver {
 public:
  // `next` (may be null) also sees every event, e.g. for metrics.
  AuditTrail(std::shared_ptr<audit::AuditLog> log, std::shared_ptr<KeyServiceObserver> next);

  void onTokenOperation(TokenOperation operation, const api::RequestContext& context,
                        std::string_view keyId, double seconds, const Status& outcome) override;
  void onKeyOperation(KeyOperation operation, const api::RequestContext& context,
                      const Status& outcome) override;

  // The token operations recorded for `requestId` since the last call, oldest first. The id
  // is the daemon's own (api::RequestContext::requestId), unique per request, so concurrent
  // requests never take each other's records.
  std::vector<audit::AuditRecord> takeTokenRecords(const std::string& requestId);
  audit::AuditLog& log() { return *log_; }

 private:
  std::shared_ptr<audit::AuditLog> log_;
  std::shared_ptr<KeyServiceObserver> next_;
  std::mutex mutex_;
  std::map<std::string, std::vector<audit::AuditRecord>> pending_;
};

// audit.refusals_per_client and audit.refusal_interval_s.
struct RefusalAuditSettings {
  std::size_t perClient = 20;
  std::size_t total = 1000;  // across all clients (RefusalLimiter.h)
  std::chrono::milliseconds interval{std::chrono::seconds(60)};
};

class AuditedKeyService final : public api::KeyService {
 public:
  AuditedKeyService(std::shared_ptr<api::KeyService> inner, std::shared_ptr<AuditTrail> trail,
                    RefusalAuditSettings refusals = {});
  // close().
  ~AuditedKeyService() override;
  AuditedKeyService(const AuditedKeyService&) = delete;
  AuditedKeyService& operator=(const AuditedKeyService&) = delete;

  // A "key.release.intent" record started, the inner fetch while it syncs, then the key only
  // once the intent is durable (UNAVAILABLE, the key wiped, when it cannot be made so). The
  // token operations and the outcome follow as deferred records (AuditLog::appendDeferred).
  Result<SecretBytes> fetchUserKey(const api::RequestContext& context) override;
  // Refused (UNAVAILABLE) before storing anything while the log is unhealthy.
  Status depositUserKey(const api::RequestContext& context, const SecretBytes& key,
                        api::DepositMode mode) override;
  // The inner report and an "audit-log" component.
  api::HealthReport checkHealth() override;
  // The audit log's latest signed checkpoint.
  std::optional<std::string> auditHead() override;
  // A /user-keys request refused before it reached the service (401, 403, 400, 413): recorded
  // on its own while its client is within the limit of the interval, else only counted for
  // the client's summary record.
  void recordRefusal(const api::RequestContext& context, int httpStatus,
                     std::string_view reason) override;

  // Writes the summaries of the interval that ended, if it did (the background thread calls
  // this; tests may too).
  void flushEndedRefusalSummaries();
  // Stops the background thread and writes the summaries of the current interval. Call before
  // the audit log closes; later refusals are still recorded. Idempotent.
  void close();
  // Refusals counted into summaries instead of recorded one by one, since start.
  std::uint64_t summarisedRefusals() const { return refusals_.summarised(); }

 private:
  // The request's buffered token records followed by `outcome`, its duration set.
  std::vector<audit::AuditRecord> recordsOf(const api::RequestContext& context,
                                            audit::AuditRecord outcome,
                                            std::chrono::steady_clock::time_point start);
  // recordsOf(), made durable; errors are logged.
  Status write(const api::RequestContext& context, audit::AuditRecord outcome,
               std::chrono::steady_clock::time_point start);
  void writeSummaries(const std::vector<RefusalSummary>& summaries);
  void watchRefusalIntervals();

  std::shared_ptr<api::KeyService> inner_;
  std::shared_ptr<AuditTrail> trail_;
  RefusalLimiter refusals_;
  std::mutex watcherMutex_;
  std::condition_variable watcherWake_;
  bool closing_ = false;  // GUARDED_BY(watcherMutex_)
  std::thread watcher_;   // writes summaries when an interval ends
};

}  // namespace kc::appliance
