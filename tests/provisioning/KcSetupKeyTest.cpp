// kc-setup key generate | verify | export against a real SoftHSM.

#include <filesystem>
#include <string>
#include <vector>

#include "KcSetupFixture.h"
#include "kc/pkcs11/Module.h"
#include "kc/pkcs11/PinSource.h"
#include "kc/pkcs11/SessionPool.h"
#include "kc/pkcs11/TokenConnection.h"
#include "support/SoftHsmToken.h"

namespace kc::test {
namespace {

class KcSetupKeyTest : public KcSetupTest {
 protected:
  // A token of this test's own, so tests do not see each other's keys.
  std::string freshToken() {
    return initToken(uniqueLabel(::testing::UnitTest::GetInstance()->current_test_info()->name()));
  }

  ProcessResult verify(const std::string& keyUri, const std::string& purpose) {
    return kcSetup(
        {"key", "verify", "--key", keyUri, "--purpose", purpose, "--pin-file", pinFile().string()});
  }

  // SHA-256 of the DER SubjectPublicKeyInfo as openssl computes it from `pem`.
  static std::string opensslFingerprint(const std::string& pem) {
    ProcessOptions toDer;
    toDer.stdinText = pem;
    const auto der = runProcess({"openssl", "pkey", "-pubin", "-outform", "DER"}, toDer);
    EXPECT_EQ(der.exitCode, 0) << der.err;
    ProcessOptions hash;
    hash.stdinText = der.out;
    const auto sum = runProcess({"sha256sum"}, hash);
    EXPECT_EQ(sum.exitCode, 0) << sum.err;
    return "sha256:" + sum.out.substr(0, sum.out.find(' '));
  }
};

// Makes a key pair that breaks the policy (an extractable private key) with plain Cryptoki
// calls in this process, since kc-setup cannot make one.
void generateExtractableKey(const std::string& tokenUri, const std::filesystem::path& pinPath,
                            const std::string& label, bool clearExtractableAfterwards = false) {
  auto module = pkcs11::Module::load(KC_TEST_PKCS11_MODULE);
  ASSERT_TRUE(module.isOk()) << module.status().toString();
  pkcs11::TokenSettings settings;
  settings.modulePath = KC_TEST_PKCS11_MODULE;
  settings.uri = tokenUri;
  settings.pin = pkcs11::PinSource::fromFile(pinPath);
  settings.pool.size = 1;
  auto pool = pkcs11::connectToken(settings);
  ASSERT_TRUE(pool.isOk()) << pool.status().toString();
  if (clearExtractableAfterwards) {
    generateOnceExtractableWrapKey(**pool, label, 0xD1);
  } else {
    generateRawKeyPair(**pool, label, /*extractable=*/true, /*sensitive=*/true, 0xD0);
  }
}

TEST_F(KcSetupKeyTest, GenerateWrapKeyPrintsItsAttributesAndUri) {
  const std::string token = freshToken();
  const auto result =
      kcSetup({"key", "generate", "--token", token, "--label", "wrap-1", "--purpose", "wrap",
               "--bits", "2048", "--pin-file", pinFile().string()});
  ASSERT_EQ(result.exitCode, 0) << result.err;
  EXPECT_EQ(field(result.out, "label"), "wrap-1");
  EXPECT_EQ(field(result.out, "id").size(), 32U) << result.out;
  EXPECT_EQ(field(result.out, "bits"), "2048");
  EXPECT_TRUE(field(result.out, "fingerprint").starts_with("sha256:")) << result.out;
  EXPECT_EQ(field(result.out, "uri"), token + ";object=wrap-1;type=private");
}

TEST_F(KcSetupKeyTest, GeneratedWrapKeyVerifiesAsWrapKeyAndExitsZero) {
  const std::string key = generateKey(freshToken(), "wrap-ok", "wrap");
  const auto result = verify(key, "wrap");
  EXPECT_EQ(result.exitCode, 0) << result.out << result.err;
  EXPECT_EQ(field(result.out, "label"), "wrap-ok");
  EXPECT_EQ(field(result.out, "token"), "true");
  EXPECT_EQ(field(result.out, "private"), "true");
  EXPECT_EQ(field(result.out, "sensitive"), "true");
  EXPECT_EQ(field(result.out, "extractable"), "false");
  EXPECT_EQ(field(result.out, "always-sensitive"), "true");
  EXPECT_EQ(field(result.out, "never-extractable"), "true");
  EXPECT_EQ(field(result.out, "decrypt"), "true");
  EXPECT_EQ(field(result.out, "unwrap"), "true");
  EXPECT_EQ(field(result.out, "sign"), "false");
  EXPECT_EQ(result.out.find("violation:"), std::string::npos) << result.out;
}

TEST_F(KcSetupKeyTest, GeneratedAuditKeyVerifiesAsAuditKeyAndOnlySigns) {
  const std::string key = generateKey(freshToken(), "audit-ok", "audit");
  const auto result = verify(key, "audit");
  EXPECT_EQ(result.exitCode, 0) << result.out << result.err;
  EXPECT_EQ(field(result.out, "sign"), "true");
  EXPECT_EQ(field(result.out, "decrypt"), "false");
  EXPECT_EQ(field(result.out, "unwrap"), "false");
}

TEST_F(KcSetupKeyTest, VerifyExitsOneForAnAuditKeyCheckedAsWrapKey) {
  const std::string key = generateKey(freshToken(), "audit-as-wrap", "audit");
  const auto result = verify(key, "wrap");
  EXPECT_EQ(result.exitCode, 1) << result.out << result.err;
  EXPECT_NE(result.out.find("violation:"), std::string::npos) << result.out;
}

TEST_F(KcSetupKeyTest, GenerateDefaultsTo3072Bits) {
  const auto result = kcSetup({"key", "generate", "--token", freshToken(), "--label",
                               "default-size", "--pin-file", pinFile().string()});
  ASSERT_EQ(result.exitCode, 0) << result.err;
  EXPECT_EQ(field(result.out, "bits"), "3072");
  const auto verified = verify(field(result.out, "uri"), "wrap");
  EXPECT_EQ(verified.exitCode, 0) << verified.out << verified.err;
  EXPECT_EQ(field(verified.out, "bits"), "3072");
}

TEST_F(KcSetupKeyTest, GenerateRefusesALabelThatExists) {
  const std::string token = freshToken();
  generateKey(token, "twice");
  const auto result = kcSetup({"key", "generate", "--token", token, "--label", "twice", "--bits",
                               "2048", "--pin-file", pinFile().string()});
  EXPECT_EQ(result.exitCode, 2);
  EXPECT_NE(result.err.find("kc-setup: error: a key labelled 'twice' already exists"),
            std::string::npos)
      << result.err;
}

TEST_F(KcSetupKeyTest, GenerateIfMissingAcceptsAnExistingKeyAndExitsZero) {
  const std::string token = freshToken();
  const std::string key = generateKey(token, "idempotent");
  const auto result = kcSetup({"key", "generate", "--token", token, "--label", "idempotent",
                               "--bits", "2048", "--if-missing", "--pin-file", pinFile().string()});
  EXPECT_EQ(result.exitCode, 0) << result.err;
  EXPECT_NE(result.out.find("already exists"), std::string::npos) << result.out;
  EXPECT_EQ(field(result.out, "uri"), key);
}

TEST_F(KcSetupKeyTest, VerifyExitsOneForExtractableKey) {
  const std::string token = freshToken();
  generateExtractableKey(token, pinFile(), "bad");
  const auto result = kcSetup(
      {"key", "verify", "--token", token, "--label", "bad", "--pin-file", pinFile().string()});
  EXPECT_EQ(result.exitCode, 1) << result.out << result.err;
  EXPECT_EQ(field(result.out, "extractable"), "true");
  EXPECT_NE(result.out.find("violation:"), std::string::npos) << result.out;
  EXPECT_NE(result.err.find("breaks the wrap key policy"), std::string::npos) << result.err;
}

TEST_F(KcSetupKeyTest, VerifyExitsOneForAKeyThatWasOnceExtractable) {
  const std::string token = freshToken();
  generateExtractableKey(token, pinFile(), "was-extractable", /*clearExtractableAfterwards=*/true);
  const auto result = kcSetup({"key", "verify", "--token", token, "--label", "was-extractable",
                               "--pin-file", pinFile().string()});
  EXPECT_EQ(result.exitCode, 1) << result.out << result.err;
  EXPECT_EQ(field(result.out, "extractable"), "false");
  EXPECT_EQ(field(result.out, "never-extractable"), "false");
  EXPECT_NE(result.out.find("violation: private key was once extractable"), std::string::npos)
      << result.out;
  EXPECT_NE(result.err.find("breaks the wrap key policy"), std::string::npos) << result.err;
}

TEST_F(KcSetupKeyTest, ExportToStdoutPrintsPemAndItsFingerprintOnStderr) {
  const std::string key = generateKey(freshToken(), "exported");
  const auto result = kcSetup({"key", "export", "--key", key, "--pin-file", pinFile().string()});
  ASSERT_EQ(result.exitCode, 0) << result.err;
  EXPECT_TRUE(result.out.starts_with("-----BEGIN PUBLIC KEY-----\n")) << result.out;
  EXPECT_NE(result.out.find("-----END PUBLIC KEY-----\n"), std::string::npos) << result.out;
  EXPECT_EQ(field(result.err, "fingerprint"), opensslFingerprint(result.out));
}

TEST_F(KcSetupKeyTest, ExportToFileWritesPublicPemAndPrintsItsFingerprint) {
  const std::string key = generateKey(freshToken(), "exported-file");
  const auto pemPath = dir() / "exported-file.pem";
  const auto result = kcSetup(
      {"key", "export", "--key", key, "--out", pemPath.string(), "--pin-file", pinFile().string()});
  ASSERT_EQ(result.exitCode, 0) << result.err;
  const std::string pem = readFile(pemPath);
  EXPECT_TRUE(pem.starts_with("-----BEGIN PUBLIC KEY-----\n")) << pem;
  EXPECT_EQ(field(result.out, "fingerprint"), opensslFingerprint(pem));
  const auto perms = std::filesystem::status(pemPath).permissions();
  EXPECT_EQ(perms, std::filesystem::perms::owner_read | std::filesystem::perms::owner_write |
                       std::filesystem::perms::group_read | std::filesystem::perms::others_read);
  // The fingerprint kc-setup printed at generation is the same key's.
  const auto stdoutExport =
      kcSetup({"key", "export", "--key", key, "--pin-file", pinFile().string()});
  EXPECT_EQ(stdoutExport.out, pem);
}

TEST_F(KcSetupKeyTest, WrongPinExitsTwoAndSaysThePinIsIncorrect) {
  const std::string key = generateKey(freshToken(), "guarded");
  const auto result = kcSetup(
      {"key", "verify", "--key", key, "--pin-file", wrongPinFile().string()});  // checks no PIN
  EXPECT_EQ(result.exitCode, 2);
  EXPECT_NE(result.err.find("PIN incorrect"), std::string::npos) << result.err;
  EXPECT_NE(result.err.find(wrongPinFile().string()), std::string::npos) << result.err;
}

TEST_F(KcSetupKeyTest, UnmatchedTokenUriExitsTwoAndNamesTheUri) {
  const auto result = kcSetup({"key", "generate", "--token", "pkcs11:token=no-such-token",
                               "--label", "k", "--bits", "2048", "--pin-file", pinFile().string()});
  EXPECT_EQ(result.exitCode, 2);
  EXPECT_NE(result.err.find("pkcs11:token=no-such-token"), std::string::npos) << result.err;
  EXPECT_NE(result.err.find("--token"), std::string::npos) << result.err;
}

TEST_F(KcSetupKeyTest, MissingKeyExitsTwoAndNamesTheUri) {
  const std::string token = freshToken();
  const auto result = kcSetup(
      {"key", "verify", "--token", token, "--label", "absent", "--pin-file", pinFile().string()});
  EXPECT_EQ(result.exitCode, 2);
  EXPECT_NE(result.err.find("object=absent"), std::string::npos) << result.err;
}

TEST_F(KcSetupKeyTest, ConfigFileSuppliesModuleKeysAndPin) {
  const std::string token = freshToken();
  const auto config =
      dir() / (std::string(::testing::UnitTest::GetInstance()->current_test_info()->name()) +
               ".properties");
  writeFile(config, "pkcs11.module = " + std::string(KC_TEST_PKCS11_MODULE) +
                        "\npkcs11.token = " + token + "\npkcs11.wrap_key = " + token +
                        ";object=cfg-wrap;type=private\npkcs11.audit_key = " + token +
                        ";object=cfg-audit;type=private\npkcs11.pin_file = " + pinFile().string() +
                        "\npkcs11.sessions = 4\n");
  const std::string configFlag = config.string();

  auto result = kcSetup({"key", "generate", "--config", configFlag, "--bits", "2048"});
  ASSERT_EQ(result.exitCode, 0) << result.err;
  EXPECT_EQ(field(result.out, "label"), "cfg-wrap");
  result =
      kcSetup({"key", "generate", "--config", configFlag, "--purpose", "audit", "--bits", "2048"});
  ASSERT_EQ(result.exitCode, 0) << result.err;
  EXPECT_EQ(field(result.out, "label"), "cfg-audit");

  result = kcSetup({"key", "verify", "--config", configFlag});
  EXPECT_EQ(result.exitCode, 0) << result.out << result.err;
  EXPECT_EQ(field(result.out, "label"), "cfg-wrap");
  result = kcSetup({"key", "verify", "--config", configFlag, "--purpose", "audit"});
  EXPECT_EQ(result.exitCode, 0) << result.out << result.err;
  EXPECT_EQ(field(result.out, "label"), "cfg-audit");

  // A flag wins over the config: --label picks another key on the configured token.
  generateKey(token, "flag-wins");
  result = kcSetup({"key", "verify", "--config", configFlag, "--label", "flag-wins"});
  EXPECT_EQ(result.exitCode, 0) << result.out << result.err;
  EXPECT_EQ(field(result.out, "label"), "flag-wins");
}

TEST_F(KcSetupKeyTest, EnvironmentOverridesThePinFileOfTheConfig) {
  const std::string key = generateKey(freshToken(), "env-override");
  const auto config = dir() / "env-override.properties";
  writeFile(config,
            "pkcs11.wrap_key = " + key + "\npkcs11.pin_file = " + wrongPinFile().string() + "\n");

  auto result = kcSetup({"key", "verify", "--config", config.string()});
  EXPECT_EQ(result.exitCode, 2) << "the config's wrong PIN file is used without the override";
  EXPECT_NE(result.err.find("pkcs11.pin_file"), std::string::npos) << result.err;

  result = kcSetup({"key", "verify", "--config", config.string()},
                   {{"KC_PKCS11_PIN_FILE", pinFile().string()}});
  EXPECT_EQ(result.exitCode, 0) << result.out << result.err;
  EXPECT_EQ(field(result.out, "label"), "env-override");

  // And a flag wins over both.
  result = kcSetup({"key", "verify", "--config", config.string(), "--pin-file", pinFile().string()},
                   {{"KC_PKCS11_PIN_FILE", wrongPinFile().string()}});
  EXPECT_EQ(result.exitCode, 0) << result.out << result.err;
}

// kc-setup reads --config as the daemon does: relative paths against the file's folder, the
// highest layer winning between pkcs11.pin_file and pkcs11.pin_env, the reference's
// keyConnectorSettings__* variables, and pkcs11.token selecting the token.
TEST_F(KcSetupKeyTest, ConfigIsResolvedAsTheDaemonResolvesIt) {
  const std::string token = freshToken();
  generateKey(token, "as-daemon");
  ASSERT_NE(std::filesystem::current_path(), dir()) << "the test must run elsewhere";

  const auto relative = dir() / "relative.properties";
  writeFile(relative, "pkcs11.wrap_key = " + token + ";object=as-daemon\npkcs11.pin_file = " +
                          pinFile().filename().string() + "\n");
  auto result = kcSetup({"key", "verify", "--config", relative.string()});
  EXPECT_EQ(result.exitCode, 0) << "a relative pin_file resolves against the config's folder: "
                                << result.err;

  const auto layered = dir() / "layered.properties";
  writeFile(layered, "pkcs11.wrap_key = " + token +
                         ";object=as-daemon\npkcs11.pin_file = " + wrongPinFile().string() + "\n");
  result = kcSetup({"key", "verify", "--config", layered.string()});
  EXPECT_EQ(result.exitCode, 2) << "the file's wrong PIN is used without an override";
  result = kcSetup({"key", "verify", "--config", layered.string()},
                   {{"KC_PKCS11_PIN_ENV", "KC_TEST_PIN"}, {"KC_TEST_PIN", kUserPin}});
  EXPECT_EQ(result.exitCode, 0) << "KC_PKCS11_PIN_ENV outranks the file's pin_file: " << result.err;

  const auto reference = dir() / "reference.properties";
  writeFile(reference,
            "pkcs11.token = " + token + "\npkcs11.pin_file = " + pinFile().string() + "\n");
  result = kcSetup({"key", "verify", "--config", reference.string()},
                   {{"keyConnectorSettings__rsaKey__pkcs11PrivateKeyLabel", "as-daemon"}});
  EXPECT_EQ(result.exitCode, 0) << "the reference's key label names the key on pkcs11.token: "
                                << result.err;
  EXPECT_EQ(field(result.out, "label"), "as-daemon");
}

// A cluster's configuration (pkcs11.tokens) names its tokens, and a key URI without a token
// matches the key on each: kc-setup works on the first token, as the daemon's tools do, and
// says so; --token picks another.
TEST_F(KcSetupKeyTest, ClusterConfigVerifiesTheKeyOnItsFirstToken) {
  const std::string first = freshToken();
  const std::string second = initToken(uniqueLabel("cluster-second"));
  generateKey(first, "clustered");
  generateKey(second, "clustered");
  const auto config = dir() / "cluster.properties";
  writeFile(config, "pkcs11.tokens = " + first + ", " + second +
                        "\npkcs11.wrap_key = pkcs11:object=clustered;type=private"
                        "\npkcs11.pin_file = " +
                        pinFile().string() + "\n");
  auto result = kcSetup({"key", "verify", "--config", config.string()});
  ASSERT_EQ(result.exitCode, 0) << result.out << result.err;
  EXPECT_EQ(field(result.out, "label"), "clustered");
  EXPECT_NE(first.find(field(result.out, "token-label")), std::string::npos)
      << first << " vs " << result.out;

  result = kcSetup(
      {"key", "verify", "--config", config.string(), "--token", second, "--label", "clustered"});
  ASSERT_EQ(result.exitCode, 0) << result.out << result.err;
  EXPECT_NE(second.find(field(result.out, "token-label")), std::string::npos)
      << second << " vs " << result.out;
}

TEST_F(KcSetupKeyTest, MissingConfigFileIsAUsageErrorNamingIt) {
  const auto result =
      kcSetup({"key", "verify", "--config", (dir() / "absent.properties").string()});
  EXPECT_EQ(result.exitCode, 2);
  EXPECT_NE(result.err.find("--config"), std::string::npos) << result.err;
  EXPECT_NE(result.err.find("absent.properties"), std::string::npos) << result.err;
}

}  // namespace
}  // namespace kc::test
