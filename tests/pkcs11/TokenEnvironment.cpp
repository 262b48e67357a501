#include "TokenEnvironment.h"

#include <gtest/gtest.h>

#include <stdexcept>

#include "kc/pkcs11/KeyGeneration.h"

namespace kc::test {

SoftHsmToken& suiteToken() {
  static SoftHsmToken token("kc-test");
  return token;
}

std::shared_ptr<pkcs11::SessionPool> suitePool() {
  static auto pool = suiteToken().openPool({.size = 4});
  return pool;
}

namespace {
pkcs11::RsaKeyPair generate(pkcs11::KeyPurpose purpose, const std::string& label) {
  auto key =
      pkcs11::generateKeyPair(suitePool(), {.purpose = purpose, .bits = 2048, .label = label});
  if (!key) throw std::runtime_error(key.status().toString());
  return *key;
}
}  // namespace

const pkcs11::RsaKeyPair& suiteWrapKey() {
  static auto key = generate(pkcs11::KeyPurpose::kWrap, "suite-wrap");
  return key;
}

const pkcs11::RsaKeyPair& suiteAuditKey() {
  static auto key = generate(pkcs11::KeyPurpose::kAudit, "suite-audit");
  return key;
}

void generateRawKeyPair(pkcs11::SessionPool& pool, const std::string& label, bool extractable,
                        bool sensitive, unsigned char idByte) {
  CK_BBOOL yes = CK_TRUE;
  CK_BBOOL canExtract = extractable ? CK_TRUE : CK_FALSE;
  CK_BBOOL isSensitive = sensitive ? CK_TRUE : CK_FALSE;
  CK_ULONG bits = 2048;
  unsigned char exponent[] = {1, 0, 1};
  unsigned char id[] = {0xEE, idByte};
  std::string text = label;
  CK_ATTRIBUTE publicTemplate[] = {
      {CKA_TOKEN, &yes, sizeof yes},
      {CKA_LABEL, text.data(), text.size()},
      {CKA_ID, id, sizeof id},
      {CKA_MODULUS_BITS, &bits, sizeof bits},
      {CKA_PUBLIC_EXPONENT, exponent, 3},
      {CKA_ENCRYPT, &yes, sizeof yes},
  };
  CK_ATTRIBUTE privateTemplate[] = {
      {CKA_TOKEN, &yes, sizeof yes},
      {CKA_PRIVATE, &yes, sizeof yes},
      {CKA_LABEL, text.data(), text.size()},
      {CKA_ID, id, sizeof id},
      {CKA_SENSITIVE, &isSensitive, sizeof isSensitive},
      {CKA_EXTRACTABLE, &canExtract, sizeof canExtract},
      {CKA_DECRYPT, &yes, sizeof yes},
  };
  Status status = pool.run("C_GenerateKeyPair", [&](CK_SESSION_HANDLE session) {
    CK_MECHANISM mechanism{CKM_RSA_PKCS_KEY_PAIR_GEN, nullptr, 0};
    CK_OBJECT_HANDLE pub, priv;
    return pool.api()->C_GenerateKeyPair(session, &mechanism, publicTemplate,
                                         std::size(publicTemplate), privateTemplate,
                                         std::size(privateTemplate), &pub, &priv);
  });
  if (!status.isOk()) throw std::runtime_error(status.toString());
}

}  // namespace kc::test
