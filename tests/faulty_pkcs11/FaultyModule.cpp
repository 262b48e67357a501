#include "FaultyModule.h"

#include <dlfcn.h>

#include <cstdlib>
#include <map>
#include <mutex>
#include <string>

namespace {

struct Fault {
  CK_RV rv = CKR_OK;
  int remaining = 0;
};

std::mutex gMutex;
std::map<std::string, Fault>& faults() {
  static std::map<std::string, Fault> table;
  return table;
}
std::map<std::string, int>& calls() {
  static std::map<std::string, int> table;
  return table;
}

CK_FUNCTION_LIST* gReal = nullptr;
CK_FUNCTION_LIST gWrapped;

// CKR_OK to go on to the real module, or the injected code.
CK_RV takeFault(const char* function) {
  std::lock_guard lock(gMutex);
  ++calls()[function];
  auto it = faults().find(function);
  if (it == faults().end() || it->second.remaining == 0) return CKR_OK;
  --it->second.remaining;
  return it->second.rv;
}

#define KC_WRAP(name, params, args)             \
  CK_RV Faulty_##name params {                  \
    if (CK_RV rv = takeFault(#name)) return rv; \
    return gReal->name args;                    \
  }

KC_WRAP(C_OpenSession,
        (CK_SLOT_ID slot, CK_FLAGS flags, void* app, CK_NOTIFY notify, CK_SESSION_HANDLE_PTR s),
        (slot, flags, app, notify, s))
KC_WRAP(C_Login, (CK_SESSION_HANDLE s, CK_USER_TYPE u, CK_UTF8CHAR_PTR pin, CK_ULONG len),
        (s, u, pin, len))
KC_WRAP(C_GetSessionInfo, (CK_SESSION_HANDLE s, CK_SESSION_INFO_PTR info), (s, info))
KC_WRAP(C_FindObjectsInit, (CK_SESSION_HANDLE s, CK_ATTRIBUTE_PTR t, CK_ULONG n), (s, t, n))
KC_WRAP(C_EncryptInit, (CK_SESSION_HANDLE s, CK_MECHANISM_PTR m, CK_OBJECT_HANDLE k), (s, m, k))
KC_WRAP(C_Encrypt,
        (CK_SESSION_HANDLE s, CK_BYTE_PTR in, CK_ULONG inLen, CK_BYTE_PTR out, CK_ULONG_PTR outLen),
        (s, in, inLen, out, outLen))
KC_WRAP(C_DecryptInit, (CK_SESSION_HANDLE s, CK_MECHANISM_PTR m, CK_OBJECT_HANDLE k), (s, m, k))
KC_WRAP(C_Decrypt,
        (CK_SESSION_HANDLE s, CK_BYTE_PTR in, CK_ULONG inLen, CK_BYTE_PTR out, CK_ULONG_PTR outLen),
        (s, in, inLen, out, outLen))
KC_WRAP(C_SignInit, (CK_SESSION_HANDLE s, CK_MECHANISM_PTR m, CK_OBJECT_HANDLE k), (s, m, k))
KC_WRAP(C_Sign,
        (CK_SESSION_HANDLE s, CK_BYTE_PTR in, CK_ULONG inLen, CK_BYTE_PTR out, CK_ULONG_PTR outLen),
        (s, in, inLen, out, outLen))
#undef KC_WRAP

CK_RV loadReal() {
  if (gReal != nullptr) return CKR_OK;
  const char* target = std::getenv("KC_FAULTY_PKCS11_TARGET");
  void* library = dlopen(target && *target ? target : KC_TEST_PKCS11_MODULE, RTLD_NOW | RTLD_LOCAL);
  if (library == nullptr) return CKR_GENERAL_ERROR;
  auto get = reinterpret_cast<CK_C_GetFunctionList>(dlsym(library, "C_GetFunctionList"));
  if (get == nullptr || get(&gReal) != CKR_OK) return CKR_GENERAL_ERROR;
  gWrapped = *gReal;
  gWrapped.C_OpenSession = Faulty_C_OpenSession;
  gWrapped.C_Login = Faulty_C_Login;
  gWrapped.C_GetSessionInfo = Faulty_C_GetSessionInfo;
  gWrapped.C_FindObjectsInit = Faulty_C_FindObjectsInit;
  gWrapped.C_EncryptInit = Faulty_C_EncryptInit;
  gWrapped.C_Encrypt = Faulty_C_Encrypt;
  gWrapped.C_DecryptInit = Faulty_C_DecryptInit;
  gWrapped.C_Decrypt = Faulty_C_Decrypt;
  gWrapped.C_SignInit = Faulty_C_SignInit;
  gWrapped.C_Sign = Faulty_C_Sign;
  return CKR_OK;
}

}  // namespace

extern "C" {

__attribute__((visibility("default"))) CK_RV C_GetFunctionList(CK_FUNCTION_LIST_PTR_PTR list) {
  if (list == nullptr) return CKR_ARGUMENTS_BAD;
  std::lock_guard lock(gMutex);
  if (CK_RV rv = loadReal()) return rv;
  *list = &gWrapped;
  return CKR_OK;
}

__attribute__((visibility("default"))) void kc_faulty_pkcs11_inject(const char* function, CK_RV rv,
                                                                    int times) {
  std::lock_guard lock(gMutex);
  faults()[function] = {rv, times};
}

__attribute__((visibility("default"))) void kc_faulty_pkcs11_reset() {
  std::lock_guard lock(gMutex);
  faults().clear();
  calls().clear();
}

__attribute__((visibility("default"))) int kc_faulty_pkcs11_calls(const char* function) {
  std::lock_guard lock(gMutex);
  return calls()[function];
}

}  // extern "C"
