// Fuzzes the identity server's documents: a JWKS (RSA keys built with OpenSSL from n/e)
// and an OIDC discovery document. Both arrive over the network.

#include <cstdint>
#include <string>

#include "Jwk.h"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const std::string_view input(reinterpret_cast<const char*>(data), size);
  (void)kc::api::parseJwks(input);
  (void)kc::api::parseDiscovery(input);
  return 0;
}
