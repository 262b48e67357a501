#include "Base64.h"

#include <array>

namespace kc::api {
namespace {

constexpr char kStandard[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
constexpr char kUrl[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";

constexpr std::array<std::int8_t, 256> reverse(const char* alphabet) {
  std::array<std::int8_t, 256> table{};
  for (auto& entry : table) entry = -1;
  for (int i = 0; i < 64; ++i)
    table[static_cast<unsigned char>(alphabet[i])] = static_cast<std::int8_t>(i);
  return table;
}
constexpr auto kStandardReverse = reverse(kStandard);
constexpr auto kUrlReverse = reverse(kUrl);

// Decodes `text` (no padding) into `out`, which has room for the decoded length.
bool decodeInto(std::string_view text, const std::array<std::int8_t, 256>& table,
                std::uint8_t* out) {
  if (text.size() % 4 == 1) return false;
  std::uint32_t accumulator = 0;
  int bits = 0;
  std::size_t written = 0;
  for (const char c : text) {
    const int value = table[static_cast<unsigned char>(c)];
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

std::size_t decodedSize(std::size_t unpaddedLength) {
  return unpaddedLength * 3 / 4;
}

std::string encode(std::span<const std::uint8_t> bytes, const char* alphabet, bool pad) {
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

}  // namespace

std::optional<SecretBytes> decodeBase64Secret(std::string_view text) {
  if (text.size() % 4 != 0) return std::nullopt;
  std::size_t padding = 0;
  while (padding < 2 && padding < text.size() && text[text.size() - 1 - padding] == '=') ++padding;
  const std::string_view body = text.substr(0, text.size() - padding);
  SecretBytes out(decodedSize(body.size()));
  if (!decodeInto(body, kStandardReverse, out.data())) return std::nullopt;
  return out;
}

std::optional<std::string> decodeBase64Url(std::string_view text) {
  std::string out(decodedSize(text.size()), '\0');
  if (!decodeInto(text, kUrlReverse, reinterpret_cast<std::uint8_t*>(out.data()))) {
    return std::nullopt;
  }
  return out;
}

std::string encodeBase64(std::span<const std::uint8_t> bytes) {
  return encode(bytes, kStandard, true);
}

std::string encodeBase64Url(std::span<const std::uint8_t> bytes) {
  return encode(bytes, kUrl, false);
}

}  // namespace kc::api
