#include <gtest/gtest.h>

#include <cstring>

#include "kc/pkcs11/Pkcs11Uri.h"

namespace kc::pkcs11 {
namespace {

CK_TOKEN_INFO tokenInfo(const std::string& label, const std::string& serial) {
  CK_TOKEN_INFO info{};
  std::memset(info.label, ' ', sizeof info.label);
  std::memset(info.serialNumber, ' ', sizeof info.serialNumber);
  std::memset(info.manufacturerID, ' ', sizeof info.manufacturerID);
  std::memset(info.model, ' ', sizeof info.model);
  std::memcpy(info.label, label.data(), label.size());
  std::memcpy(info.serialNumber, serial.data(), serial.size());
  return info;
}

TEST(Pkcs11Uri, MatchesTokenByLabelAndSerial) {
  auto uri = Pkcs11Uri::parse("pkcs11:token=kc;serial=1234");
  ASSERT_TRUE(uri) << uri.status().toString();
  EXPECT_TRUE(uri->matchesToken(tokenInfo("kc", "1234")));
  EXPECT_FALSE(uri->matchesToken(tokenInfo("kc", "9999")));
  EXPECT_FALSE(uri->matchesToken(tokenInfo("other", "1234")));
}

TEST(Pkcs11Uri, PercentEncodedLabelMatches) {
  auto uri = Pkcs11Uri::parse("pkcs11:token=my%20token");
  ASSERT_TRUE(uri);
  EXPECT_TRUE(uri->matchesToken(tokenInfo("my token", "1")));
}

TEST(Pkcs11Uri, ObjectTemplateCarriesLabelIdAndClass) {
  auto uri = Pkcs11Uri::parse("pkcs11:token=kc;object=kc-wrap;id=%01%02;type=private");
  ASSERT_TRUE(uri);
  auto attributes = uri->objectTemplate();
  ASSERT_EQ(attributes.size(), 3u);
  ASSERT_TRUE(uri->objectClass());
  EXPECT_EQ(*uri->objectClass(), CKO_PRIVATE_KEY);
  bool sawLabel = false, sawId = false;
  for (const auto& a : attributes) {
    if (a.type == CKA_LABEL) {
      sawLabel = std::string(static_cast<const char*>(a.pValue), a.ulValueLen) == "kc-wrap";
    }
    if (a.type == CKA_ID) {
      sawId = a.ulValueLen == 2 && static_cast<const unsigned char*>(a.pValue)[1] == 0x02;
    }
  }
  EXPECT_TRUE(sawLabel);
  EXPECT_TRUE(sawId);
}

TEST(Pkcs11Uri, TokenOnlyUriNamesNoObject) {
  auto uri = Pkcs11Uri::parse("pkcs11:token=kc");
  ASSERT_TRUE(uri);
  EXPECT_FALSE(uri->namesObject());
  EXPECT_FALSE(uri->objectClass());
}

TEST(Pkcs11Uri, SlotIdSelectsOnlyThatSlot) {
  auto uri = Pkcs11Uri::parse("pkcs11:slot-id=7");
  ASSERT_TRUE(uri);
  CK_SLOT_INFO info{};
  std::memset(info.slotDescription, ' ', sizeof info.slotDescription);
  std::memset(info.manufacturerID, ' ', sizeof info.manufacturerID);
  EXPECT_TRUE(uri->matchesSlot(7, info));
  EXPECT_FALSE(uri->matchesSlot(8, info));
}

TEST(Pkcs11Uri, RejectsWrongScheme) {
  auto uri = Pkcs11Uri::parse("http://example.invalid/token");
  ASSERT_FALSE(uri);
  EXPECT_EQ(uri.status().code(), StatusCode::kInvalidArgument);
  EXPECT_NE(uri.status().message().find("invalid PKCS#11 URI"), std::string::npos);
}

TEST(Pkcs11Uri, RejectsBadPercentEncoding) {
  EXPECT_FALSE(Pkcs11Uri::parse("pkcs11:token=%zz"));
}

TEST(Pkcs11Uri, RejectsPinValueWithoutEchoingIt) {
  auto uri = Pkcs11Uri::parse("pkcs11:token=kc?pin-value=s3cr3tpin");
  ASSERT_FALSE(uri);
  EXPECT_EQ(uri.status().message().find("s3cr3tpin"), std::string::npos);
  EXPECT_NE(uri.status().message().find("PIN"), std::string::npos);
}

TEST(Pkcs11Uri, RejectsUnknownAttribute) {
  auto uri = Pkcs11Uri::parse("pkcs11:token=kc;colour=blue");
  ASSERT_FALSE(uri);
  EXPECT_NE(uri.status().message().find("does not know"), std::string::npos);
}

TEST(Pkcs11Uri, CopiesShareTheParsedUriSafely) {
  auto uri = Pkcs11Uri::parse("pkcs11:token=kc;object=a");
  ASSERT_TRUE(uri);
  Pkcs11Uri copy = *uri;
  EXPECT_EQ(copy.text(), "pkcs11:token=kc;object=a");
  EXPECT_TRUE(copy.namesObject());
}

}  // namespace
}  // namespace kc::pkcs11
