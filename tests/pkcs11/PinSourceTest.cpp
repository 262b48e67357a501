#include <gtest/gtest.h>
#include <stdlib.h>

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

TEST(PinSource, UnsetVariableIsAnErrorNamingIt) {
  unsetenv("KC_TEST_PIN_UNSET");
  auto pin = PinSource::fromEnvironment("KC_TEST_PIN_UNSET").read();
  ASSERT_FALSE(pin);
  EXPECT_NE(pin.status().message().find("KC_TEST_PIN_UNSET"), std::string::npos);
}

}  // namespace
}  // namespace kc::pkcs11
