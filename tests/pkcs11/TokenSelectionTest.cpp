// Choosing the token and the key by URI, and logging in, against a real token (each of
// tests/support/TestToken.h).

#include <gtest/gtest.h>

#include <cctype>

#include "TokenEnvironment.h"
#include "kc/Text.h"
#include "kc/pkcs11/Module.h"
#include "kc/pkcs11/Pkcs11Uri.h"
#include "kc/pkcs11/RsaKeyPair.h"
#include "kc/pkcs11/TokenConnection.h"

namespace kc::pkcs11 {
namespace {

using test::suitePool;
using test::suiteToken;

Result<CK_SLOT_ID> findToken(const std::string& text) {
  auto uri = Pkcs11Uri::parse(text);
  if (!uri) return uri.status();
  return suiteToken().module()->findToken(*uri);
}

std::string tokenUri(const std::string& label) {
  return "pkcs11:token=" + percentEncode(label);
}

// The suite's token has a second token beside it on the same module.
class TokenSelection : public ::testing::Test {
 protected:
  static void SetUpTestSuite() { other_ = suiteToken().otherTokenLabel(); }
  static const std::string& other() { return other_; }

 private:
  static inline std::string other_;
};

TEST_F(TokenSelection, SelectsTokenByLabel) {
  auto slot = findToken(suiteToken().tokenUri());
  ASSERT_TRUE(slot) << slot.status().toString();
  auto otherSlot = findToken(tokenUri(other()));
  ASSERT_TRUE(otherSlot);
  EXPECT_NE(*slot, *otherSlot);
}

TEST_F(TokenSelection, SelectsTokenBySerial) {
  if (!suiteToken().serialsAreUnique()) {
    GTEST_SKIP() << suiteToken().kind() << "'s tokens share one serial";
  }
  auto bySerial = findToken("pkcs11:serial=" + suiteToken().serial());
  auto byLabel = findToken(suiteToken().tokenUri());
  ASSERT_TRUE(bySerial) << bySerial.status().toString();
  ASSERT_TRUE(byLabel);
  EXPECT_EQ(*bySerial, *byLabel);
}

// SoftHSM's serials are lower-case hex; Bitwarden's Key Connector compares its configured
// serial ignoring case, and so does TokenMatch::kSerialIgnoringCase (only that comparison).
TEST_F(TokenSelection, SerialMatchesIgnoringCaseOnlyWhenAsked) {
  std::string upper = suiteToken().serial();
  for (char& c : upper) c = static_cast<char>(std::toupper(static_cast<unsigned char>(c)));
  if (upper == suiteToken().serial()) GTEST_SKIP() << "this token's serial has no letter";
  auto uri = Pkcs11Uri::parse("pkcs11:serial=" + upper);
  ASSERT_TRUE(uri);
  const auto& module = *suiteToken().module();
  EXPECT_EQ(module.findToken(*uri).status().code(), StatusCode::kNotFound);
  auto ignoringCase = module.findToken(*uri, TokenMatch::kSerialIgnoringCase);
  ASSERT_TRUE(ignoringCase) << ignoringCase.status().toString();
  EXPECT_EQ(*ignoringCase, *findToken(suiteToken().tokenUri()));

  auto otherLabel = Pkcs11Uri::parse(tokenUri(other()) + ";serial=" + upper);
  ASSERT_TRUE(otherLabel);
  EXPECT_EQ(module.findToken(*otherLabel, TokenMatch::kSerialIgnoringCase).status().code(),
            StatusCode::kNotFound)
      << "the other attributes still have to match";
}

TEST_F(TokenSelection, SelectsTokenBySlotId) {
  auto byLabel = findToken(suiteToken().tokenUri());
  ASSERT_TRUE(byLabel);
  auto bySlot = findToken("pkcs11:slot-id=" + std::to_string(*byLabel));
  ASSERT_TRUE(bySlot) << bySlot.status().toString();
  EXPECT_EQ(*bySlot, *byLabel);
}

TEST_F(TokenSelection, MissingTokenIsNotFoundNamingTheUri) {
  auto slot = findToken("pkcs11:token=no-such-token");
  ASSERT_FALSE(slot);
  EXPECT_EQ(slot.status().code(), StatusCode::kNotFound);
  EXPECT_NE(slot.status().message().find("pkcs11:token=no-such-token"), std::string::npos);
  EXPECT_NE(slot.status().message().find(suiteToken().label()), std::string::npos)
      << "the error should list the tokens that are present";
}

TEST_F(TokenSelection, AmbiguousTokenIsAConflictNamingTheUri) {
  // The suite's token and the other one have the same manufacturer.
  auto tokens = suiteToken().module()->tokens();
  ASSERT_TRUE(tokens);
  std::string manufacturer;
  for (const auto& token : *tokens) {
    if (token.label == suiteToken().label()) manufacturer = token.manufacturer;
  }
  const std::string uri = "pkcs11:manufacturer=" + percentEncode(manufacturer);
  auto slot = findToken(uri);
  ASSERT_FALSE(slot);
  EXPECT_EQ(slot.status().code(), StatusCode::kConflict);
  EXPECT_NE(slot.status().message().find(uri), std::string::npos);
}

TEST_F(TokenSelection, WrongPinIsPermissionDeniedAndNeverPrinted) {
  test::TempDir dir;
  const std::string wrong = "wrong-" + test::randomToken(8);
  test::writeFile(dir / "pin", wrong);
  auto pool = connectToken({.modulePath = suiteToken().modulePath(),
                            .initArgs = suiteToken().initArgs(),
                            .uri = suiteToken().tokenUri(),
                            .pin = PinSource::fromFile(dir / "pin"),
                            .pool = {.size = 1}});
  ASSERT_FALSE(pool);
  EXPECT_EQ(pool.status().code(), StatusCode::kPermissionDenied);
  EXPECT_NE(pool.status().message().find("CKR_PIN_INCORRECT"), std::string::npos);
  EXPECT_EQ(pool.status().message().find(wrong), std::string::npos);
}

TEST_F(TokenSelection, SecondPoolOnALoggedInTokenWorks) {
  // The suite's pool has logged the user in already (login state is per application).
  auto first = suitePool();
  auto second = suiteToken().openPool({.size = 2});
  auto uri = Pkcs11Uri::parse("pkcs11:object=suite-wrap;type=private");
  ASSERT_TRUE(uri);
  (void)test::suiteWrapKey();
  auto key = RsaKeyPair::find(second, *uri);
  ASSERT_TRUE(key) << key.status().toString();
  EXPECT_TRUE(key->encrypt(std::vector<std::uint8_t>(16, 1)));
}

TEST_F(TokenSelection, SelectsKeyByLabel) {
  const auto& wrap = test::suiteWrapKey();
  auto uri = Pkcs11Uri::parse(suiteToken().tokenUri() + ";object=suite-wrap;type=private");
  ASSERT_TRUE(uri);
  auto key = RsaKeyPair::find(suitePool(), *uri);
  ASSERT_TRUE(key) << key.status().toString();
  EXPECT_EQ(key->id(), wrap.id());
  EXPECT_EQ(key->label(), "suite-wrap");
}

TEST_F(TokenSelection, SelectsKeyById) {
  const auto& audit = test::suiteAuditKey();
  std::string id;
  for (auto b : audit.id()) {
    char buffer[4];
    std::snprintf(buffer, sizeof buffer, "%%%02x", b);
    id += buffer;
  }
  auto uri = Pkcs11Uri::parse("pkcs11:id=" + id);
  ASSERT_TRUE(uri);
  auto key = RsaKeyPair::find(suitePool(), *uri);
  ASSERT_TRUE(key) << key.status().toString();
  EXPECT_EQ(key->label(), "suite-audit");
}

TEST_F(TokenSelection, MissingKeyIsNotFoundNamingTheUri) {
  auto uri = Pkcs11Uri::parse("pkcs11:object=no-such-key;type=private");
  ASSERT_TRUE(uri);
  auto key = RsaKeyPair::find(suitePool(), *uri);
  ASSERT_FALSE(key);
  EXPECT_EQ(key.status().code(), StatusCode::kNotFound);
  EXPECT_NE(key.status().message().find("object=no-such-key"), std::string::npos);
}

TEST_F(TokenSelection, AmbiguousKeyIsAConflict) {
  test::generateRawKeyPair(*suitePool(), "twin", false, true, 1);
  test::generateRawKeyPair(*suitePool(), "twin", false, true, 2);
  auto uri = Pkcs11Uri::parse("pkcs11:object=twin");
  ASSERT_TRUE(uri);
  auto key = RsaKeyPair::find(suitePool(), *uri);
  ASSERT_FALSE(key);
  EXPECT_EQ(key.status().code(), StatusCode::kConflict);
  EXPECT_NE(key.status().message().find("2 private RSA keys"), std::string::npos);
}

TEST_F(TokenSelection, UriWithoutObjectCannotNameAKey) {
  auto uri = Pkcs11Uri::parse(suiteToken().tokenUri());
  ASSERT_TRUE(uri);
  auto key = RsaKeyPair::find(suitePool(), *uri);
  ASSERT_FALSE(key);
  EXPECT_EQ(key.status().code(), StatusCode::kInvalidArgument);
}

TEST_F(TokenSelection, LoadingTheSameModuleTwiceSharesIt) {
  auto again = Module::load(suiteToken().modulePath(), suiteToken().initArgs());
  ASSERT_TRUE(again);
  EXPECT_EQ(again->get(), suiteToken().module().get());
}

TEST_F(TokenSelection, LoadingTheSameModuleWithOtherInitArgsIsRefused) {
  auto again = Module::load(suiteToken().modulePath(), suiteToken().initArgs() + " other");
  ASSERT_FALSE(again);
  EXPECT_EQ(again.status().code(), StatusCode::kInvalidArgument);
  EXPECT_NE(again.status().message().find("other init args"), std::string::npos);
}

TEST_F(TokenSelection, MissingModuleIsAClearError) {
  auto module = Module::load("/nonexistent/libpkcs11.so");
  ASSERT_FALSE(module);
  EXPECT_NE(module.status().message().find("/nonexistent/libpkcs11.so"), std::string::npos);
}

}  // namespace
}  // namespace kc::pkcs11
