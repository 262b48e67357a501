#pragma once
// The token this suite's process shares (SoftHSM, or the one KC_TEST_TOKEN names), with a
// wrapping and an audit key generated once (2048 bits, to keep the suite quick).

#include <memory>

#include "kc/pkcs11/RsaKeyPair.h"
#include "kc/pkcs11/SessionPool.h"
#include "support/SoftHsmToken.h"
#include "support/TestToken.h"

namespace kc::test {

TestToken& suiteToken();
std::shared_ptr<pkcs11::SessionPool> suitePool();  // 4 sessions, shared by the suite
const pkcs11::RsaKeyPair& suiteWrapKey();          // label "suite-wrap"
const pkcs11::RsaKeyPair& suiteAuditKey();         // label "suite-audit"

}  // namespace kc::test
