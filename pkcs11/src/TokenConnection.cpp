#include "kc/pkcs11/TokenConnection.h"

#include "kc/pkcs11/Module.h"
#include "kc/pkcs11/Pkcs11Uri.h"

namespace kc::pkcs11 {

Result<std::shared_ptr<SessionPool>> connectToken(const TokenSettings& settings) {
  auto module = Module::load(settings.modulePath, settings.initArgs);
  if (!module) return module.status();
  auto uri = Pkcs11Uri::parse(settings.uri);
  if (!uri) return uri.status();
  auto slot = (*module)->findToken(*uri, settings.match);
  if (!slot) return slot.status();
  return SessionPool::open(*module, *slot, settings.pin, settings.pool);
}

}  // namespace kc::pkcs11
