#include "kc/pkcs11/Cryptoki.h"

#include <cstdio>
#include <utility>

namespace kc::pkcs11 {
namespace {

struct CkrEntry {
  CK_RV rv;
  const char* name;
};

#define KC_CKR(name) \
  { name, #name }
constexpr CkrEntry kCkrNames[] = {
    KC_CKR(CKR_OK),
    KC_CKR(CKR_CANCEL),
    KC_CKR(CKR_HOST_MEMORY),
    KC_CKR(CKR_SLOT_ID_INVALID),
    KC_CKR(CKR_GENERAL_ERROR),
    KC_CKR(CKR_FUNCTION_FAILED),
    KC_CKR(CKR_ARGUMENTS_BAD),
    KC_CKR(CKR_NO_EVENT),
    KC_CKR(CKR_NEED_TO_CREATE_THREADS),
    KC_CKR(CKR_CANT_LOCK),
    KC_CKR(CKR_ATTRIBUTE_READ_ONLY),
    KC_CKR(CKR_ATTRIBUTE_SENSITIVE),
    KC_CKR(CKR_ATTRIBUTE_TYPE_INVALID),
    KC_CKR(CKR_ATTRIBUTE_VALUE_INVALID),
    KC_CKR(CKR_ACTION_PROHIBITED),
    KC_CKR(CKR_DATA_INVALID),
    KC_CKR(CKR_DATA_LEN_RANGE),
    KC_CKR(CKR_DEVICE_ERROR),
    KC_CKR(CKR_DEVICE_MEMORY),
    KC_CKR(CKR_DEVICE_REMOVED),
    KC_CKR(CKR_ENCRYPTED_DATA_INVALID),
    KC_CKR(CKR_ENCRYPTED_DATA_LEN_RANGE),
    KC_CKR(CKR_FUNCTION_CANCELED),
    KC_CKR(CKR_FUNCTION_NOT_PARALLEL),
    KC_CKR(CKR_FUNCTION_NOT_SUPPORTED),
    KC_CKR(CKR_KEY_HANDLE_INVALID),
    KC_CKR(CKR_KEY_SIZE_RANGE),
    KC_CKR(CKR_KEY_TYPE_INCONSISTENT),
    KC_CKR(CKR_KEY_NOT_NEEDED),
    KC_CKR(CKR_KEY_CHANGED),
    KC_CKR(CKR_KEY_NEEDED),
    KC_CKR(CKR_KEY_INDIGESTIBLE),
    KC_CKR(CKR_KEY_FUNCTION_NOT_PERMITTED),
    KC_CKR(CKR_KEY_NOT_WRAPPABLE),
    KC_CKR(CKR_KEY_UNEXTRACTABLE),
    KC_CKR(CKR_MECHANISM_INVALID),
    KC_CKR(CKR_MECHANISM_PARAM_INVALID),
    KC_CKR(CKR_OBJECT_HANDLE_INVALID),
    KC_CKR(CKR_OPERATION_ACTIVE),
    KC_CKR(CKR_OPERATION_NOT_INITIALIZED),
    KC_CKR(CKR_PIN_INCORRECT),
    KC_CKR(CKR_PIN_INVALID),
    KC_CKR(CKR_PIN_LEN_RANGE),
    KC_CKR(CKR_PIN_EXPIRED),
    KC_CKR(CKR_PIN_LOCKED),
    KC_CKR(CKR_SESSION_CLOSED),
    KC_CKR(CKR_SESSION_COUNT),
    KC_CKR(CKR_SESSION_HANDLE_INVALID),
    KC_CKR(CKR_SESSION_PARALLEL_NOT_SUPPORTED),
    KC_CKR(CKR_SESSION_READ_ONLY),
    KC_CKR(CKR_SESSION_EXISTS),
    KC_CKR(CKR_SESSION_READ_ONLY_EXISTS),
    KC_CKR(CKR_SESSION_READ_WRITE_SO_EXISTS),
    KC_CKR(CKR_SIGNATURE_INVALID),
    KC_CKR(CKR_SIGNATURE_LEN_RANGE),
    KC_CKR(CKR_TEMPLATE_INCOMPLETE),
    KC_CKR(CKR_TEMPLATE_INCONSISTENT),
    KC_CKR(CKR_TOKEN_NOT_PRESENT),
    KC_CKR(CKR_TOKEN_NOT_RECOGNIZED),
    KC_CKR(CKR_TOKEN_WRITE_PROTECTED),
    KC_CKR(CKR_UNWRAPPING_KEY_HANDLE_INVALID),
    KC_CKR(CKR_UNWRAPPING_KEY_SIZE_RANGE),
    KC_CKR(CKR_UNWRAPPING_KEY_TYPE_INCONSISTENT),
    KC_CKR(CKR_USER_ALREADY_LOGGED_IN),
    KC_CKR(CKR_USER_NOT_LOGGED_IN),
    KC_CKR(CKR_USER_PIN_NOT_INITIALIZED),
    KC_CKR(CKR_USER_TYPE_INVALID),
    KC_CKR(CKR_USER_ANOTHER_ALREADY_LOGGED_IN),
    KC_CKR(CKR_USER_TOO_MANY_TYPES),
    KC_CKR(CKR_WRAPPED_KEY_INVALID),
    KC_CKR(CKR_WRAPPED_KEY_LEN_RANGE),
    KC_CKR(CKR_WRAPPING_KEY_HANDLE_INVALID),
    KC_CKR(CKR_WRAPPING_KEY_SIZE_RANGE),
    KC_CKR(CKR_WRAPPING_KEY_TYPE_INCONSISTENT),
    KC_CKR(CKR_RANDOM_SEED_NOT_SUPPORTED),
    KC_CKR(CKR_RANDOM_NO_RNG),
    KC_CKR(CKR_DOMAIN_PARAMS_INVALID),
    KC_CKR(CKR_CURVE_NOT_SUPPORTED),
    KC_CKR(CKR_BUFFER_TOO_SMALL),
    KC_CKR(CKR_SAVED_STATE_INVALID),
    KC_CKR(CKR_INFORMATION_SENSITIVE),
    KC_CKR(CKR_STATE_UNSAVEABLE),
    KC_CKR(CKR_CRYPTOKI_NOT_INITIALIZED),
    KC_CKR(CKR_CRYPTOKI_ALREADY_INITIALIZED),
    KC_CKR(CKR_MUTEX_BAD),
    KC_CKR(CKR_MUTEX_NOT_LOCKED),
    KC_CKR(CKR_NEW_PIN_MODE),
    KC_CKR(CKR_NEXT_OTP),
    KC_CKR(CKR_EXCEEDED_MAX_ITERATIONS),
    KC_CKR(CKR_FIPS_SELF_TEST_FAILED),
    KC_CKR(CKR_LIBRARY_LOAD_FAILED),
    KC_CKR(CKR_PIN_TOO_WEAK),
    KC_CKR(CKR_PUBLIC_KEY_INVALID),
    KC_CKR(CKR_FUNCTION_REJECTED),
};
#undef KC_CKR

// Why the token refused a PIN, in words for an operator; empty for other codes.
std::string_view pinRefusal(CK_RV rv) {
  switch (rv) {
    case CKR_PIN_INCORRECT:
      return "PIN incorrect";
    case CKR_PIN_LOCKED:
      return "PIN locked";
    case CKR_PIN_EXPIRED:
      return "PIN expired";
    case CKR_PIN_INVALID:
      return "PIN has characters the token does not accept";
    case CKR_PIN_LEN_RANGE:
      return "PIN too long or too short";
    default:
      return {};
  }
}

}  // namespace

std::string ckrName(CK_RV rv) {
  for (const auto& entry : kCkrNames) {
    if (entry.rv == rv) return entry.name;
  }
  char buffer[32];
  // 32 bytes hold "CKR_0x" and the 16 hex digits of any CK_RV: never truncated.
  (void)std::snprintf(buffer, sizeof buffer, "CKR_0x%08lX", static_cast<unsigned long>(rv));
  return buffer;
}

bool isSessionLost(CK_RV rv) {
  switch (rv) {
    case CKR_SESSION_HANDLE_INVALID:
    case CKR_SESSION_CLOSED:
    case CKR_USER_NOT_LOGGED_IN:
    case CKR_DEVICE_ERROR:
    case CKR_DEVICE_REMOVED:
    case CKR_TOKEN_NOT_PRESENT:
      return true;
    default:
      return false;
  }
}

bool isHandleLost(CK_RV rv) {
  return rv == CKR_OBJECT_HANDLE_INVALID || rv == CKR_KEY_HANDLE_INVALID;
}

Status tokenError(std::string_view operation, CK_RV rv) {
  StatusCode code = StatusCode::kTokenError;
  switch (rv) {
    case CKR_PIN_INCORRECT:
    case CKR_PIN_LOCKED:
    case CKR_PIN_EXPIRED:
    case CKR_PIN_INVALID:
    case CKR_PIN_LEN_RANGE:
      code = StatusCode::kPermissionDenied;
      break;
    case CKR_ENCRYPTED_DATA_INVALID:
    case CKR_ENCRYPTED_DATA_LEN_RANGE:
      code = StatusCode::kIntegrity;
      break;
    case CKR_DEVICE_MEMORY:
    case CKR_HOST_MEMORY:
    case CKR_SESSION_COUNT:
    case CKR_FUNCTION_CANCELED:
      code = StatusCode::kUnavailable;
      break;
    default:
      if (isSessionLost(rv)) code = StatusCode::kUnavailable;
      break;
  }
  std::string message(operation);
  message += ": ";
  message += ckrName(rv);
  if (const std::string_view refusal = pinRefusal(rv); !refusal.empty()) {
    message += " (";
    message += refusal;
    message += ")";
  }
  return {code, std::move(message)};
}

std::string paddedField(const unsigned char* field, std::size_t size) {
  std::size_t end = size;
  while (end > 0 && (field[end - 1] == ' ' || field[end - 1] == '\0')) --end;
  return std::string(reinterpret_cast<const char*>(field), end);
}

}  // namespace kc::pkcs11
