// The session pool's waiting and recovery, on a real token (each of tests/support/TestToken.h).

#include <gtest/gtest.h>

#include <thread>

#include "TokenEnvironment.h"
#include "kc/pkcs11/Pkcs11Uri.h"
#include "kc/pkcs11/SessionPool.h"

namespace kc::pkcs11 {
namespace {

std::vector<std::uint8_t> bytesOf(std::string_view text) {
  return std::vector<std::uint8_t>(text.begin(), text.end());
}

RsaKeyPair wrapKeyOn(const std::shared_ptr<SessionPool>& pool) {
  (void)test::suiteWrapKey();  // make sure it exists
  auto uri = Pkcs11Uri::parse("pkcs11:object=suite-wrap;type=private");
  auto key = RsaKeyPair::find(pool, *uri);
  if (!key) throw std::runtime_error(key.status().toString());
  return *key;
}

TEST(SessionPool, LeaseWaitsThenTimesOutWhenAllSessionsAreBusy) {
  auto pool =
      test::suiteToken().openPool({.size = 1, .checkoutTimeout = std::chrono::milliseconds(100)});
  auto held = pool->lease();
  ASSERT_TRUE(held);
  auto second = pool->lease();
  ASSERT_FALSE(second);
  EXPECT_EQ(second.status().code(), StatusCode::kTimeout);
  EXPECT_EQ(pool->stats().timeouts, 1u);
}

TEST(SessionPool, ReturnedSessionIsHandedToAWaiter) {
  auto pool = test::suiteToken().openPool({.size = 1, .checkoutTimeout = std::chrono::seconds(10)});
  std::optional<SessionPool::Lease> held;
  {
    auto lease = pool->lease();
    ASSERT_TRUE(lease);
    held.emplace(std::move(*lease));
  }
  const CK_SESSION_HANDLE handle = held->handle();
  std::thread releaser([&] {
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
    held.reset();
  });
  auto waited = pool->lease();
  releaser.join();
  ASSERT_TRUE(waited) << waited.status().toString();
  EXPECT_EQ(waited->handle(), handle);
  EXPECT_GE(pool->stats().waits, 1u);
}

TEST(SessionPool, RecoversAfterSessionsAreClosedBehindItsBack) {
  auto pool = test::suiteToken().openPool({.size = 3});
  auto key = wrapKeyOn(pool);
  auto ciphertext = key.encrypt(bytesOf("survives"));
  ASSERT_TRUE(ciphertext);

  // Closing every session of the application also logs the user out.
  ASSERT_EQ(pool->api()->C_CloseAllSessions(pool->slot()), static_cast<CK_RV>(CKR_OK));

  for (int i = 0; i < 6; ++i) {  // more operations than sessions: every one was stale
    auto decrypted = key.decrypt(ciphertext->bytes, ciphertext->hash);
    ASSERT_TRUE(decrypted) << "operation " << i << ": " << decrypted.status().toString();
  }
  EXPECT_GE(pool->stats().recoveries, 1u);
}

TEST(SessionPool, RecoversAfterLogoutBehindItsBack) {
  auto pool = test::suiteToken().openPool({.size = 2});
  auto key = wrapKeyOn(pool);
  {
    auto lease = pool->lease();
    ASSERT_TRUE(lease);
    ASSERT_EQ(pool->api()->C_Logout(lease->handle()), static_cast<CK_RV>(CKR_OK));
  }
  auto ciphertext = key.encrypt(bytesOf("after logout"));
  ASSERT_TRUE(ciphertext);
  auto decrypted = key.decrypt(ciphertext->bytes, ciphertext->hash);
  ASSERT_TRUE(decrypted) << decrypted.status().toString();
}

TEST(SessionPool, RunNamesTheOperationAndTheCode) {
  auto pool = test::suiteToken().openPool({.size = 1});
  Status status = pool->run("C_DecryptInit of nothing", [&](CK_SESSION_HANDLE session) {
    CK_MECHANISM mechanism{CKM_RSA_PKCS_OAEP, nullptr, 0};
    return pool->api()->C_DecryptInit(session, &mechanism, 0xDEADBEEF);
  });
  ASSERT_FALSE(status.isOk());
  EXPECT_NE(status.message().find("C_DecryptInit of nothing"), std::string::npos);
  EXPECT_NE(status.message().find("CKR_"), std::string::npos);
}

TEST(SessionPool, RefusesAnEmptyPool) {
  auto uri = Pkcs11Uri::parse(test::suiteToken().tokenUri());
  auto slot = test::suiteToken().module()->findToken(*uri);
  ASSERT_TRUE(slot);
  auto pool = SessionPool::open(test::suiteToken().module(), *slot,
                                PinSource::fromFile(test::suiteToken().pinFile()), {.size = 0});
  EXPECT_FALSE(pool);
}

}  // namespace
}  // namespace kc::pkcs11
