#include "kc/appliance/Deployment.h"

#include <Poco/Logger.h>

#include <array>
#include <chrono>
#include <functional>
#include <thread>

#include "kc/pkcs11/Module.h"
#include "kc/pkcs11/Pkcs11Uri.h"
#include "kc/pkcs11/RsaKeyPair.h"
#include "kc/pkcs11/TokenConnection.h"

namespace kc::appliance {
namespace {

Status blame(const std::string& setting, const Status& status) {
  return Status(status.code(), setting + ": " + status.message());
}

// Whether a failed opening of the token may succeed if repeated with the module loaded afresh.
// A token that another process is starting on can look absent or broken for a moment: SoftHSM
// rewrites its token file at every login, and a process reading it meanwhile finds no token
// (kNotFound) or fails the call (CKR_GENERAL_ERROR, kTokenError). A refused PIN is never
// repeated (each try counts toward the token's lockout), nor a malformed or ambiguous setting.
bool worthRepeating(const Status& status) {
  return status.code() == StatusCode::kNotFound || status.code() == StatusCode::kTokenError ||
         status.code() == StatusCode::kUnavailable;
}

// The session pool's own failure is a login failure: name the PIN's setting and where it came
// from (never the PIN), and the token when there are several.
Status pinBlame(const DaemonConfig& config, const pkcs11::TokenSettings& settings,
                const Status& status, const std::string& token = "") {
  const std::string key = config.pkcs11.pinFile.empty() ? "pkcs11.pin_env" : "pkcs11.pin_file";
  return blame(key + " (" + settingOrigin(config.origins, key) + ": " + settings.pin.describe() +
                   ")" + (token.empty() ? "" : ", token " + token),
               status);
}

pkcs11::TokenSettings tokenSettingsWith(const DaemonConfig& config, std::size_t sessions) {
  pkcs11::TokenSettings settings = tokenSettingsFrom(config.pkcs11);
  if (sessions != 0) settings.pool.size = sessions;
  return settings;
}

Result<std::shared_ptr<pkcs11::SessionPool>> openTokenPoolOnce(const DaemonConfig& config,
                                                               std::size_t sessions) {
  const pkcs11::TokenSettings settings = tokenSettingsWith(config, sessions);
  auto module = pkcs11::Module::load(settings.modulePath, settings.initArgs);
  if (!module) return blame("pkcs11.module (" + settings.modulePath + ")", module.status());
  const std::string uriSetting = config.pkcs11.token.empty() ? "pkcs11.wrap_key" : "pkcs11.token";
  auto uri = pkcs11::Pkcs11Uri::parse(settings.uri);
  if (!uri) return blame(uriSetting, uri.status());
  auto slot = (*module)->findToken(*uri, settings.match);
  if (!slot) return blame(uriSetting, slot.status());
  auto pool = pkcs11::SessionPool::open(*module, *slot, settings.pin, settings.pool);
  if (!pool) return pinBlame(config, settings, pool.status());
  return *pool;
}

}  // namespace

Result<std::shared_ptr<pkcs11::SessionPool>> openTokenPool(const DaemonConfig& config,
                                                           std::size_t sessions) {
  using namespace std::chrono_literals;
  constexpr std::array kPauses = {100ms, 200ms, 400ms, 800ms, 1600ms};
  for (const auto pause : kPauses) {
    // The failed attempt's module is released here, so the next one loads it again: a module
    // reads its tokens when it is initialised.
    auto pool = openTokenPoolOnce(config, sessions);
    if (pool || !worthRepeating(pool.status())) return pool;
    Poco::Logger::get("kc.appliance")
        .warning("token not ready, trying again in " + std::to_string(pause.count()) +
                 " ms: " + pool.status().toString());
    std::this_thread::sleep_for(pause);
  }
  return openTokenPoolOnce(config, sessions);
}

Result<std::shared_ptr<pkcs11::TokenCluster>> openTokenCluster(const DaemonConfig& config,
                                                               pkcs11::TokenClusterOptions options,
                                                               std::size_t sessions) {
  const pkcs11::TokenSettings settings = tokenSettingsWith(config, sessions);
  auto module = pkcs11::Module::load(settings.modulePath, settings.initArgs);
  if (!module) return blame("pkcs11.module (" + settings.modulePath + ")", module.status());
  std::vector<pkcs11::ClusterToken> tokens;
  for (const auto& uriText : config.pkcs11.tokens) {
    auto uri = pkcs11::Pkcs11Uri::parse(uriText);
    if (!uri) return blame("pkcs11.tokens (" + uriText + ")", uri.status());
    auto slot = (*module)->findToken(*uri, settings.match);
    if (!slot) return blame("pkcs11.tokens (" + uriText + ")", slot.status());
    for (const auto& other : tokens) {
      if (other.pool->slot() == *slot) {
        return Status(StatusCode::kInvalidArgument, "pkcs11.tokens: " + uriText + " and " +
                                                        other.name + " select the same token");
      }
    }
    auto pool = pkcs11::SessionPool::open(*module, *slot, settings.pin, settings.pool);
    if (!pool) return pinBlame(config, settings, pool.status(), uriText);
    tokens.push_back({.name = uriText, .pool = *pool});
  }
  return pkcs11::TokenCluster::create(std::move(tokens), std::move(options));
}

Result<KeyRing> openKeyRing(const DaemonConfig& config,
                            const std::shared_ptr<pkcs11::SessionPool>& pool) {
  auto ring = findKeyRing(pool, keyRingSettingsFrom(config));
  if (!ring) return blame("pkcs11.wrap_key", ring.status());
  return ring;
}

Result<KeyRing> openKeyRing(const DaemonConfig& config,
                            const std::shared_ptr<pkcs11::TokenCluster>& cluster) {
  auto ring = findKeyRing(cluster, keyRingSettingsFrom(config));
  if (!ring) return blame("pkcs11.wrap_key", ring.status());
  return ring;
}

Result<std::unique_ptr<storage::UserKeyStore>> openStore(const DaemonConfig& config) {
  auto store = storage::openUserKeyStore(storeConfigFrom(config));
  if (!store) {
    const std::string_view key = config.database.provider == storage::StoreBackend::kSqlite
                                     ? "database.sqlite_path"
                                     : "database.connection_string";
    return blame("database (" + std::string(key) + ")", store.status());
  }
  return store;
}

namespace {

Result<std::shared_ptr<audit::CheckpointSigner>> openSigner(
    const DaemonConfig& config,
    const std::function<Result<pkcs11::RsaKeyPair>(const pkcs11::Pkcs11Uri&)>& findKey) {
  if (config.pkcs11.auditKey.empty()) return std::shared_ptr<audit::CheckpointSigner>();
  auto uri = pkcs11::Pkcs11Uri::parse(config.pkcs11.auditKey);
  if (!uri) return blame("pkcs11.audit_key", uri.status());
  auto key = findKey(*uri);
  if (!key) return blame("pkcs11.audit_key", key.status());
  auto signer = audit::TokenCheckpointSigner::create(*key);
  if (!signer) return blame("pkcs11.audit_key", signer.status());
  return std::shared_ptr<audit::CheckpointSigner>(std::move(*signer));
}

}  // namespace

Result<std::shared_ptr<audit::CheckpointSigner>> openCheckpointSigner(
    const DaemonConfig& config, const std::shared_ptr<pkcs11::SessionPool>& pool) {
  return openSigner(
      config, [&](const pkcs11::Pkcs11Uri& uri) { return pkcs11::RsaKeyPair::find(pool, uri); });
}

Result<std::shared_ptr<audit::CheckpointSigner>> openCheckpointSigner(
    const DaemonConfig& config, const std::shared_ptr<pkcs11::TokenCluster>& cluster) {
  return openSigner(config, [&](const pkcs11::Pkcs11Uri& uri) {
    return pkcs11::RsaKeyPair::findOnCluster(cluster, uri);
  });
}

Result<std::unique_ptr<audit::AuditLog>> openAuditLog(
    const DaemonConfig& config, const std::filesystem::path& directory, const std::string& instance,
    std::shared_ptr<audit::CheckpointSigner> signer) {
  audit::AuditLogOptions options;
  options.directory = directory;
  options.instance = instance;
  options.signer = std::move(signer);
  options.checkpointInterval = config.audit.checkpointInterval;
  options.rotateBytes = config.audit.rotateBytes;
  options.syslog = config.audit.syslog;
  options.archiveCommand = config.audit.archiveCommand;
  auto log = audit::AuditLog::open(std::move(options));
  if (!log) return blame("audit.directory (" + directory.string() + ")", log.status());
  return log;
}

}  // namespace kc::appliance
