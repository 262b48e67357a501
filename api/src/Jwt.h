#pragma once
// The pieces of JWT validation, each strict and separately testable: parsing a compact JWS,
// verifying its RSA signature with OpenSSL, and checking its claims. JwtValidator strings
// them together; the jwt fuzzer drives them directly.

#include <Poco/JSON/Object.h>

#include <chrono>
#include <optional>
#include <string>
#include <string_view>

#include "kc/Result.h"
#include "kc/api/JwtValidator.h"

struct evp_pkey_st;

namespace kc::api {

struct Jwt {
  std::string algorithm;           // "RS256" or "PS256"; nothing else gets this far
  std::optional<std::string> kid;  // the header's kid, when present
  std::string_view signingInput;   // "<header>.<payload>", a view into the token
  std::string signature;           // decoded signature bytes
  Poco::JSON::Object::Ptr claims;  // the payload, a JSON object
};

// Parses a compact JWS: at most settings.maxTokenBytes, exactly three non-empty base64url
// segments, a header JSON object whose `alg` (checked before anything else) is RS256 or (if
// allowed) PS256, no `crit`, a payload JSON object. INVALID_ARGUMENT with a short reason
// otherwise. `token` must outlive the result.
Result<Jwt> parseJwt(std::string_view token, const JwtSettings& settings);

// Whether `jwt`'s signature verifies under `key` with its algorithm.
bool verifyJwtSignature(const Jwt& jwt, evp_pkey_st* key);

struct ClaimExpectations {
  std::string issuer;
  std::chrono::seconds clockSkew{300};
  std::chrono::system_clock::time_point now;
};

// Authentication claims (iss, exp, nbf: INVALID_ARGUMENT on failure, a 401), then
// authorisation claims (amr, scope, sub: PERMISSION_DENIED on failure, a 403). When the
// token authenticated but is not authorised and its sub is a GUID, `deniedUserId` (if
// given) receives it, so the refusal can be recorded against the user. The sub is read with
// UserId::parse: a GUID in any case, optionally in braces.
Result<AuthenticatedUser> checkClaims(const Poco::JSON::Object& claims,
                                      const ClaimExpectations& expectations,
                                      std::optional<UserId>* deniedUserId = nullptr);

}  // namespace kc::api
