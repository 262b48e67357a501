#pragma once
// Control of the fault-injecting PKCS#11 module, from the test that loaded it. Another process
// (a daemon under test) is controlled through a file instead: while the file named by
// $KC_FAULTY_PKCS11_VANISHED_FILE holds a token's label (one a line), that token behaves as removed
// (its slot CKR_TOKEN_NOT_PRESENT, its sessions CKR_DEVICE_REMOVED); empty the file and it is back.

#include <p11-kit/pkcs11.h>

extern "C" {
// The next `times` calls of `function` (e.g. "C_Decrypt") return `rv` without reaching
// the real module.
void kc_faulty_pkcs11_inject(const char* function, CK_RV rv, int times);
// Forgets every pending fault and resets the call counters.
void kc_faulty_pkcs11_reset();
// Calls of `function` since the last reset, faulted or not.
int kc_faulty_pkcs11_calls(const char* function);
}

#include <dlfcn.h>

namespace kc::test {

// The control functions of the fault module this process has already loaded (through a
// SoftHsmToken on KC_FAULTY_PKCS11_PATH). bind() fills them; all three are null if it is not
// loaded.
struct FaultControl {
  decltype(&kc_faulty_pkcs11_inject) inject = nullptr;
  decltype(&kc_faulty_pkcs11_reset) reset = nullptr;
  decltype(&kc_faulty_pkcs11_calls) calls = nullptr;

  static FaultControl bind(const char* modulePath) {
    FaultControl control;
    void* handle = dlopen(modulePath, RTLD_NOW | RTLD_NOLOAD);
    if (handle == nullptr) return control;
    control.inject =
        reinterpret_cast<decltype(control.inject)>(dlsym(handle, "kc_faulty_pkcs11_inject"));
    control.reset =
        reinterpret_cast<decltype(control.reset)>(dlsym(handle, "kc_faulty_pkcs11_reset"));
    control.calls =
        reinterpret_cast<decltype(control.calls)>(dlsym(handle, "kc_faulty_pkcs11_calls"));
    return control;
  }
  bool bound() const { return inject && reset && calls; }
};

}  // namespace kc::test
