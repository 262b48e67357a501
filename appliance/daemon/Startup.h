#pragma once
// Start-up: everything the daemon serves with, built from the configuration in order —
// token, wrapping keys, database, identity keys — each checked before the next. Any
// failure is one line naming the setting at fault, and the daemon exits non-zero.

#include <memory>
#include <string>

#include "kc/Result.h"
#include "kc/api/JwksCache.h"
#include "kc/api/JwtValidator.h"
#include "kc/api/Metrics.h"
#include "kc/appliance/AuditedKeyService.h"
#include "kc/appliance/Config.h"
#include "kc/appliance/UserKeyService.h"
#include "kc/audit/AuditLog.h"
#include "kc/pkcs11/SessionPool.h"
#include "kc/pkcs11/TokenCluster.h"
#include "kc/storage/UserKeyStore.h"

namespace kc::daemon {

struct Components {
  std::shared_ptr<pkcs11::SessionPool> pool;      // with pkcs11.tokens: the first token's
  std::shared_ptr<pkcs11::TokenCluster> cluster;  // pkcs11.tokens; null for one token
  std::shared_ptr<storage::UserKeyStore> store;
  std::unique_ptr<api::Metrics> metrics;
  std::unique_ptr<api::JwksCache> jwks;
  std::unique_ptr<api::JwtValidator> validator;
  std::shared_ptr<audit::AuditLog> audit;
  std::shared_ptr<appliance::UserKeyService> keys;        // the key service inside `service`
  std::shared_ptr<appliance::AuditedKeyService> service;  // the audited key service
};

// Builds and checks every component. The error's message starts with the setting at
// fault ("pkcs11.pin_file (/etc/kc/pin): ...").
Result<Components> startComponents(const appliance::DaemonConfig& config);

// Builds the key ring of `config` (pkcs11.wrap_key, pkcs11.previous_wrap_keys) on the running
// token and hands it to the key service, recording a "keyring.reload" audit record. On
// failure the key ring in use stays, and the error names the setting at fault.
Status reloadKeyRing(const appliance::DaemonConfig& config, Components& components);

}  // namespace kc::daemon
