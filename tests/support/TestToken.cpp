#include "support/TestToken.h"

#include <stdlib.h>

#include <cstdlib>
#include <stdexcept>

#include "kc/Text.h"
#include "kc/pkcs11/Pkcs11Uri.h"
#include "support/SoftHsmToken.h"
#include "support/SoftoknToken.h"

namespace kc::test {

std::string TestToken::tokenUri() const {
  return "pkcs11:token=" + percentEncode(label());
}

std::shared_ptr<pkcs11::SessionPool> TestToken::openPool(pkcs11::SessionPoolOptions options) const {
  auto uri = pkcs11::Pkcs11Uri::parse(tokenUri());
  if (!uri) throw std::runtime_error(uri.status().toString());
  auto slot = module()->findToken(*uri);
  if (!slot) throw std::runtime_error(slot.status().toString());
  auto pool =
      pkcs11::SessionPool::open(module(), *slot, pkcs11::PinSource::fromFile(pinFile()), options);
  if (!pool) throw std::runtime_error(pool.status().toString());
  return *pool;
}

std::unique_ptr<TestToken> makeTestToken(const std::string& label,
                                         const std::string& forwardingModule) {
  const char* chosen = std::getenv("KC_TEST_TOKEN");
  const std::string kind = chosen == nullptr ? "" : chosen;
  auto loaded = [&](const std::string& real) {
    if (forwardingModule.empty()) return real;
    setenv("KC_FAULTY_PKCS11_TARGET", real.c_str(), 1);
    return forwardingModule;
  };
  if (kind.empty() || kind == "softhsm") {
    return std::make_unique<SoftHsmToken>(label, loaded(KC_TEST_PKCS11_MODULE));
  }
  if (kind == "softokn") return std::make_unique<SoftoknToken>(loaded(KC_TEST_SOFTOKN_MODULE));
  throw std::runtime_error("KC_TEST_TOKEN names no known token: '" + kind +
                           "' (softhsm or softokn)");
}

}  // namespace kc::test
