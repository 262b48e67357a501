// Fuzzes what the identity server sends: a JWKS (RSA keys built with OpenSSL from n/e), an
// OIDC discovery document, and the JWKS response's Cache-Control header. All arrive over the
// network.

#include <cstdint>
#include <string>

#include "HttpFetch.h"
#include "Jwk.h"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const std::string_view input(reinterpret_cast<const char*>(data), size);
  (void)kc::api::parseJwks(input);
  (void)kc::api::parseDiscovery(input);
  (void)kc::api::maxAgeOf(input);
  return 0;
}
