#pragma once
// A development identity: a stand-in for Bitwarden's identity server so the daemon can be
// tried (and tested end to end) without one. A signing key, a JWKS file and an issuer
// name in a directory, and tokens minted for a given user that look like Bitwarden
// Identity's (RS256, `amr` and `scope` as arrays). DEVELOPMENT ONLY: whoever holds the
// directory can mint a token for any user.

#include <chrono>
#include <filesystem>
#include <string>
#include <vector>

#include "kc/Result.h"

namespace kc::provisioning {

// The files of an identity directory.
struct DevIdentityFiles {
  std::filesystem::path signingKey;  // signing-key.pem, 0600: the RSA private key
  std::filesystem::path jwks;        // jwks.json: the public key as a JWKS
  std::filesystem::path issuer;      // issuer: one line, the `iss` of minted tokens
};
DevIdentityFiles devIdentityFiles(const std::filesystem::path& directory);

// Creates the directory (0700) and its files with a fresh 2048-bit RSA key. ALREADY_EXISTS
// when the directory already holds an identity (nothing is overwritten).
Status createDevIdentity(const std::filesystem::path& directory, const std::string& issuer);

struct DevTokenClaims {
  std::string userId;                           // `sub`: a GUID
  std::chrono::seconds timeToLive{3600};        // negative: already expired
  std::chrono::seconds notBeforeOffset{0};      // `nbf` = now + this
  std::vector<std::string> amr{"Application"};  // Bitwarden: ["Application"]
  std::vector<std::string> scope{"api", "offline_access"};
  std::string clientId = "web";
  std::string issuer;  // empty: the identity's issuer
};

// A compact JWS (RS256, kid = the key's RFC 7638 thumbprint) signed by the identity in
// `directory`.
Result<std::string> mintDevToken(const std::filesystem::path& directory,
                                 const DevTokenClaims& claims);

}  // namespace kc::provisioning
