#pragma once
// One RSA key pair on several tokens, as an HSM cluster holds it: made once in software (a
// token's own keys never leave it) and imported into each token as a sensitive,
// non-extractable private key and its public key. The token then reports the key as never
// extractable = false (it was outside once), so a daemon serving it needs
// policy.allow_noncompliant_key = true.

#include <cstdint>
#include <string>
#include <vector>

#include "kc/pkcs11/SessionPool.h"

namespace kc::test {

// The big-endian components of an RSA private key. Test material only.
struct SoftwareRsaKey {
  std::vector<std::uint8_t> modulus, publicExponent, privateExponent, prime1, prime2, exponent1,
      exponent2, coefficient;
  // A fresh key of `bits` (OpenSSL). Throws on failure.
  static SoftwareRsaKey generate(int bits = 2048);
};

// Creates the key pair `key` on the pool's token under `label` and CKA_ID `id`: private key
// sensitive, not extractable, decrypt and unwrap only; public key encrypt and wrap. Throws on
// failure.
void importKeyPair(pkcs11::SessionPool& pool, const SoftwareRsaKey& key, const std::string& label,
                   const std::vector<std::uint8_t>& id);

}  // namespace kc::test
