#pragma once
// The PKCS#11 (Cryptoki) C API as p11-kit ships it, and the mapping of CK_RV codes to
// names and Status values. Every token error names the operation and the CKR_ code.

#include <p11-kit/pkcs11.h>

#include <string>
#include <string_view>

#include "kc/Result.h"

namespace kc::pkcs11 {

// "CKR_PIN_INCORRECT" for CKR_PIN_INCORRECT; "CKR_0x..." for codes we do not know.
std::string ckrName(CK_RV rv);

// True for the codes after which the session (or the login) is gone but a new session
// may work: the pool discards the session, opens a new one and retries once.
bool isSessionLost(CK_RV rv);

// True when a cached object handle is no longer valid and the key must be looked up again.
bool isHandleLost(CK_RV rv);

// A Status for a failed Cryptoki call: "<operation>: <CKR name>", with a code that tells
// the caller whether retrying can help (UNAVAILABLE), the PIN was wrong
// (PERMISSION_DENIED), or the token refused (TOKEN_ERROR). A refused PIN is also said in
// words, so that no caller has to read the CKR name: "C_Login: CKR_PIN_LOCKED (PIN locked)".
Status tokenError(std::string_view operation, CK_RV rv);

// Trims the blank padding of a fixed-width Cryptoki text field (labels, serials).
std::string paddedField(const unsigned char* field, std::size_t size);

}  // namespace kc::pkcs11
