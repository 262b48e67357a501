#pragma once
// Private helpers for finding token objects and reading their attributes on a session.

#include <cstdint>
#include <vector>

#include "kc/pkcs11/Cryptoki.h"

namespace kc::pkcs11::detail {

// Up to `limit` handles of objects matching `attributes`; CKR_OK or the failing call's code.
CK_RV findObjects(CK_FUNCTION_LIST* api, CK_SESSION_HANDLE session,
                  std::vector<CK_ATTRIBUTE> attributes, std::size_t limit,
                  std::vector<CK_OBJECT_HANDLE>& found);

// The value of one attribute (two-call pattern). CKR_ATTRIBUTE_TYPE_INVALID and
// CKR_ATTRIBUTE_SENSITIVE come back as such.
CK_RV readAttribute(CK_FUNCTION_LIST* api, CK_SESSION_HANDLE session, CK_OBJECT_HANDLE object,
                    CK_ATTRIBUTE_TYPE type, std::vector<std::uint8_t>& value);

// A CK_BBOOL attribute; `fallback` when the token does not have it.
CK_RV readBool(CK_FUNCTION_LIST* api, CK_SESSION_HANDLE session, CK_OBJECT_HANDLE object,
               CK_ATTRIBUTE_TYPE type, bool fallback, bool& value);

// An RSA key's modulus size in bits, counted from CKA_MODULUS: NSS softokn does not keep
// CKA_MODULUS_BITS on its key objects (CKR_ATTRIBUTE_TYPE_INVALID), every token has CKA_MODULUS.
CK_RV readModulusBits(CK_FUNCTION_LIST* api, CK_SESSION_HANDLE session, CK_OBJECT_HANDLE object,
                      CK_ULONG& bits);

}  // namespace kc::pkcs11::detail
