#pragma once
// User ids for tests, made from literals the test knows to be canonical: a test says
// `testUserId("...")` instead of unwrapping a Result it never expects to fail. Header-only, so
// helper processes and benchmarks that do not link the test support library can use it too.

#include <cstdint>
#include <cstdio>
#include <ostream>
#include <stdexcept>
#include <string_view>
#include <utility>

#include "kc/UserId.h"

namespace kc::test {

// The UserId `canonical` spells. Throws std::invalid_argument naming the literal when it is not
// a canonical lower-case GUID: a typo in the test, which then fails instead of testing less.
inline UserId testUserId(std::string_view canonical) {
  auto id = UserId::parseCanonical(canonical);
  if (!id) throw std::invalid_argument(id.status().toString());
  return std::move(id).value();
}

// "00000000-0000-4000-8000-" and `n` in 12 hex digits: distinct ids that sort in the order of n.
inline UserId sequentialUserId(std::uint64_t n) {
  char buffer[40];
  std::snprintf(buffer, sizeof buffer, "00000000-0000-4000-8000-%012llx",
                static_cast<unsigned long long>(n));
  return testUserId(buffer);
}

// Two users for suites that need a pair (one user's record must not open for the other). The
// envelope test vectors are sealed for kAlice.
inline const UserId kAlice = testUserId("0f8fad5b-d9cb-469f-a165-70867728950e");
inline const UserId kBob = testUserId("7c9e6679-7425-40de-944b-e07fc1f90ae7");

}  // namespace kc::test

namespace kc {
// GoogleTest prints a UserId in a failure message as its text (found by argument-dependent
// lookup).
inline void PrintTo(const UserId& id, std::ostream* out) {
  *out << id.str();
}
}  // namespace kc
