// kc-setup token init | list against a real SoftHSM.

#include <string>

#include "KcSetupFixture.h"

namespace kc::test {
namespace {

class KcSetupTokenTest : public KcSetupTest {};

TEST_F(KcSetupTokenTest, InitPrintsLabelSerialAndAPastableUri) {
  const std::string label = uniqueLabel("init");
  const auto result = kcSetup({"token", "init", "--label", label, "--so-pin-file",
                               soPinFile().string(), "--pin-file", pinFile().string()});
  ASSERT_EQ(result.exitCode, 0) << result.err;
  EXPECT_EQ(field(result.out, "label"), label);
  const std::string serial = field(result.out, "serial");
  ASSERT_FALSE(serial.empty()) << result.out;
  EXPECT_EQ(field(result.out, "uri"), "pkcs11:token=" + label + ";serial=" + serial);

  // The printed URI selects the token, and the user PIN works on it.
  const auto key = kcSetup({"key", "generate", "--token", field(result.out, "uri"), "--label", "k",
                            "--bits", "2048", "--pin-file", pinFile().string()});
  EXPECT_EQ(key.exitCode, 0) << key.err;
}

TEST_F(KcSetupTokenTest, UrisOfLabelsWithSpacesArePercentEncodedAndSelectTheKey) {
  const std::string tokenUri = initToken(uniqueLabel("kc dev"));
  EXPECT_TRUE(tokenUri.starts_with("pkcs11:token=kc%20dev-")) << tokenUri;
  const std::string keyUri = generateKey(tokenUri, "wrap key 1");
  EXPECT_TRUE(keyUri.ends_with(";object=wrap%20key%201;type=private")) << keyUri;
  const auto verified =
      kcSetup({"key", "verify", "--key", keyUri, "--pin-file", pinFile().string()});
  EXPECT_EQ(verified.exitCode, 0) << verified.out << verified.err;
  EXPECT_EQ(field(verified.out, "label"), "wrap key 1");
}

TEST_F(KcSetupTokenTest, InitReadsPinsFromEnvironmentVariables) {
  const std::string label = uniqueLabel("env-pins");
  const auto result = kcSetup(
      {"token", "init", "--label", label, "--so-pin-env", "MY_SO_PIN", "--pin-env", "MY_PIN"},
      {{"MY_SO_PIN", kSoPin}, {"MY_PIN", kUserPin}});
  ASSERT_EQ(result.exitCode, 0) << result.err;
  const auto key = kcSetup(
      {"key", "generate", "--token", field(result.out, "uri"), "--label", "k", "--bits", "2048"},
      {{"KC_PKCS11_PIN", kUserPin}});
  EXPECT_EQ(key.exitCode, 0) << key.err;
}

TEST_F(KcSetupTokenTest, InitRefusesALabelThatExists) {
  const std::string label = uniqueLabel("dup");
  initToken(label);
  const auto result = kcSetup({"token", "init", "--label", label, "--so-pin-file",
                               soPinFile().string(), "--pin-file", pinFile().string()});
  EXPECT_EQ(result.exitCode, 2);
  EXPECT_NE(result.err.find("kc-setup: error: a token labelled '" + label + "' already exists"),
            std::string::npos)
      << result.err;
  EXPECT_NE(result.err.find("--if-missing"), std::string::npos) << result.err;
}

TEST_F(KcSetupTokenTest, InitIfMissingAcceptsAnExistingTokenAndExitsZero) {
  const std::string label = uniqueLabel("idem");
  const std::string uri = initToken(label);
  const auto result = kcSetup({"token", "init", "--label", label, "--if-missing", "--so-pin-file",
                               soPinFile().string(), "--pin-file", pinFile().string()});
  EXPECT_EQ(result.exitCode, 0) << result.err;
  EXPECT_NE(result.out.find("already exists"), std::string::npos) << result.out;
  EXPECT_EQ(field(result.out, "uri"), uri);
}

TEST_F(KcSetupTokenTest, InitWithoutLabelIsAUsageError) {
  const auto result = kcSetup({"token", "init", "--so-pin-file", soPinFile().string()});
  EXPECT_EQ(result.exitCode, 2);
  EXPECT_NE(result.err.find("--label"), std::string::npos) << result.err;
}

TEST_F(KcSetupTokenTest, InitRefusesAnUnreadableSoPinFile) {
  const auto result = kcSetup({"token", "init", "--label", uniqueLabel("nopin"), "--so-pin-file",
                               (dir() / "missing.pin").string(), "--pin-file", pinFile().string()});
  EXPECT_EQ(result.exitCode, 2);
  EXPECT_NE(result.err.find("SO PIN"), std::string::npos) << result.err;
  EXPECT_NE(result.err.find("--so-pin-file"), std::string::npos) << result.err;
}

TEST_F(KcSetupTokenTest, ListShowsInitialisedTokensAndTheFreeSlot) {
  const std::string label = uniqueLabel("listed");
  const std::string uri = initToken(label);
  const auto result = kcSetup({"token", "list"});
  ASSERT_EQ(result.exitCode, 0) << result.err;
  EXPECT_NE(result.out.find("label:       " + label), std::string::npos) << result.out;
  EXPECT_NE(result.out.find("uri:         " + uri), std::string::npos) << result.out;
  EXPECT_NE(result.out.find("initialised: yes"), std::string::npos) << result.out;
  EXPECT_NE(result.out.find("initialised: no"), std::string::npos) << result.out;
}

TEST_F(KcSetupTokenTest, ListTakesTheModuleFromTheConfigFile) {
  writeFile(dir() / "list.properties", "pkcs11.module = " + (dir() / "nope.so").string() + "\n");
  const auto result = kcSetup({"token", "list", "--config", (dir() / "list.properties").string()});
  EXPECT_EQ(result.exitCode, 2);
  EXPECT_NE(result.err.find("pkcs11.module"), std::string::npos) << result.err;
}

}  // namespace
}  // namespace kc::test
