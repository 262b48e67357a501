#include <gtest/gtest.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <unistd.h>

#include "kc/pkcs11/PinSource.h"
#include "support/TempDir.h"

namespace kc::pkcs11 {
namespace {

using test::TempDir;
using test::writeFile;
namespace fs = std::filesystem;

std::string asString(const SecretBytes& bytes) {
  return std::string(reinterpret_cast<const char*>(bytes.data()), bytes.size());
}

TEST(PinSource, ReadsFileAndDropsOneTrailingNewline) {
  TempDir dir;
  writeFile(dir / "pin", "1234 5678\n");
  auto pin = PinSource::fromFile(dir / "pin").read();
  ASSERT_TRUE(pin) << pin.status().toString();
  EXPECT_EQ(asString(*pin), "1234 5678");
}

TEST(PinSource, RefusesFileReadableByOthersWithoutShowingThePin) {
  TempDir dir;
  writeFile(dir / "pin", "topsecretpin\n", fs::perms::owner_read | fs::perms::others_read);
  auto pin = PinSource::fromFile(dir / "pin").read();
  ASSERT_FALSE(pin);
  EXPECT_EQ(pin.status().code(), StatusCode::kPolicyViolation);
  EXPECT_NE(pin.status().message().find("chmod 600"), std::string::npos);
  EXPECT_EQ(pin.status().message().find("topsecretpin"), std::string::npos);
}

// The message names the file and what is wrong, never the PIN.
void expectRefused(const fs::path& file, const std::string& why) {
  auto pin = PinSource::fromFile(file).read();
  ASSERT_FALSE(pin);
  EXPECT_EQ(pin.status().code(), StatusCode::kPolicyViolation) << pin.status().message();
  EXPECT_NE(pin.status().message().find(file.string()), std::string::npos)
      << pin.status().message();
  EXPECT_NE(pin.status().message().find(why), std::string::npos) << pin.status().message();
  EXPECT_EQ(pin.status().message().find("topsecretpin"), std::string::npos);
}

TEST(PinSource, RefusesFileWritableByItsGroup) {
  TempDir dir;
  writeFile(dir / "pin", "topsecretpin\n",
            fs::perms::owner_read | fs::perms::group_read | fs::perms::group_write);
  expectRefused(dir / "pin", "writable by its group or by every user");
}

TEST(PinSource, RefusesFileWritableByEveryUser) {
  TempDir dir;
  writeFile(dir / "pin", "topsecretpin\n", fs::perms::owner_read | fs::perms::others_write);
  expectRefused(dir / "pin", "writable by its group or by every user");
}

TEST(PinSource, RefusesASymbolicLinkEvenToAGoodFile) {
  TempDir dir;
  writeFile(dir / "pin", "topsecretpin\n");
  fs::create_symlink(dir / "pin", dir / "link");
  ASSERT_TRUE(PinSource::fromFile(dir / "pin").read());
  expectRefused(dir / "link", "is a symbolic link");
}

TEST(PinSource, RefusesFileOwnedByAnotherUser) {
  if (geteuid() != 0) GTEST_SKIP() << "needs root to give a file to another user";
  TempDir dir;
  writeFile(dir / "pin", "topsecretpin\n");
  ASSERT_EQ(chown((dir / "pin").c_str(), 65534, 65534), 0);
  expectRefused(dir / "pin", "is owned by uid 65534");
}

TEST(PinSource, AcceptsFileReadableByItsGroup) {
  TempDir dir;
  writeFile(dir / "pin", "1234\n", fs::perms::owner_read | fs::perms::group_read);
  auto pin = PinSource::fromFile(dir / "pin").read();
  ASSERT_TRUE(pin) << pin.status().toString();
  EXPECT_EQ(asString(*pin), "1234");
}

TEST(PinSource, RefusesAFifoWithoutWaitingForAWriter) {
  TempDir dir;
  ASSERT_EQ(mkfifo((dir / "pin").c_str(), 0600), 0);
  auto pin = PinSource::fromFile(dir / "pin").read();
  ASSERT_FALSE(pin);
  EXPECT_NE(pin.status().message().find("not a regular file"), std::string::npos);
}

TEST(PinSource, MissingFileIsAClearError) {
  auto pin = PinSource::fromFile("/nonexistent/kc/pin").read();
  ASSERT_FALSE(pin);
  EXPECT_NE(pin.status().message().find("/nonexistent/kc/pin"), std::string::npos);
}

TEST(PinSource, EmptyFileIsRefused) {
  TempDir dir;
  writeFile(dir / "pin", "\n");
  EXPECT_FALSE(PinSource::fromFile(dir / "pin").read());
}

TEST(PinSource, OverlongFileIsRefused) {
  TempDir dir;
  writeFile(dir / "pin", std::string(300, '7'));
  EXPECT_FALSE(PinSource::fromFile(dir / "pin").read());
}

TEST(PinSource, ReadsEnvironmentVariable) {
  setenv("KC_TEST_PIN_VARIABLE", "9876", 1);
  auto pin = PinSource::fromEnvironment("KC_TEST_PIN_VARIABLE").read();
  unsetenv("KC_TEST_PIN_VARIABLE");
  ASSERT_TRUE(pin);
  EXPECT_EQ(asString(*pin), "9876");
}

TEST(PinSource, MovedOutOfTheEnvironmentThePinIsStillReadButNotInTheEnvironment) {
  setenv("KC_TEST_PIN_MOVED", "4711\n", 1);
  char* original = getenv("KC_TEST_PIN_MOVED");
  const auto source = PinSource::fromEnvironment("KC_TEST_PIN_MOVED");
  source.moveOutOfEnvironment();
  EXPECT_EQ(getenv("KC_TEST_PIN_MOVED"), nullptr);
  EXPECT_EQ(std::string(original), "");  // overwritten where it was, not only unset
  for (int i = 0; i < 2; ++i) {
    auto pin = PinSource::fromEnvironment("KC_TEST_PIN_MOVED").read();
    ASSERT_TRUE(pin) << pin.status().toString();
    EXPECT_EQ(asString(*pin), "4711");
  }
}

TEST(PinSource, MovingAFileSourceOrAnUnsetVariableChangesNothing) {
  TempDir dir;
  writeFile(dir / "pin", "1234\n");
  PinSource::fromFile(dir / "pin").moveOutOfEnvironment();
  EXPECT_TRUE(PinSource::fromFile(dir / "pin").read());
  unsetenv("KC_TEST_PIN_NEVER_SET");
  PinSource::fromEnvironment("KC_TEST_PIN_NEVER_SET").moveOutOfEnvironment();
  EXPECT_FALSE(PinSource::fromEnvironment("KC_TEST_PIN_NEVER_SET").read());
}

TEST(PinSource, UnsetVariableIsAnErrorNamingIt) {
  unsetenv("KC_TEST_PIN_UNSET");
  auto pin = PinSource::fromEnvironment("KC_TEST_PIN_UNSET").read();
  ASSERT_FALSE(pin);
  EXPECT_NE(pin.status().message().find("KC_TEST_PIN_UNSET"), std::string::npos);
}

}  // namespace
}  // namespace kc::pkcs11
