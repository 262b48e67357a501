#include <gtest/gtest.h>

#include "kc/pkcs11/Cryptoki.h"

namespace kc::pkcs11 {
namespace {

TEST(Cryptoki, NamesKnownReturnCodes) {
  EXPECT_EQ(ckrName(CKR_OK), "CKR_OK");
  EXPECT_EQ(ckrName(CKR_PIN_INCORRECT), "CKR_PIN_INCORRECT");
  EXPECT_EQ(ckrName(CKR_SESSION_HANDLE_INVALID), "CKR_SESSION_HANDLE_INVALID");
}

TEST(Cryptoki, NamesUnknownReturnCodesInHex) {
  EXPECT_EQ(ckrName(0x8000ABCDUL), "CKR_0x8000ABCD");
}

TEST(Cryptoki, ErrorNamesOperationAndCode) {
  Status status = tokenError("C_Decrypt", CKR_DEVICE_ERROR);
  EXPECT_EQ(status.message(), "C_Decrypt: CKR_DEVICE_ERROR");
  EXPECT_EQ(status.code(), StatusCode::kUnavailable);
}

TEST(Cryptoki, WrongPinIsPermissionDenied) {
  EXPECT_EQ(tokenError("C_Login", CKR_PIN_INCORRECT).code(), StatusCode::kPermissionDenied);
}

TEST(Cryptoki, RefusedPinIsSaidInWords) {
  EXPECT_EQ(tokenError("C_Login", CKR_PIN_INCORRECT).message(),
            "C_Login: CKR_PIN_INCORRECT (PIN incorrect)");
  EXPECT_EQ(tokenError("C_Login", CKR_PIN_LOCKED).message(),
            "C_Login: CKR_PIN_LOCKED (PIN locked)");
  EXPECT_EQ(tokenError("C_Login", CKR_PIN_LOCKED).code(), StatusCode::kPermissionDenied);
}

TEST(Cryptoki, SessionLossCodesTriggerRecoveryAndOthersDoNot) {
  for (CK_RV rv : {CKR_SESSION_HANDLE_INVALID, CKR_SESSION_CLOSED, CKR_USER_NOT_LOGGED_IN,
                   CKR_DEVICE_ERROR, CKR_DEVICE_REMOVED, CKR_TOKEN_NOT_PRESENT}) {
    EXPECT_TRUE(isSessionLost(rv)) << ckrName(rv);
  }
  for (CK_RV rv : {CKR_OK, CKR_PIN_INCORRECT, CKR_ENCRYPTED_DATA_INVALID, CKR_ARGUMENTS_BAD}) {
    EXPECT_FALSE(isSessionLost(rv)) << ckrName(rv);
  }
}

TEST(Cryptoki, PaddedFieldDropsTrailingBlanks) {
  const unsigned char field[8] = {'k', 'c', ' ', 'x', ' ', ' ', ' ', ' '};
  EXPECT_EQ(paddedField(field, sizeof field), "kc x");
}

}  // namespace
}  // namespace kc::pkcs11
