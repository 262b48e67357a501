#pragma once
// The public half of an RSA key pair as others need it: PEM SubjectPublicKeyInfo and
// its SHA-256 fingerprint.

#include <cstdint>
#include <span>
#include <string>
#include <vector>

#include "kc/Result.h"

namespace kc::pkcs11 {

struct PublicKeyInfo {
  std::string pem;                // -----BEGIN PUBLIC KEY----- ...
  std::vector<std::uint8_t> der;  // DER SubjectPublicKeyInfo
  std::string fingerprint;        // "sha256:" + lower-case hex of SHA-256(der)
  unsigned modulusBits = 0;
};

// Builds the SPKI from the big-endian modulus and public exponent.
Result<PublicKeyInfo> rsaPublicKeyInfo(std::span<const std::uint8_t> modulus,
                                       std::span<const std::uint8_t> exponent);

}  // namespace kc::pkcs11
