#include "kc/appliance/KeyRing.h"

#include <Poco/Logger.h>

#include <algorithm>
#include <functional>

#include "kc/Text.h"
#include "kc/appliance/Envelope.h"
#include "kc/pkcs11/KeyPolicy.h"
#include "kc/pkcs11/Pkcs11Uri.h"
#include "kc/pkcs11/SessionPool.h"
#include "kc/pkcs11/TokenCluster.h"

namespace kc::appliance {
namespace {

// Finds the key a URI names: on one token's pool, or on every token of a cluster.
using KeyFinder = std::function<Result<pkcs11::RsaKeyPair>(const pkcs11::Pkcs11Uri&)>;

// Checks one token's copy of a wrapping key against the wrapping-key policy.
Status checkWrappingPolicy(const pkcs11::RsaKeyPair& key, const std::string& uriText,
                           bool allowNoncompliant) {
  auto attributes = key.readAttributes();
  if (!attributes) return attributes.status();
  const pkcs11::PolicyReport report =
      pkcs11::checkKeyPolicy(*attributes, pkcs11::KeyPurpose::kWrap);
  auto& logger = Poco::Logger::get("kc.keys");
  if (!report.compliant()) {
    if (!allowNoncompliant) {
      return Status(StatusCode::kPolicyViolation,
                    "wrapping key " + uriText + ": " +
                        pkcs11::enforceKeyPolicy(*attributes, pkcs11::KeyPurpose::kWrap).message() +
                        " (refused; policy.allow_noncompliant_key = true accepts it, for "
                        "development only)");
    }
    for (const auto& violation : report.violations) {
      logger.warning(
          "DEVELOPMENT ONLY: policy.allow_noncompliant_key accepts wrapping key %s (id "
          "%s) although it breaks the key policy: %s",
          uriText, key.idHex(), violation);
    }
  }
  for (const auto& warning : report.warnings) {
    logger.warning("wrapping key %s (id %s): %s", uriText, key.idHex(), warning);
  }
  return Status::ok();
}

Result<pkcs11::RsaKeyPair> findCheckedKey(const KeyFinder& findKey, const std::string& uriText,
                                          bool allowNoncompliant) {
  auto uri = pkcs11::Pkcs11Uri::parse(uriText);
  if (!uri) return uri.status();
  auto key = findKey(*uri);
  if (!key) return key.status();
  // On a cluster, each token's copy of the key answers for its own attributes.
  const auto replicas = key->replicas();
  const auto cluster = key->cluster();
  for (std::size_t i = 0; i < replicas.size(); ++i) {
    Status checked = checkWrappingPolicy(replicas[i], uriText, allowNoncompliant);
    if (!checked.isOk() && cluster) {
      return Status(checked.code(), "token " + cluster->token(i).name + ": " + checked.message());
    }
    KC_RETURN_IF_ERROR(checked);
  }
  return key;
}

Result<KeyRing> findKeyRingWith(const KeyFinder& findKey, const KeyRingSettings& settings) {
  auto current = findCheckedKey(findKey, settings.currentKeyUri, settings.allowNoncompliantKeys);
  if (!current) return current.status();
  std::vector<pkcs11::RsaKeyPair> previous;
  for (const auto& uri : settings.previousKeyUris) {
    auto key = findCheckedKey(findKey, uri, settings.allowNoncompliantKeys);
    if (!key) return key.status();
    previous.push_back(std::move(*key));
  }
  return KeyRing::create(std::move(*current), std::move(previous));
}

}  // namespace

Result<KeyRing> KeyRing::create(pkcs11::RsaKeyPair current,
                                std::vector<pkcs11::RsaKeyPair> previous) {
  std::vector<pkcs11::RsaKeyPair> keys;
  keys.reserve(previous.size() + 1);
  keys.push_back(std::move(current));
  for (auto& key : previous) keys.push_back(std::move(key));
  for (std::size_t i = 0; i < keys.size(); ++i) {
    const auto& id = keys[i].id();
    if (id.empty() || id.size() > kMaxKeyIdBytes) {
      return Status(StatusCode::kInvalidArgument,
                    "wrapping key '" + keys[i].label() + "' has a CKA_ID of " +
                        std::to_string(id.size()) +
                        " bytes; an envelope names keys by a CKA_ID of 1.." +
                        std::to_string(kMaxKeyIdBytes) + " bytes");
    }
    for (std::size_t j = 0; j < i; ++j) {
      if (keys[j].id() == id) {
        return Status(StatusCode::kInvalidArgument,
                      "two wrapping keys of the key ring share the CKA_ID " + keys[i].idHex());
      }
    }
  }
  return KeyRing(std::move(keys));
}

Result<pkcs11::RsaKeyPair> KeyRing::find(std::span<const std::uint8_t> id) const {
  for (const auto& key : keys_) {
    if (std::equal(key.id().begin(), key.id().end(), id.begin(), id.end())) return key;
  }
  return Status(StatusCode::kNotFound, "no wrapping key with id " + toHex(id) + " in the key ring");
}

Result<std::vector<std::uint8_t>> KeyRing::seal(const UserId& userId,
                                                const SecretBytes& userKey) const {
  return sealEnvelope(current(), userId, userKey);
}

Result<SecretBytes> KeyRing::open(const UserId& userId,
                                  std::span<const std::uint8_t> envelope) const {
  auto parsed = parseEnvelope(envelope);
  if (!parsed) return parsed.status();
  auto key = find(parsed->wrappingKeyId);
  if (!key) {
    return Status(StatusCode::kIntegrity,
                  "user-key envelope names wrapping key " + toHex(parsed->wrappingKeyId) +
                      ", which is not in the key ring (a retired key, or a forged record)");
  }
  return openEnvelope(*key, userId, *parsed);
}

Result<KeyRing> findKeyRing(const std::shared_ptr<pkcs11::SessionPool>& pool,
                            const KeyRingSettings& settings) {
  return findKeyRingWith(
      [&](const pkcs11::Pkcs11Uri& uri) { return pkcs11::RsaKeyPair::find(pool, uri); }, settings);
}

Result<KeyRing> findKeyRing(const std::shared_ptr<pkcs11::TokenCluster>& cluster,
                            const KeyRingSettings& settings) {
  return findKeyRingWith(
      [&](const pkcs11::Pkcs11Uri& uri) { return pkcs11::RsaKeyPair::findOnCluster(cluster, uri); },
      settings);
}

}  // namespace kc::appliance
