#include "kc/pkcs11/RsaKeyPair.h"

#include <algorithm>
#include <array>
#include <mutex>
#include <shared_mutex>
#include <tuple>
#include <utility>

#include "ObjectAccess.h"
#include "kc/Text.h"
#include "kc/pkcs11/Pkcs11Uri.h"
#include "kc/pkcs11/SessionPool.h"

namespace kc::pkcs11 {
namespace {

constexpr std::size_t kFindLimit = 8;  // enough to tell "one" from "several"

struct KeyHandles {
  CK_OBJECT_HANDLE privateKey = CK_INVALID_HANDLE;
  CK_OBJECT_HANDLE publicKey = CK_INVALID_HANDLE;
  std::string label;
  std::vector<std::uint8_t> id;
  CK_ULONG modulusBits = 0;
};

CK_RSA_PKCS_OAEP_PARAMS oaepParams(OaepHash hash) {
  CK_RSA_PKCS_OAEP_PARAMS params{};
  params.hashAlg = hash == OaepHash::kSha256 ? CKM_SHA256 : CKM_SHA_1;
  params.mgf = hash == OaepHash::kSha256 ? CKG_MGF1_SHA256 : CKG_MGF1_SHA1;
  params.source = CKZ_DATA_SPECIFIED;
  params.pSourceData = nullptr;
  params.ulSourceDataLen = 0;
  return params;
}

// Looks the key pair up on `session`: one private RSA key matching the URI, and its
// public half by CKA_ID. A status explains a miss or an ambiguity.
Status lookUp(CK_FUNCTION_LIST* api, CK_SESSION_HANDLE session, const Pkcs11Uri& uri,
              KeyHandles& out, CK_RV& rv) {
  rv = CKR_OK;
  const auto wantedClass = uri.objectClass();
  if (wantedClass && *wantedClass != CKO_PRIVATE_KEY && *wantedClass != CKO_PUBLIC_KEY) {
    return Status(StatusCode::kInvalidArgument,
                  uri.text() + " names an object type that is not a key (use type=private)");
  }
  CK_OBJECT_CLASS privateClass = CKO_PRIVATE_KEY;
  CK_KEY_TYPE rsa = CKK_RSA;
  std::vector<CK_ATTRIBUTE> query;
  for (const auto& attribute : uri.objectTemplate()) {
    if (attribute.type != CKA_CLASS) query.push_back(attribute);
  }
  if (query.empty()) {
    return Status(StatusCode::kInvalidArgument,
                  uri.text() + " names no key: add object=<label> or id=<id>");
  }
  query.push_back({CKA_CLASS, &privateClass, sizeof privateClass});
  query.push_back({CKA_KEY_TYPE, &rsa, sizeof rsa});

  std::vector<CK_OBJECT_HANDLE> found;
  rv = detail::findObjects(api, session, query, kFindLimit, found);
  if (rv != CKR_OK) return tokenError("C_FindObjects", rv);
  if (found.empty()) {
    return Status(StatusCode::kNotFound, "no private RSA key matches " + uri.text());
  }
  if (found.size() > 1) {
    return Status(StatusCode::kConflict, std::to_string(found.size()) + " private RSA keys match " +
                                             uri.text() + "; add id=... to choose one");
  }
  out.privateKey = found.front();

  std::vector<std::uint8_t> value;
  rv = detail::readAttribute(api, session, out.privateKey, CKA_ID, out.id);
  if (rv != CKR_OK) return tokenError("C_GetAttributeValue(CKA_ID)", rv);
  rv = detail::readAttribute(api, session, out.privateKey, CKA_LABEL, value);
  if (rv != CKR_OK) return tokenError("C_GetAttributeValue(CKA_LABEL)", rv);
  out.label.assign(value.begin(), value.end());

  CK_OBJECT_CLASS publicClass = CKO_PUBLIC_KEY;
  std::vector<CK_ATTRIBUTE> publicQuery = {{CKA_CLASS, &publicClass, sizeof publicClass},
                                           {CKA_KEY_TYPE, &rsa, sizeof rsa}};
  if (!out.id.empty()) {
    publicQuery.push_back({CKA_ID, out.id.data(), out.id.size()});
  } else {
    publicQuery.push_back({CKA_LABEL, out.label.data(), out.label.size()});
  }
  rv = detail::findObjects(api, session, publicQuery, kFindLimit, found);
  if (rv != CKR_OK) return tokenError("C_FindObjects", rv);
  if (found.size() != 1) {
    return Status(found.empty() ? StatusCode::kNotFound : StatusCode::kConflict,
                  "key " + uri.text() + " (id " + toHex(out.id) + ") has " +
                      std::to_string(found.size()) + " public key objects; it needs exactly one");
  }
  out.publicKey = found.front();

  rv = detail::readModulusBits(api, session, out.publicKey, out.modulusBits);
  if (rv != CKR_OK) return tokenError("C_GetAttributeValue(CKA_MODULUS)", rv);
  return Status::ok();
}

// Looks the key pair `uri` names up on one of the pool's sessions.
Status lookUpOnPool(SessionPool& pool, const Pkcs11Uri& uri, KeyHandles& out) {
  Status found = Status::ok();
  Status ran = pool.run("find key " + uri.text(), [&](CK_SESSION_HANDLE session) {
    CK_RV rv = CKR_OK;
    found = lookUp(pool.api(), session, uri, out, rv);
    return rv;
  });
  if (!ran.isOk()) return ran;
  return found;
}

}  // namespace

std::string_view oaepHashName(OaepHash hash) {
  return hash == OaepHash::kSha256 ? "sha256" : "sha1";
}

// What find() learnt is fixed for the life of the key pair and read without a lock. Only
// the two object handles change, when the token drops them, and only under `mutex_`.
struct RsaKeyPair::State {
  const std::shared_ptr<SessionPool> pool;
  const Pkcs11Uri uri;
  const std::string label;
  const std::vector<std::uint8_t> id;
  const std::size_t modulusBytes;
  const OaepHash oaep;

