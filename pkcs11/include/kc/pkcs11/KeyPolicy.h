#pragma once
// What a key on the token must look like, and the check that refuses one that does not.
// DESIGN.md: the private half is sensitive, not extractable, private; a wrapping key only
// decrypts/unwraps, an audit key only signs (key separation).

#include <cstdint>
#include <string>
#include <vector>

#include "kc/Result.h"
#include "kc/pkcs11/Cryptoki.h"

namespace kc::pkcs11 {

enum class KeyPurpose { kWrap, kAudit };
std::string_view keyPurposeName(KeyPurpose purpose);  // "wrap" / "audit"

// The attributes of a key pair as the token reports them.
struct KeyAttributes {
  std::string label;
  std::vector<std::uint8_t> id;
  CK_ULONG modulusBits = 0;
  // private key
  bool onToken = false;  // CKA_TOKEN
  bool isPrivate = false;
  bool sensitive = false;
  bool extractable = true;
  bool alwaysSensitive = false;
  bool neverExtractable = false;
  bool decrypt = false;
  bool unwrap = false;
  bool sign = false;
  bool signRecover = false;
  bool derive = false;
  // public key
  bool publicEncrypt = false;
  bool publicWrap = false;
  bool publicVerify = false;
};

struct PolicyReport {
  std::vector<std::string> violations;  // each one refuses the key
  std::vector<std::string> warnings;    // worth an operator's attention, not a refusal
  bool compliant() const { return violations.empty(); }
};

PolicyReport checkKeyPolicy(const KeyAttributes& attributes, KeyPurpose purpose);

// OK when the key complies; POLICY_VIOLATION naming the key and every violation otherwise.
Status enforceKeyPolicy(const KeyAttributes& attributes, KeyPurpose purpose);

}  // namespace kc::pkcs11
