// RsaKeyPair on a TokenCluster: one key pair per token, checked to be the same key, and every
// operation run through the cluster on one of them.

#include <algorithm>
#include <array>

#include "kc/Text.h"
#include "kc/pkcs11/Pkcs11Uri.h"
#include "kc/pkcs11/RsaKeyPair.h"
#include "kc/pkcs11/TokenCluster.h"

namespace kc::pkcs11 {

struct RsaKeyPair::Replicas {
  std::shared_ptr<TokenCluster> cluster;
  std::vector<RsaKeyPair> keys;  // keys[i] lives on cluster->token(i)
};

namespace {

// The full round trip a returning token must answer before it serves again: encrypt a probe
// with the token's public key object and decrypt it with its private key.
Status roundTrip(const RsaKeyPair& key) {
  const std::array<std::uint8_t, 16> probe = {'k', 'c', '-', 'c', 'l', 'u', 's', 't',
                                              'e', 'r', '-', 'p', 'r', 'o', 'b', 'e'};
  auto ciphertext = key.encrypt(probe);
  if (!ciphertext) return ciphertext.status();
  auto plain = key.decrypt(ciphertext->bytes, ciphertext->hash);
  if (!plain) return plain.status();
  if (plain->size() != probe.size() || !std::equal(probe.begin(), probe.end(), plain->data())) {
    return Status(StatusCode::kIntegrity, "the probe round trip with key " + key.idHex() +
                                              " returned other bytes than it sent");
  }
  return Status::ok();
}

}  // namespace

Result<RsaKeyPair> RsaKeyPair::findOnCluster(const std::shared_ptr<TokenCluster>& cluster,
                                             const Pkcs11Uri& keyUri) {
  auto replicas = std::make_shared<Replicas>();
  replicas->cluster = cluster;
  std::optional<PublicKeyInfo> firstPublic;
  for (std::size_t index = 0; index < cluster->size(); ++index) {
    const std::string& name = cluster->token(index).name;
    auto key = find(cluster->token(index).pool, keyUri);
    if (!key) return Status(key.status().code(), "token " + name + ": " + key.status().message());
    auto publicKey = key->exportPublicKey();
    if (!publicKey) {
      return Status(publicKey.status().code(),
                    "token " + name + ": " + publicKey.status().message());
    }
    if (index > 0) {
      const RsaKeyPair& first = replicas->keys.front();
      const std::string& firstName = cluster->token(0).name;
      std::string differs;
      if (key->id() != first.id()) {
        differs = "CKA_ID " + key->idHex() + " against " + first.idHex();
      } else if (publicKey->der != firstPublic->der) {
        differs = "public key " + publicKey->fingerprint + " against " + firstPublic->fingerprint;
      } else if (key->oaepHash() != first.oaepHash()) {
        differs = "RSA-OAEP with " + std::string(oaepHashName(key->oaepHash())) + " against " +
                  std::string(oaepHashName(first.oaepHash()));
      }
      if (!differs.empty()) {
        return Status(StatusCode::kConflict, "key " + keyUri.text() +
                                                 " is not the same key on token " + name +
                                                 " as on token " + firstName + ": " + differs);
      }
    } else {
      firstPublic = *publicKey;
    }
    replicas->keys.push_back(std::move(*key));
  }
  RsaKeyPair out(replicas->keys.front().state_);
  out.replicas_ = replicas;

  auto attributes = replicas->keys.front().readAttributes();
  if (attributes && attributes->decrypt && attributes->publicEncrypt) {
    // The probe holds the per-token keys, not the cluster, so the cluster owns no cycle.
    cluster->setProbe(
        [keys = replicas->keys](std::size_t index) { return roundTrip(keys[index]); });
  }
  return out;
}

std::vector<RsaKeyPair> RsaKeyPair::replicas() const {
  if (!replicas_) return {*this};
  return replicas_->keys;
}

std::shared_ptr<TokenCluster> RsaKeyPair::cluster() const {
  return replicas_ ? replicas_->cluster : nullptr;
}

Status RsaKeyPair::runOnReplica(const std::function<Status(const RsaKeyPair&)>& op) const {
  const Replicas& replicas = *replicas_;
  return replicas.cluster->run([&](std::size_t index) { return op(replicas.keys[index]); });
}

}  // namespace kc::pkcs11
