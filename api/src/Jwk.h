#pragma once
// Parsing of the identity server's documents: the JWKS (RFC 7517) and the OIDC discovery
// document. Both are untrusted input; both have a fuzzer.

#include <map>
#include <memory>
#include <string>
#include <string_view>

#include "kc/Result.h"
#include "kc/api/JwksCache.h"

namespace kc::api {

// The RSA signature keys of a JWKS document, by kid. Keys that are not RSA, whose `use` is
// not "sig", whose modulus is under 2048 or over 8192 bits, or whose n/e are malformed, are
// skipped. A key without a kid is stored under "". INVALID_ARGUMENT when the document is not
// a JSON object with a `keys` array, or holds no usable key.
Result<std::map<std::string, SigningKey>> parseJwks(std::string_view document);

// An RSA public key from big-endian modulus and exponent bytes; INVALID_ARGUMENT if OpenSSL
// refuses them or the size is out of bounds.
Result<std::shared_ptr<evp_pkey_st>> rsaPublicKey(std::string_view modulus,
                                                  std::string_view exponent);

struct Discovery {
  std::string issuer;
  std::string jwksUri;
};

// `issuer` and `jwks_uri` of an OIDC discovery document; INVALID_ARGUMENT when either is
// missing or not a string, or jwks_uri is not http(s).
Result<Discovery> parseDiscovery(std::string_view document);

}  // namespace kc::api
