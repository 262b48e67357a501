#include "ApplianceTokenEnvironment.h"

#include <stdexcept>

#include "kc/pkcs11/KeyGeneration.h"

namespace kc::test {
namespace {

pkcs11::RsaKeyPair generate(const std::string& label) {
  auto key = pkcs11::generateKeyPair(
      appliancePool(), {.purpose = pkcs11::KeyPurpose::kWrap, .bits = 2048, .label = label});
  if (!key) throw std::runtime_error(key.status().toString());
  return *key;
}

}  // namespace

SoftHsmToken& applianceToken() {
  static SoftHsmToken token("kc-appliance");
  return token;
}

std::shared_ptr<pkcs11::SessionPool> appliancePool() {
  static auto pool = applianceToken().openPool({.size = 4});
  return pool;
}

const pkcs11::RsaKeyPair& currentWrapKey() {
  static auto key = generate("ring-current");
  return key;
}

const pkcs11::RsaKeyPair& previousWrapKey() {
  static auto key = generate("ring-previous");
  return key;
}

const pkcs11::RsaKeyPair& outsiderWrapKey() {
  static auto key = generate("outsider");
  return key;
}

std::shared_ptr<const appliance::KeyRing> suiteRing() {
  static auto ring = [] {
    auto built = appliance::KeyRing::create(currentWrapKey(), {previousWrapKey()});
    if (!built) throw std::runtime_error(built.status().toString());
    return std::make_shared<const appliance::KeyRing>(std::move(*built));
  }();
  return ring;
}

}  // namespace kc::test
