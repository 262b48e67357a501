#pragma once
// The SoftHSM token this suite's process shares, with three wrapping keys generated once
// (2048 bits, to keep the suite quick): the ring's current key, an older key, and a key the
// ring does not hold.

#include <memory>

#include "kc/appliance/KeyRing.h"
#include "kc/pkcs11/RsaKeyPair.h"
#include "kc/pkcs11/SessionPool.h"
#include "support/SoftHsmToken.h"

namespace kc::test {

SoftHsmToken& applianceToken();
std::shared_ptr<pkcs11::SessionPool> appliancePool();  // 4 sessions
const pkcs11::RsaKeyPair& currentWrapKey();            // label "ring-current"
const pkcs11::RsaKeyPair& previousWrapKey();           // label "ring-previous"
const pkcs11::RsaKeyPair& outsiderWrapKey();           // label "outsider", in no ring

// current + previous.
std::shared_ptr<const appliance::KeyRing> suiteRing();

}  // namespace kc::test
