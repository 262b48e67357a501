// Recovery from token faults, through a PKCS#11 module that forwards to the test token
// (SoftHSM or softokn, tests/support/TestToken.h) and fails chosen calls on request.

#include <gtest/gtest.h>

#include <thread>

#include "FaultyModule.h"
#include "kc/pkcs11/KeyGeneration.h"
#include "support/TestToken.h"

namespace kc::pkcs11 {
namespace {

using test::FaultControl;

class FaultInjection : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    token_ = test::makeTestToken("kc-fault", KC_FAULTY_PKCS11_PATH).release();
    control_ = FaultControl::bind(KC_FAULTY_PKCS11_PATH);
    ASSERT_TRUE(control_.bound());
    pool_ = token_->openPool({.size = 2,
                              .loginBackoff = std::chrono::milliseconds(5),
                              .refusedPinRetryAfter = std::chrono::milliseconds(300)});
    auto key = generateKeyPair(pool_, {.bits = 2048, .label = "fault-wrap"});
    ASSERT_TRUE(key) << key.status().toString();
    key_ = new RsaKeyPair(*key);
    auto ciphertext = key_->encrypt(std::vector<std::uint8_t>(32, 7));
    ASSERT_TRUE(ciphertext);
    ciphertext_ = *ciphertext;
  }
  void SetUp() override { control_.reset(); }
  void TearDown() override { control_.reset(); }

  Result<SecretBytes> decrypt() { return key_->decrypt(ciphertext_.bytes, ciphertext_.hash); }

  static inline test::TestToken* token_ = nullptr;
  static inline std::shared_ptr<SessionPool> pool_;
  static inline RsaKeyPair* key_ = nullptr;
  static inline OaepCiphertext ciphertext_;
  static inline FaultControl control_{};
};

TEST_F(FaultInjection, DeviceErrorIsRecoveredByOneRetryOnAFreshSession) {
  const auto before = pool_->stats().recoveries;
  control_.inject("C_Decrypt", CKR_DEVICE_ERROR, 1);
  auto plaintext = decrypt();
  ASSERT_TRUE(plaintext) << plaintext.status().toString();
  EXPECT_EQ(plaintext->size(), 32u);
  EXPECT_EQ(pool_->stats().recoveries, before + 1);
  EXPECT_EQ(control_.calls("C_Decrypt"), 2);
  EXPECT_GE(control_.calls("C_OpenSession"), 1);
}

TEST_F(FaultInjection, PersistentDeviceErrorFailsNamingOperationAndCode) {
  control_.inject("C_Decrypt", CKR_DEVICE_ERROR, 2);
  auto plaintext = decrypt();
  ASSERT_FALSE(plaintext);
  EXPECT_EQ(plaintext.status().code(), StatusCode::kUnavailable);
  EXPECT_NE(plaintext.status().message().find("RSA-OAEP decrypt"), std::string::npos);
  EXPECT_NE(plaintext.status().message().find("CKR_DEVICE_ERROR"), std::string::npos);
  EXPECT_EQ(control_.calls("C_Decrypt"), 2) << "retried exactly once";
  EXPECT_TRUE(decrypt()) << "the pool works again once the fault is gone";
}

TEST_F(FaultInjection, EachRecoverableCodeTriggersRecovery) {
  for (CK_RV rv : {CKR_SESSION_HANDLE_INVALID, CKR_SESSION_CLOSED, CKR_USER_NOT_LOGGED_IN,
                   CKR_DEVICE_ERROR, CKR_DEVICE_REMOVED, CKR_TOKEN_NOT_PRESENT}) {
    control_.reset();
    control_.inject("C_DecryptInit", rv, 1);
    auto plaintext = decrypt();
    EXPECT_TRUE(plaintext) << ckrName(rv) << ": " << plaintext.status().toString();
  }
}

TEST_F(FaultInjection, TokenAbsentDuringRecoveryIsRetriedWithBackOff) {
  control_.inject("C_Decrypt", CKR_DEVICE_REMOVED, 1);
  control_.inject("C_OpenSession", CKR_TOKEN_NOT_PRESENT, 2);
  auto plaintext = decrypt();
  ASSERT_TRUE(plaintext) << plaintext.status().toString();
  EXPECT_EQ(control_.calls("C_OpenSession"), 3);
}