  State(std::shared_ptr<SessionPool> p, Pkcs11Uri u, const KeyHandles& found, OaepHash hash)
      : pool(std::move(p)),
        uri(std::move(u)),
        label(found.label),
        id(found.id),
        modulusBytes((found.modulusBits + 7) / 8),
        oaep(hash),
        privateKey_(found.privateKey),
        publicKey_(found.publicKey) {}

  // The same key with another OAEP hash, and the handles this one holds now.
  std::shared_ptr<State> withOaep(OaepHash hash) const {
    KeyHandles found{.label = label, .id = id, .modulusBits = modulusBytes * 8};
    std::tie(found.privateKey, found.publicKey) = handles();
    return std::make_shared<State>(pool, uri, found, hash);
  }

  // The current private and public key handles.
  std::pair<CK_OBJECT_HANDLE, CK_OBJECT_HANDLE> handles() const {
    std::shared_lock lock(mutex_);
    return {privateKey_, publicKey_};
  }

  // Runs `op` with the current handles; when the token says a handle is no longer valid,
  // looks the key up again and runs `op` once more. `failed` receives the CK_RV of the
  // last call that failed (CKR_OK when none did or no call was made).
  template <typename Op>
  Status withKey(std::string_view operation, Op&& op, CK_RV* failed = nullptr) const {
    for (int attempt = 0;; ++attempt) {
      // Named variables, not a structured binding: clang 14 (clang-tidy) cannot capture one.
      const auto current = handles();
      const CK_OBJECT_HANDLE priv = current.first;
      const CK_OBJECT_HANDLE pub = current.second;
      CK_RV rv = CKR_OK;
      Status status = pool->run(operation, [&](CK_SESSION_HANDLE session) {
        rv = op(session, priv, pub);
        return rv;
      });
      if (failed != nullptr) *failed = rv;
      const bool handleLost = status.code() == StatusCode::kTokenError && isHandleLost(rv);
      if (status.isOk() || !handleLost || attempt > 0) return status;
      Status relooked = refreshHandles();
      if (!relooked.isOk()) return relooked;
    }
  }

