#pragma once
// UserKeyService: the KeyService the HTTP layer calls, over the key ring (the token) and the
// user-key store. The store holds only envelopes; keys are opened on the token per request
// and handed back in a SecretBytes. Safe to call from many threads at once: the ring is
// immutable, the store and the token's session pool are thread-safe, the observer must be.

#include <atomic>
#include <cstddef>
#include <memory>
#include <string_view>

#include "kc/Result.h"
#include "kc/SecretBytes.h"
#include "kc/api/KeyService.h"
#include "kc/appliance/KeyRing.h"
#include "kc/storage/UserKeyStore.h"

namespace kc::appliance {

// What the token did for a request: sealing a user key or opening one.
enum class TokenOperation { kWrap, kUnwrap };
// "wrap" / "unwrap": the metrics' label.
std::string_view tokenOperationName(TokenOperation operation);

// What a request asked of the service.
enum class KeyOperation { kFetch, kDepositCreate, kDepositReplace };

// Hooks for metrics and the audit trail. Called on the request's thread, after the fact;
// implementations must be thread-safe and quick, and must not throw. Every method has an
// empty default so an observer overrides only what it needs.
class KeyServiceObserver {
 public:
  virtual ~KeyServiceObserver() = default;

  // A token operation finished: for which request, with which wrapping key (CKA_ID hex), its
  // wall-clock duration and outcome.
  virtual void onTokenOperation(TokenOperation operation, const api::RequestContext& context,
                                std::string_view keyId, double seconds, const Status& outcome) {
    (void)operation, (void)context, (void)keyId, (void)seconds, (void)outcome;
  }

  // A request finished: for whom, and how. OK for a fetch means a key was released.
  virtual void onKeyOperation(KeyOperation operation, const api::RequestContext& context,
                              const Status& outcome) {
    (void)operation, (void)context, (void)outcome;
  }
};

class UserKeyService final : public api::KeyService {
 public:
  // The Bitwarden contract's bounds for a user key.
  static constexpr std::size_t kMinUserKeyBytes = 16;
  static constexpr std::size_t kMaxUserKeyBytes = 512;

  // `observer` may be null.
  UserKeyService(std::shared_ptr<const KeyRing> ring, std::shared_ptr<storage::UserKeyStore> store,
                 std::shared_ptr<KeyServiceObserver> observer = nullptr);

  // See api::KeyService. INVALID_ARGUMENT when the context names no user. A record
  // that does not open for this user is logged on "kc.keys" as an integrity failure with the
  // user id and request id (never key material) and answered INTEGRITY. The access time is
  // recorded after the key opened; failing to record it is logged, not fatal.
  Result<SecretBytes> fetchUserKey(const api::RequestContext& context) override;

  // See api::KeyService: seals under the ring's current key; kCreateOnly inserts
  // (ALREADY_EXISTS when the user has a key), kCreateOrReplace upserts. INVALID_ARGUMENT when
  // the context names no user.
  Status depositUserKey(const api::RequestContext& context, const SecretBytes& key,
                        api::DepositMode mode) override;

  // Replaces the key ring (a reload after the configuration's keys changed). A request that
  // started before uses the ring it started with to the end; every later one the new ring.
  void replaceKeyRing(std::shared_ptr<const KeyRing> ring);
  std::shared_ptr<const KeyRing> keyRing() const;

  // Components "token" (a session can be leased), "wrapping-key" (its handles answer an
  // attribute read) and "database" (the store answers a ping).
  api::HealthReport checkHealth() override;

 private:
  Status deposit(const api::RequestContext& context, const SecretBytes& key, api::DepositMode mode);
  Result<SecretBytes> fetch(const api::RequestContext& context);

  std::atomic<std::shared_ptr<const KeyRing>> ring_;
  std::shared_ptr<storage::UserKeyStore> store_;
  std::shared_ptr<KeyServiceObserver> observer_;
};

}  // namespace kc::appliance
