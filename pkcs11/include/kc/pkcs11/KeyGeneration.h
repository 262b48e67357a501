#pragma once
// Generation of RSA key pairs on the token with the policy attributes of DESIGN.md, and their
// destruction when a rotation retires them.

#include <memory>
#include <string>

#include "kc/Result.h"
#include "kc/pkcs11/KeyPolicy.h"
#include "kc/pkcs11/RsaKeyPair.h"

namespace kc::pkcs11 {

class SessionPool;

struct KeyGenerationSpec {
  KeyPurpose purpose = KeyPurpose::kWrap;
  unsigned bits = 3072;  // 2048, 3072 or 4096
  std::string label;     // CKA_LABEL of both halves; must not be taken on the token
};

// Generates the pair on the token (CKA_ID: 16 random bytes from the token). The private
// half is sensitive, never extractable, private; a wrapping key may only decrypt and
// unwrap, an audit key only sign. ALREADY_EXISTS when a key with the label exists.
Result<RsaKeyPair> generateKeyPair(const std::shared_ptr<SessionPool>& pool,
                                   const KeyGenerationSpec& spec);

// Destroys both halves of `key` on the token (C_DestroyObject on every private and public key
// object with its CKA_ID): irreversible, and every record sealed by it can never be opened
// again. NOT_FOUND when the token holds no object with that CKA_ID (already destroyed); the
// token's error otherwise. Handles other copies of `key` hold become invalid.
Status destroyKeyPair(const std::shared_ptr<SessionPool>& pool, const RsaKeyPair& key);

}  // namespace kc::pkcs11
