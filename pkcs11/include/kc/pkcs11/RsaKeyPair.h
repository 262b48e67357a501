#pragma once
// A handle to an RSA key pair that lives on the token. Key material never leaves the
// token: this object holds only the pool and the object handles, looked up once and
// looked up again if the token invalidates them.
//
// Thread safety: an RsaKeyPair and its copies (which share one state) may be used from
// any number of threads at once. What find() learnt (label, id, modulus, OAEP hash)
// never changes afterwards; a look-up after the token dropped the handles swaps only the
// handles, and fails if it finds a different key.

#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <vector>

#include "kc/Result.h"
#include "kc/SecretBytes.h"
#include "kc/pkcs11/KeyPolicy.h"
#include "kc/pkcs11/PublicKey.h"

namespace kc::pkcs11 {

class Pkcs11Uri;
class SessionPool;
class TokenCluster;

// The OAEP hash (and MGF1 hash) of an encryption; always recorded beside the ciphertext.
enum class OaepHash : std::uint8_t { kSha1 = 1, kSha256 = 2 };
std::string_view oaepHashName(OaepHash hash);  // "sha1" / "sha256"

struct OaepCiphertext {
  std::vector<std::uint8_t> bytes;
  OaepHash hash = OaepHash::kSha256;
};

class RsaKeyPair {
 public:
  // Finds the key pair `keyUri` names on the pool's token: exactly one private RSA key,
  // and the public key with the same CKA_ID. None, or more than one, is an error naming
  // the URI. For a key that can encrypt, probes once whether the token does RSA-OAEP
  // with SHA-256 and falls back to SHA-1 (SoftHSM 2.6 accepts only SHA-1).
  static Result<RsaKeyPair> find(std::shared_ptr<SessionPool> pool, const Pkcs11Uri& keyUri);

  // Finds the key pair `keyUri` names on every token of `cluster` (see find): the same CKA_ID,
  // public key and OAEP hash on each, or CONFLICT naming the two tokens that differ. Its
  // operations then run through the cluster (spread, failed over; see TokenCluster.h), and
  // a key that can encrypt and decrypt becomes the cluster's probe. Implemented in
  // ReplicatedKeyPair.cpp.
  static Result<RsaKeyPair> findOnCluster(const std::shared_ptr<TokenCluster>& cluster,
                                          const Pkcs11Uri& keyUri);
  // The key pair on each token of its cluster, in the cluster's order; {*this} for a key on
  // one token.
  std::vector<RsaKeyPair> replicas() const;
  // The cluster a key found by findOnCluster runs on; null for a key on one token.
  std::shared_ptr<TokenCluster> cluster() const;

  // The CKA_LABEL and CKA_ID find() read. They never change, so the references stay
  // valid while this object or a copy of it lives.
  const std::string& label() const;
  const std::vector<std::uint8_t>& id() const;
  // The CKA_ID as lower-case hex: how envelopes and logs name this key.
  std::string idHex() const;
  OaepHash oaepHash() const;

  // Every operation below runs on a pooled session. When the token reports a key handle
  // invalid, the key is looked up again by its URI and the operation retried once; if the
  // URI now names a key with another CKA_ID or modulus, the operation fails with
  // INTEGRITY and the key pair keeps its old handles.

  // RSA-OAEP encryption with the public key object, using oaepHash().
  Result<OaepCiphertext> encrypt(std::span<const std::uint8_t> plaintext) const;
  // RSA-OAEP decryption with the private key. A tampered or foreign ciphertext is
  // INTEGRITY; the plaintext comes back in a buffer that wipes itself.
  Result<SecretBytes> decrypt(std::span<const std::uint8_t> ciphertext, OaepHash hash) const;
  // RSASSA-PKCS1-v1_5 with SHA-256 over `message` (CKM_SHA256_RSA_PKCS).
  Result<std::vector<std::uint8_t>> sign(std::span<const std::uint8_t> message) const;

  Result<KeyAttributes> readAttributes() const;
  Result<PublicKeyInfo> exportPublicKey() const;

  // The session pool of the key's token (of the first token, for a key on a cluster).
  const std::shared_ptr<SessionPool>& pool() const;

 private:
  struct State;
  struct Replicas;  // the same key on each token of a cluster
  explicit RsaKeyPair(std::shared_ptr<State> state) : state_(std::move(state)) {}
  // Runs `op` through the cluster on the replica the cluster chooses (and once more on
  // another after a token's UNAVAILABLE).
  Status runOnReplica(const std::function<Status(const RsaKeyPair&)>& op) const;
  template <typename T>
  Result<T> onReplica(const std::function<Result<T>(const RsaKeyPair&)>& op) const {
    std::optional<Result<T>> out;
    Status status = runOnReplica([&](const RsaKeyPair& key) {
      out.emplace(op(key));
      return out->status();
    });
    if (!status.isOk()) return status;
    return std::move(*out);  // an OK status is the replica's own: `out` is set
  }

  std::shared_ptr<State> state_;
  std::shared_ptr<const Replicas> replicas_;  // null for a key on one token
};

}  // namespace kc::pkcs11
