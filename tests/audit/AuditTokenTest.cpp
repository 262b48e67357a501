// Checkpoints signed on a real SoftHSM token by an audit key, verified by kc-audit with the
// exported PEM public key.

#include <gtest/gtest.h>

#include "AuditTestSupport.h"
#include "kc/audit/AuditLog.h"
#include "kc/audit/AuditVerifier.h"
#include "kc/pkcs11/KeyGeneration.h"
#include "support/SoftHsmToken.h"
#include "support/Subprocess.h"
#include "support/TempDir.h"

namespace kc::audit {
namespace {

test::SoftHsmToken& token() {
  static test::SoftHsmToken instance("kc-audit-test");
  return instance;
}

std::shared_ptr<pkcs11::SessionPool> pool() {
  static auto sessions = token().openPool({.size = 2});
  return sessions;
}

pkcs11::RsaKeyPair generate(pkcs11::KeyPurpose purpose, const std::string& label) {
  auto key = pkcs11::generateKeyPair(pool(), {.purpose = purpose, .bits = 2048, .label = label});
  if (!key) throw std::runtime_error(key.status().toString());
  return *key;
}

const pkcs11::RsaKeyPair& auditKey() {
  static auto key = generate(pkcs11::KeyPurpose::kAudit, "audit-suite-audit");
  return key;
}

const pkcs11::RsaKeyPair& wrapKey() {
  static auto key = generate(pkcs11::KeyPurpose::kWrap, "audit-suite-wrap");
  return key;
}

TEST(AuditTokenTest, CheckpointsSignedOnTheTokenVerifyWithTheExportedPublicKey) {
  auto signer = TokenCheckpointSigner::create(auditKey());
  ASSERT_TRUE(signer.isOk()) << signer.status().toString();
  auto info = auditKey().exportPublicKey();
  ASSERT_TRUE(info.isOk());
  EXPECT_EQ((*signer)->keyId(), info->fingerprint);

  test::TempDir dir("kc-audit-token");
  const auto pem = dir / "audit.pem";
  test::writeFile(pem, info->pem);
  {
    auto log = AuditLog::open({.directory = dir / "log",
                               .instance = "kc-token",
                               .signer = std::shared_ptr<CheckpointSigner>(std::move(*signer)),
                               .checkpointInterval = {}});
    ASSERT_TRUE(log.isOk()) << log.status().toString();
    for (int i = 0; i < 5; ++i) ASSERT_TRUE((*log)->append(test::sampleRecord(i)).isOk());
    ASSERT_TRUE((*log)->checkpoint().isOk());
    ASSERT_TRUE((*log)->append(test::sampleRecord(9)).isOk());
    ASSERT_TRUE((*log)->close().isOk());  // the closing checkpoint, also signed on the token
  }
  const auto result = test::runProcess({test::kcAuditPath(), "verify", "--public-key", pem.string(),
                                        (dir / "log" / "audit.log").string()});
  EXPECT_EQ(result.exitCode, 0) << result.out << result.err;
  EXPECT_NE(result.out.find("2 checkpoint(s) verified"), std::string::npos) << result.out;
  EXPECT_NE(result.out.find("INTACT: 0 error(s), 0 warning(s)"), std::string::npos) << result.out;

  // The same log against another key's PEM: every checkpoint is refused.
  test::OpenSslSigner stranger;
  test::writeFile(dir / "other.pem", stranger.publicKeyPem());
  const auto other =
      test::runProcess({test::kcAuditPath(), "verify", "--public-key", (dir / "other.pem").string(),
                        (dir / "log" / "audit.log").string()});
  EXPECT_EQ(other.exitCode, 1) << other.out;
  EXPECT_NE(other.out.find("forged checkpoint"), std::string::npos) << other.out;
}

TEST(AuditTokenTest, TheWrappingKeyCannotSignCheckpoints) {
  auto signer = TokenCheckpointSigner::create(wrapKey());
  ASSERT_FALSE(signer.isOk());
  EXPECT_EQ(signer.status().code(), StatusCode::kPolicyViolation) << signer.status().toString();
}

}  // namespace
}  // namespace kc::audit
