#include "ObjectAccess.h"

#include <algorithm>
#include <bit>
#include <iterator>

namespace kc::pkcs11::detail {

CK_RV findObjects(CK_FUNCTION_LIST* api, CK_SESSION_HANDLE session,
                  std::vector<CK_ATTRIBUTE> attributes, std::size_t limit,
                  std::vector<CK_OBJECT_HANDLE>& found) {
  found.clear();
  CK_RV rv = api->C_FindObjectsInit(session, attributes.data(), attributes.size());
  if (rv != CKR_OK) return rv;
  std::vector<CK_OBJECT_HANDLE> batch(limit);
  CK_ULONG count = 0;
  rv = api->C_FindObjects(session, batch.data(), batch.size(), &count);
  const CK_RV finalRv = api->C_FindObjectsFinal(session);
  if (rv != CKR_OK) return rv;
  found.assign(batch.begin(), batch.begin() + static_cast<std::ptrdiff_t>(count));
  return finalRv;
}

CK_RV readAttribute(CK_FUNCTION_LIST* api, CK_SESSION_HANDLE session, CK_OBJECT_HANDLE object,
                    CK_ATTRIBUTE_TYPE type, std::vector<std::uint8_t>& value) {
  CK_ATTRIBUTE attribute{type, nullptr, 0};
  CK_RV rv = api->C_GetAttributeValue(session, object, &attribute, 1);
  if (rv != CKR_OK) return rv;
  value.resize(attribute.ulValueLen);
  attribute.pValue = value.data();
  rv = api->C_GetAttributeValue(session, object, &attribute, 1);
  if (rv == CKR_OK) value.resize(attribute.ulValueLen);
  return rv;
}

CK_RV readBool(CK_FUNCTION_LIST* api, CK_SESSION_HANDLE session, CK_OBJECT_HANDLE object,
               CK_ATTRIBUTE_TYPE type, bool fallback, bool& value) {
  CK_BBOOL flag = CK_FALSE;
  CK_ATTRIBUTE attribute{type, &flag, sizeof flag};
  const CK_RV rv = api->C_GetAttributeValue(session, object, &attribute, 1);
  if (rv == CKR_ATTRIBUTE_TYPE_INVALID || rv == CKR_ATTRIBUTE_SENSITIVE) {
    value = fallback;
    return CKR_OK;
  }
  value = rv == CKR_OK && flag == CK_TRUE;
  return rv;
}

CK_RV readModulusBits(CK_FUNCTION_LIST* api, CK_SESSION_HANDLE session, CK_OBJECT_HANDLE object,
                      CK_ULONG& bits) {
  std::vector<std::uint8_t> modulus;
  bits = 0;
  const CK_RV rv = readAttribute(api, session, object, CKA_MODULUS, modulus);
  if (rv != CKR_OK) return rv;
  auto first = std::find_if(modulus.begin(), modulus.end(), [](std::uint8_t b) { return b != 0; });
  if (first == modulus.end()) return CKR_OK;
  bits = static_cast<CK_ULONG>(std::distance(first, modulus.end()) - 1) * 8 +
         static_cast<CK_ULONG>(std::bit_width(static_cast<unsigned>(*first)));
  return CKR_OK;
}

}  // namespace kc::pkcs11::detail
