#pragma once
// An RFC 7512 "pkcs11:" URI, parsed by p11-kit: selects a token (token, serial,
// manufacturer, model, slot-id, ...) and optionally an object (object, id, type).

#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "kc/Result.h"
#include "kc/pkcs11/Cryptoki.h"

struct p11_kit_uri;

namespace kc::pkcs11 {

// How a URI's serial is compared with a token's: exactly (RFC 7512), or ignoring ASCII case
// (as Bitwarden's reference Key Connector compares the serial it is configured with).
enum class TokenMatch { kExact, kSerialIgnoringCase };

class Pkcs11Uri {
 public:
  // Parses `text`. Refuses a malformed URI, unknown attributes, and a URI that carries a
  // PIN (pin-value): PINs come from a file or the environment, never from a URI.
  static Result<Pkcs11Uri> parse(std::string_view text);

  const std::string& text() const { return text_; }

  bool matchesToken(const CK_TOKEN_INFO& info, TokenMatch match = TokenMatch::kExact) const;
  bool matchesSlot(CK_SLOT_ID slot, const CK_SLOT_INFO& info) const;

  // The object attributes the URI names (CKA_LABEL, CKA_ID, CKA_CLASS), ready for
  // C_FindObjectsInit. Valid as long as this object lives.
  std::vector<CK_ATTRIBUTE> objectTemplate() const;
  bool namesObject() const { return !objectTemplate().empty(); }
  std::optional<CK_OBJECT_CLASS> objectClass() const;

 private:
  struct UriDeleter {
    void operator()(p11_kit_uri* uri) const;
  };
  Pkcs11Uri(std::string text, std::shared_ptr<p11_kit_uri> uri)
      : text_(std::move(text)), uri_(std::move(uri)) {}
  std::string text_;
  std::shared_ptr<p11_kit_uri> uri_;  // immutable after parse, so copies may share it
};

}  // namespace kc::pkcs11
