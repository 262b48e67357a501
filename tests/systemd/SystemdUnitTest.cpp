// packaging/keyconnectord.service, checked by systemd's own tools (systemd-analyze, no running
// systemd needed): the unit verifies cleanly, its hardening rates "OK" or better, and it keeps
// the settings the daemon's readiness, watchdog and PIN handling rely on. With CI=true a
// missing systemd-analyze fails the suite instead of skipping it.

#include <gtest/gtest.h>

#include <cstdlib>
#include <filesystem>
#include <regex>
#include <string>

#include "support/Subprocess.h"
#include "support/TempDir.h"

namespace kc::test {
namespace {

// systemd-analyze security's levels, exposure x10: OK is 1.0 to 4.9; 5.0 is MEDIUM.
constexpr int kOkUpperBound = 49;

bool toolsRequired() {
  const char* ci = std::getenv("CI");
  return ci != nullptr && std::string(ci) == "true";
}

std::string systemdAnalyze() {
  for (const char* candidate : {"/usr/bin/systemd-analyze", "/bin/systemd-analyze"}) {
    if (std::filesystem::exists(candidate)) return candidate;
  }
  return "";
}

std::string replaceAll(std::string text, const std::string& from, const std::string& to) {
  for (std::size_t at = text.find(from); at != std::string::npos;
       at = text.find(from, at + to.size())) {
    text.replace(at, from.size(), to);
  }
  return text;
}

class SystemdUnit : public ::testing::Test {
 protected:
  void SetUp() override {
    analyze_ = systemdAnalyze();
    if (analyze_.empty()) {
      if (toolsRequired()) FAIL() << "systemd-analyze is not installed (the systemd package)";
      GTEST_SKIP() << "systemd-analyze is not installed (the systemd package)";
    }
    text_ = readFile(KC_UNIT_PATH);
    // verify checks that ExecStart= binaries exist: the copy runs the one just built.
    unit_ = dir_.path() / "keyconnectord.service";
    writeFile(unit_, replaceAll(text_, "/usr/sbin/keyconnectord", KC_DAEMON_PATH));
  }

  TempDir dir_{"kc-systemd-unit"};
  std::string analyze_;
  std::string text_;  // the unit as shipped
  std::filesystem::path unit_;
};

TEST_F(SystemdUnit, VerifiesWithoutAWarning) {
  // The man page Documentation= names is installed by the package, not on this host.
  const auto result = runProcess({analyze_, "verify", "--man=no", unit_.string()});
  EXPECT_EQ(result.exitCode, 0) << result.err;
  EXPECT_EQ(result.err, "");
  EXPECT_EQ(result.out, "");
}

TEST_F(SystemdUnit, HardeningRatesOkOrBetter) {
  const auto result = runProcess({analyze_, "security", "--offline=yes",
                                  "--threshold=" + std::to_string(kOkUpperBound), unit_.string()});
  EXPECT_EQ(result.exitCode, 0) << result.out << result.err;
  std::smatch level;
  ASSERT_TRUE(std::regex_search(result.out, level,
                                std::regex(R"(Overall exposure level for \S+: ([0-9.]+) (\w+))")))
      << result.out;
  EXPECT_TRUE(level[2] == "OK" || level[2] == "SAFE" || level[2] == "PERFECT") << level[0];
  std::cout << level[0] << "\n";
}

// The daemon sends READY=1 after its checks and pings a watchdog (SystemdNotifyTest); the PIN
// arrives as an encrypted credential and is read through KC_PKCS11_PIN_FILE.
TEST_F(SystemdUnit, KeepsNotifyWatchdogCredentialAndStartUpCheck) {
  for (const char* line :
       {"\nType=notify\n", "\nNotifyAccess=main\n", "\nWatchdogSec=",
        "\nLoadCredentialEncrypted=kc-pin:", "\nEnvironment=KC_PKCS11_PIN_FILE=%d/kc-pin\n",
        "\nExecStartPre=/usr/sbin/keyconnectord --config /etc/keyconnector/keyconnector.properties "
        "--check\n"}) {
    EXPECT_NE(text_.find(line), std::string::npos) << "missing: " << line;
  }
}

}  // namespace
}  // namespace kc::test
