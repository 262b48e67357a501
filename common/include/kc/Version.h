#pragma once
// The project's version, as CMake's project() declares it: what every program's --version
// prints and what the package is numbered by.

#include <string_view>

namespace kc {

inline constexpr std::string_view kVersion = KC_VERSION;

}  // namespace kc
