#pragma once
// Text vocabulary every folder shares: trimming, ASCII case folding and hex. ASCII only, by
// design: every text these are used on (keys, GUIDs, URIs, hex ids, HTTP tokens) is ASCII,
// and a locale must never change how a setting or an id is read.

#include <cstdint>
#include <span>
#include <string>
#include <string_view>

namespace kc {

inline constexpr std::string_view kWhitespace = " \t\r\n";

// `text` without leading and trailing characters from `blanks`.
inline std::string_view trimView(std::string_view text, std::string_view blanks = kWhitespace) {
  const auto begin = text.find_first_not_of(blanks);
  if (begin == std::string_view::npos) return {};
  const auto end = text.find_last_not_of(blanks);
  return text.substr(begin, end - begin + 1);
}
inline std::string trim(std::string_view text, std::string_view blanks = kWhitespace) {
  return std::string(trimView(text, blanks));
}

inline char asciiLower(char c) {
  return c >= 'A' && c <= 'Z' ? static_cast<char>(c - 'A' + 'a') : c;
}
inline std::string toLower(std::string_view text) {
  std::string out(text);
  for (char& c : out) c = asciiLower(c);
  return out;
}

// ASCII case-insensitive equality (HTTP schemes, provider names, ASP.NET setting names).
inline bool equalsIgnoringCase(std::string_view a, std::string_view b) {
  if (a.size() != b.size()) return false;
  for (std::size_t i = 0; i < a.size(); ++i) {
    if (asciiLower(a[i]) != asciiLower(b[i])) return false;
  }
  return true;
}

// Lower-case hex of `bytes`, with `perByte` before each byte ("%" gives the percent-encoding
// a pkcs11: URI's id attribute takes; ":" is not a separator, it is a prefix).
inline std::string toHex(std::span<const std::uint8_t> bytes, std::string_view perByte = {}) {
  static constexpr char kDigits[] = "0123456789abcdef";
  std::string out;
  out.reserve(bytes.size() * (2 + perByte.size()));
  for (const std::uint8_t b : bytes) {
    out += perByte;
    out += kDigits[b >> 4];
    out += kDigits[b & 0xF];
  }
  return out;
}

// `text` with every byte outside RFC 3986's unreserved set (ALPHA DIGIT - . _ ~) written as
// %XX in upper-case hex: the form a pkcs11: URI's attribute values take.
inline std::string percentEncode(std::string_view text) {
  static constexpr char kDigits[] = "0123456789ABCDEF";
  std::string out;
  out.reserve(text.size());
  for (const char c : text) {
    const auto byte = static_cast<unsigned char>(c);
    const bool unreserved = (byte >= 'A' && byte <= 'Z') || (byte >= 'a' && byte <= 'z') ||
                            (byte >= '0' && byte <= '9') || c == '-' || c == '.' || c == '_' ||
                            c == '~';
    if (unreserved) {
      out.push_back(c);
    } else {
      out.push_back('%');
      out.push_back(kDigits[byte >> 4]);
      out.push_back(kDigits[byte & 0x0F]);
    }
  }
  return out;
}

}  // namespace kc
