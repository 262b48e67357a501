#pragma once
// Writing RFC 7512 "pkcs11:" URIs for operators to paste into flags and the daemon's
// config. (Parsing is p11-kit's, in kc::pkcs11::Pkcs11Uri.)

#include <string>
#include <string_view>

#include "kc/Result.h"
#include "kc/pkcs11/Module.h"

namespace kc::setup {

// "pkcs11:token=<label>;serial=<serial>": the token, stable across SoftHSM's slot renumbering.
std::string tokenUri(const pkcs11::TokenDescription& token);

// tokenUri(token) + ";object=<label>;type=private".
std::string keyUri(const pkcs11::TokenDescription& token, std::string_view label);

// `uri` with its object selectors (object, id, type) replaced by "object=<label>;type=private";
// the query part is kept. INVALID_ARGUMENT when `uri` does not start with "pkcs11:".
Result<std::string> withObjectLabel(std::string_view uri, std::string_view label);

}  // namespace kc::setup
