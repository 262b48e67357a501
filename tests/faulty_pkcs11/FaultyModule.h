#pragma once
// Control of the fault-injecting PKCS#11 module, from the test that loaded it.

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
