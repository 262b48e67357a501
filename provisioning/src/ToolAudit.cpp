#include "ToolAudit.h"

#include <unistd.h>

#include "kc/appliance/Deployment.h"

namespace kc::setup {

Result<std::unique_ptr<audit::AuditLog>> openToolAuditLog(
    const appliance::DaemonConfig& config, const std::shared_ptr<pkcs11::SessionPool>& pool) {
  auto signer = appliance::openCheckpointSigner(config, pool);
  if (!signer) return signer.status();
  char host[256] = {};
  if (::gethostname(host, sizeof host - 1) != 0) host[0] = '\0';
  const std::string instance = std::string("kc-setup@") + (host[0] ? host : "localhost");
  return appliance::openAuditLog(config, config.audit.directory / "kc-setup", instance, *signer);
}

}  // namespace kc::setup
