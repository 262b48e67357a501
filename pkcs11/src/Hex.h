#pragma once
// Lower-case hex of bytes (key ids, fingerprints), with an optional prefix before each byte
// ("%" gives the percent-encoding a pkcs11: URI's id attribute takes).

#include <cstdint>
#include <span>
#include <string>
#include <string_view>

namespace kc::pkcs11::detail {

inline std::string toHex(std::span<const std::uint8_t> bytes, std::string_view perByte = {}) {
  static constexpr char kDigits[] = "0123456789abcdef";
  std::string out;
  out.reserve(bytes.size() * (2 + perByte.size()));
  for (std::uint8_t b : bytes) {
    out += perByte;
    out += kDigits[b >> 4];
    out += kDigits[b & 0xF];
  }
  return out;
}

}  // namespace kc::pkcs11::detail
