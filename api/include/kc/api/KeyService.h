#pragma once
// The one interface the HTTP layer calls. Declared here, implemented in appliance/: api/
// never sees a token, a database or an envelope, only user ids, keys and Status.

#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "kc/Result.h"
#include "kc/SecretBytes.h"
#include "kc/UserId.h"

namespace kc::api {

// Who is asking, for the audit trail and the logs. Never a token or a key.
struct RequestContext {
  std::string requestId;         // unique per request; echoed in the X-Request-Id header
  std::string clientAddress;     // the peer address (or X-Forwarded-For's first hop if trusted)
  std::optional<UserId> userId;  // the token's `sub`; empty when the token named no user
};

enum class DepositMode {
  kCreateOnly,       // POST: ALREADY_EXISTS when the user has a key
  kCreateOrReplace,  // PUT: creates or replaces
};

struct ComponentHealth {
  std::string name;  // "token", "wrapping-key", "database", "audit-log", ...
  bool healthy = false;
  std::string detail;  // for the JSON health variant and the log; no secrets
};

struct HealthReport {
  bool healthy = false;
  std::vector<ComponentHealth> components;
};

class KeyService {
 public:
  virtual ~KeyService() = default;

  // The user's key, opened on the token; records the access. NOT_FOUND when the user has
  // none; INTEGRITY when the stored record does not open for this user (it is logged, no
  // key is released); UNAVAILABLE/TIMEOUT when the token or database cannot answer now.
  virtual Result<SecretBytes> fetchUserKey(const RequestContext& context) = 0;

  // Seals `key` under the wrapping key and stores it for the user. With kCreateOnly,
  // ALREADY_EXISTS when the user has a key. INVALID_ARGUMENT for a key outside 16..512
  // bytes.
  virtual Status depositUserKey(const RequestContext& context, const SecretBytes& key,
                                DepositMode mode) = 0;

  // Whether the token, the key and the database answer now.
  virtual HealthReport checkHealth() = 0;

  // The latest signed checkpoint of the audit log, as its line stands in the log (JSON, see
  // kc/audit/AuditRecord.h); none when there is no audit log or no signed checkpoint yet.
  virtual std::optional<std::string> auditHead() { return std::nullopt; }

  // A /user-keys request the HTTP layer refused before calling the service: 401 or 403
  // (the token), 400 or 413 (the body). For the audit trail; `reason` is short and never
  // holds the token or a key. `context.userId` is std::nullopt when the token named no user.
  virtual void recordRefusal(const RequestContext& context, int httpStatus,
                             std::string_view reason) {
    (void)context, (void)httpStatus, (void)reason;
  }
};

}  // namespace kc::api
