#pragma once
// Who signs checkpoints, and how a signature is checked.
//
// The daemon signs with the token's audit key (never the wrapping key: DESIGN.md, key
// separation) through TokenCheckpointSigner. Verification needs only the exported PEM
// public key, so an auditor's machine needs no token.

#include <cstdint>
#include <memory>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "kc/Result.h"
#include "kc/pkcs11/RsaKeyPair.h"

namespace kc::audit {

class CheckpointSigner {
 public:
  virtual ~CheckpointSigner() = default;
  // RSASSA-PKCS1-v1_5 with SHA-256 over `message`.
  virtual Result<std::vector<std::uint8_t>> sign(std::span<const std::uint8_t> message) = 0;
  // "sha256:<hex>" of the public key's DER SubjectPublicKeyInfo; written into checkpoints.
  virtual std::string keyId() const = 0;
};

// Signs on the token with an audit key pair. Refuses (POLICY_VIOLATION) a key whose
// attributes break the audit-key policy, so the wrapping key can never sign checkpoints.
class TokenCheckpointSigner final : public CheckpointSigner {
 public:
  static Result<std::unique_ptr<TokenCheckpointSigner>> create(pkcs11::RsaKeyPair auditKey);
  Result<std::vector<std::uint8_t>> sign(std::span<const std::uint8_t> message) override;
  std::string keyId() const override { return keyId_; }

 private:
  TokenCheckpointSigner(pkcs11::RsaKeyPair key, std::string keyId)
      : key_(std::move(key)), keyId_(std::move(keyId)) {}
  pkcs11::RsaKeyPair key_;
  std::string keyId_;
};

// An RSA public key from PEM (SubjectPublicKeyInfo) that checks checkpoint signatures.
class CheckpointVerifier {
 public:
  static Result<CheckpointVerifier> fromPem(std::string_view pem);
  // True when `signature` is a valid RSASSA-PKCS1-v1_5 SHA-256 signature of `message`.
  bool verify(std::span<const std::uint8_t> message, std::span<const std::uint8_t> signature) const;
  // "sha256:<hex>" of the DER SubjectPublicKeyInfo, as checkpoints name their key.
  const std::string& keyId() const { return keyId_; }

 private:
  struct Key;
  CheckpointVerifier(std::shared_ptr<Key> key, std::string keyId)
      : key_(std::move(key)), keyId_(std::move(keyId)) {}
  std::shared_ptr<Key> key_;
  std::string keyId_;
};

}  // namespace kc::audit