TEST_F(FaultInjection, TokenGoneForGoodIsUnavailableAndThePoolHealsLater) {
  control_.inject("C_Decrypt", CKR_TOKEN_NOT_PRESENT, 1);
  control_.inject("C_OpenSession", CKR_TOKEN_NOT_PRESENT, 1000);
  auto plaintext = decrypt();
  ASSERT_FALSE(plaintext);
  EXPECT_EQ(plaintext.status().code(), StatusCode::kUnavailable);
  EXPECT_NE(plaintext.status().message().find("CKR_TOKEN_NOT_PRESENT"), std::string::npos);
  control_.reset();
  for (int i = 0; i < 4; ++i) {
    auto again = decrypt();
    EXPECT_TRUE(again) << again.status().toString();
  }
}

TEST_F(FaultInjection, OtherErrorsAreNotRetried) {
  control_.inject("C_Decrypt", CKR_ARGUMENTS_BAD, 1);
  auto plaintext = decrypt();
  ASSERT_FALSE(plaintext);
  EXPECT_EQ(plaintext.status().code(), StatusCode::kTokenError);
  EXPECT_EQ(control_.calls("C_Decrypt"), 1);
}

TEST_F(FaultInjection, InvalidKeyHandleIsLookedUpAgain) {
  control_.inject("C_DecryptInit", CKR_KEY_HANDLE_INVALID, 1);
  auto plaintext = decrypt();
  ASSERT_TRUE(plaintext) << plaintext.status().toString();
  EXPECT_GE(control_.calls("C_FindObjectsInit"), 1);
}

TEST_F(FaultInjection, GeneralErrorFromDecryptIsAnIntegrityFailure) {
  // SoftHSM's answer to a ciphertext that fails the OAEP check.
  control_.inject("C_Decrypt", CKR_GENERAL_ERROR, 1);
  auto plaintext = decrypt();
  ASSERT_FALSE(plaintext);
  EXPECT_EQ(plaintext.status().code(), StatusCode::kIntegrity) << plaintext.status().toString();
  EXPECT_EQ(control_.calls("C_Decrypt"), 1);
}

TEST_F(FaultInjection, GeneralErrorWhileLookingTheKeyUpAgainIsATokenError) {
  // The same code from the look-up, not from the decryption, says nothing about the
  // ciphertext.
  control_.inject("C_DecryptInit", CKR_KEY_HANDLE_INVALID, 1);
  control_.inject("C_FindObjectsInit", CKR_GENERAL_ERROR, 1);
  auto plaintext = decrypt();
  ASSERT_FALSE(plaintext);
  EXPECT_EQ(plaintext.status().code(), StatusCode::kTokenError) << plaintext.status().toString();
  EXPECT_EQ(control_.calls("C_FindObjectsInit"), 1);
  EXPECT_TRUE(decrypt()) << "the next decryption looks the key up again";
}

TEST_F(FaultInjection, RefusedPinIsNotOfferedAgainUntilTheRetryDelay) {
  // Logged out behind the pool's back, and the token now refuses the PIN: the pool must
  // not keep offering it (that would lock the PIN) and must say why.
  {
    auto lease = pool_->lease();
    ASSERT_TRUE(lease);
    pool_->api()->C_Logout(lease->handle());
  }
  control_.inject("C_Login", CKR_PIN_INCORRECT, 1000);
  auto plaintext = decrypt();
  ASSERT_FALSE(plaintext);
  EXPECT_EQ(plaintext.status().code(), StatusCode::kPermissionDenied);
  EXPECT_NE(plaintext.status().message().find("CKR_PIN_INCORRECT"), std::string::npos);
  EXPECT_FALSE(decrypt());
  EXPECT_FALSE(decrypt());
  EXPECT_EQ(control_.calls("C_Login"), 1) << "the refused PIN was offered again";

  control_.inject("C_Login", CKR_OK, 0);  // the token would accept the PIN again
  std::this_thread::sleep_for(std::chrono::milliseconds(350));
  auto healed = decrypt();
  EXPECT_TRUE(healed) << healed.status().toString();
}

}  // namespace
}  // namespace kc::pkcs11
