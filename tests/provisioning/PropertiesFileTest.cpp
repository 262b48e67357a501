// Editing the daemon's properties file in place: what an operator wrote stays, only the keys
// changed are touched, and the daemon's reader sees exactly the new values.

#include <gtest/gtest.h>
#include <sys/stat.h>

#include <sstream>

#include "PropertiesFile.h"
#include "RotationState.h"
#include "kc/appliance/Config.h"
#include "support/TempDir.h"

namespace kc::test {
namespace {

using setup::PropertiesFile;

constexpr std::string_view kFile =
    "# The key server.\n"
    "server.port = 5000\n"
    "\n"
    "! the token\n"
    "pkcs11.wrap_key=pkcs11:token=t;object=old\n"
    "pkcs11.module: /usr/lib/softhsm/libsofthsm2.so\n"
    "log.level = debug \\\n"
    "   trace\n"
    "# last line\n";

TEST(PropertiesFile, SetReplacesTheValueInPlaceKeepingCommentsOrderAndSpacing) {
  auto file = PropertiesFile::parse(kFile);
  ASSERT_TRUE(file.set("pkcs11.wrap_key", "pkcs11:token=t;object=new").isOk());
  std::string expected(kFile);
  expected.replace(expected.find("object=old"), 10, "object=new");
  EXPECT_EQ(file.text(), expected);
  EXPECT_EQ(file.get("pkcs11.wrap_key"), "pkcs11:token=t;object=new");
}

TEST(PropertiesFile, UnchangedFileRoundTripsByteForByte) {
  EXPECT_EQ(PropertiesFile::parse(kFile).text(), kFile);
  EXPECT_EQ(PropertiesFile::parse("a = 1").text(), "a = 1");
}

TEST(PropertiesFile, ReadsContinuationsSeparatorsAndLastDefinitionAsPocoDoes) {
  auto file = PropertiesFile::parse(std::string(kFile) + "server.port = 6000\n");
  EXPECT_EQ(file.get("pkcs11.module"), "/usr/lib/softhsm/libsofthsm2.so");
  EXPECT_EQ(file.get("log.level"), "debug    trace");
  EXPECT_EQ(file.get("server.port"), "6000");
  EXPECT_FALSE(file.get("# The key server."));
}

TEST(PropertiesFile, SetAppendsAMissingKeyAndDropsLaterDuplicates) {
  auto file = PropertiesFile::parse("a = 1\nb = 2\na = 3\n");
  ASSERT_TRUE(file.set("a", "4").isOk());
  ASSERT_TRUE(file.set("c", "5").isOk());
  EXPECT_EQ(file.text(), "a = 4\nb = 2\nc = 5\n");
}

TEST(PropertiesFile, SetReplacesAContinuedValueWhole) {
  auto file = PropertiesFile::parse(kFile);
  ASSERT_TRUE(file.set("log.level", "information").isOk());
  EXPECT_NE(file.text().find("log.level = information\n# last line\n"), std::string::npos)
      << file.text();
}

TEST(PropertiesFile, EraseRemovesOnlyThatKeysLines) {
  auto file = PropertiesFile::parse(kFile);
  file.erase("pkcs11.wrap_key");
  EXPECT_EQ(file.text().find("wrap_key"), std::string::npos);
  EXPECT_NE(file.text().find("! the token\npkcs11.module"), std::string::npos);
}

TEST(PropertiesFile, RefusesALineBreakInAValue) {
  auto file = PropertiesFile::parse(kFile);
  EXPECT_EQ(file.set("pkcs11.wrap_key", "a\nserver.port = 1").code(), StatusCode::kInvalidArgument);
  EXPECT_EQ(file.text(), kFile);
}

TEST(PropertiesFile, BackslashesSurviveTheDaemonsReader) {
  auto file = PropertiesFile::parse("");
  ASSERT_TRUE(file.set("identity.issuer", "https://a\\b").isOk());
  EXPECT_EQ(PropertiesFile::parse(file.text()).get("identity.issuer"), "https://a\\b");
}

TEST(PropertiesFile, AtomicReplaceKeepsTheModeAndLeavesNoTemporaryFile) {
  TempDir dir;
  const auto path = dir / "kc.properties";
  writeFile(path, std::string(kFile));
  ASSERT_EQ(::chmod(path.c_str(), 0640), 0);
  ASSERT_TRUE(setup::replaceFileAtomically(path, "a = 1\n").isOk());
  EXPECT_EQ(readFile(path), "a = 1\n");
  struct stat info {};
  ASSERT_EQ(::stat(path.c_str(), &info), 0);
  EXPECT_EQ(info.st_mode & 07777, 0640u);
  std::size_t files = 0;
  for ([[maybe_unused]] const auto& entry : std::filesystem::directory_iterator(dir.path()))
    ++files;
  EXPECT_EQ(files, 1u);
}

TEST(PropertiesFile, AtomicReplaceOfAMissingFileFailsNamingIt) {
  TempDir dir;
  Status written = setup::replaceFileAtomically(dir / "absent.properties", "a = 1\n");
  EXPECT_EQ(written.code(), StatusCode::kInvalidArgument);
  EXPECT_NE(written.message().find("absent.properties"), std::string::npos);
}

// What the daemon would read: its own loader over the edited file.
appliance::DaemonConfig configWith(const std::string& text, const appliance::Environment& env) {
  std::istringstream in(text);
  auto config = appliance::parseDaemonConfig(in, "file kc.properties", "/tmp", env);
  if (!config) throw std::runtime_error(config.status().toString());
  return *config;
}

const std::string kDaemonFile =
    "# rotation test\n"
    "identity.server_uri = https://id.invalid\n"
    "identity.issuer = https://id.invalid\n"
    "pkcs11.wrap_key = pkcs11:token=t;object=old\n"
    "pkcs11.pin_env = PIN\n";

TEST(WrapKeySettings, KeysSetByTheEnvironmentAreNotEditedAndTheAnswerSaysWhatToSet) {
  TempDir dir;
  const auto path = dir / "kc.properties";
  writeFile(path, kDaemonFile);
  auto config = configWith(kDaemonFile, {{"KC_PKCS11_WRAP_KEY", "pkcs11:token=t;object=old"}});
  config.configFile = path;
  auto change = setup::applyWrapKeySettings(
      config, {"pkcs11:token=t;object=new", {"pkcs11:token=t;object=old"}});
  ASSERT_TRUE(change) << change.status().toString();
  EXPECT_FALSE(change->written);
  EXPECT_NE(change->instead.find("KC_PKCS11_WRAP_KEY=pkcs11:token=t;object=new"), std::string::npos)
      << change->instead;
  EXPECT_NE(change->instead.find("KC_PKCS11_PREVIOUS_WRAP_KEYS=pkcs11:token=t;object=old"),
            std::string::npos)
      << change->instead;
  EXPECT_EQ(readFile(path), kDaemonFile);
}

TEST(WrapKeySettings, FileSettingsAreEditedSoTheDaemonReadsTheNewKeys) {
  TempDir dir;
  const auto path = dir / "kc.properties";
  writeFile(path, kDaemonFile);
  auto config = configWith(kDaemonFile, {});
  config.configFile = path;
  auto change = setup::applyWrapKeySettings(
      config, {"pkcs11:token=t;object=new", {"pkcs11:token=t;object=old"}});
  ASSERT_TRUE(change) << change.status().toString();
  EXPECT_TRUE(change->written);
  const std::string text = readFile(path);
  EXPECT_EQ(text.rfind("# rotation test\n", 0), 0u);
  const auto reread = configWith(text, {});
  EXPECT_EQ(reread.pkcs11.wrapKey, "pkcs11:token=t;object=new");
  EXPECT_EQ(reread.pkcs11.previousWrapKeys, std::vector<std::string>{"pkcs11:token=t;object=old"});
}

}  // namespace
}  // namespace kc::test
