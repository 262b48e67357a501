#pragma once
// The envelope: the versioned record stored for each user. Hybrid encryption:
//   - a fresh random 32-byte data-encryption key (DEK) per seal;
//   - the user key encrypted with AES-256-GCM under the DEK (12-byte random nonce, 16-byte tag);
//   - the DEK wrapped with RSA-OAEP by the token's wrapping key, so only a private-key
//     operation on the token can open the record.
//
// Binary layout, version 1 (all integers big-endian):
//   offset  size  field
//   0       3     magic "KCE"
//   3       1     version = 1
//   4       1     OAEP hash of the wrapped DEK (pkcs11::OaepHash: 1 = SHA-1, 2 = SHA-256)
//   5       1     length k of the wrapping key's CKA_ID, 1..kMaxKeyIdBytes
//   6       k     the wrapping key's CKA_ID
//   6+k     2     length w of the wrapped DEK, 1..kMaxWrappedDekBytes
//   8+k     w     the wrapped DEK (RSA-OAEP ciphertext)
//   8+k+w   2     length n of the encrypted user key (without the tag), 1..kMaxSealedKeyBytes
//   10+k+w  12    GCM nonce
//   22+k+w  n+16  AES-256-GCM ciphertext ‖ tag
// Nothing may follow. Every byte before the nonce is the "header".
//
// The GCM associated data is kAssociatedDataDomain ‖ header ‖ canonical user id, so a record
// copied onto another user's id, or any changed byte, fails to open (INTEGRITY): the header is
// authenticated by GCM, the wrapped DEK by both OAEP and GCM, the nonce and ciphertext by GCM.
//
// Parsing and serialising are pure functions (fuzzed without a token); sealing and opening
// take the token's key pair.

#include <array>
#include <cstddef>
#include <cstdint>
#include <span>
#include <string_view>
#include <vector>

#include "kc/Result.h"
#include "kc/SecretBytes.h"
#include "kc/UserId.h"
#include "kc/pkcs11/RsaKeyPair.h"

namespace kc::appliance {

inline constexpr std::array<std::uint8_t, 3> kEnvelopeMagic = {'K', 'C', 'E'};
inline constexpr std::uint8_t kEnvelopeVersion = 1;
inline constexpr std::size_t kDekBytes = 32;
inline constexpr std::size_t kNonceBytes = 12;
inline constexpr std::size_t kTagBytes = 16;
inline constexpr std::size_t kMaxKeyIdBytes = 64;         // its hex form fits the store's 128
inline constexpr std::size_t kMaxWrappedDekBytes = 1024;  // RSA up to 8192 bits
inline constexpr std::size_t kMaxSealedKeyBytes = 4096;   // the service allows at most 512
inline constexpr std::string_view kAssociatedDataDomain = "kc-envelope-v1 user-key";

// An envelope as parsed: still sealed, no secret in it.
struct Envelope {
  pkcs11::OaepHash oaepHash = pkcs11::OaepHash::kSha256;
  std::vector<std::uint8_t> wrappingKeyId;  // CKA_ID of the key that wrapped the DEK
  std::vector<std::uint8_t> wrappedDek;     // RSA-OAEP(DEK)
  std::array<std::uint8_t, kNonceBytes> nonce{};
  std::vector<std::uint8_t> ciphertext;  // AES-256-GCM ciphertext of the user key
  std::array<std::uint8_t, kTagBytes> tag{};
};

// Parses `bytes` strictly: magic, version, every length within its bounds and within the
// input, nothing left over. INTEGRITY naming the first problem (a stored record that does not
// parse is damaged or forged); an unknown version says which version it is and which this
// build reads. Never reads outside `bytes`.
Result<Envelope> parseEnvelope(std::span<const std::uint8_t> bytes);

// The bytes of `envelope` in the layout above. INVALID_ARGUMENT when a field is outside the
// bounds parseEnvelope accepts, so whatever this returns parses back to the same envelope.
Result<std::vector<std::uint8_t>> serializeEnvelope(const Envelope& envelope);

// The GCM associated data of `envelope` for `userId`: domain ‖ header ‖ user id (its canonical
// text, UserId::str()).
std::vector<std::uint8_t> envelopeAssociatedData(const Envelope& envelope, const UserId& userId);

// Encrypts `userKey` for `userId` under `dek` (32 bytes) with a fresh random nonce; the
// envelope's oaepHash, wrappingKeyId and wrappedDek must be filled in already (they are
// authenticated). The token-free half of sealing.
Status encryptUserKey(Envelope& envelope, const SecretBytes& dek, const UserId& userId,
                      const SecretBytes& userKey);

// Decrypts the user key of `envelope` for `userId` with `dek`. INTEGRITY when the tag does not
// verify: a changed byte, another user's record, or the wrong DEK. The token-free half of
// opening.
Result<SecretBytes> decryptUserKey(const Envelope& envelope, const SecretBytes& dek,
                                   const UserId& userId);

// Seals `userKey` for `userId`: a fresh DEK wrapped by `wrappingKey` (public-key operation on
// the token), the user key encrypted under it. The DEK is wiped before returning.
// INVALID_ARGUMENT for an empty or oversized key or a key id outside 1..kMaxKeyIdBytes; the
// token's error when wrapping fails.
Result<std::vector<std::uint8_t>> sealEnvelope(const pkcs11::RsaKeyPair& wrappingKey,
                                               const UserId& userId, const SecretBytes& userKey);

// Opens a parsed envelope for `userId` with `wrappingKey`, which must be the key it names
// (INTEGRITY otherwise). The DEK is unwrapped by the token's private key and wiped after use.
// INTEGRITY when the wrapped DEK or the ciphertext does not verify; the token's error
// (UNAVAILABLE, TIMEOUT, TOKEN_ERROR) when the token cannot answer.
Result<SecretBytes> openEnvelope(const pkcs11::RsaKeyPair& wrappingKey, const UserId& userId,
                                 const Envelope& envelope);

}  // namespace kc::appliance
