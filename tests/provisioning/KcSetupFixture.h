#pragma once
// End-to-end tests of the kc-setup binary: each suite gets its own SoftHSM token
// directory and softhsm2.conf in a temp dir, passed to every child in SOFTHSM2_CONF.
// Every run also checks that no PIN of the suite shows up in kc-setup's output.

#include <gtest/gtest.h>

#include <filesystem>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "support/Subprocess.h"
#include "support/TempDir.h"

namespace kc::test {

class KcSetupTest : public ::testing::Test {
 protected:
  static void SetUpTestSuite();
  static void TearDownTestSuite();

  static constexpr const char* kUserPin = "31415926";
  static constexpr const char* kSoPin = "27182818";
  static constexpr const char* kWrongPin = "11235813";

  static const std::filesystem::path& dir();
  static std::filesystem::path confPath() { return dir() / "softhsm2.conf"; }
  static std::filesystem::path pinFile() { return dir() / "user.pin"; }
  static std::filesystem::path soPinFile() { return dir() / "so.pin"; }
  static std::filesystem::path wrongPinFile() { return dir() / "wrong.pin"; }

  // Runs kc-setup with `args`; the child sees this suite's SoftHSM and no KC_* settings
  // of the caller's environment, plus `env`.
  static ProcessResult kcSetup(const std::vector<std::string>& args,
                               const std::map<std::string, std::string>& env = {});

  // A token label no other test of the process uses (at most 32 bytes).
  static std::string uniqueLabel(const std::string& prefix);

  // Initialises a token through kc-setup and returns the URI it printed.
  static std::string initToken(const std::string& label);
  // Generates a 2048-bit key through kc-setup and returns the key URI it printed.
  static std::string generateKey(const std::string& tokenUri, const std::string& label,
                                 const std::string& purpose = "wrap");

  // The value of the first "name: value" line of `output`; empty when there is none.
  static std::string field(const std::string& output, const std::string& name);
};

}  // namespace kc::test