  // Looks the key up again and swaps in its new handles. A key that is not the one find()
  // found (another CKA_ID or modulus) is INTEGRITY and leaves the handles as they were.
  Status refreshHandles() const {
    KeyHandles found;
    KC_RETURN_IF_ERROR(lookUpOnPool(*pool, uri, found));
    const std::size_t foundBytes = (found.modulusBits + 7) / 8;
    if (found.id != id || foundBytes != modulusBytes) {
      return Status(StatusCode::kIntegrity,
                    "key " + uri.text() + " now names a different key (id " + toHex(found.id) +
                        ", " + std::to_string(foundBytes * 8) + " bits; was id " + toHex(id) +
                        ", " + std::to_string(modulusBytes * 8) + " bits)");
    }
    std::unique_lock lock(mutex_);
    privateKey_ = found.privateKey;
    publicKey_ = found.publicKey;
    return Status::ok();
  }

  // One OAEP encryption with `hash`.
  Status encryptWith(OaepHash hash, std::span<const std::uint8_t> plaintext,
                     std::vector<std::uint8_t>& out) const {
    return withKey(
        "RSA-OAEP encrypt", [&](CK_SESSION_HANDLE session, CK_OBJECT_HANDLE, CK_OBJECT_HANDLE pub) {
          auto params = oaepParams(hash);
          CK_MECHANISM mechanism{CKM_RSA_PKCS_OAEP, &params, sizeof params};
          CK_RV rv = pool->api()->C_EncryptInit(session, &mechanism, pub);
          if (rv != CKR_OK) return rv;
          out.assign(modulusBytes, 0);
          CK_ULONG length = out.size();
          rv = pool->api()->C_Encrypt(session, const_cast<std::uint8_t*>(plaintext.data()),
                                      plaintext.size(), out.data(), &length);
          if (rv == CKR_OK) out.resize(length);
          return rv;
        });
  }

