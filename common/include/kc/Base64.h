#pragma once
// Strict base64 (RFC 4648 §4, padded, as .NET's Convert and OpenSSL write it) for user keys,
// the reference Key Connector's columns and audit signatures, and base64url (§5, unpadded, as
// JOSE writes it) for JWTs and JWKs. Decoders refuse any character outside the alphabet, wrong
// padding and non-zero trailing bits, so every value has exactly one accepted spelling.

#include <array>
#include <cstdint>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "kc/SecretBytes.h"

namespace kc {
namespace base64_detail {

inline constexpr char kStandard[] =
    "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
inline constexpr char kUrl[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";

constexpr std::array<std::int8_t, 256> reverse(const char* alphabet) {
  std::array<std::int8_t, 256> table{};
  for (auto& entry : table) entry = -1;
  for (int i = 0; i < 64; ++i) {
    table[static_cast<unsigned char>(alphabet[i])] = static_cast<std::int8_t>(i);
  }
  return table;
}
inline constexpr auto kStandardReverse = reverse(kStandard);
inline constexpr auto kUrlReverse = reverse(kUrl);

// Decodes unpadded `text` into `out`, which has room for text.size() * 3 / 4 bytes.
inline bool decodeInto(std::string_view text, const std::array<std::int8_t, 256>& table,
                       std::uint8_t* out) {
  if (text.size() % 4 == 1) return false;
  std::uint32_t accumulator = 0;
  int bits = 0;
  std::size_t written = 0;
  for (const char c : text) {
    const std::int8_t value = table[static_cast<unsigned char>(c)];
    if (value < 0) return false;
    accumulator = (accumulator << 6) | static_cast<std::uint32_t>(value);
    bits += 6;
    if (bits >= 8) {
      bits -= 8;
      out[written++] = static_cast<std::uint8_t>((accumulator >> bits) & 0xFF);
    }
  }
  // The bits left over must be zero (a canonical encoding).
  const bool canonical = (accumulator & ((1u << bits) - 1)) == 0;
  accumulator = 0;
  return canonical;
}

// The unpadded body of padded `text`; none when the padding is malformed.
inline std::optional<std::string_view> paddedBody(std::string_view text) {
  if (text.size() % 4 != 0) return std::nullopt;
  std::size_t padding = 0;
  while (padding < 2 && padding < text.size() && text[text.size() - 1 - padding] == '=') ++padding;
  const std::string_view body = text.substr(0, text.size() - padding);
  if (body.size() % 4 == 1) return std::nullopt;
  return body;
}

inline std::string encode(std::span<const std::uint8_t> bytes, const char* alphabet, bool pad) {
  std::string out;
  out.reserve((bytes.size() + 2) / 3 * 4);
  std::size_t i = 0;
  for (; i + 3 <= bytes.size(); i += 3) {
    const std::uint32_t n =
        (std::uint32_t{bytes[i]} << 16) | (std::uint32_t{bytes[i + 1]} << 8) | bytes[i + 2];
    out += alphabet[(n >> 18) & 63];
    out += alphabet[(n >> 12) & 63];
    out += alphabet[(n >> 6) & 63];
    out += alphabet[n & 63];
  }
  const std::size_t rest = bytes.size() - i;
  if (rest == 1) {
    const std::uint32_t n = std::uint32_t{bytes[i]} << 16;
    out += alphabet[(n >> 18) & 63];
    out += alphabet[(n >> 12) & 63];
    if (pad) out += "==";
  } else if (rest == 2) {
    const std::uint32_t n = (std::uint32_t{bytes[i]} << 16) | (std::uint32_t{bytes[i + 1]} << 8);
    out += alphabet[(n >> 18) & 63];
    out += alphabet[(n >> 12) & 63];
    out += alphabet[(n >> 6) & 63];
    if (pad) out += '=';
  }
  return out;
}

}  // namespace base64_detail

// Decodes padded standard base64 into a buffer that wipes itself; none when malformed.
inline std::optional<SecretBytes> decodeBase64Secret(std::string_view text) {
  const auto body = base64_detail::paddedBody(text);
  if (!body) return std::nullopt;
  SecretBytes out(body->size() * 3 / 4);
  if (!base64_detail::decodeInto(*body, base64_detail::kStandardReverse, out.data())) {
    return std::nullopt;
  }
  return out;
}

// Decodes padded standard base64 (not secret: signatures, public values); none when malformed.
inline std::optional<std::vector<std::uint8_t>> decodeBase64(std::string_view text) {
  const auto body = base64_detail::paddedBody(text);
  if (!body) return std::nullopt;
  std::vector<std::uint8_t> out(body->size() * 3 / 4);
  if (!base64_detail::decodeInto(*body, base64_detail::kStandardReverse, out.data())) {
    return std::nullopt;
  }
  return out;
}

// Decodes unpadded base64url; none when malformed.
inline std::optional<std::string> decodeBase64Url(std::string_view text) {
  std::string out(text.size() * 3 / 4, '\0');
  if (!base64_detail::decodeInto(text, base64_detail::kUrlReverse,
                                 reinterpret_cast<std::uint8_t*>(out.data()))) {
    return std::nullopt;
  }
  return out;
}

// Padded standard base64. The result may hold a secret: the caller wipes it.
inline std::string encodeBase64(std::span<const std::uint8_t> bytes) {
  return base64_detail::encode(bytes, base64_detail::kStandard, true);
}

// Unpadded base64url.
inline std::string encodeBase64Url(std::span<const std::uint8_t> bytes) {
  return base64_detail::encode(bytes, base64_detail::kUrl, false);
}

}  // namespace kc
