#include "kc/appliance/Envelope.h"

#include <openssl/evp.h>
#include <openssl/rand.h>

#include <algorithm>
#include <climits>
#include <memory>
#include <string>

namespace kc::appliance {
namespace {

Status damaged(const std::string& what) {
  return {StatusCode::kIntegrity, "user-key envelope is damaged: " + what};
}

// Reads a byte string strictly from the front of the remaining input.
class Reader {
 public:
  explicit Reader(std::span<const std::uint8_t> bytes) : bytes_(bytes) {}
  std::size_t remaining() const { return bytes_.size() - offset_; }
  bool take(std::size_t count, std::span<const std::uint8_t>& out) {
    if (count > remaining()) return false;
    out = bytes_.subspan(offset_, count);
    offset_ += count;
    return true;
  }
  bool byte(std::uint8_t& out) {
    std::span<const std::uint8_t> one;
    if (!take(1, one)) return false;
    out = one[0];
    return true;
  }
  bool u16(std::size_t& out) {
    std::span<const std::uint8_t> two;
    if (!take(2, two)) return false;
    out = (static_cast<std::size_t>(two[0]) << 8) | two[1];
    return true;
  }
  std::size_t offset() const { return offset_; }

 private:
  std::span<const std::uint8_t> bytes_;
  std::size_t offset_ = 0;
};

void appendU16(std::vector<std::uint8_t>& out, std::size_t value) {
  out.push_back(static_cast<std::uint8_t>((value >> 8) & 0xFF));
  out.push_back(static_cast<std::uint8_t>(value & 0xFF));
}

bool knownHash(std::uint8_t value) {
  return value == static_cast<std::uint8_t>(pkcs11::OaepHash::kSha1) ||
         value == static_cast<std::uint8_t>(pkcs11::OaepHash::kSha256);
}

// Every byte before the nonce. The caller has checked the bounds.
std::vector<std::uint8_t> headerBytes(const Envelope& envelope) {
  std::vector<std::uint8_t> out(kEnvelopeMagic.begin(), kEnvelopeMagic.end());
  out.push_back(kEnvelopeVersion);
  out.push_back(static_cast<std::uint8_t>(envelope.oaepHash));
  out.push_back(static_cast<std::uint8_t>(envelope.wrappingKeyId.size()));
  out.insert(out.end(), envelope.wrappingKeyId.begin(), envelope.wrappingKeyId.end());
  appendU16(out, envelope.wrappedDek.size());
  out.insert(out.end(), envelope.wrappedDek.begin(), envelope.wrappedDek.end());
  appendU16(out, envelope.ciphertext.size());
  return out;
}

Status checkHeaderBounds(const Envelope& envelope, std::size_t ciphertextSize) {
  if (!knownHash(static_cast<std::uint8_t>(envelope.oaepHash))) {
    return {StatusCode::kInvalidArgument, "envelope: unknown OAEP hash"};
  }
  if (envelope.wrappingKeyId.empty() || envelope.wrappingKeyId.size() > kMaxKeyIdBytes) {
    return {StatusCode::kInvalidArgument,
            "envelope: wrapping key id must be 1.." + std::to_string(kMaxKeyIdBytes) + " bytes"};
  }
  if (envelope.wrappedDek.empty() || envelope.wrappedDek.size() > kMaxWrappedDekBytes) {
    return {StatusCode::kInvalidArgument,
            "envelope: wrapped DEK must be 1.." + std::to_string(kMaxWrappedDekBytes) + " bytes"};
  }
  if (ciphertextSize == 0 || ciphertextSize > kMaxSealedKeyBytes) {
    return {StatusCode::kInvalidArgument,
            "envelope: user key must be 1.." + std::to_string(kMaxSealedKeyBytes) + " bytes"};
  }
  return Status::ok();
}

struct CipherContextDeleter {
  void operator()(EVP_CIPHER_CTX* context) const { EVP_CIPHER_CTX_free(context); }
};
using CipherContext = std::unique_ptr<EVP_CIPHER_CTX, CipherContextDeleter>;

Status cryptoFailure(const char* step) {
  return {StatusCode::kInternal, std::string("AES-256-GCM: ") + step + " failed"};
}

int intSize(std::size_t size) {
  return static_cast<int>(std::min<std::size_t>(size, INT_MAX));
}

}  // namespace

Result<Envelope> parseEnvelope(std::span<const std::uint8_t> bytes) {
  Reader in(bytes);
  std::span<const std::uint8_t> field;
  if (!in.take(kEnvelopeMagic.size(), field) ||
      !std::equal(field.begin(), field.end(), kEnvelopeMagic.begin())) {
    return damaged("it does not start with the magic 'KCE'");
  }
  std::uint8_t version = 0;
  if (!in.byte(version)) return damaged("truncated before the version");
  if (version != kEnvelopeVersion) {
    return Status(StatusCode::kIntegrity, "user-key envelope has version " +
                                              std::to_string(version) +
                                              ", which this build cannot read (it reads version " +
                                              std::to_string(kEnvelopeVersion) + ")");
  }
  Envelope out;
  std::uint8_t hash = 0;
  if (!in.byte(hash)) return damaged("truncated before the OAEP hash");
  if (!knownHash(hash)) return damaged("unknown OAEP hash " + std::to_string(hash));
  out.oaepHash = static_cast<pkcs11::OaepHash>(hash);

  std::uint8_t keyIdSize = 0;
  if (!in.byte(keyIdSize)) return damaged("truncated before the wrapping key id");
  if (keyIdSize == 0 || keyIdSize > kMaxKeyIdBytes) {
    return damaged("wrapping key id length " + std::to_string(keyIdSize) + " is outside 1.." +
                   std::to_string(kMaxKeyIdBytes));
  }
  if (!in.take(keyIdSize, field)) return damaged("truncated in the wrapping key id");
  out.wrappingKeyId.assign(field.begin(), field.end());

  std::size_t wrappedSize = 0;
  if (!in.u16(wrappedSize)) return damaged("truncated before the wrapped DEK");
  if (wrappedSize == 0 || wrappedSize > kMaxWrappedDekBytes) {
    return damaged("wrapped DEK length " + std::to_string(wrappedSize) + " is outside 1.." +
                   std::to_string(kMaxWrappedDekBytes));
  }
  if (!in.take(wrappedSize, field)) return damaged("truncated in the wrapped DEK");
  out.wrappedDek.assign(field.begin(), field.end());

  std::size_t ciphertextSize = 0;
  if (!in.u16(ciphertextSize)) return damaged("truncated before the ciphertext length");
  if (ciphertextSize == 0 || ciphertextSize > kMaxSealedKeyBytes) {
    return damaged("ciphertext length " + std::to_string(ciphertextSize) + " is outside 1.." +
                   std::to_string(kMaxSealedKeyBytes));
  }
  if (!in.take(kNonceBytes, field)) return damaged("truncated in the nonce");
  std::copy(field.begin(), field.end(), out.nonce.begin());
  if (!in.take(ciphertextSize, field)) return damaged("truncated in the ciphertext");
  out.ciphertext.assign(field.begin(), field.end());
  if (!in.take(kTagBytes, field)) return damaged("truncated in the authentication tag");
  std::copy(field.begin(), field.end(), out.tag.begin());
  if (in.remaining() != 0) {
    return damaged(std::to_string(in.remaining()) + " unexpected bytes after the tag");
  }
  return out;
}

Result<std::vector<std::uint8_t>> serializeEnvelope(const Envelope& envelope) {
  KC_RETURN_IF_ERROR(checkHeaderBounds(envelope, envelope.ciphertext.size()));
  std::vector<std::uint8_t> out = headerBytes(envelope);
  out.insert(out.end(), envelope.nonce.begin(), envelope.nonce.end());
  out.insert(out.end(), envelope.ciphertext.begin(), envelope.ciphertext.end());
  out.insert(out.end(), envelope.tag.begin(), envelope.tag.end());
  return out;
}

std::vector<std::uint8_t> envelopeAssociatedData(const Envelope& envelope, const UserId& userId) {
  std::vector<std::uint8_t> out(kAssociatedDataDomain.begin(), kAssociatedDataDomain.end());
  out.push_back(0);  // the domain string ends here, whatever follows
  const auto header = headerBytes(envelope);
  out.insert(out.end(), header.begin(), header.end());
  const std::string& id = userId.str();
  out.insert(out.end(), id.begin(), id.end());
  return out;
}

Status encryptUserKey(Envelope& envelope, const SecretBytes& dek, const UserId& userId,
                      const SecretBytes& userKey) {
  if (dek.size() != kDekBytes) return {StatusCode::kInternal, "envelope: DEK must be 32 bytes"};
  KC_RETURN_IF_ERROR(checkHeaderBounds(envelope, userKey.size()));
  if (RAND_bytes(envelope.nonce.data(), static_cast<int>(envelope.nonce.size())) != 1) {
    return {StatusCode::kInternal, "envelope: no random bytes for the nonce"};
  }
  envelope.ciphertext.assign(userKey.size(), 0);
  const auto associated = envelopeAssociatedData(envelope, userId);

  CipherContext context(EVP_CIPHER_CTX_new());
  if (!context) return cryptoFailure("context allocation");
  int written = 0;
  if (EVP_EncryptInit_ex(context.get(), EVP_aes_256_gcm(), nullptr, nullptr, nullptr) != 1 ||
      EVP_CIPHER_CTX_ctrl(context.get(), EVP_CTRL_GCM_SET_IVLEN, static_cast<int>(kNonceBytes),
                          nullptr) != 1 ||
      EVP_EncryptInit_ex(context.get(), nullptr, nullptr, dek.data(), envelope.nonce.data()) != 1) {
    return cryptoFailure("initialisation");
  }
  if (EVP_EncryptUpdate(context.get(), nullptr, &written, associated.data(),
                        intSize(associated.size())) != 1) {
    return cryptoFailure("associated data");
  }
  if (EVP_EncryptUpdate(context.get(), envelope.ciphertext.data(), &written, userKey.data(),
                        intSize(userKey.size())) != 1 ||
      static_cast<std::size_t>(written) != userKey.size()) {
    return cryptoFailure("encryption");
  }
  int finalWritten = 0;
  if (EVP_EncryptFinal_ex(context.get(), envelope.ciphertext.data() + written, &finalWritten) !=
          1 ||
      finalWritten != 0) {
    return cryptoFailure("finalisation");
  }
  if (EVP_CIPHER_CTX_ctrl(context.get(), EVP_CTRL_GCM_GET_TAG, static_cast<int>(kTagBytes),
                          envelope.tag.data()) != 1) {
    return cryptoFailure("tag");
  }
  return Status::ok();
}

Result<SecretBytes> decryptUserKey(const Envelope& envelope, const SecretBytes& dek,
                                   const UserId& userId) {
  if (dek.size() != kDekBytes) {
    return Status(StatusCode::kIntegrity,
                  "user-key envelope: the unwrapped DEK has the wrong size");
  }
  if (Status bounds = checkHeaderBounds(envelope, envelope.ciphertext.size()); !bounds.isOk()) {
    return Status(StatusCode::kIntegrity, bounds.message());
  }
  const auto associated = envelopeAssociatedData(envelope, userId);
  SecretBytes plain(envelope.ciphertext.size());

  CipherContext context(EVP_CIPHER_CTX_new());
  if (!context) return cryptoFailure("context allocation");
  int written = 0;
  if (EVP_DecryptInit_ex(context.get(), EVP_aes_256_gcm(), nullptr, nullptr, nullptr) != 1 ||
      EVP_CIPHER_CTX_ctrl(context.get(), EVP_CTRL_GCM_SET_IVLEN, static_cast<int>(kNonceBytes),
                          nullptr) != 1 ||
      EVP_DecryptInit_ex(context.get(), nullptr, nullptr, dek.data(), envelope.nonce.data()) != 1) {
    return cryptoFailure("initialisation");
  }
  if (EVP_DecryptUpdate(context.get(), nullptr, &written, associated.data(),
                        intSize(associated.size())) != 1) {
    return cryptoFailure("associated data");
  }
  if (EVP_DecryptUpdate(context.get(), plain.data(), &written, envelope.ciphertext.data(),
                        intSize(envelope.ciphertext.size())) != 1 ||
      static_cast<std::size_t>(written) != envelope.ciphertext.size()) {
    return cryptoFailure("decryption");
  }
  std::array<std::uint8_t, kTagBytes> tag = envelope.tag;
  if (EVP_CIPHER_CTX_ctrl(context.get(), EVP_CTRL_GCM_SET_TAG, static_cast<int>(kTagBytes),
                          tag.data()) != 1) {
    return cryptoFailure("tag");
  }
  int finalWritten = 0;
  if (EVP_DecryptFinal_ex(context.get(), plain.data() + written, &finalWritten) != 1) {
    // `plain` is wiped by its destructor: nothing of an unauthenticated decryption leaves.
    return Status(StatusCode::kIntegrity,
                  "user-key envelope does not authenticate for this user (changed bytes, another "
                  "user's record, or the wrong key)");
  }
  return plain;
}

Result<std::vector<std::uint8_t>> sealEnvelope(const pkcs11::RsaKeyPair& wrappingKey,
                                               const UserId& userId, const SecretBytes& userKey) {
  Envelope envelope;
  envelope.wrappingKeyId = wrappingKey.id();
  envelope.oaepHash = wrappingKey.oaepHash();
  // Check the bounds before any token work; the wrapped DEK is not known yet.
  envelope.wrappedDek.assign(1, 0);
  KC_RETURN_IF_ERROR(checkHeaderBounds(envelope, userKey.size()));

  SecretBytes dek(kDekBytes);
  if (RAND_priv_bytes(dek.data(), static_cast<int>(dek.size())) != 1) {
    return Status(StatusCode::kInternal, "envelope: no random bytes for the DEK");
  }
  auto wrapped = wrappingKey.encrypt(dek.view());
  if (!wrapped) return wrapped.status();
  envelope.oaepHash = wrapped->hash;
  envelope.wrappedDek = std::move(wrapped->bytes);
  KC_RETURN_IF_ERROR(encryptUserKey(envelope, dek, userId, userKey));
  return serializeEnvelope(envelope);
}

Result<SecretBytes> openEnvelope(const pkcs11::RsaKeyPair& wrappingKey, const UserId& userId,
                                 const Envelope& envelope) {
  if (envelope.wrappingKeyId != wrappingKey.id()) {
    return Status(StatusCode::kIntegrity,
                  "user-key envelope names another wrapping key than the one given to open it");
  }
  // The key pair probed its token: when it fell back to SHA-1, the token does not do
  // RSA-OAEP with SHA-256, so an envelope claiming SHA-256 was not sealed there.
  if (envelope.oaepHash == pkcs11::OaepHash::kSha256 &&
      wrappingKey.oaepHash() == pkcs11::OaepHash::kSha1) {
    return Status(StatusCode::kIntegrity,
                  "user-key envelope claims RSA-OAEP with SHA-256, which the wrapping key's token "
                  "does not do");
  }
  auto dek = wrappingKey.decrypt(envelope.wrappedDek, envelope.oaepHash);
  if (!dek) return dek.status();
  return decryptUserKey(envelope, *dek, userId);
}

}  // namespace kc::appliance
