#pragma once
// Token administration for set-up: initialise a token and its user PIN.

#include <string>

#include "kc/Result.h"
#include "kc/SecretBytes.h"
#include "kc/pkcs11/Module.h"

namespace kc::pkcs11 {

// Initialises the token in the first slot whose token is not yet initialised: sets the
// label and SO PIN (C_InitToken), then the user PIN (C_InitPIN as the SO). Refuses with
// ALREADY_EXISTS when a token with `label` exists, and NOT_FOUND when no slot is free.
// Returns the new token as the module now describes it (SoftHSM renumbers its slots).
Result<TokenDescription> initToken(Module& module, const std::string& label,
                                   const SecretBytes& soPin, const SecretBytes& userPin);

}  // namespace kc::pkcs11
