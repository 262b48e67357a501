// kc-setup key generate | verify | export through the built binary on each token of
// tests/support/TestToken.h (the token KC_TEST_TOKEN names): what a new user tries first.

#include <gtest/gtest.h>

#include <memory>
#include <sstream>
#include <string>
#include <vector>

#include "support/SecretLedger.h"
#include "support/Subprocess.h"
#include "support/TestToken.h"

namespace kc::test {
namespace {

TestToken& token() {
  static const std::unique_ptr<TestToken> made = makeTestToken("kc-setup-token");
  return *made;
}

// kc-setup with the module, init args and PIN file of the token, and `args`.
ProcessResult kcSetupOnToken(std::vector<std::string> args) {
  std::vector<std::string> argv = {KC_SETUP_PATH};
  argv.insert(argv.end(), args.begin(), args.end());
  for (const std::string& flag : {std::string("--module"), token().modulePath(),
                                  std::string("--pin-file"), token().pinFile().string()}) {
    argv.push_back(flag);
  }
  if (!token().initArgs().empty()) {
    argv.push_back("--init-args");
    argv.push_back(token().initArgs());
  }
  ProcessOptions options;
  options.env = token().childEnvironment();
  options.unsetEnv = {"KC_PKCS11_PIN",   "KC_PKCS11_MODULE",   "KC_PKCS11_INIT_ARGS",
                      "KC_PKCS11_TOKEN", "KC_PKCS11_WRAP_KEY", "KC_PKCS11_AUDIT_KEY"};
  return runProcess(argv, options);
}

std::string field(const std::string& output, const std::string& name) {
  std::istringstream lines(output);
  std::string line;
  while (std::getline(lines, line)) {
    if (line.starts_with(name + ":")) {
      const auto value = line.find_first_not_of(' ', name.size() + 1);
      return value == std::string::npos ? "" : line.substr(value);
    }
  }
  return "";
}

TEST(KcSetupOnToken, GeneratedWrapKeyIsFoundAndVerifies) {
  const auto generated = kcSetupOnToken({"key", "generate", "--token", token().tokenUri(),
                                         "--label", "wrap-on-token", "--bits", "2048"});
  ASSERT_EQ(generated.exitCode, 0) << generated.err;
  EXPECT_EQ(field(generated.out, "bits"), "2048") << generated.out;
  const std::string uri = field(generated.out, "uri");
  ASSERT_FALSE(uri.empty()) << generated.out;

  const auto verified = kcSetupOnToken({"key", "verify", "--key", uri, "--purpose", "wrap"});
  EXPECT_EQ(verified.exitCode, 0) << verified.out << verified.err;
  EXPECT_EQ(field(verified.out, "bits"), "2048");
  EXPECT_EQ(field(verified.out, "never-extractable"), "true");
  EXPECT_EQ(field(verified.out, "fingerprint"), field(generated.out, "fingerprint"));
  EXPECT_TRUE(field(verified.out, "result").starts_with("ok")) << verified.out;
}

TEST(KcSetupOnToken, GeneratedAuditKeyVerifiesAndExports) {
  const auto generated =
      kcSetupOnToken({"key", "generate", "--token", token().tokenUri(), "--label", "audit-on-token",
                      "--purpose", "audit", "--bits", "2048"});
  ASSERT_EQ(generated.exitCode, 0) << generated.err;
  const std::string uri = field(generated.out, "uri");
  const auto verified = kcSetupOnToken({"key", "verify", "--key", uri, "--purpose", "audit"});
  EXPECT_EQ(verified.exitCode, 0) << verified.out << verified.err;
  const auto exported = kcSetupOnToken({"key", "export", "--key", uri});
  EXPECT_EQ(exported.exitCode, 0) << exported.err;
  EXPECT_NE(exported.out.find("-----BEGIN PUBLIC KEY-----"), std::string::npos);
}

}  // namespace
}  // namespace kc::test
