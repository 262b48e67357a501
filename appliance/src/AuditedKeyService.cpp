#include "kc/appliance/AuditedKeyService.h"

#include <Poco/Logger.h>

#include <algorithm>
#include <chrono>

#include "kc/ThreadName.h"
#include "kc/api/ErrorMapping.h"

namespace kc::appliance {
namespace {

namespace op = audit::op;
namespace outcome = audit::outcome;

Poco::Logger& auditLogger() {
  return Poco::Logger::get("kc.audit");
}

std::uint64_t microsSince(std::chrono::steady_clock::time_point start) {
  return static_cast<std::uint64_t>(std::chrono::duration_cast<std::chrono::microseconds>(
                                        std::chrono::steady_clock::now() - start)
                                        .count());
}

// The user as the audit trail and the log spell it: the canonical id, or empty when the request
// names no user (a refused token).
std::string userText(const api::RequestContext& context) {
  return context.userId ? context.userId->str() : "";
}

audit::AuditRecord recordFor(const api::RequestContext& context) {
  audit::AuditRecord record;
  record.userId = userText(context);
  record.requestId = context.requestId;
  record.clientRequestId = context.clientRequestId;
  record.clientAddress = context.clientAddress;
  return record;
}

// The outcome record of a request that failed with `status`, with the HTTP status the API
// answers for it (api::httpStatusFor: the one mapping).
audit::AuditRecord failureRecord(const api::RequestContext& context, const Status& status) {
  audit::AuditRecord record = recordFor(context);
  const int http = api::httpStatusFor(status, api::StatusSource::kKeyService);
  record.httpStatus = static_cast<unsigned>(http);
  record.detail = std::string(statusCodeName(status.code()));
  record.operation =
      status.code() == StatusCode::kIntegrity ? op::kIntegrityFailure : op::kKeyRefused;
  record.outcome = status.code() == StatusCode::kIntegrity ? outcome::kIntegrity
                   : http == 404                           ? outcome::kNotFound
                   : http >= 400 && http < 500             ? outcome::kRejected
                                                           : outcome::kError;
  return record;
}

const Status kAuditUnavailable(StatusCode::kUnavailable,
                               "the audit log cannot be written; nothing is released unaudited");

}  // namespace

AuditTrail::AuditTrail(std::shared_ptr<audit::AuditLog> log,
                       std::shared_ptr<KeyServiceObserver> next)
    : log_(std::move(log)), next_(std::move(next)) {}

void AuditTrail::onTokenOperation(TokenOperation operation, const api::RequestContext& context,
                                  std::string_view keyId, double seconds, const Status& result) {
  if (next_) next_->onTokenOperation(operation, context, keyId, seconds, result);
  audit::AuditRecord record = recordFor(context);
  record.operation = operation == TokenOperation::kWrap ? op::kTokenWrap : op::kTokenUnwrap;
  record.outcome = result.isOk()                             ? outcome::kOk
                   : result.code() == StatusCode::kIntegrity ? outcome::kIntegrity
                                                             : outcome::kError;
  record.keyId = std::string(keyId);
  record.durationMicros = static_cast<std::uint64_t>(seconds * 1e6);
  if (!result.isOk()) record.detail = std::string(statusCodeName(result.code()));
  std::lock_guard lock(mutex_);
  pending_[context.requestId].push_back(std::move(record));
}

void AuditTrail::onKeyOperation(KeyOperation operation, const api::RequestContext& context,
                                const Status& result) {
  if (next_) next_->onKeyOperation(operation, context, result);
}

std::vector<audit::AuditRecord> AuditTrail::takeTokenRecords(const std::string& requestId) {
  std::lock_guard lock(mutex_);
  auto it = pending_.find(requestId);
  if (it == pending_.end()) return {};
  auto records = std::move(it->second);
  pending_.erase(it);
  return records;
}

AuditedKeyService::AuditedKeyService(std::shared_ptr<api::KeyService> inner,
                                     std::shared_ptr<AuditTrail> trail,
                                     RefusalAuditSettings refusals)
    : inner_(std::move(inner)),
      trail_(std::move(trail)),
      refusals_(refusals.perClient,
                std::chrono::duration_cast<std::chrono::microseconds>(refusals.interval),
                RefusalLimiter::kMaxClients, refusals.total) {
  watcher_ = std::thread([this] {
    nameThisThread("kc-refusals");
    watchRefusalIntervals();
  });
}

AuditedKeyService::~AuditedKeyService() {
  close();
}

void AuditedKeyService::close() {
  {
    std::lock_guard lock(watcherMutex_);
    if (closing_) return;
    closing_ = true;
  }
  watcherWake_.notify_all();
  if (watcher_.joinable()) watcher_.join();
  writeSummaries(refusals_.takeAll());
}

void AuditedKeyService::watchRefusalIntervals() {
  // Checked a few times per interval (at most once a second), so a summary is written soon
  // after its interval ends even when no refusal follows.
  const auto tick = std::clamp<std::chrono::milliseconds>(
      std::chrono::duration_cast<std::chrono::milliseconds>(refusals_.interval()) / 4,
      std::chrono::milliseconds(20), std::chrono::seconds(1));
  std::unique_lock lock(watcherMutex_);
  while (!closing_) {
    watcherWake_.wait_for(lock, tick, [this] { return closing_; });
    if (closing_) break;
    lock.unlock();
    flushEndedRefusalSummaries();
    lock.lock();
  }
}

void AuditedKeyService::flushEndedRefusalSummaries() {
  writeSummaries(refusals_.takeEnded(audit::nowMicros()));
}

void AuditedKeyService::writeSummaries(const std::vector<RefusalSummary>& summaries) {
  if (summaries.empty()) return;
  std::vector<audit::AuditRecord> records;
  for (const auto& summary : summaries) {
    audit::AuditRecord record;
    record.operation = op::kKeyRefusedSummary;
    record.outcome = summary.allDenied() ? outcome::kDenied : outcome::kRejected;
    record.clientAddress = summary.client;
    record.detail = summary.detail();
    records.push_back(std::move(record));
  }
  Status written = trail_->log().appendAll(records);
  if (!written.isOk()) {
    auditLogger().error("summaries of %z refused requests' clients not written: %s",
                        summaries.size(), written.toString());
  }
}

std::vector<audit::AuditRecord> AuditedKeyService::recordsOf(
    const api::RequestContext& context, audit::AuditRecord outcomeRecord,
    std::chrono::steady_clock::time_point start) {
  std::vector<audit::AuditRecord> records = trail_->takeTokenRecords(context.requestId);
  outcomeRecord.durationMicros = microsSince(start);
  if (outcomeRecord.keyId.empty() && !records.empty()) outcomeRecord.keyId = records.back().keyId;
  records.push_back(std::move(outcomeRecord));
  return records;
}

Status AuditedKeyService::write(const api::RequestContext& context,
                                audit::AuditRecord outcomeRecord,
                                std::chrono::steady_clock::time_point start) {
  Status written = trail_->log().appendAll(recordsOf(context, std::move(outcomeRecord), start));
  if (!written.isOk()) {
    auditLogger().error("audit records of request %s (user %s) not written: %s", context.requestId,
                        userText(context), written.toString());
  }
  return written;
}

Result<SecretBytes> AuditedKeyService::fetchUserKey(const api::RequestContext& context) {
  const auto start = std::chrono::steady_clock::now();
  if (!trail_->log().healthy()) return kAuditUnavailable;
  // The intent is synced while the store is read and the token unwraps, so a release costs the
  // longer of the two rather than their sum; the key waits for it below.
  audit::AuditRecord intentRecord = recordFor(context);
  intentRecord.operation = op::kKeyReleaseIntent;
  intentRecord.outcome = outcome::kPending;
  std::vector<audit::AuditRecord> intentRecords;
  intentRecords.push_back(std::move(intentRecord));
  auto intent = trail_->log().appendStarted(intentRecords);
  auto key = inner_->fetchUserKey(context);
  const Status intentWritten = intent.wait();
  if (!intentWritten.isOk()) {
    auditLogger().error("release intent of request %s (user %s) not written: %s", context.requestId,
                        userText(context), intentWritten.toString());
    if (key.isOk()) {
      key->clear();
      key = kAuditUnavailable;
    }
  }
  audit::AuditRecord record =
      key.isOk() ? recordFor(context) : failureRecord(context, key.status());
  if (key.isOk()) {
    record.operation = op::kKeyRelease;
    record.outcome = outcome::kOk;
    record.httpStatus = 200;
  }
  // The durable intent already covers the answer: the outcome joins the next sync.
  Status queued = trail_->log().appendDeferred(recordsOf(context, std::move(record), start));
  if (!queued.isOk()) {
    auditLogger().error("outcome records of request %s (user %s) not queued: %s", context.requestId,
                        userText(context), queued.toString());
  }
  return key;
}

Status AuditedKeyService::depositUserKey(const api::RequestContext& context, const SecretBytes& key,
                                         api::DepositMode mode) {
  const auto start = std::chrono::steady_clock::now();
  if (!trail_->log().healthy()) return kAuditUnavailable;
  Status stored = inner_->depositUserKey(context, key, mode);
  audit::AuditRecord record = stored.isOk() ? recordFor(context) : failureRecord(context, stored);
  if (stored.isOk()) {
    record.operation = mode == api::DepositMode::kCreateOnly ? op::kKeyDeposit : op::kKeyReplace;
    record.outcome = outcome::kOk;
    record.httpStatus = 200;
    if (mode == api::DepositMode::kCreateOrReplace) record.detail = "put";
  }
  Status written = write(context, std::move(record), start);
  if (!written.isOk() && stored.isOk()) {
    // Stored but not audited: the client is told to retry, and the operator by the log.
    auditLogger().critical("key of user %s stored (request %s) but its audit record failed",
                           userText(context), context.requestId);
    return kAuditUnavailable;
  }
  return stored;
}

api::HealthReport AuditedKeyService::checkHealth() {
  api::HealthReport report = inner_->checkHealth();
  api::ComponentHealth log{.name = "audit-log"};
  log.healthy = trail_->log().healthy();
  log.detail = log.healthy ? trail_->log().activePath().string() + " is writable"
                           : trail_->log().activePath().string() + " cannot be written";
  report.healthy = report.healthy && log.healthy;
  report.components.push_back(std::move(log));
  return report;
}

std::optional<std::string> AuditedKeyService::auditHead() {
  return trail_->log().head();
}

void AuditedKeyService::recordRefusal(const api::RequestContext& context, int httpStatus,
                                      std::string_view reason) {
  const std::int64_t now = audit::nowMicros();
  writeSummaries(refusals_.takeEnded(now));
  if (!refusals_.admit(context.clientAddress, static_cast<unsigned>(httpStatus), now)) return;
  audit::AuditRecord record = recordFor(context);
  record.operation = op::kKeyRefused;
  record.outcome = httpStatus == 401 || httpStatus == 403 ? outcome::kDenied : outcome::kRejected;
  record.httpStatus = static_cast<unsigned>(httpStatus);
  record.detail = std::string(reason.substr(0, 120));
  Status written = trail_->log().append(std::move(record));
  if (!written.isOk()) {
    auditLogger().error("audit record of refused request %s not written: %s", context.requestId,
                        written.toString());
  }
}

}  // namespace kc::appliance
