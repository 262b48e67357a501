#include "Startup.h"

#include <Poco/Logger.h>

#include "kc/appliance/Deployment.h"
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

// The audit log, with checkpoints signed on the token by the audit key (never the
// wrapping key: the signer refuses a key that can decrypt).
Result<std::shared_ptr<audit::AuditLog>> openDaemonAuditLog(const appliance::DaemonConfig& config,
                                                            const Components& components) {
  auto signer = components.cluster ? appliance::openCheckpointSigner(config, components.cluster)
                                   : appliance::openCheckpointSigner(config, components.pool);
  if (!signer) return signer.status();
  if (!*signer) {
    logger().warning(
        "pkcs11.audit_key is not set: audit checkpoints are not signed, so truncation of the "
        "audit log cannot be detected. Generate one with kc-setup key generate --purpose audit.");
  }
  auto log =
      appliance::openAuditLog(config, config.audit.directory, config.audit.instance, *signer);
  if (!log) return log.status();
  const std::string opened =
      "audit log " + (*log)->activePath().string() + ", instance " + (*log)->instance() +
      (*signer ? ", checkpoints signed by key " + (*signer)->keyId() : ", checkpoints NOT signed") +
      ": " + (*log)->openDetail();
  if ((*log)->openDetail().find(audit::kChainFilesMissing) != std::string::npos) {
    logger().warning(opened + "; restore them from the archive, or keep this as evidence");
  } else {
    logger().information(opened);
  }
  return std::shared_ptr<audit::AuditLog>(std::move(*log));
}

void logKeyRing(const appliance::KeyRing& ring) {
  const auto& current = ring.current();
  std::string previous;
  for (std::size_t i = 1; i < ring.keys().size(); ++i) {
    previous += (previous.empty() ? "" : ", ") + ring.keys()[i].idHex();
  }
  logger().information("wrapping key '" + current.label() + "' (id " + current.idHex() +
                       ", RSA-OAEP with " + std::string(pkcs11::oaepHashName(current.oaepHash())) +
                       ") and " + std::to_string(ring.keys().size() - 1) + " previous key(s)" +
                       (previous.empty() ? "" : " (" + previous + ")"));
}

// pkcs11.tokens: every token logged in, as one cluster whose changes of rotation are logged.
Status openCluster(const appliance::DaemonConfig& config, Components& out) {
  pkcs11::TokenClusterOptions options;
  options.onChange = [](const std::string& token, bool inRotation, const std::string& why) {
    if (inRotation) {
      logger().notice("token " + token + " is back in rotation: " + why);
    } else {
      logger().error("token " + token + " is out of rotation (probed in the background): " + why);
    }
  };
  auto cluster = appliance::openTokenCluster(config, std::move(options));
  if (!cluster) return cluster.status();
  out.cluster = *cluster;
  out.pool = out.cluster->token(0).pool;
  logger().information("token cluster ready: " + std::to_string(out.cluster->size()) + " tokens, " +
                       std::to_string(out.pool->size()) + " sessions each");
  return Status::ok();
}

Result<appliance::KeyRing> openDaemonKeyRing(const appliance::DaemonConfig& config,
                                             const Components& components) {
  return components.cluster ? appliance::openKeyRing(config, components.cluster)
                            : appliance::openKeyRing(config, components.pool);
}

}  // namespace

