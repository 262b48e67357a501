#include "support/SoftHsmToken.h"

#include <stdlib.h>

#include <random>
#include <stdexcept>

#include "kc/pkcs11/Pkcs11Uri.h"
#include "kc/pkcs11/TokenAdmin.h"
#include "support/SecretLedger.h"

namespace kc::test {

std::string randomToken(std::size_t length) {
  static constexpr char kAlphabet[] = "abcdefghijkmnopqrstuvwxyz23456789";
  std::random_device device;
  std::uniform_int_distribution<std::size_t> pick(0, sizeof kAlphabet - 2);
  std::string out;
  for (std::size_t i = 0; i < length; ++i) out += kAlphabet[pick(device)];
  return out;
}

SoftHsmToken::SoftHsmToken(std::string label, std::string modulePath)
    : label_(std::move(label)), modulePath_(std::move(modulePath)) {
  std::filesystem::create_directory(dir_ / "tokens");
  writeFile(confPath(), "directories.tokendir = " + (dir_ / "tokens").string() +
                            "\nobjectstore.backend = file\nlog.level = ERROR\n"
                            "slots.removable = false\n");
  const std::string userPin = randomToken(12), soPin = randomToken(12);
  recordSecret("pin", userPin);
  recordSecret("pin", soPin);
  writeFile(pinFile(), userPin + "\n");
  writeFile(soPinFile(), soPin + "\n");
  setenv("SOFTHSM2_CONF", confPath().c_str(), 1);

  auto module = pkcs11::Module::load(modulePath_);
  if (!module) throw std::runtime_error(module.status().toString());
  module_ = *module;
  addToken(label_);
  auto tokens = module_->tokens();
  if (!tokens) throw std::runtime_error(tokens.status().toString());
  for (const auto& token : *tokens) {
    if (token.label == label_) serial_ = token.serial;
  }
}

void SoftHsmToken::addToken(const std::string& label) {
  auto soPin = pkcs11::PinSource::fromFile(soPinFile()).read();
  auto userPin = pkcs11::PinSource::fromFile(pinFile()).read();
  if (!soPin || !userPin) throw std::runtime_error("cannot read the test PIN files");
  auto created = pkcs11::initToken(*module_, label, *soPin, *userPin);
  if (!created) throw std::runtime_error(created.status().toString());
}

std::map<std::string, std::string> SoftHsmToken::childEnvironment() const {
  return {{"SOFTHSM2_CONF", confPath().string()}};
}

std::string SoftHsmToken::otherTokenLabel() {
  const std::string other = label_ + "-other";
  if (!otherAdded_) addToken(other);
  otherAdded_ = true;
  return other;
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

void generateOnceExtractableWrapKey(pkcs11::SessionPool& pool, const std::string& label,
                                    unsigned char idByte) {
  CK_BBOOL yes = CK_TRUE, no = CK_FALSE;
  CK_ULONG bits = 2048;
  unsigned char exponent[] = {1, 0, 1};
  unsigned char id[] = {0xEE, idByte};
  std::string text = label;
  CK_ATTRIBUTE publicTemplate[] = {
      {CKA_TOKEN, &yes, sizeof yes},          {CKA_PRIVATE, &no, sizeof no},
      {CKA_LABEL, text.data(), text.size()},  {CKA_ID, id, sizeof id},
      {CKA_MODULUS_BITS, &bits, sizeof bits}, {CKA_PUBLIC_EXPONENT, exponent, 3},
      {CKA_ENCRYPT, &yes, sizeof yes},        {CKA_WRAP, &yes, sizeof yes},
      {CKA_VERIFY, &no, sizeof no},           {CKA_VERIFY_RECOVER, &no, sizeof no},
  };
  CK_ATTRIBUTE privateTemplate[] = {
      {CKA_TOKEN, &yes, sizeof yes},
      {CKA_PRIVATE, &yes, sizeof yes},
      {CKA_LABEL, text.data(), text.size()},
      {CKA_ID, id, sizeof id},
      {CKA_SENSITIVE, &yes, sizeof yes},
      {CKA_EXTRACTABLE, &yes, sizeof yes},
      {CKA_DECRYPT, &yes, sizeof yes},
      {CKA_UNWRAP, &yes, sizeof yes},
      {CKA_SIGN, &no, sizeof no},
      {CKA_SIGN_RECOVER, &no, sizeof no},
      {CKA_DERIVE, &no, sizeof no},
  };
  CK_OBJECT_HANDLE privateKey = CK_INVALID_HANDLE;
  Status status = pool.run("C_GenerateKeyPair", [&](CK_SESSION_HANDLE session) {
    CK_MECHANISM mechanism{CKM_RSA_PKCS_KEY_PAIR_GEN, nullptr, 0};
    CK_OBJECT_HANDLE publicKey = CK_INVALID_HANDLE;
    return pool.api()->C_GenerateKeyPair(session, &mechanism, publicTemplate,
                                         std::size(publicTemplate), privateTemplate,
                                         std::size(privateTemplate), &publicKey, &privateKey);
  });
  if (!status.isOk()) throw std::runtime_error(status.toString());
  CK_ATTRIBUTE cleared[] = {{CKA_EXTRACTABLE, &no, sizeof no}};
  status = pool.run("C_SetAttributeValue", [&](CK_SESSION_HANDLE session) {
    return pool.api()->C_SetAttributeValue(session, privateKey, cleared, std::size(cleared));
  });
  if (!status.isOk()) throw std::runtime_error(status.toString());
}

}  // namespace kc::test
