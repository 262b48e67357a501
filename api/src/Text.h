#pragma once
// Small text helpers the HTTP layer shares.

#include <cctype>
#include <string_view>

namespace kc::api {

// ASCII case-insensitive equality (HTTP schemes, route paths).
inline bool equalsIgnoringCase(std::string_view a, std::string_view b) {
  if (a.size() != b.size()) return false;
  for (std::size_t i = 0; i < a.size(); ++i) {
    if (std::tolower(static_cast<unsigned char>(a[i])) !=
        std::tolower(static_cast<unsigned char>(b[i]))) {
      return false;
    }
  }
  return true;
}

}  // namespace kc::api
