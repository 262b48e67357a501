#pragma once
// What the end-to-end suites leave behind, for the scan that no secret they minted shows in
// anything they wrote (tests/e2e/SecretScanTest.cpp). Both halves are off unless ctest sets
// the variables (tests/e2e/CMakeLists.txt does, for every e2e suite):
//   KC_SECRET_LEDGER    a file each minted secret is appended to, as "kind hex-of-its-bytes"
//   KC_TEST_OUTPUT_DIR  a directory each child's output, daemon log and audit log is copied to

#include <filesystem>
#include <string>
#include <string_view>

namespace kc::test {

// Records `value` as a secret of `kind` ("token", "user-key", "pin", "password"); throws when
// KC_SECRET_LEDGER is set and cannot be written.
void recordSecret(std::string_view kind, std::string_view value);

// Keeps `text`, what `program` wrote (standard output and error), under KC_TEST_OUTPUT_DIR.
void keepOutput(const std::string& program, std::string_view text);

// Copies the file or directory tree `path` under KC_TEST_OUTPUT_DIR; missing paths are skipped.
void keepFiles(const std::filesystem::path& path);

}  // namespace kc::test
