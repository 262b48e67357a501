#include "kc/pkcs11/TokenAdmin.h"

#include <cstring>

namespace kc::pkcs11 {
namespace {

constexpr std::size_t kLabelWidth = 32;  // CK_TOKEN_INFO.label

Result<TokenDescription> findByLabel(Module& module, const std::string& label) {
  auto tokens = module.tokens();
  if (!tokens) return tokens.status();
  for (const auto& token : *tokens) {
    if (token.initialized && token.label == label) return token;
  }
  return Status(StatusCode::kNotFound, "no initialised token labelled '" + label + "'");
}

}  // namespace

Result<TokenDescription> initToken(Module& module, const std::string& label,
                                   const SecretBytes& soPin, const SecretBytes& userPin) {
  if (label.empty() || label.size() > kLabelWidth) {
    return Status(StatusCode::kInvalidArgument, "a token label has 1 to 32 characters");
  }
  if (soPin.empty() || userPin.empty()) {
    return Status(StatusCode::kInvalidArgument, "token init needs an SO PIN and a user PIN");
  }
  if (findByLabel(module, label)) {
    return Status(StatusCode::kAlreadyExists, "a token labelled '" + label + "' already exists");
  }
  auto tokens = module.tokens();
  if (!tokens) return tokens.status();
  const TokenDescription* free = nullptr;
  for (const auto& token : *tokens) {
    if (!token.initialized) {
      free = &token;
      break;
    }
  }
  if (free == nullptr) {
    return Status(StatusCode::kNotFound,
                  "no slot of " + module.path() + " holds an uninitialised token");
  }

  unsigned char paddedLabel[kLabelWidth];
  std::memset(paddedLabel, ' ', sizeof paddedLabel);
  // C_InitToken takes a 32-byte blank-padded label, not a NUL-terminated one; `label` is at most
  // kLabelWidth bytes (checked above): no terminator is wanted.
  std::memcpy(paddedLabel, label.data(),  // NOLINT(bugprone-not-null-terminated-result)
              label.size());
  auto* api = module.api();
  CK_RV rv = api->C_InitToken(free->slot, const_cast<std::uint8_t*>(soPin.data()), soPin.size(),
                              paddedLabel);
  if (rv != CKR_OK) return tokenError("C_InitToken", rv);

  auto created = findByLabel(module, label);
  if (!created) return created.status();
  CK_SESSION_HANDLE session = CK_INVALID_HANDLE;
  rv = api->C_OpenSession(created->slot, CKF_SERIAL_SESSION | CKF_RW_SESSION, nullptr, nullptr,
                          &session);
  if (rv != CKR_OK) return tokenError("C_OpenSession", rv);
  rv = api->C_Login(session, CKU_SO, const_cast<std::uint8_t*>(soPin.data()), soPin.size());
  if (rv == CKR_OK) {
    rv = api->C_InitPIN(session, const_cast<std::uint8_t*>(userPin.data()), userPin.size());
    api->C_Logout(session);
    if (rv != CKR_OK) {
      api->C_CloseSession(session);
      return tokenError("C_InitPIN", rv);
    }
  } else {
    api->C_CloseSession(session);
    return tokenError("C_Login as security officer", rv);
  }
  api->C_CloseSession(session);
  return created;
}

}  // namespace kc::pkcs11
