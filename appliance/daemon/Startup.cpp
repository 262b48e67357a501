#include "Startup.h"

#include <Poco/Logger.h>

#include "kc/appliance/KeyRing.h"
#include "kc/audit/CheckpointSigner.h"
#include "kc/pkcs11/Module.h"
#include "kc/pkcs11/Pkcs11Uri.h"
#include "kc/pkcs11/TokenConnection.h"

namespace kc::daemon {
namespace {

Poco::Logger& logger() {
  return Poco::Logger::get("kc.daemon");
}

Status blame(const std::string& setting, const Status& status) {
  return Status(status.code(), setting + ": " + status.message());
}

// Token operations reach the metrics; request outcomes are logged by the HTTP layer.
class MetricsObserver final : public appliance::KeyServiceObserver {
 public:
  explicit MetricsObserver(api::Metrics& metrics) : metrics_(metrics) {}
  void onTokenOperation(appliance::TokenOperation operation, const api::RequestContext&,
                        std::string_view, double seconds, const Status&) override {
    metrics_.observeTokenOperation(appliance::tokenOperationName(operation), seconds);
  }

 private:
  api::Metrics& metrics_;
};

Result<std::shared_ptr<pkcs11::SessionPool>> openTokenPool(const appliance::DaemonConfig& config) {
  const pkcs11::TokenSettings settings = appliance::tokenSettingsFrom(config.pkcs11);
  auto module = pkcs11::Module::load(settings.modulePath, settings.initArgs);
  if (!module) return blame("pkcs11.module (" + settings.modulePath + ")", module.status());
  const std::string uriSetting = config.pkcs11.token.empty() ? "pkcs11.wrap_key" : "pkcs11.token";
  auto uri = pkcs11::Pkcs11Uri::parse(settings.uri);
  if (!uri) return blame(uriSetting, uri.status());
  auto slot = (*module)->findToken(*uri, settings.match);
  if (!slot) return blame(uriSetting, slot.status());
  auto pool = pkcs11::SessionPool::open(*module, *slot, settings.pin, settings.pool);
  if (!pool) {
    const std::string key = config.pkcs11.pinFile.empty() ? "pkcs11.pin_env" : "pkcs11.pin_file";
    const auto origin = config.origins.find(key);
    return blame(key + " (" + (origin == config.origins.end() ? "default" : origin->second) + ": " +
                     settings.pin.describe() + ")",
                 pool.status());
  }
  return *pool;
}

// The audit log, with checkpoints signed on the token by the audit key (never the
// wrapping key: the signer refuses a key that can decrypt).
Result<std::shared_ptr<audit::AuditLog>> openAuditLog(
    const appliance::DaemonConfig& config, const std::shared_ptr<pkcs11::SessionPool>& pool) {
  std::shared_ptr<audit::CheckpointSigner> signer;
  if (config.pkcs11.auditKey.empty()) {
    logger().warning(
        "pkcs11.audit_key is not set: audit checkpoints are not signed, so truncation of the "
        "audit log cannot be detected. Generate one with kc-setup key generate --purpose audit.");
  } else {
    auto uri = pkcs11::Pkcs11Uri::parse(config.pkcs11.auditKey);
    if (!uri) return blame("pkcs11.audit_key", uri.status());
    auto key = pkcs11::RsaKeyPair::find(pool, *uri);
    if (!key) return blame("pkcs11.audit_key", key.status());
    auto tokenSigner = audit::TokenCheckpointSigner::create(*key);
    if (!tokenSigner) return blame("pkcs11.audit_key", tokenSigner.status());
    signer = std::move(*tokenSigner);
  }
  audit::AuditLogOptions options;
  options.directory = config.audit.directory;
  options.instance = config.audit.instance;
  options.signer = signer;
  options.checkpointInterval = config.audit.checkpointInterval;
  options.rotateBytes = config.audit.rotateBytes;
  options.syslog = config.audit.syslog;
  auto log = audit::AuditLog::open(std::move(options));
  if (!log) return blame("audit.directory (" + config.audit.directory.string() + ")", log.status());
  logger().information(
      "audit log " + (*log)->activePath().string() + ", instance " + (*log)->instance() +
      (signer ? ", checkpoints signed by key " + signer->keyId() : ", checkpoints NOT signed"));
  return std::shared_ptr<audit::AuditLog>(std::move(*log));
}

}  // namespace

Result<Components> startComponents(const appliance::DaemonConfig& config) {
  Components out;
  auto pool = openTokenPool(config);
  if (!pool) return pool.status();
  out.pool = *pool;
  logger().information("token ready: " + std::to_string(out.pool->size()) + " sessions");

  auto ring = appliance::findKeyRing(out.pool, appliance::keyRingSettingsFrom(config));
  if (!ring) return blame("pkcs11.wrap_key", ring.status());
  if (config.policy.allowNoncompliantKey) {
    logger().warning(
        "policy.allow_noncompliant_key is set: a wrapping key that breaks the key policy is "
        "accepted. NEVER use this setting in production.");
  }
  const auto& current = ring->current();
  logger().information("wrapping key '" + current.label() + "' (id " + current.idHex() +
                       ", RSA-OAEP with " + std::string(pkcs11::oaepHashName(current.oaepHash())) +
                       ") and " + std::to_string(ring->keys().size() - 1) + " previous key(s)");

  auto store = storage::openUserKeyStore(appliance::storeConfigFrom(config));
  if (!store)
    return blame("database (" +
                     std::string(config.database.provider == storage::StoreBackend::kSqlite
                                     ? "database.sqlite_path"
                                     : "database.connection_string") +
                     ")",
                 store.status());
  out.store = std::move(*store);
  logger().information("database ready: " + std::string(out.store->backendName()) +
                       ", schema version " + std::to_string(storage::latestSchemaVersion()));

  out.metrics = std::make_unique<api::Metrics>();
  std::weak_ptr<pkcs11::SessionPool> weakPool = out.pool;
  out.metrics->setTokenPoolWaitsSource([weakPool] {
    auto alive = weakPool.lock();
    return alive ? alive->stats().waits : std::uint64_t{0};
  });

  api::JwksSettings jwks;
  jwks.identityServerUri = config.identity.serverUri;
  jwks.jwksFile = config.identity.jwksFile.string();
  jwks.caFile = config.identity.caFile.string();
  jwks.refreshInterval = config.identity.jwksRefreshMinInterval;
  out.jwks = std::make_unique<api::JwksCache>(jwks, out.metrics.get());
  Status loaded = out.jwks->reload();
  if (!loaded.isOk()) {
    if (!config.identity.jwksFile.empty()) {
      return blame("identity.jwks_file (" + config.identity.jwksFile.string() + ")", loaded);
    }
    // The identity server may come up after us; tokens are refused until its keys load.
    logger().warning("identity.server_uri: signing keys not loaded yet (" + loaded.message() +
                     "); tokens are refused until they are");
  }
  out.validator = std::make_unique<api::JwtValidator>(
      *out.jwks,
      api::JwtSettings{.issuer = config.identity.issuer, .clockSkew = config.identity.clockSkew});

  auto audit = openAuditLog(config, out.pool);
  if (!audit) return audit.status();
  out.audit = std::move(*audit);

  auto trail = std::make_shared<appliance::AuditTrail>(
      out.audit, std::make_shared<MetricsObserver>(*out.metrics));
  auto keys = std::make_shared<appliance::UserKeyService>(
      std::make_shared<const appliance::KeyRing>(std::move(*ring)), out.store, trail);
  out.service = std::make_shared<appliance::AuditedKeyService>(keys, trail);
  return out;
}

}  // namespace kc::daemon
