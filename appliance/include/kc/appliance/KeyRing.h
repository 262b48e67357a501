#pragma once
// The wrapping keys the service can use: the current key, which seals every new record, and
// zero or more older keys, which only open records sealed before a rotation. Each key is
// looked up by the CKA_ID an envelope names. Immutable once built, so safe to share between
// threads.

#include <cstdint>
#include <memory>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "kc/Result.h"
#include "kc/SecretBytes.h"
#include "kc/UserId.h"
#include "kc/pkcs11/RsaKeyPair.h"

namespace kc::pkcs11 {
class SessionPool;
class TokenCluster;
}  // namespace kc::pkcs11

namespace kc::appliance {

class KeyRing {
 public:
  // A ring of `current` and `previous`. INVALID_ARGUMENT when a key's CKA_ID is empty or
  // longer than kMaxKeyIdBytes (an envelope could not name it), or two keys share a CKA_ID.
  static Result<KeyRing> create(pkcs11::RsaKeyPair current,
                                std::vector<pkcs11::RsaKeyPair> previous = {});

  // The key that seals new records.
  const pkcs11::RsaKeyPair& current() const { return keys_.front(); }
  // Every key, the current one first.
  const std::vector<pkcs11::RsaKeyPair>& keys() const { return keys_; }

  // The key whose CKA_ID is `id`, or NOT_FOUND naming the id in hex.
  Result<pkcs11::RsaKeyPair> find(std::span<const std::uint8_t> id) const;

  // Seals `userKey` for `userId` under the current key (see sealEnvelope).
  Result<std::vector<std::uint8_t>> seal(const UserId& userId, const SecretBytes& userKey) const;

  // Parses `envelope` and opens it for `userId` with the key it names. INTEGRITY when it does
  // not parse, does not authenticate for this user, or names a key that is not in the ring
  // (the message then names that key's id: a retired key, or a forged record). Never
  // NOT_FOUND, which callers take to mean "this user has no key". The token's error
  // (UNAVAILABLE, TIMEOUT, TOKEN_ERROR) when the token cannot answer.
  Result<SecretBytes> open(const UserId& userId, std::span<const std::uint8_t> envelope) const;

 private:
  explicit KeyRing(std::vector<pkcs11::RsaKeyPair> keys) : keys_(std::move(keys)) {}
  std::vector<pkcs11::RsaKeyPair> keys_;  // never empty; keys_[0] is current
};

struct KeyRingSettings {
  std::string currentKeyUri;                 // pkcs11.wrap_key
  std::vector<std::string> previousKeyUris;  // pkcs11.previous_wrap_keys
  // Accept a key that breaks the attribute policy (development only): each violation is
  // logged as a warning on "kc.keys" instead of refusing the key.
  bool allowNoncompliantKeys = false;

  bool operator==(const KeyRingSettings&) const = default;
};

// Finds each key on the pool's token, checks it against the wrapping-key policy (sensitive,
// never extractable, decrypt/unwrap only) and builds the ring. Errors name the key URI:
// NOT_FOUND / CONFLICT from the lookup, POLICY_VIOLATION listing what the key breaks.
Result<KeyRing> findKeyRing(const std::shared_ptr<pkcs11::SessionPool>& pool,
                            const KeyRingSettings& settings);

// The same on every token of `cluster` (pkcs11.tokens): each key must be the same key on every
// token (RsaKeyPair::findOnCluster) and pass the policy on each.
Result<KeyRing> findKeyRing(const std::shared_ptr<pkcs11::TokenCluster>& cluster,
                            const KeyRingSettings& settings);

}  // namespace kc::appliance
