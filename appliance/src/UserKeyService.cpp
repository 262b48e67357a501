#include "kc/appliance/UserKeyService.h"

#include <Poco/Logger.h>

#include <chrono>
#include <string>

#include "kc/pkcs11/Module.h"
#include "kc/pkcs11/SessionPool.h"
#include "kc/pkcs11/TokenCluster.h"

namespace kc::appliance {
namespace {

Poco::Logger& keysLogger() {
  return Poco::Logger::get("kc.keys");
}

// Runs `op` and reports its duration and outcome to `observer`.
template <typename Op>
auto timed(KeyServiceObserver* observer, TokenOperation operation,
           const api::RequestContext& context, std::string_view keyId, Op&& op) {
  const auto start = std::chrono::steady_clock::now();
  auto result = op();
  if (observer != nullptr) {
    const std::chrono::duration<double> elapsed = std::chrono::steady_clock::now() - start;
    Status outcome;
    if constexpr (std::is_same_v<decltype(result), Status>) {
      outcome = result;
    } else {
      outcome = result.status();
    }
    observer->onTokenOperation(operation, context, keyId, elapsed.count(), outcome);
  }
  return result;
}

// The HTTP layer calls the service only for a token that named a user; a context without one
// is a caller's bug, refused before anything is read or written.
Status checkNamesUser(const api::RequestContext& context) {
  if (context.userId) return Status::ok();
  return {StatusCode::kInvalidArgument, "the request names no user"};
}

KeyOperation depositOperation(api::DepositMode mode) {
  return mode == api::DepositMode::kCreateOnly ? KeyOperation::kDepositCreate
                                               : KeyOperation::kDepositReplace;
}

}  // namespace

std::string_view tokenOperationName(TokenOperation operation) {
  return operation == TokenOperation::kWrap ? "wrap" : "unwrap";
}

UserKeyService::UserKeyService(std::shared_ptr<const KeyRing> ring,
                               std::shared_ptr<storage::UserKeyStore> store,
                               std::shared_ptr<KeyServiceObserver> observer)
    : ring_(std::move(ring)), store_(std::move(store)), observer_(std::move(observer)) {}

void UserKeyService::replaceKeyRing(std::shared_ptr<const KeyRing> ring) {
  ring_.store(std::move(ring));
}

std::shared_ptr<const KeyRing> UserKeyService::keyRing() const {
  return ring_.load();
}

Result<SecretBytes> UserKeyService::fetchUserKey(const api::RequestContext& context) {
  auto result = fetch(context);
  if (observer_) observer_->onKeyOperation(KeyOperation::kFetch, context, result.status());
  return result;
}

Result<SecretBytes> UserKeyService::fetch(const api::RequestContext& context) {
  KC_RETURN_IF_ERROR(checkNamesUser(context));
  const UserId& user = *context.userId;
  auto record = store_->get(user);
  if (!record) return record.status();

  const auto ring = keyRing();
  auto key = timed(observer_.get(), TokenOperation::kUnwrap, context, record->wrappingKeyId,
                   [&] { return ring->open(user, record->envelope); });
  if (!key) {
    const Status status = key.status();
    if (status.code() == StatusCode::kIntegrity) {
      keysLogger().error(
          "integrity failure: the stored key record of user %s does not open for that user "
          "(request %s, record sealed by key %s, revision %s); no key released: %s",
          user.str(), context.requestId, record->wrappingKeyId, std::to_string(record->revision),
          status.message());
      return Status(StatusCode::kIntegrity,
                    "the stored key record of this user failed its integrity check");
    }
    keysLogger().warning("could not open the key of user %s (request %s): %s", user.str(),
                         context.requestId, status.toString());
    return status;
  }
  if (Status access = store_->recordAccess(user, storage::storeNow()); !access.isOk()) {
    keysLogger().warning("could not record the key access of user %s (request %s): %s", user.str(),
                         context.requestId, access.toString());
  }
  return key;
}

Status UserKeyService::depositUserKey(const api::RequestContext& context, const SecretBytes& key,
                                      api::DepositMode mode) {
  Status status = deposit(context, key, mode);
  if (observer_) observer_->onKeyOperation(depositOperation(mode), context, status);
  return status;
}

Status UserKeyService::deposit(const api::RequestContext& context, const SecretBytes& key,
                               api::DepositMode mode) {
  KC_RETURN_IF_ERROR(checkNamesUser(context));
  const UserId& user = *context.userId;
  if (key.size() < kMinUserKeyBytes || key.size() > kMaxUserKeyBytes) {
    return {StatusCode::kInvalidArgument, "a user key must be " + std::to_string(kMinUserKeyBytes) +
                                              ".." + std::to_string(kMaxUserKeyBytes) +
                                              " bytes, not " + std::to_string(key.size())};
  }
  // One ring for the whole deposit: the envelope and the key id it is stored under agree even
  // when a reload swaps the ring meanwhile.
  const auto ring = keyRing();
  const pkcs11::RsaKeyPair& wrappingKey = ring->current();
  auto envelope = timed(observer_.get(), TokenOperation::kWrap, context, wrappingKey.idHex(),
                        [&] { return ring->seal(user, key); });
  if (!envelope) {
    keysLogger().warning("could not seal the key of user %s (request %s): %s", user.str(),
                         context.requestId, envelope.status().toString());
    return envelope.status();
  }
  const storage::UserKeyWrite write{
      .userId = user, .envelope = std::move(*envelope), .wrappingKeyId = wrappingKey.idHex()};
  return mode == api::DepositMode::kCreateOnly ? store_->insert(write) : store_->upsert(write);
}

api::HealthReport UserKeyService::checkHealth() {
  api::HealthReport report;
  const auto ring = keyRing();
  const pkcs11::RsaKeyPair& key = ring->current();

  api::ComponentHealth token{.name = "token"};
  // On a cluster, one component per token (out of rotation is unhealthy) and "token" healthy
  // while any token is in rotation: the service answers as long as one does.
  std::vector<api::ComponentHealth> clusterTokens;
  if (const auto cluster = key.cluster()) {
    std::size_t inRotation = 0;
    // Named by position: the public /health shows names, only the admin listener details.
    for (const auto& state : cluster->states()) {
      inRotation += state.inRotation ? 1 : 0;
      clusterTokens.push_back(
          {.name = "token-" + std::to_string(clusterTokens.size() + 1),
           .healthy = state.inRotation,
           .detail = state.name +
                     (state.inRotation ? std::string(": in rotation")
                                       : ": out of rotation (" + state.lastFailure + ")") +
                     ", " + std::to_string(state.operations) + " operations, " +
                     std::to_string(state.failures) + " failures"});
    }
    token.healthy = inRotation > 0;
    token.detail = std::to_string(inRotation) + " of " + std::to_string(cluster->size()) +
                   " tokens in rotation";
  } else {
    auto lease = key.pool()->lease();
    token.healthy = lease.isOk();
    token.detail = lease.isOk() ? "a session on " + key.pool()->module()->path() + " answers"
                                : lease.status().toString();
  }

  api::ComponentHealth wrapping{.name = "wrapping-key"};
  auto attributes = key.readAttributes();
  wrapping.healthy = attributes.isOk();
  wrapping.detail = attributes.isOk()
                        ? "key " + key.idHex() + " ('" + key.label() + "', RSA-" +
                              std::to_string(attributes->modulusBits) + ", OAEP " +
                              std::string(pkcs11::oaepHashName(key.oaepHash())) + ") answers"
                        : attributes.status().toString();

  api::ComponentHealth database{.name = "database"};
  const Status ping = store_->ping();
  database.healthy = ping.isOk();
  database.detail = ping.isOk() ? std::string(store_->backendName()) + " answers"
                                : std::string(store_->backendName()) + ": " + ping.toString();

  report.healthy = token.healthy && wrapping.healthy && database.healthy;
  report.components = {std::move(token), std::move(wrapping), std::move(database)};
  for (auto& one : clusterTokens) report.components.push_back(std::move(one));
  return report;
}

}  // namespace kc::appliance
