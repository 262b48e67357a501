#pragma once
// The parts of a deployment its configuration describes, opened the same way by the daemon and
// by kc-setup's lifecycle commands (import-bitwarden, rotate, status). Each error starts with
// the setting at fault ("pkcs11.pin_file (file /etc/kc/kc.properties: PIN file ...): ...").

#include <filesystem>
#include <memory>
#include <string>

#include "kc/Result.h"
#include "kc/appliance/Config.h"
#include "kc/appliance/KeyRing.h"
#include "kc/audit/AuditLog.h"
#include "kc/audit/CheckpointSigner.h"
#include "kc/pkcs11/SessionPool.h"
#include "kc/pkcs11/TokenCluster.h"
#include "kc/storage/UserKeyStore.h"

namespace kc::appliance {

// Loads pkcs11.module, selects the token (pkcs11.token, else the wrapping key's URI) and logs in
// with pool `sessions` (0: pkcs11.sessions). A token not found or failing (as SoftHSM's can while
// another process logs in to it) is tried again for about three seconds, the module loaded
// afresh each time; a refused PIN never is.
Result<std::shared_ptr<pkcs11::SessionPool>> openTokenPool(const DaemonConfig& config,
                                                           std::size_t sessions = 0);

// The tokens of pkcs11.tokens, each logged in with pool `sessions` (0: pkcs11.sessions), as one
// cluster (kc/pkcs11/TokenCluster.h); `options` sets its probe interval and change log. Each
// URI must select exactly one token.
Result<std::shared_ptr<pkcs11::TokenCluster>> openTokenCluster(
    const DaemonConfig& config, pkcs11::TokenClusterOptions options = {}, std::size_t sessions = 0);

// pkcs11.wrap_key and pkcs11.previous_wrap_keys on the pool's token, checked against the
// wrapping-key policy (see findKeyRing).
Result<KeyRing> openKeyRing(const DaemonConfig& config,
                            const std::shared_ptr<pkcs11::SessionPool>& pool);
// The same on every token of the cluster, each key the same on every token.
Result<KeyRing> openKeyRing(const DaemonConfig& config,
                            const std::shared_ptr<pkcs11::TokenCluster>& cluster);

// The user-key store of database.*, its schema migrated (see storage::openUserKeyStore).
Result<std::unique_ptr<storage::UserKeyStore>> openStore(const DaemonConfig& config);

// The signer of audit checkpoints: pkcs11.audit_key on the pool's token. Null when
// pkcs11.audit_key is not set (checkpoints are then unsigned).
Result<std::shared_ptr<audit::CheckpointSigner>> openCheckpointSigner(
    const DaemonConfig& config, const std::shared_ptr<pkcs11::SessionPool>& pool);
// The same on every token of the cluster.
Result<std::shared_ptr<audit::CheckpointSigner>> openCheckpointSigner(
    const DaemonConfig& config, const std::shared_ptr<pkcs11::TokenCluster>& cluster);

// An audit log with the audit.* settings, in `directory` as `instance` (the daemon passes
// audit.directory and audit.instance; a tool its own, since two writers never share a
// chain), its checkpoints signed by `signer` (may be null).
Result<std::unique_ptr<audit::AuditLog>> openAuditLog(
    const DaemonConfig& config, const std::filesystem::path& directory, const std::string& instance,
    std::shared_ptr<audit::CheckpointSigner> signer);

}  // namespace kc::appliance
