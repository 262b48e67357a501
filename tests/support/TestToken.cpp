#include "support/TestToken.h"

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

std::unique_ptr<TestToken> makeTestToken(const std::string& label) {
  const char* chosen = std::getenv("KC_TEST_TOKEN");
  const std::string kind = chosen == nullptr ? "" : chosen;
  if (kind.empty() || kind == "softhsm") return std::make_unique<SoftHsmToken>(label);
  if (kind == "softokn") return std::make_unique<SoftoknToken>();
  throw std::runtime_error("KC_TEST_TOKEN names no known token: '" + kind +
                           "' (softhsm or softokn)");
}

}  // namespace kc::test
