#include "support/ImportedKeyPair.h"

#include <openssl/bn.h>
#include <openssl/core_names.h>
#include <openssl/evp.h>
#include <openssl/rsa.h>

#include <memory>
#include <stdexcept>

namespace kc::test {
namespace {

std::vector<std::uint8_t> bigEndian(EVP_PKEY* key, const char* name) {
  BIGNUM* number = nullptr;
  if (EVP_PKEY_get_bn_param(key, name, &number) != 1) {
    throw std::runtime_error(std::string("RSA key has no ") + name);
  }
  std::vector<std::uint8_t> out(static_cast<std::size_t>(BN_num_bytes(number)));
  BN_bn2bin(number, out.data());
  BN_clear_free(number);
  return out;
}

}  // namespace

SoftwareRsaKey SoftwareRsaKey::generate(int bits) {
  std::unique_ptr<EVP_PKEY, decltype(&EVP_PKEY_free)> key(EVP_RSA_gen(static_cast<unsigned>(bits)),
                                                          EVP_PKEY_free);
  if (!key) throw std::runtime_error("EVP_RSA_gen failed");
  SoftwareRsaKey out;
  out.modulus = bigEndian(key.get(), OSSL_PKEY_PARAM_RSA_N);
  out.publicExponent = bigEndian(key.get(), OSSL_PKEY_PARAM_RSA_E);
  out.privateExponent = bigEndian(key.get(), OSSL_PKEY_PARAM_RSA_D);
  out.prime1 = bigEndian(key.get(), OSSL_PKEY_PARAM_RSA_FACTOR1);
  out.prime2 = bigEndian(key.get(), OSSL_PKEY_PARAM_RSA_FACTOR2);
  out.exponent1 = bigEndian(key.get(), OSSL_PKEY_PARAM_RSA_EXPONENT1);
  out.exponent2 = bigEndian(key.get(), OSSL_PKEY_PARAM_RSA_EXPONENT2);
  out.coefficient = bigEndian(key.get(), OSSL_PKEY_PARAM_RSA_COEFFICIENT1);
  return out;
}

void importKeyPair(pkcs11::SessionPool& pool, const SoftwareRsaKey& key, const std::string& label,
                   const std::vector<std::uint8_t>& id) {
  CK_BBOOL yes = CK_TRUE, no = CK_FALSE;
  CK_OBJECT_CLASS privateClass = CKO_PRIVATE_KEY, publicClass = CKO_PUBLIC_KEY;
  CK_KEY_TYPE rsa = CKK_RSA;
  std::string text = label;
  std::vector<std::uint8_t> idBytes = id;
  const auto bytes = [](const std::vector<std::uint8_t>& value) {
    return const_cast<std::uint8_t*>(value.data());
  };
  CK_ATTRIBUTE publicTemplate[] = {
      {CKA_CLASS, &publicClass, sizeof publicClass},
      {CKA_KEY_TYPE, &rsa, sizeof rsa},
      {CKA_TOKEN, &yes, sizeof yes},
      {CKA_PRIVATE, &no, sizeof no},
      {CKA_LABEL, text.data(), text.size()},
      {CKA_ID, idBytes.data(), idBytes.size()},
      {CKA_MODULUS, bytes(key.modulus), key.modulus.size()},
      {CKA_PUBLIC_EXPONENT, bytes(key.publicExponent), key.publicExponent.size()},
      {CKA_ENCRYPT, &yes, sizeof yes},
      {CKA_WRAP, &yes, sizeof yes},
      {CKA_VERIFY, &no, sizeof no},
  };
  CK_ATTRIBUTE privateTemplate[] = {
      {CKA_CLASS, &privateClass, sizeof privateClass},
      {CKA_KEY_TYPE, &rsa, sizeof rsa},
      {CKA_TOKEN, &yes, sizeof yes},
      {CKA_PRIVATE, &yes, sizeof yes},
      {CKA_LABEL, text.data(), text.size()},
      {CKA_ID, idBytes.data(), idBytes.size()},
      {CKA_SENSITIVE, &yes, sizeof yes},
      {CKA_EXTRACTABLE, &no, sizeof no},
      {CKA_DECRYPT, &yes, sizeof yes},
      {CKA_UNWRAP, &yes, sizeof yes},
      {CKA_SIGN, &no, sizeof no},
      {CKA_MODULUS, bytes(key.modulus), key.modulus.size()},
      {CKA_PUBLIC_EXPONENT, bytes(key.publicExponent), key.publicExponent.size()},
      {CKA_PRIVATE_EXPONENT, bytes(key.privateExponent), key.privateExponent.size()},
      {CKA_PRIME_1, bytes(key.prime1), key.prime1.size()},
      {CKA_PRIME_2, bytes(key.prime2), key.prime2.size()},
      {CKA_EXPONENT_1, bytes(key.exponent1), key.exponent1.size()},
      {CKA_EXPONENT_2, bytes(key.exponent2), key.exponent2.size()},
      {CKA_COEFFICIENT, bytes(key.coefficient), key.coefficient.size()},
  };
  Status status = pool.run("C_CreateObject", [&](CK_SESSION_HANDLE session) {
    CK_OBJECT_HANDLE created = CK_INVALID_HANDLE;
    CK_RV rv =
        pool.api()->C_CreateObject(session, publicTemplate, std::size(publicTemplate), &created);
    if (rv != CKR_OK) return rv;
    return pool.api()->C_CreateObject(session, privateTemplate, std::size(privateTemplate),
                                      &created);
  });
  if (!status.isOk()) throw std::runtime_error("import key pair: " + status.toString());
}

}  // namespace kc::test
