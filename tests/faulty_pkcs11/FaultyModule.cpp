#include "FaultyModule.h"

#include <dlfcn.h>

#include <algorithm>
#include <cstdlib>
#include <fstream>
#include <map>
#include <mutex>
#include <string>
#include <vector>

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

// A vanished token (another process's control): while the file $KC_FAULTY_PKCS11_VANISHED_FILE
// exists and holds a token label, every call on that token's slot or sessions fails as a
// removed device would (CKR_TOKEN_NOT_PRESENT for the slot, CKR_DEVICE_REMOVED for a session).
std::map<CK_SESSION_HANDLE, CK_SLOT_ID>& sessionSlots() {
  static std::map<CK_SESSION_HANDLE, CK_SLOT_ID> table;
  return table;
}

// The labels of the vanished tokens, one a line.
std::vector<std::string> vanishedLabels() {
  const char* path = std::getenv("KC_FAULTY_PKCS11_VANISHED_FILE");
  if (path == nullptr || *path == '\0') return {};
  std::ifstream in(path);
  std::vector<std::string> labels;
  for (std::string line; std::getline(in, line);) {
    if (!line.empty()) labels.push_back(line);
  }
  return labels;
}

bool slotVanished(CK_SLOT_ID slot) {
  const std::vector<std::string> labels = vanishedLabels();
  if (labels.empty()) return false;
  CK_TOKEN_INFO info{};
  if (gReal->C_GetTokenInfo(slot, &info) != CKR_OK) return false;
  std::string actual(reinterpret_cast<const char*>(info.label), sizeof info.label);
  actual.erase(actual.find_last_not_of(' ') + 1);
  return std::find(labels.begin(), labels.end(), actual) != labels.end();
}

bool sessionVanished(CK_SESSION_HANDLE session) {
  CK_SLOT_ID slot = 0;
  {
    std::lock_guard lock(gMutex);
    auto it = sessionSlots().find(session);
    if (it == sessionSlots().end()) return false;
    slot = it->second;
  }
  return slotVanished(slot);
}

// CKR_OK to go on to the real module, or the injected code.
CK_RV takeFault(const char* function) {
  std::lock_guard lock(gMutex);
  ++calls()[function];
  auto it = faults().find(function);
  if (it == faults().end() || it->second.remaining == 0) return CKR_OK;
  --it->second.remaining;
  return it->second.rv;
}

// A wrapped call on session `s`: an injected fault, or CKR_DEVICE_REMOVED while its token
// has vanished, or the real module's answer.
#define KC_WRAP_SESSION(name, params, args)            \
  CK_RV Faulty_##name params {                         \
    if (CK_RV rv = takeFault(#name)) return rv;        \
    if (sessionVanished(s)) return CKR_DEVICE_REMOVED; \
    return gReal->name args;                           \
  }

CK_RV Faulty_C_OpenSession(CK_SLOT_ID slot, CK_FLAGS flags, void* app, CK_NOTIFY notify,
                           CK_SESSION_HANDLE_PTR s) {
  if (CK_RV rv = takeFault("C_OpenSession")) return rv;
  if (slotVanished(slot)) return CKR_TOKEN_NOT_PRESENT;
  const CK_RV rv = gReal->C_OpenSession(slot, flags, app, notify, s);
  if (rv == CKR_OK) {
    std::lock_guard lock(gMutex);
    sessionSlots()[*s] = slot;
  }
  return rv;
}

CK_RV Faulty_C_CloseSession(CK_SESSION_HANDLE s) {
  {
    std::lock_guard lock(gMutex);
    sessionSlots().erase(s);
  }
  return gReal->C_CloseSession(s);
}
KC_WRAP_SESSION(C_Login, (CK_SESSION_HANDLE s, CK_USER_TYPE u, CK_UTF8CHAR_PTR pin, CK_ULONG len),
                (s, u, pin, len))
KC_WRAP_SESSION(C_GetSessionInfo, (CK_SESSION_HANDLE s, CK_SESSION_INFO_PTR info), (s, info))
KC_WRAP_SESSION(C_FindObjectsInit, (CK_SESSION_HANDLE s, CK_ATTRIBUTE_PTR t, CK_ULONG n), (s, t, n))
KC_WRAP_SESSION(C_EncryptInit, (CK_SESSION_HANDLE s, CK_MECHANISM_PTR m, CK_OBJECT_HANDLE k),
                (s, m, k))
KC_WRAP_SESSION(C_Encrypt,
                (CK_SESSION_HANDLE s, CK_BYTE_PTR in, CK_ULONG inLen, CK_BYTE_PTR out,
                 CK_ULONG_PTR outLen),
                (s, in, inLen, out, outLen))
KC_WRAP_SESSION(C_DecryptInit, (CK_SESSION_HANDLE s, CK_MECHANISM_PTR m, CK_OBJECT_HANDLE k),
                (s, m, k))
KC_WRAP_SESSION(C_Decrypt,
                (CK_SESSION_HANDLE s, CK_BYTE_PTR in, CK_ULONG inLen, CK_BYTE_PTR out,
                 CK_ULONG_PTR outLen),
                (s, in, inLen, out, outLen))
KC_WRAP_SESSION(C_SignInit, (CK_SESSION_HANDLE s, CK_MECHANISM_PTR m, CK_OBJECT_HANDLE k),
                (s, m, k))
KC_WRAP_SESSION(C_Sign,
                (CK_SESSION_HANDLE s, CK_BYTE_PTR in, CK_ULONG inLen, CK_BYTE_PTR out,
                 CK_ULONG_PTR outLen),
                (s, in, inLen, out, outLen))
KC_WRAP_SESSION(C_FindObjects,
                (CK_SESSION_HANDLE s, CK_OBJECT_HANDLE_PTR objects, CK_ULONG max,
                 CK_ULONG_PTR count),
                (s, objects, max, count))
KC_WRAP_SESSION(C_GetAttributeValue,
                (CK_SESSION_HANDLE s, CK_OBJECT_HANDLE o, CK_ATTRIBUTE_PTR t, CK_ULONG n),
                (s, o, t, n))
#undef KC_WRAP_SESSION

CK_RV loadReal() {
  if (gReal != nullptr) return CKR_OK;
  const char* target = std::getenv("KC_FAULTY_PKCS11_TARGET");
  void* library = dlopen(target && *target ? target : KC_TEST_PKCS11_MODULE, RTLD_NOW | RTLD_LOCAL);
  if (library == nullptr) return CKR_GENERAL_ERROR;
  auto get = reinterpret_cast<CK_C_GetFunctionList>(dlsym(library, "C_GetFunctionList"));
  if (get == nullptr || get(&gReal) != CKR_OK) return CKR_GENERAL_ERROR;
  gWrapped = *gReal;
  gWrapped.C_OpenSession = Faulty_C_OpenSession;
  gWrapped.C_CloseSession = Faulty_C_CloseSession;
  gWrapped.C_FindObjects = Faulty_C_FindObjects;
  gWrapped.C_GetAttributeValue = Faulty_C_GetAttributeValue;
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
