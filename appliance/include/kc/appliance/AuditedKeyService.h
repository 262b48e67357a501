#pragma once
// The audit trail of the key service: every key release, deposit, replacement, refusal and
// integrity failure, and the token operation behind each, goes into the tamper-evident
// audit log (kc/audit/AuditLog.h). Fail closed: a key is handed back only after its records
// are durably on disk; when the log cannot be written, nothing is released or stored and
// the answer is UNAVAILABLE (503), and the health report says the audit log is unhealthy.
//
// Wiring: the AuditTrail observes the inner UserKeyService (it buffers the token operations
// of each request); the AuditedKeyService wraps that service and writes one batch of
// records per request, made durable by one group-committed sync.
//
//   auto trail = std::make_shared<AuditTrail>(log, metricsObserver);
//   auto inner = std::make_shared<UserKeyService>(ring, store, trail);
//   AuditedKeyService service(inner, trail);

#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

#include "kc/api/KeyService.h"
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

  // The token operations recorded for `requestId` since the last call, oldest first.
  std::vector<audit::AuditRecord> takeTokenRecords(const std::string& requestId);
  audit::AuditLog& log() { return *log_; }

 private:
  std::shared_ptr<audit::AuditLog> log_;
  std::shared_ptr<KeyServiceObserver> next_;
  std::mutex mutex_;
  std::map<std::string, std::vector<audit::AuditRecord>> pending_;
};

class AuditedKeyService final : public api::KeyService {
 public:
  AuditedKeyService(std::shared_ptr<api::KeyService> inner, std::shared_ptr<AuditTrail> trail);

  // The inner fetch, then its records; the key only when they are durable.
  Result<SecretBytes> fetchUserKey(const api::RequestContext& context) override;
  // Refused (UNAVAILABLE) before storing anything while the log is unhealthy.
  Status depositUserKey(const api::RequestContext& context, const SecretBytes& key,
                        api::DepositMode mode) override;
  // The inner report and an "audit-log" component.
  api::HealthReport checkHealth() override;
  // The audit log's latest signed checkpoint.
  std::optional<std::string> auditHead() override;
  // A /user-keys request refused before it reached the service (401, 403, 400, 413).
  void recordRefusal(const api::RequestContext& context, int httpStatus,
                     std::string_view reason) override;

 private:
  Status write(const api::RequestContext& context, audit::AuditRecord outcome,
               std::chrono::steady_clock::time_point start);

  std::shared_ptr<api::KeyService> inner_;
  std::shared_ptr<AuditTrail> trail_;
};

}  // namespace kc::appliance
