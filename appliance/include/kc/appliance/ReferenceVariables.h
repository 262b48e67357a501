#pragma once
// The environment variables of Bitwarden's reference Key Connector (keyConnectorSettings__*),
// found as ASP.NET finds them: the name case-insensitively, "__" between sections. The daemon
// reads them as a layer of its configuration (so a site that switches keeps its environment
// file), and kc-setup import-bitwarden reads them as the description of the deployment it
// imports from.

#include <map>
#include <optional>
#include <string>
#include <string_view>

#include "kc/Result.h"
#include "kc/appliance/Config.h"

namespace kc::appliance {

struct ReferenceVariable {
  std::string name;  // as the environment spells it: "keyConnectorSettings__rsaKey__pkcs11LoginPin"
  std::string value;  // may be a secret (a PIN, a password, a connection string): never print it
};

class ReferenceVariables {
 public:
  // Every non-empty variable whose name starts with "keyConnectorSettings__" in any case.
  // INVALID_ARGUMENT naming both when two variables spell one setting in different cases
  // (ASP.NET would pick one of them silently), or a name that is not one of the reference's
  // settings (a typo the reference would have ignored).
  static Result<ReferenceVariables> collect(const Environment& environment);

  // The variable of `path`, the setting's name after the prefix ("rsaKey__pkcs11LoginPin"),
  // matched case-insensitively; none when it is not set.
  const ReferenceVariable* find(std::string_view path) const;

  bool empty() const { return byPath_.empty(); }
  // Every variable, by lower-case path.
  const std::map<std::string, ReferenceVariable, std::less<>>& all() const { return byPath_; }

 private:
  std::map<std::string, ReferenceVariable, std::less<>> byPath_;
};

// "environment variable <name>": how messages name where a value came from.
std::string originOf(const ReferenceVariable& variable);

// The PKCS#11 URI of the private key the reference's rsaKey__pkcs11* settings name, as the
// reference finds it: its token by pkcs11SlotTokenSerialNumber (when set; the caller matches it
// ignoring case, as the reference does), the key by pkcs11PrivateKeyId (a decimal number, passed
// as an 8-byte CK_ULONG) or else pkcs11PrivateKeyLabel. None when neither id nor label is set;
// INVALID_ARGUMENT naming the variable for an id that is not a decimal number.
Result<std::optional<std::string>> referenceKeyUri(const ReferenceVariables& variables);

// The PKCS#11 module a reference pkcs11Provider stands for, as Debian installs it
// ("yubihsm" → yubihsm-pkcs11's module, "opensc" → opensc-pkcs11's); none for another name.
std::optional<std::string> modulePathForProvider(std::string_view provider);

}  // namespace kc::appliance
