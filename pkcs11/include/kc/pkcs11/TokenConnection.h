#pragma once
// One call from settings to a logged-in session pool: load the module, pick the token
// the URI names, open the pool.

#include <memory>
#include <string>

#include "kc/Result.h"
#include "kc/pkcs11/PinSource.h"
#include "kc/pkcs11/Pkcs11Uri.h"
#include "kc/pkcs11/SessionPool.h"

namespace kc::pkcs11 {

struct TokenSettings {
  std::string modulePath;  // e.g. /usr/lib/softhsm/libsofthsm2.so
  std::string initArgs;    // CK_C_INITIALIZE_ARGS.pReserved; usually empty
  std::string uri;         // a token or key URI: its token attributes select the token
  TokenMatch match = TokenMatch::kExact;
  PinSource pin = PinSource::fromEnvironment("KC_PKCS11_PIN");
  SessionPoolOptions pool;
};

Result<std::shared_ptr<SessionPool>> connectToken(const TokenSettings& settings);

}  // namespace kc::pkcs11