 private:
  mutable std::shared_mutex mutex_;
  mutable CK_OBJECT_HANDLE privateKey_;  // guarded by mutex_
  mutable CK_OBJECT_HANDLE publicKey_;   // guarded by mutex_
};

Result<RsaKeyPair> RsaKeyPair::find(std::shared_ptr<SessionPool> pool, const Pkcs11Uri& keyUri) {
  KeyHandles found;
  KC_RETURN_IF_ERROR(lookUpOnPool(*pool, keyUri, found));
  // Until the probe below has chosen, the OAEP hash is SHA-1; the probe names its hash.
  auto state = std::make_shared<State>(std::move(pool), keyUri, found, OaepHash::kSha1);

  // Probe once which OAEP hash the token accepts, by a full round trip.
  bool canEncrypt = false;
  bool canDecrypt = false;
  Status read = state->pool->run("read key usage", [&](CK_SESSION_HANDLE session) {
    CK_RV rv = detail::readBool(state->pool->api(), session, found.publicKey, CKA_ENCRYPT, false,
                                canEncrypt);
    if (rv != CKR_OK) return rv;
    return detail::readBool(state->pool->api(), session, found.privateKey, CKA_DECRYPT, false,
                            canDecrypt);
  });
  if (!read.isOk()) return read;
  if (canEncrypt && canDecrypt) {
    const std::array<std::uint8_t, 32> probe = {'k', 'c', '-', 'o', 'a', 'e', 'p',
                                                '-', 'p', 'r', 'o', 'b', 'e'};
    const RsaKeyPair candidate(state);
    for (OaepHash hash : {OaepHash::kSha256, OaepHash::kSha1}) {
      std::vector<std::uint8_t> ciphertext;
      if (!state->encryptWith(hash, probe, ciphertext).isOk()) continue;
      auto plain = candidate.decrypt(ciphertext, hash);
      if (plain && plain->size() == probe.size() &&
          std::equal(probe.begin(), probe.end(), plain->data())) {
        return RsaKeyPair(state->withOaep(hash));
      }
    }
    return Status(
        StatusCode::kTokenError,
        "the token does RSA-OAEP neither with SHA-256 nor with SHA-1 for key " + keyUri.text());
  }
  return RsaKeyPair(state);
}

const std::string& RsaKeyPair::label() const {
  return state_->label;
}
const std::vector<std::uint8_t>& RsaKeyPair::id() const {
  return state_->id;
}
std::string RsaKeyPair::idHex() const {
  return toHex(state_->id);
}
OaepHash RsaKeyPair::oaepHash() const {
  return state_->oaep;
}
const std::shared_ptr<SessionPool>& RsaKeyPair::pool() const {
  return state_->pool;
}

Result<OaepCiphertext> RsaKeyPair::encrypt(std::span<const std::uint8_t> plaintext) const {
  if (replicas_) {
    return onReplica<OaepCiphertext>([&](const RsaKeyPair& key) { return key.encrypt(plaintext); });
  }
  OaepCiphertext out;
  out.hash = state_->oaep;
  KC_RETURN_IF_ERROR(state_->encryptWith(out.hash, plaintext, out.bytes));
  return out;
}

Result<SecretBytes> RsaKeyPair::decrypt(std::span<const std::uint8_t> ciphertext,
                                        OaepHash hash) const {
  if (replicas_) {
    return onReplica<SecretBytes>(
        [&](const RsaKeyPair& key) { return key.decrypt(ciphertext, hash); });
  }
  if (ciphertext.size() != state_->modulusBytes) {
    return Status(StatusCode::kIntegrity, "RSA-OAEP decrypt: ciphertext is " +
                                              std::to_string(ciphertext.size()) + " bytes, key " +
                                              state_->label + " needs " +
                                              std::to_string(state_->modulusBytes));
  }
  SecretBytes plaintext(state_->modulusBytes);
  CK_RV failed = CKR_OK;
  Status status = state_->withKey(
      "RSA-OAEP decrypt",
      [&](CK_SESSION_HANDLE session, CK_OBJECT_HANDLE priv, CK_OBJECT_HANDLE) {
        auto params = oaepParams(hash);
        CK_MECHANISM mechanism{CKM_RSA_PKCS_OAEP, &params, sizeof params};
        CK_RV rv = state_->pool->api()->C_DecryptInit(session, &mechanism, priv);
        if (rv != CKR_OK) return rv;
        CK_ULONG length = plaintext.size();
        rv = state_->pool->api()->C_Decrypt(session, const_cast<std::uint8_t*>(ciphertext.data()),
                                            ciphertext.size(), plaintext.data(), &length);
        if (rv == CKR_OK) plaintext.truncate(length);
        return rv;
      },
      &failed);
  if (!status.isOk()) {
    plaintext.clear();
    // SoftHSM reports a failed OAEP check as CKR_GENERAL_ERROR; either way the
    // ciphertext did not open, which for the caller is an integrity failure.
    if (status.code() == StatusCode::kTokenError && failed == CKR_GENERAL_ERROR) {
      return Status(StatusCode::kIntegrity, status.message());
    }
    return status;
  }
  return plaintext;
}

Result<std::vector<std::uint8_t>> RsaKeyPair::sign(std::span<const std::uint8_t> message) const {
  if (replicas_) {
    return onReplica<std::vector<std::uint8_t>>(
        [&](const RsaKeyPair& key) { return key.sign(message); });
  }
  std::vector<std::uint8_t> signature;
  KC_RETURN_IF_ERROR(state_->withKey(
      "RSA sign", [&](CK_SESSION_HANDLE session, CK_OBJECT_HANDLE priv, CK_OBJECT_HANDLE) {
        CK_MECHANISM mechanism{CKM_SHA256_RSA_PKCS, nullptr, 0};
        CK_RV rv = state_->pool->api()->C_SignInit(session, &mechanism, priv);
        if (rv != CKR_OK) return rv;
        signature.assign(state_->modulusBytes, 0);
        CK_ULONG length = signature.size();
        rv = state_->pool->api()->C_Sign(session, const_cast<std::uint8_t*>(message.data()),
                                         message.size(), signature.data(), &length);
        if (rv == CKR_OK) signature.resize(length);
        return rv;
      }));
  return signature;
}

Result<KeyAttributes> RsaKeyPair::readAttributes() const {
  if (replicas_) {
    return onReplica<KeyAttributes>([](const RsaKeyPair& key) { return key.readAttributes(); });
  }
  KeyAttributes out;
  out.label = state_->label;
  out.id = state_->id;
  KC_RETURN_IF_ERROR(state_->withKey(
      "read key attributes",
      [&](CK_SESSION_HANDLE session, CK_OBJECT_HANDLE priv, CK_OBJECT_HANDLE pub) {
        auto* api = state_->pool->api();
        const struct {
          CK_OBJECT_HANDLE object;
          CK_ATTRIBUTE_TYPE type;
          bool fallback;
          bool* value;
        } flags[] = {
            {priv, CKA_TOKEN, false, &out.onToken},
            {priv, CKA_PRIVATE, false, &out.isPrivate},
            {priv, CKA_SENSITIVE, false, &out.sensitive},
            {priv, CKA_EXTRACTABLE, true, &out.extractable},
            {priv, CKA_ALWAYS_SENSITIVE, false, &out.alwaysSensitive},
            {priv, CKA_NEVER_EXTRACTABLE, false, &out.neverExtractable},
            {priv, CKA_DECRYPT, false, &out.decrypt},
            {priv, CKA_UNWRAP, false, &out.unwrap},
            {priv, CKA_SIGN, false, &out.sign},
            {priv, CKA_SIGN_RECOVER, false, &out.signRecover},
            {priv, CKA_DERIVE, false, &out.derive},
            {pub, CKA_ENCRYPT, false, &out.publicEncrypt},
            {pub, CKA_WRAP, false, &out.publicWrap},
            {pub, CKA_VERIFY, false, &out.publicVerify},
        };
        for (const auto& flag : flags) {
          const CK_RV rv =
              detail::readBool(api, session, flag.object, flag.type, flag.fallback, *flag.value);
          if (rv != CKR_OK) return rv;
        }
        CK_ULONG bits = 0;
        const CK_RV rv = detail::readModulusBits(api, session, pub, bits);
        out.modulusBits = bits;
        return rv;
      }));
  return out;
}

Result<PublicKeyInfo> RsaKeyPair::exportPublicKey() const {
  if (replicas_) {
    return onReplica<PublicKeyInfo>([](const RsaKeyPair& key) { return key.exportPublicKey(); });
  }
  std::vector<std::uint8_t> modulus, exponent;
  KC_RETURN_IF_ERROR(state_->withKey(
      "read public key", [&](CK_SESSION_HANDLE session, CK_OBJECT_HANDLE, CK_OBJECT_HANDLE pub) {
        CK_RV rv = detail::readAttribute(state_->pool->api(), session, pub, CKA_MODULUS, modulus);
        if (rv != CKR_OK) return rv;
        return detail::readAttribute(state_->pool->api(), session, pub, CKA_PUBLIC_EXPONENT,
                                     exponent);
      }));
  return rsaPublicKeyInfo(modulus, exponent);
}

}  // namespace kc::pkcs11
