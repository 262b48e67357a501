#include "KcSetupFixture.h"

#include <stdlib.h>

#include <atomic>
#include <sstream>

namespace kc::test {
namespace {

std::unique_ptr<TempDir>& suiteDir() {
  static std::unique_ptr<TempDir> dir;
  return dir;
}

// Settings of the caller's shell that would change what kc-setup does.
const std::vector<std::string> kCallerSettings = {
    "KC_PKCS11_PIN",     "KC_PKCS11_SO_PIN",   "KC_PKCS11_MODULE",    "KC_PKCS11_INIT_ARGS",
    "KC_PKCS11_TOKEN",   "KC_PKCS11_WRAP_KEY", "KC_PKCS11_AUDIT_KEY", "KC_PKCS11_PIN_FILE",
    "KC_PKCS11_PIN_ENV", "KC_PKCS11_SESSIONS"};

}  // namespace

void KcSetupTest::SetUpTestSuite() {
  auto& dir = suiteDir();
  dir = std::make_unique<TempDir>("kc-setup-test");
  std::filesystem::create_directory(dir->path() / "tokens");
  writeFile(dir->path() / "softhsm2.conf",
            "directories.tokendir = " + (dir->path() / "tokens").string() +
                "\nobjectstore.backend = file\nlog.level = ERROR\n");
  writeFile(dir->path() / "user.pin", std::string(kUserPin) + "\n");
  writeFile(dir->path() / "so.pin", std::string(kSoPin) + "\n");
  writeFile(dir->path() / "wrong.pin", std::string(kWrongPin) + "\n");
  // For the tests that load the module in this process too.
  setenv("SOFTHSM2_CONF", (dir->path() / "softhsm2.conf").c_str(), 1);
}

void KcSetupTest::TearDownTestSuite() {
  unsetenv("SOFTHSM2_CONF");
  suiteDir().reset();
}

const std::filesystem::path& KcSetupTest::dir() {
  return suiteDir()->path();
}

ProcessResult KcSetupTest::kcSetup(const std::vector<std::string>& args,
                                   const std::map<std::string, std::string>& env) {
  std::vector<std::string> argv = {KC_SETUP_PATH};
  argv.insert(argv.end(), args.begin(), args.end());
  ProcessOptions options;
  options.unsetEnv = kCallerSettings;
  options.env = env;
  options.env["SOFTHSM2_CONF"] = confPath().string();
  ProcessResult result = runProcess(argv, options);
  for (const char* pin : {kUserPin, kSoPin, kWrongPin}) {
    EXPECT_EQ(result.out.find(pin), std::string::npos) << "a PIN in stdout:\n" << result.out;
    EXPECT_EQ(result.err.find(pin), std::string::npos) << "a PIN in stderr:\n" << result.err;
  }
  return result;
}

std::string KcSetupTest::uniqueLabel(const std::string& prefix) {
  static std::atomic<int> counter{0};
  return prefix.substr(0, 24) + "-" + std::to_string(++counter);
}

std::string KcSetupTest::initToken(const std::string& label) {
  const auto result = kcSetup({"token", "init", "--label", label, "--so-pin-file",
                               soPinFile().string(), "--pin-file", pinFile().string()});
  EXPECT_EQ(result.exitCode, 0) << result.err;
  return field(result.out, "uri");
}

std::string KcSetupTest::generateKey(const std::string& tokenUri, const std::string& label,
                                     const std::string& purpose) {
  const auto result =
      kcSetup({"key", "generate", "--token", tokenUri, "--label", label, "--purpose", purpose,
               "--bits", "2048", "--pin-file", pinFile().string()});
  EXPECT_EQ(result.exitCode, 0) << result.err;
  return field(result.out, "uri");
}

std::string KcSetupTest::field(const std::string& output, const std::string& name) {
  std::istringstream lines(output);
  std::string line;
  while (std::getline(lines, line)) {
    if (!line.starts_with(name + ":")) continue;
    const auto value = line.find_first_not_of(' ', name.size() + 1);
    return value == std::string::npos ? std::string() : line.substr(value);
  }
  return {};
}

}  // namespace kc::test
