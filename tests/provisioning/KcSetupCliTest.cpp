// kc-setup's command line: help, usage errors and the refusal of PINs in argv.

#include <string>
#include <vector>

#include "KcSetupFixture.h"

namespace kc::test {
namespace {

class KcSetupCliTest : public KcSetupTest {};

TEST_F(KcSetupCliTest, ToolHelpListsEveryCommandAndExitsZero) {
  const auto result = kcSetup({"--help"});
  EXPECT_EQ(result.exitCode, 0) << result.err;
  for (const char* command :
       {"token init", "token list", "key generate", "key verify", "key export"}) {
    EXPECT_NE(result.out.find(command), std::string::npos) << command << "\n" << result.out;
  }
}

TEST_F(KcSetupCliTest, HelpOfEachCommandListsItsFlagsAndExitsZero) {
  const std::vector<std::pair<std::vector<std::string>, std::vector<std::string>>> cases = {
      {{"token", "init", "--help"},
       {"--label", "--so-pin-file", "--so-pin-env", "--pin-file", "--pin-env", "--if-missing",
        "--module", "--config"}},
      {{"token", "list", "--help"}, {"--module", "--config"}},
      {{"key", "generate", "--help"},
       {"--token", "--key", "--label", "--purpose", "--bits", "--if-missing", "--pin-file",
        "--pin-env", "--module", "--config"}},
      {{"key", "verify", "--help"},
       {"--key", "--token", "--label", "--purpose", "--pin-file", "--module", "--config"}},
      {{"key", "export", "--help"}, {"--key", "--out", "--pin-file", "--module", "--config"}},
      {{"token", "--help"}, {"token init", "token list"}},
      {{"key", "--help"}, {"key generate", "key verify", "key export"}},
  };
  for (const auto& [args, expected] : cases) {
    const auto result = kcSetup(args);
    EXPECT_EQ(result.exitCode, 0) << args[0] << " " << args[1] << ": " << result.err;
    EXPECT_NE(result.out.find("Usage: kc-setup"), std::string::npos) << result.out;
    for (const auto& text : expected) {
      EXPECT_NE(result.out.find(text), std::string::npos)
          << args[0] << " " << args[1] << " lacks " << text << "\n"
          << result.out;
    }
  }
}

TEST_F(KcSetupCliTest, HelpWinsOverOtherFlags) {
  const auto result = kcSetup({"key", "verify", "--no-such-flag", "--help"});
  EXPECT_EQ(result.exitCode, 0) << result.err;
  EXPECT_NE(result.out.find("Usage: kc-setup key verify"), std::string::npos);
}

TEST_F(KcSetupCliTest, UnknownFlagExitsTwoWithHintToHelp) {
  const auto result = kcSetup({"key", "verify", "--frobnicate", "x"});
  EXPECT_EQ(result.exitCode, 2);
  EXPECT_NE(result.err.find("kc-setup: error: unknown flag --frobnicate"), std::string::npos)
      << result.err;
  EXPECT_NE(result.err.find("--help"), std::string::npos) << result.err;
}

TEST_F(KcSetupCliTest, UnknownCommandExitsTwoWithHintToHelp) {
  for (const std::vector<std::string>& args :
       {std::vector<std::string>{"frobnicate"}, std::vector<std::string>{"key", "frobnicate"},
        std::vector<std::string>{}}) {
    const auto result = kcSetup(args);
    EXPECT_EQ(result.exitCode, 2);
    EXPECT_NE(result.err.find("kc-setup: error:"), std::string::npos) << result.err;
    EXPECT_NE(result.err.find("--help"), std::string::npos) << result.err;
  }
}

TEST_F(KcSetupCliTest, PinGivenAsFlagIsRefusedWithoutEchoingIt) {
  const std::vector<std::vector<std::string>> attempts = {
      {"key", "generate", "--label", "k", "--pin", kUserPin},
      {"key", "verify", std::string("--pin=") + kUserPin},
      {"token", "init", "--label", "t", "--so-pin", kSoPin},
  };
  for (const auto& args : attempts) {
    const auto result = kcSetup(args);  // also checks that the PIN is not echoed
    EXPECT_EQ(result.exitCode, 2);
    EXPECT_NE(result.err.find("PINs are never taken on the command line"), std::string::npos)
        << result.err;
    EXPECT_NE(result.err.find("files or the environment"), std::string::npos) << result.err;
  }
}

TEST_F(KcSetupCliTest, PinInUriIsRefusedWithoutEchoingIt) {
  const auto result = kcSetup({"key", "verify", "--key",
                               std::string("pkcs11:token=t;object=k?pin-value=") + kUserPin,
                               "--pin-file", pinFile().string()});
  EXPECT_EQ(result.exitCode, 2);
  EXPECT_NE(result.err.find("carries a PIN"), std::string::npos) << result.err;
}

TEST_F(KcSetupCliTest, MissingFlagValueNamesTheFlag) {
  const auto result = kcSetup({"key", "generate", "--label"});
  EXPECT_EQ(result.exitCode, 2);
  EXPECT_NE(result.err.find("--label needs a value"), std::string::npos) << result.err;
}

TEST_F(KcSetupCliTest, InvalidBitsAndPurposeAreUsageErrors) {
  auto result =
      kcSetup({"key", "generate", "--token", "pkcs11:token=x", "--label", "k", "--bits", "1024"});
  EXPECT_EQ(result.exitCode, 2);
  EXPECT_NE(result.err.find("--bits must be 2048, 3072 or 4096"), std::string::npos) << result.err;
  result = kcSetup({"key", "verify", "--key", "pkcs11:token=x;object=k", "--purpose", "sign"});
  EXPECT_EQ(result.exitCode, 2);
  EXPECT_NE(result.err.find("--purpose must be wrap or audit"), std::string::npos) << result.err;
}

TEST_F(KcSetupCliTest, MissingModuleFileNamesTheFlag) {
  const auto result = kcSetup({"token", "list", "--module", (dir() / "nope.so").string()});
  EXPECT_EQ(result.exitCode, 2);
  EXPECT_NE(result.err.find("--module"), std::string::npos) << result.err;
  EXPECT_NE(result.err.find("nope.so"), std::string::npos) << result.err;
}

}  // namespace
}  // namespace kc::test
