#include "TokenEnvironment.h"

#include <gtest/gtest.h>

#include <stdexcept>

#include "kc/pkcs11/KeyGeneration.h"

namespace kc::test {

TestToken& suiteToken() {
  static const std::unique_ptr<TestToken> token = makeTestToken("kc-test");
  return *token;
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

}  // namespace kc::test
