#include "kc/pkcs11/Pkcs11Uri.h"

#include <p11-kit/uri.h>

#include <cstring>

#include "kc/Text.h"

namespace kc::pkcs11 {

void Pkcs11Uri::UriDeleter::operator()(P11KitUri* uri) const {
  p11_kit_uri_free(uri);
}

Result<Pkcs11Uri> Pkcs11Uri::parse(std::string_view text) {
  std::string owned(text);
  std::unique_ptr<P11KitUri, UriDeleter> uri(p11_kit_uri_new());
  if (!uri) return Status(StatusCode::kInternal, "p11_kit_uri_new failed");
  const int rc = p11_kit_uri_parse(owned.c_str(), P11_KIT_URI_FOR_ANY, uri.get());
  if (rc != P11_KIT_URI_OK) {
    // The URI itself is not secret (a pin-value would be refused below, but a URI that
    // fails to parse might still hold one), so it is echoed only up to its first ';'.
    const std::string shown = owned.substr(0, owned.find(';'));
    return Status(StatusCode::kInvalidArgument,
                  "invalid PKCS#11 URI '" + shown + "...': " + p11_kit_uri_message(rc));
  }
  if (p11_kit_uri_get_pin_value(uri.get()) != nullptr) {
    return Status(StatusCode::kInvalidArgument,
                  "a PKCS#11 URI must not carry a PIN (pin-value): give it in a PIN file or "
                  "environment variable");
  }
  if (p11_kit_uri_any_unrecognized(uri.get())) {
    return Status(StatusCode::kInvalidArgument,
                  "PKCS#11 URI " + owned + " has an attribute this server does not know");
  }
  return Pkcs11Uri(std::move(owned), std::shared_ptr<P11KitUri>(uri.release(), UriDeleter{}));
}

bool Pkcs11Uri::matchesToken(const CK_TOKEN_INFO& info, TokenMatch match) const {
  const CK_TOKEN_INFO* wanted = p11_kit_uri_get_token_info(uri_.get());
  if (match == TokenMatch::kSerialIgnoringCase && wanted != nullptr) {
    // Both serials are blank-padded fixed-size fields: compare them as they are, and let
    // p11-kit judge the rest with the URI's spelling of the serial put in the token's place.
    const std::string_view have(reinterpret_cast<const char*>(info.serialNumber),
                                sizeof info.serialNumber);
    const std::string_view want(reinterpret_cast<const char*>(wanted->serialNumber),
                                sizeof wanted->serialNumber);
    if (equalsIgnoringCase(have, want)) {
      CK_TOKEN_INFO respelt = info;
      std::memcpy(respelt.serialNumber, wanted->serialNumber, sizeof respelt.serialNumber);
      return p11_kit_uri_match_token_info(uri_.get(), &respelt) == 1;
    }
  }
  return p11_kit_uri_match_token_info(uri_.get(), &info) == 1;
}

bool Pkcs11Uri::matchesSlot(CK_SLOT_ID slot, const CK_SLOT_INFO& info) const {
  const CK_SLOT_ID wanted = p11_kit_uri_get_slot_id(uri_.get());
  if (wanted != static_cast<CK_SLOT_ID>(-1) && wanted != slot) return false;
  return p11_kit_uri_match_slot_info(uri_.get(), &info) == 1;
}

std::vector<CK_ATTRIBUTE> Pkcs11Uri::objectTemplate() const {
  CK_ULONG count = 0;
  CK_ATTRIBUTE* attributes = p11_kit_uri_get_attributes(uri_.get(), &count);
  return std::vector<CK_ATTRIBUTE>(attributes, attributes + count);
}

std::optional<CK_OBJECT_CLASS> Pkcs11Uri::objectClass() const {
  CK_ATTRIBUTE* attribute = p11_kit_uri_get_attribute(uri_.get(), CKA_CLASS);
  if (attribute == nullptr || attribute->ulValueLen != sizeof(CK_OBJECT_CLASS)) return std::nullopt;
  return *static_cast<const CK_OBJECT_CLASS*>(attribute->pValue);
}

}  // namespace kc::pkcs11
