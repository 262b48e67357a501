#include <gtest/gtest.h>

#include "kc/pkcs11/KeyPolicy.h"

namespace kc::pkcs11 {
namespace {

KeyAttributes compliantWrapKey() {
  KeyAttributes key;
  key.label = "kc-wrap";
  key.modulusBits = 3072;
  key.onToken = key.isPrivate = key.sensitive = true;
  key.extractable = false;
  key.alwaysSensitive = key.neverExtractable = true;
  key.decrypt = key.unwrap = true;
  key.publicEncrypt = key.publicWrap = true;
  return key;
}

KeyAttributes compliantAuditKey() {
  KeyAttributes key = compliantWrapKey();
  key.decrypt = key.unwrap = key.publicEncrypt = key.publicWrap = false;
  key.sign = key.publicVerify = true;
  return key;
}

TEST(KeyPolicy, AcceptsCompliantKeys) {
  EXPECT_TRUE(checkKeyPolicy(compliantWrapKey(), KeyPurpose::kWrap).compliant());
  EXPECT_TRUE(checkKeyPolicy(compliantAuditKey(), KeyPurpose::kAudit).compliant());
  EXPECT_TRUE(enforceKeyPolicy(compliantWrapKey(), KeyPurpose::kWrap).isOk());
}

TEST(KeyPolicy, RefusesExtractableKey) {
  auto key = compliantWrapKey();
  key.extractable = true;
  Status status = enforceKeyPolicy(key, KeyPurpose::kWrap);
  EXPECT_EQ(status.code(), StatusCode::kPolicyViolation);
  EXPECT_NE(status.message().find("CKA_EXTRACTABLE"), std::string::npos);
  EXPECT_NE(status.message().find("kc-wrap"), std::string::npos);
}

TEST(KeyPolicy, RefusesNonSensitiveKey) {
  auto key = compliantWrapKey();
  key.sensitive = false;
  EXPECT_FALSE(checkKeyPolicy(key, KeyPurpose::kWrap).compliant());
}

TEST(KeyPolicy, RefusesPublicPrivateKey) {
  auto key = compliantWrapKey();
  key.isPrivate = false;
  EXPECT_FALSE(checkKeyPolicy(key, KeyPurpose::kWrap).compliant());
}

TEST(KeyPolicy, RefusesWrappingKeyThatCanSign) {
  auto key = compliantWrapKey();
  key.sign = true;
  EXPECT_FALSE(checkKeyPolicy(key, KeyPurpose::kWrap).compliant());
}

TEST(KeyPolicy, RefusesAuditKeyThatCanDecrypt) {
  auto key = compliantAuditKey();
  key.decrypt = true;
  EXPECT_FALSE(checkKeyPolicy(key, KeyPurpose::kAudit).compliant());
}

TEST(KeyPolicy, RefusesWrapKeyUsedAsAuditKeyAndViceVersa) {
  EXPECT_FALSE(checkKeyPolicy(compliantWrapKey(), KeyPurpose::kAudit).compliant());
  EXPECT_FALSE(checkKeyPolicy(compliantAuditKey(), KeyPurpose::kWrap).compliant());
}

TEST(KeyPolicy, RefusesShortModulus) {
  auto key = compliantWrapKey();
  key.modulusBits = 1024;
  EXPECT_FALSE(checkKeyPolicy(key, KeyPurpose::kWrap).compliant());
}

TEST(KeyPolicy, RefusesKeyThatWasOnceExtractable) {
  auto key = compliantWrapKey();
  key.neverExtractable = false;
  const auto report = checkKeyPolicy(key, KeyPurpose::kWrap);
  ASSERT_EQ(report.violations.size(), 1u);
  EXPECT_NE(report.violations[0].find("CKA_NEVER_EXTRACTABLE=false"), std::string::npos);
  EXPECT_FALSE(checkKeyPolicy(key, KeyPurpose::kAudit).compliant());
}

TEST(KeyPolicy, RefusesKeyThatWasNotAlwaysSensitive) {
  auto key = compliantWrapKey();
  key.alwaysSensitive = false;
  const auto report = checkKeyPolicy(key, KeyPurpose::kWrap);
  ASSERT_EQ(report.violations.size(), 1u);
  EXPECT_NE(report.violations[0].find("CKA_ALWAYS_SENSITIVE=false"), std::string::npos);
}

}  // namespace
}  // namespace kc::pkcs11
