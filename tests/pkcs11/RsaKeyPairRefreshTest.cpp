// Looking a key up again when the token invalidates its handles, while other threads use
// the key. Faults come from the fault-injecting module; run this suite under
// ThreadSanitizer (KC_SANITIZE=thread) to check that a refresh races with nothing.

#include <gtest/gtest.h>

#include <atomic>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "FaultyModule.h"
#include "kc/pkcs11/KeyGeneration.h"
#include "kc/pkcs11/Pkcs11Uri.h"
#include "support/SoftHsmToken.h"
#include "support/TestToken.h"

namespace kc::pkcs11 {
namespace {

using test::FaultControl;

std::vector<std::uint8_t> bytesOf(std::string_view text) {
  return std::vector<std::uint8_t>(text.begin(), text.end());
}

bool sameBytes(const SecretBytes& secret, const std::vector<std::uint8_t>& plain) {
  return secret.size() == plain.size() && std::equal(plain.begin(), plain.end(), secret.data());
}

class RsaKeyPairRefresh : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    token_ = test::makeTestToken("kc-refresh", KC_FAULTY_PKCS11_PATH).release();
    control_ = FaultControl::bind(KC_FAULTY_PKCS11_PATH);
    ASSERT_TRUE(control_.bound());
    pool_ = token_->openPool({.size = 4, .loginBackoff = std::chrono::milliseconds(5)});
  }
  // The pool's sessions are closed while SoftHSM is still alive, not by a static
  // destructor after the module's own have run.
  static void TearDownTestSuite() { pool_.reset(); }
  void SetUp() override { control_.reset(); }
  void TearDown() override { control_.reset(); }

  // Destroys every object labelled `label`, behind the back of any RsaKeyPair using it.
  static void destroyObjectsLabelled(const std::string& label) {
    std::string text = label;
    Status destroyed = pool_->run("destroy " + label, [&](CK_SESSION_HANDLE session) {
      auto* api = pool_->api();
      CK_ATTRIBUTE query{CKA_LABEL, text.data(), text.size()};
      CK_RV rv = api->C_FindObjectsInit(session, &query, 1);
      if (rv != CKR_OK) return rv;
      CK_OBJECT_HANDLE found[8];
      CK_ULONG count = 0;
      rv = api->C_FindObjects(session, found, std::size(found), &count);
      api->C_FindObjectsFinal(session);
      for (CK_ULONG i = 0; rv == CKR_OK && i < count; ++i) {
        rv = api->C_DestroyObject(session, found[i]);
      }
      return rv;
    });
    ASSERT_TRUE(destroyed.isOk()) << destroyed.toString();
  }

  static inline test::TestToken* token_ = nullptr;
  static inline std::shared_ptr<SessionPool> pool_;
  static inline FaultControl control_{};
};

TEST_F(RsaKeyPairRefresh, DecryptsInOtherThreadsSucceedWhileHandlesAreRefreshed) {
  auto key = generateKeyPair(pool_, {.bits = 2048, .label = "refresh-wrap"});
  ASSERT_TRUE(key) << key.status().toString();
  const std::string label = key->label();
  const std::vector<std::uint8_t> id = key->id();
  const std::string idHex = key->idHex();
  const auto plain = bytesOf("a user key that must come back..");
  auto ciphertext = key->encrypt(plain);
  ASSERT_TRUE(ciphertext) << ciphertext.status().toString();
  control_.reset();

  // Decrypting threads see no fault; the refreshing thread makes the token report its
  // key handle lost on every encryption, so each encryption refreshes the handles.
  constexpr int kDecryptThreads = 3;
  constexpr int kRefreshes = 100;
  std::atomic<bool> stop{false};
  std::atomic<int> running{0};
  std::atomic<int> decrypts{0};
  std::mutex errorsMutex;
  std::vector<std::string> errors;
  auto fail = [&](std::string error) {
    std::lock_guard lock(errorsMutex);
    errors.push_back(std::move(error));
  };

  std::vector<std::thread> decrypters;
  for (int t = 0; t < kDecryptThreads; ++t) {
    decrypters.emplace_back([&] {
      bool counted = false;
      while (!stop.load()) {
        auto opened = key->decrypt(ciphertext->bytes, ciphertext->hash);
        if (!opened) {
          fail("decrypt: " + opened.status().toString());
        } else if (!sameBytes(*opened, plain)) {
          fail("decrypt returned the wrong plaintext");
        }
        if (key->label() != label || key->id() != id || key->idHex() != idHex) {
          fail("what find() learnt changed under a refresh");
        }
        decrypts.fetch_add(1);
        if (!counted) {
          counted = true;
          running.fetch_add(1);
        }
      }
    });
  }
  while (running.load() < kDecryptThreads) std::this_thread::yield();

  const int decryptsBefore = decrypts.load();
  for (int i = 0; i < kRefreshes; ++i) {
    control_.inject("C_EncryptInit",
                    i % 2 == 0 ? CKR_KEY_HANDLE_INVALID : CKR_OBJECT_HANDLE_INVALID, 1);
    auto encrypted = key->encrypt(plain);
    if (!encrypted) fail("encrypt: " + encrypted.status().toString());
  }
  const int decryptsDuring = decrypts.load() - decryptsBefore;
  stop.store(true);
  for (auto& thread : decrypters) thread.join();

  EXPECT_TRUE(errors.empty()) << errors.size() << " failures, first: " << errors.front();
  // Every encryption failed once on its handle, refreshed, and succeeded on the retry.
  EXPECT_EQ(control_.calls("C_EncryptInit"), 2 * kRefreshes);
  EXPECT_GE(control_.calls("C_FindObjectsInit"), 2 * kRefreshes) << "private and public key";
  EXPECT_GT(decryptsDuring, 0) << "no decryption overlapped the refreshes";
  EXPECT_EQ(key->label(), label);
  EXPECT_EQ(key->idHex(), idHex);
}

TEST_F(RsaKeyPairRefresh, KeyReplacedOnTheTokenIsAnErrorNotASilentSwap) {
  test::generateRawKeyPair(*pool_, "replaced", false, true, 0x01);
  auto uri = Pkcs11Uri::parse("pkcs11:object=replaced;type=private");
  ASSERT_TRUE(uri);
  auto key = RsaKeyPair::find(pool_, *uri);
  ASSERT_TRUE(key) << key.status().toString();
  ASSERT_EQ(key->idHex(), "ee01");
  auto ciphertext = key->encrypt(bytesOf("sealed for the first key"));
  ASSERT_TRUE(ciphertext) << ciphertext.status().toString();

  // Same label, a new CKA_ID: the URI now names another key, whose handles must not be
  // taken in place of the old ones.
  destroyObjectsLabelled("replaced");
  test::generateRawKeyPair(*pool_, "replaced", false, true, 0x02);
  control_.reset();

  auto plaintext = key->decrypt(ciphertext->bytes, ciphertext->hash);
  ASSERT_FALSE(plaintext);
  EXPECT_EQ(plaintext.status().code(), StatusCode::kIntegrity) << plaintext.status().toString();
  EXPECT_NE(plaintext.status().message().find("different key"), std::string::npos)
      << plaintext.status().toString();
  EXPECT_GE(control_.calls("C_FindObjectsInit"), 1) << "the key was not looked up again";
  EXPECT_EQ(key->idHex(), "ee01");
  EXPECT_EQ(key->label(), "replaced");
}

}  // namespace
}  // namespace kc::pkcs11
