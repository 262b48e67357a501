#include "kc/api/JwtValidator.h"

#include <cctype>

#include "Jwt.h"
#include "kc/Text.h"
#include "kc/api/JwksCache.h"

namespace kc::api {
namespace {

bool isSpace(char c) {
  return c == ' ' || c == '\t';
}

// A key that names its algorithm verifies only tokens of that algorithm.
bool verifies(const Jwt& jwt, const SigningKey& key) {
  if (!key.algorithm.empty() && key.algorithm != jwt.algorithm) return false;
  return verifyJwtSignature(jwt, key.key.get());
}

}  // namespace

JwtValidator::JwtValidator(JwksCache& keys, JwtSettings settings)
    : keys_(keys), settings_(std::move(settings)) {}

Result<AuthenticatedUser> JwtValidator::validateHeader(std::string_view authorization,
                                                       std::optional<UserId>* deniedUserId) const {
  while (!authorization.empty() && isSpace(authorization.front())) authorization.remove_prefix(1);
  while (!authorization.empty() && isSpace(authorization.back())) authorization.remove_suffix(1);
  constexpr std::string_view kScheme = "bearer";
  if (authorization.size() <= kScheme.size() ||
      !equalsIgnoringCase(authorization.substr(0, kScheme.size()), kScheme) ||
      !isSpace(authorization[kScheme.size()])) {
    return Status(StatusCode::kInvalidArgument, "no bearer token");
  }
  std::string_view token = authorization.substr(kScheme.size());
  while (!token.empty() && isSpace(token.front())) token.remove_prefix(1);
  return validate(token, deniedUserId);
}

Result<AuthenticatedUser> JwtValidator::validate(std::string_view bearerToken,
                                                 std::optional<UserId>* deniedUserId) const {
  auto jwt = parseJwt(bearerToken, settings_);
  if (!jwt) return jwt.status();

  bool verified = false;
  if (jwt->kid) {
    auto key = keys_.find(*jwt->kid);
    if (!key) {
      return Status(StatusCode::kNotFound, key.status().code() == StatusCode::kNotFound
                                               ? "unknown kid"
                                               : "no signing keys available");
    }
    verified = verifies(*jwt, *key);
  } else {
    // No kid: any key of the set may have signed it (as the reference's library allows).
    auto keys = keys_.all();
    if (!keys) return Status(StatusCode::kNotFound, "no signing keys available");
    for (const auto& [kid, key] : *keys) {
      if (verifies(*jwt, key)) {
        verified = true;
        break;
      }
    }
  }
  if (!verified) return Status(StatusCode::kInvalidArgument, "bad signature");

  ClaimExpectations expectations;
  expectations.issuer = settings_.issuer.empty() ? keys_.discoveredIssuer() : settings_.issuer;
  expectations.clockSkew = settings_.clockSkew;
  expectations.now = std::chrono::system_clock::now();
  return checkClaims(*jwt->claims, expectations, deniedUserId);
}

}  // namespace kc::api
