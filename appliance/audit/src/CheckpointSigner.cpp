#include "kc/audit/CheckpointSigner.h"

#include <openssl/bio.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/rsa.h>
#include <openssl/x509.h>

#include "kc/Text.h"
#include "kc/audit/AuditRecord.h"

namespace kc::audit {

Result<std::unique_ptr<TokenCheckpointSigner>> TokenCheckpointSigner::create(
    pkcs11::RsaKeyPair auditKey) {
  auto attributes = auditKey.readAttributes();
  if (!attributes) return attributes.status();
  KC_RETURN_IF_ERROR(pkcs11::enforceKeyPolicy(*attributes, pkcs11::KeyPurpose::kAudit));
  auto info = auditKey.exportPublicKey();
  if (!info) return info.status();
  return std::unique_ptr<TokenCheckpointSigner>(
      new TokenCheckpointSigner(std::move(auditKey), info->fingerprint));
}

Result<std::vector<std::uint8_t>> TokenCheckpointSigner::sign(
    std::span<const std::uint8_t> message) {
  return key_.sign(message);
}

struct CheckpointVerifier::Key {
  explicit Key(EVP_PKEY* key) : pkey(key) {}
  ~Key() { EVP_PKEY_free(pkey); }
  Key(const Key&) = delete;
  Key& operator=(const Key&) = delete;
  EVP_PKEY* pkey;
};

Result<CheckpointVerifier> CheckpointVerifier::fromPem(std::string_view pem) {
  BIO* bio = BIO_new_mem_buf(pem.data(), static_cast<int>(pem.size()));
  if (bio == nullptr) return Status(StatusCode::kInternal, "out of memory");
  EVP_PKEY* pkey = PEM_read_bio_PUBKEY(bio, nullptr, nullptr, nullptr);
  BIO_free(bio);
  if (pkey == nullptr)
    return Status(StatusCode::kInvalidArgument, "not a PEM public key (BEGIN PUBLIC KEY)");
  auto key = std::make_shared<Key>(pkey);
  if (EVP_PKEY_base_id(pkey) != EVP_PKEY_RSA)
    return Status(StatusCode::kInvalidArgument, "the audit public key is not an RSA key");
  unsigned char* der = nullptr;
  const int length = i2d_PUBKEY(pkey, &der);
  if (length <= 0) return Status(StatusCode::kInternal, "cannot encode the public key");
  const std::string fingerprint =
      "sha256:" + toHex(sha256({der, static_cast<std::size_t>(length)}));
  OPENSSL_free(der);
  return CheckpointVerifier(std::move(key), fingerprint);
}

bool CheckpointVerifier::verify(std::span<const std::uint8_t> message,
                                std::span<const std::uint8_t> signature) const {
  EVP_MD_CTX* context = EVP_MD_CTX_new();
  if (context == nullptr) return false;
  bool valid = false;
  EVP_PKEY_CTX* keyContext = nullptr;
  if (EVP_DigestVerifyInit(context, &keyContext, EVP_sha256(), nullptr, key_->pkey) == 1 &&
      EVP_PKEY_CTX_set_rsa_padding(keyContext, RSA_PKCS1_PADDING) == 1) {
    valid = EVP_DigestVerify(context, signature.data(), signature.size(), message.data(),
                             message.size()) == 1;
  }
  EVP_MD_CTX_free(context);
  return valid;
}

}  // namespace kc::audit
