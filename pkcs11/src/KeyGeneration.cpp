#include "kc/pkcs11/KeyGeneration.h"

#include <array>

#include "ObjectAccess.h"
#include "kc/Text.h"
#include "kc/pkcs11/Pkcs11Uri.h"
#include "kc/pkcs11/SessionPool.h"

namespace kc::pkcs11 {
namespace {

constexpr std::size_t kKeyIdBytes = 16;

}  // namespace

Result<RsaKeyPair> generateKeyPair(const std::shared_ptr<SessionPool>& pool,
                                   const KeyGenerationSpec& spec) {
  if (spec.bits != 2048 && spec.bits != 3072 && spec.bits != 4096) {
    return Status(StatusCode::kInvalidArgument,
                  "RSA key size must be 2048, 3072 or 4096 bits, not " + std::to_string(spec.bits));
  }
  if (spec.label.empty()) return Status(StatusCode::kInvalidArgument, "a new key needs a label");

  std::vector<CK_OBJECT_HANDLE> existing;
  std::string label = spec.label;
  KC_RETURN_IF_ERROR(pool->run("C_FindObjects", [&](CK_SESSION_HANDLE session) {
    return detail::findObjects(pool->api(), session, {{CKA_LABEL, label.data(), label.size()}}, 1,
                               existing);
  }));
  if (!existing.empty()) {
    return Status(StatusCode::kAlreadyExists,
                  "the token already has an object labelled '" + spec.label + "'");
  }

  std::array<std::uint8_t, kKeyIdBytes> id{};
  KC_RETURN_IF_ERROR(pool->run("C_GenerateRandom", [&](CK_SESSION_HANDLE session) {
    return pool->api()->C_GenerateRandom(session, id.data(), id.size());
  }));

  const bool wrap = spec.purpose == KeyPurpose::kWrap;
  CK_BBOOL yes = CK_TRUE, no = CK_FALSE;
  CK_BBOOL forWrap = wrap ? CK_TRUE : CK_FALSE;
  CK_BBOOL forAudit = wrap ? CK_FALSE : CK_TRUE;
  CK_ULONG bits = spec.bits;
  std::array<std::uint8_t, 3> publicExponent = {0x01, 0x00, 0x01};
  CK_ATTRIBUTE publicTemplate[] = {
      {CKA_TOKEN, &yes, sizeof yes},
      {CKA_PRIVATE, &no, sizeof no},
      {CKA_LABEL, label.data(), label.size()},
      {CKA_ID, id.data(), id.size()},
      {CKA_MODULUS_BITS, &bits, sizeof bits},
      {CKA_PUBLIC_EXPONENT, publicExponent.data(), publicExponent.size()},
      {CKA_ENCRYPT, &forWrap, sizeof forWrap},
      {CKA_WRAP, &forWrap, sizeof forWrap},
      {CKA_VERIFY, &forAudit, sizeof forAudit},
      {CKA_VERIFY_RECOVER, &no, sizeof no},
  };
  CK_ATTRIBUTE privateTemplate[] = {
      {CKA_TOKEN, &yes, sizeof yes},
      {CKA_PRIVATE, &yes, sizeof yes},
      {CKA_SENSITIVE, &yes, sizeof yes},
      {CKA_EXTRACTABLE, &no, sizeof no},
      {CKA_LABEL, label.data(), label.size()},
      {CKA_ID, id.data(), id.size()},
      {CKA_DECRYPT, &forWrap, sizeof forWrap},
      {CKA_UNWRAP, &forWrap, sizeof forWrap},
      {CKA_SIGN, &forAudit, sizeof forAudit},
      {CKA_SIGN_RECOVER, &no, sizeof no},
      {CKA_DERIVE, &no, sizeof no},
  };
  KC_RETURN_IF_ERROR(pool->run("C_GenerateKeyPair", [&](CK_SESSION_HANDLE session) {
    CK_MECHANISM mechanism{CKM_RSA_PKCS_KEY_PAIR_GEN, nullptr, 0};
    CK_OBJECT_HANDLE publicKey = CK_INVALID_HANDLE, privateKey = CK_INVALID_HANDLE;
    return pool->api()->C_GenerateKeyPair(session, &mechanism, publicTemplate,
                                          std::size(publicTemplate), privateTemplate,
                                          std::size(privateTemplate), &publicKey, &privateKey);
  }));

  auto uri = Pkcs11Uri::parse("pkcs11:id=" + toHex(id, "%") + ";type=private");
  if (!uri) return uri.status();
  return RsaKeyPair::find(pool, *uri);
}

Status destroyKeyPair(const std::shared_ptr<SessionPool>& pool, const RsaKeyPair& key) {
  std::vector<std::uint8_t> id = key.id();
  if (id.empty()) return Status(StatusCode::kInvalidArgument, "the key pair has no CKA_ID");
  std::size_t destroyed = 0;
  for (CK_OBJECT_CLASS objectClass : {CKO_PRIVATE_KEY, CKO_PUBLIC_KEY}) {
    std::vector<CK_OBJECT_HANDLE> found;
    KC_RETURN_IF_ERROR(pool->run("C_FindObjects", [&](CK_SESSION_HANDLE session) {
      return detail::findObjects(
          pool->api(), session,
          {{CKA_CLASS, &objectClass, sizeof objectClass}, {CKA_ID, id.data(), id.size()}}, 16,
          found);
    }));
    for (CK_OBJECT_HANDLE object : found) {
      KC_RETURN_IF_ERROR(pool->run("C_DestroyObject", [&](CK_SESSION_HANDLE session) {
        return pool->api()->C_DestroyObject(session, object);
      }));
      ++destroyed;
    }
  }
  if (destroyed == 0) {
    return Status(StatusCode::kNotFound,
                  "no key object with CKA_ID " + toHex(id) + " on the token");
  }
  return Status::ok();
}

}  // namespace kc::pkcs11