Result<Components> startComponents(const appliance::DaemonConfig& config) {
  // Before any thread starts: a PIN given in the environment leaves it (children, such as
  // audit.archive_command, and readers of /proc/<pid>/environ never see it).
  appliance::pinSourceFrom(config.pkcs11).moveOutOfEnvironment();
  Components out;
  if (!config.pkcs11.tokens.empty()) {
    KC_RETURN_IF_ERROR(openCluster(config, out));
  } else {
    auto pool = appliance::openTokenPool(config);
    if (!pool) return pool.status();
    out.pool = *pool;
    logger().information("token ready: " + std::to_string(out.pool->size()) + " sessions");
  }

  auto ring = openDaemonKeyRing(config, out);
  if (!ring) return ring.status();
  if (config.policy.allowNoncompliantKey) {
    logger().warning(
        "policy.allow_noncompliant_key is set: a wrapping key that breaks the key policy is "
        "accepted. NEVER use this setting in production.");
  }
  logKeyRing(*ring);

  auto store = appliance::openStore(config);
  if (!store) return store.status();
  out.store = std::move(*store);
  logger().information("database ready: " + std::string(out.store->backendName()) +
                       ", schema version " + std::to_string(storage::latestSchemaVersion()));

  out.metrics = std::make_unique<api::Metrics>();
  std::weak_ptr<pkcs11::SessionPool> weakPool = out.pool;
  out.metrics->setTokenPoolWaitsSource([weakPool] {
    auto alive = weakPool.lock();
    return alive ? alive->stats().waits : std::uint64_t{0};
  });
  if (out.cluster) {
    std::weak_ptr<pkcs11::TokenCluster> weakCluster = out.cluster;
    out.metrics->setTokenPoolWaitsSource([weakCluster] {
      std::uint64_t waits = 0;
      if (auto alive = weakCluster.lock()) {
        for (std::size_t i = 0; i < alive->size(); ++i)
          waits += alive->token(i).pool->stats().waits;
      }
      return waits;
    });
    out.metrics->setClusterTokensSource([weakCluster] {
      std::vector<api::ClusterTokenCounters> tokens;
      if (auto alive = weakCluster.lock()) {
        for (const auto& state : alive->states()) {
          tokens.push_back({.name = state.name,
                            .inRotation = state.inRotation,
                            .operations = state.operations,
                            .failures = state.failures,
                            .returns = state.returns});
        }
      }
      return tokens;
    });
  }

  api::JwksSettings jwks;
  jwks.identityServerUri = config.identity.serverUri;
  jwks.jwksUri = config.identity.jwksUri;
  jwks.jwksFile = config.identity.jwksFile.string();
  jwks.caFile = config.identity.caFile.string();
  jwks.allowInsecureHttp = config.identity.allowInsecureHttp;
  jwks.refreshInterval = config.identity.jwksRefreshMinInterval;
  jwks.proxy = api::HttpsProxy::fromEnvironment();
  if (config.identity.allowInsecureHttp) {
    logger().warning(
        "identity.allow_insecure_http is set: the identity server's signing keys may be "
        "fetched over plain HTTP, and whoever can alter that traffic can forge any user's "
        "token. Use it only on a private network.");
  }
  if (!jwks.proxy.url.empty()) {
    auto proxy = api::parseProxyUrl(jwks.proxy.url);
    if (!proxy) return proxy.status();  // names HTTPS_PROXY; exit 78
    logger().information("identity server fetched through the proxy " + proxy->host + ":" +
                         std::to_string(proxy->port) +
                         (jwks.proxy.noProxy.empty() ? "" : ", except NO_PROXY hosts"));
  }
  out.jwks = std::make_unique<api::JwksCache>(jwks, out.metrics.get());
  Status loaded = out.jwks->reload();
  if (!loaded.isOk()) {
    if (!config.identity.jwksFile.empty()) {
      return blame("identity.jwks_file (" + config.identity.jwksFile.string() + ")", loaded);
    }
    if (loaded.code() == StatusCode::kPolicyViolation) {
      // The identity server answered, with a URL the transport rules refuse: a setting.
      return blame(config.identity.jwksUri.empty() ? "identity.server_uri" : "identity.jwks_uri",
                   loaded);
    }
    // The identity server may come up after us; tokens are refused until its keys load.
    logger().warning("identity.server_uri: signing keys not loaded yet (" + loaded.message() +
                     "); tokens are refused until they are");
  }
  out.validator = std::make_unique<api::JwtValidator>(
      *out.jwks,
      api::JwtSettings{.issuer = config.identity.issuer, .clockSkew = config.identity.clockSkew});

  auto audit = openDaemonAuditLog(config, out);
  if (!audit) return audit.status();
  out.audit = std::move(*audit);

  auto trail = std::make_shared<appliance::AuditTrail>(
      out.audit, std::make_shared<MetricsObserver>(*out.metrics));
  out.keys = std::make_shared<appliance::UserKeyService>(
      std::make_shared<const appliance::KeyRing>(std::move(*ring)), out.store, trail);
  out.service = std::make_shared<appliance::AuditedKeyService>(
      out.keys, trail,
      appliance::RefusalAuditSettings{.perClient = config.audit.refusalsPerClient,
                                      .total = config.audit.refusalsTotal,
                                      .interval = config.audit.refusalInterval});
  std::weak_ptr<audit::AuditLog> weakLog = out.audit;
  std::weak_ptr<appliance::AuditedKeyService> weakService = out.service;
  out.metrics->setAuditSource([weakLog, weakService] {
    api::AuditCounters counters;
    if (auto log = weakLog.lock()) {
      const auto stats = log->stats();
      counters.records = stats.records;
      counters.bytes = stats.bytes;
      counters.checkpoints = stats.checkpoints;
    }
    if (auto service = weakService.lock())
      counters.summarisedRefusals = service->summarisedRefusals();
    return counters;
  });
  return out;
}

Status reloadKeyRing(const appliance::DaemonConfig& config, Components& components) {
  auto ring = openDaemonKeyRing(config, components);
  if (!ring) return ring.status();
  logKeyRing(*ring);
  audit::AuditRecord record;
  record.operation = std::string(audit::op::kKeyringReload);
  record.outcome = std::string(audit::outcome::kOk);
  record.keyId = ring->current().idHex();
  for (std::size_t i = 1; i < ring->keys().size(); ++i) {
    record.detail += (record.detail.empty() ? "previous " : ",") + ring->keys()[i].idHex();
  }
  const std::string current = ring->current().idHex();
  const std::size_t previous = ring->keys().size() - 1;
  components.keys->replaceKeyRing(std::make_shared<const appliance::KeyRing>(std::move(*ring)));
  // The line kc-setup rotate's steps tell operators to wait for on every instance.
  logger().notice("wrapping keys reloaded: current key " + current + ", " +
                  std::to_string(previous) + " previous key(s)");
  Status written = components.audit->append(std::move(record));
  if (!written.isOk()) {
    logger().error("the key ring changed but its audit record was not written: " +
                   written.message());
  }
  return Status::ok();
}

}  // namespace kc::daemon
