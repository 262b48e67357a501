#pragma once
// kc-setup's own audit chain, for the lifecycle commands (import-bitwarden, rotate): every
// token operation they do is recorded like the daemon's. Two writers never share a chain, so
// kc-setup writes to <audit.directory>/kc-setup/ as instance "kc-setup@<host name>", continued
// across runs, its checkpoints signed by pkcs11.audit_key. An auditor verifies it beside the
// daemon's: kc-audit verify --public-key audit.pem audit/*.log audit/kc-setup/*.log

#include <memory>

#include "kc/Result.h"
#include "kc/appliance/Config.h"
#include "kc/audit/AuditLog.h"
#include "kc/pkcs11/SessionPool.h"

namespace kc::setup {

Result<std::unique_ptr<audit::AuditLog>> openToolAuditLog(
    const appliance::DaemonConfig& config, const std::shared_ptr<pkcs11::SessionPool>& pool);

}  // namespace kc::setup
