#pragma once
// JwtValidator: turns an `Authorization` header value into the user it names, or says why
// not. Authentication (a well-formed RS256/PS256 JWT signed by a key of the identity
// server's JWKS, issued by the expected issuer, within exp/nbf and the clock skew) failing
// is a 401; authorisation (amr, scope, sub) failing is a 403.

#include <chrono>
#include <optional>
#include <string>
#include <string_view>

#include "kc/Result.h"
#include "kc/UserId.h"

namespace kc::api {

class JwksCache;

struct JwtSettings {
  // The expected `iss`. Empty: the issuer named by OIDC discovery (a JWKS file needs this set).
  std::string issuer;
  std::chrono::seconds clockSkew{300};
  bool allowPs256 = true;  // RS256 is always accepted; none and HMAC never
  std::size_t maxTokenBytes = 16 * 1024;
};

struct AuthenticatedUser {
  UserId userId;  // the token's `sub` (a GUID in any case, braces allowed), canonicalised
};

class JwtValidator {
 public:
  JwtValidator(JwksCache& keys, JwtSettings settings);

  // Validates a whole header value ("Bearer <jwt>", scheme case-insensitive).
  // Failures: PERMISSION_DENIED when the token is valid but does not authorise this API
  // (403); any other code (INVALID_ARGUMENT, NOT_FOUND, ...) means it was not accepted
  // (401). Messages are short reasons for the log ("token expired", "unknown kid") and never
  // contain the token.
  // `deniedUserId`, when given, receives the user a valid but unauthorised token names
  // (a 403), so the refusal can be recorded against that user.
  Result<AuthenticatedUser> validateHeader(std::string_view authorization,
                                           std::optional<UserId>* deniedUserId = nullptr) const;

  // Validates a bare compact JWT; the same failure codes as validateHeader.
  Result<AuthenticatedUser> validate(std::string_view bearerToken,
                                     std::optional<UserId>* deniedUserId = nullptr) const;

 private:
  JwksCache& keys_;
  const JwtSettings settings_;
};

}  // namespace kc::api
