// Stored envelopes are read back from a database an attacker may write to: parseEnvelope must
// refuse anything malformed without reading out of bounds, whatever parses must serialise back
// to the same bytes, and the AES-GCM half must refuse forged ciphertext of any length.

#include <algorithm>
#include <cstdint>
#include <cstdlib>
#include <span>

#include "kc/appliance/Envelope.h"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  using namespace kc::appliance;
  const std::span<const std::uint8_t> bytes(data, size);
  auto parsed = parseEnvelope(bytes);
  if (!parsed) {
    if (parsed.status().code() != kc::StatusCode::kIntegrity) std::abort();
    return 0;
  }
  auto again = serializeEnvelope(*parsed);
  if (!again || again->size() != size || !std::equal(again->begin(), again->end(), data)) {
    std::abort();
  }
  // The seeds are sealed under this DEK for this user, so mutations of them reach the tag check.
  kc::SecretBytes dek(kDekBytes);
  for (std::size_t i = 0; i < dek.size(); ++i) dek.data()[i] = static_cast<std::uint8_t>(i);
  static const kc::UserId user =
      kc::UserId::parseCanonical("0f8fad5b-d9cb-469f-a165-70867728950e").value();
  auto opened = decryptUserKey(*parsed, dek, user);
  if (opened && opened->size() != parsed->ciphertext.size()) std::abort();
  if (!opened && opened.status().code() != kc::StatusCode::kIntegrity) std::abort();
  return 0;
}
