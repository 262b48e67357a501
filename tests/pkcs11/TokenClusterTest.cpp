// TokenCluster and RsaKeyPair::findOnCluster: two SoftHSM tokens holding one imported key pair,
// loaded through the fault-injecting module so that one of them can vanish and return.
#include <gtest/gtest.h>

#include <cstdlib>
#include <fstream>
#include <thread>

#include "FaultyModule.h"
#include "kc/pkcs11/Pkcs11Uri.h"
#include "kc/pkcs11/RsaKeyPair.h"
#include "kc/pkcs11/TokenCluster.h"
#include "support/ImportedKeyPair.h"
#include "support/SoftHsmToken.h"
#include "support/TempDir.h"

namespace kc::pkcs11 {
namespace {

using namespace std::chrono_literals;

class TokenClusterTest : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    dir_ = new test::TempDir("kc-cluster");
    // Read by the fault module at every call: set once, before any token thread runs.
    setenv("KC_FAULTY_PKCS11_VANISHED_FILE", vanishedFile().c_str(), 1);
    vanish("");
    token_ = new test::SoftHsmToken("kc-cluster-a", KC_FAULTY_PKCS11_PATH);
    token_->addToken("kc-cluster-b");
    const auto shared = test::SoftwareRsaKey::generate();
    for (const char* label : {"kc-cluster-a", "kc-cluster-b"}) {
      auto pool = poolOn(label);
      test::importKeyPair(*pool, shared, "cluster-wrap", {0xC1, 0x01});
      test::importKeyPair(*pool, test::SoftwareRsaKey::generate(), "cluster-mismatch",
                          {0xC1, 0x02});
    }
  }

  static std::shared_ptr<SessionPool> poolOn(const std::string& label) {
    auto slot = token_->module()->findToken(*Pkcs11Uri::parse("pkcs11:token=" + label));
    EXPECT_TRUE(slot) << slot.status().toString();
    auto pool = SessionPool::open(token_->module(), *slot, PinSource::fromFile(token_->pinFile()),
                                  {.size = 2, .loginBackoff = 5ms});
    EXPECT_TRUE(pool) << pool.status().toString();
    return *pool;
  }

  static std::shared_ptr<TokenCluster> cluster() {
    return TokenCluster::create({{"a", poolOn("kc-cluster-a")}, {"b", poolOn("kc-cluster-b")}},
                                {.probeInterval = 50ms});
  }

  static std::string vanishedFile() { return (dir_->path() / "vanished").string(); }
  static void vanish(const std::string& label) {
    std::ofstream(vanishedFile() + ".new", std::ios::trunc) << label << "\n";
    std::filesystem::rename(vanishedFile() + ".new", vanishedFile());
  }
  void TearDown() override { vanish(""); }

  static std::uint64_t operations(const TokenCluster& cluster) {
    std::uint64_t total = 0;
    for (const auto& state : cluster.states()) total += state.operations;
    return total;
  }

  static inline test::TempDir* dir_ = nullptr;
  static inline test::SoftHsmToken* token_ = nullptr;
};

TEST_F(TokenClusterTest, SpreadsOperationsOverEveryTokenInRotation) {
  auto tokens = cluster();
  auto key = RsaKeyPair::findOnCluster(tokens, *Pkcs11Uri::parse("pkcs11:object=cluster-wrap"));
  ASSERT_TRUE(key) << key.status().toString();
  ASSERT_EQ(key->replicas().size(), 2u);
  for (int i = 0; i < 20; ++i) {
    auto sealed = key->encrypt(std::vector<std::uint8_t>(32, static_cast<std::uint8_t>(i)));
    ASSERT_TRUE(sealed);
    auto opened = key->decrypt(sealed->bytes, sealed->hash);
    ASSERT_TRUE(opened) << opened.status().toString();
    EXPECT_EQ(opened->data()[0], i);
  }
  for (const auto& state : tokens->states()) {
    EXPECT_GE(state.operations, 10u) << state.name;
    EXPECT_TRUE(state.inRotation);
  }
}

TEST_F(TokenClusterTest, ACiphertextThatDoesNotOpenIsNotRetriedAndTakesNoTokenOut) {
  auto tokens = cluster();
  auto key = RsaKeyPair::findOnCluster(tokens, *Pkcs11Uri::parse("pkcs11:object=cluster-wrap"));
  ASSERT_TRUE(key) << key.status().toString();
  const auto before = operations(*tokens);
  auto opened = key->decrypt(std::vector<std::uint8_t>(256, 0x5A), key->oaepHash());
  ASSERT_FALSE(opened);
  EXPECT_EQ(opened.status().code(), StatusCode::kIntegrity) << opened.status().toString();
  EXPECT_EQ(operations(*tokens), before + 1) << "ran on one token only";
  for (const auto& state : tokens->states()) {
    EXPECT_TRUE(state.inRotation) << state.name;
    EXPECT_EQ(state.failures, 0u) << state.name;
  }
}

TEST_F(TokenClusterTest, AVanishedTokenLeavesRotationItsOperationRunsOnTheOtherAndItReturns) {
  auto tokens = cluster();
  auto key = RsaKeyPair::findOnCluster(tokens, *Pkcs11Uri::parse("pkcs11:object=cluster-wrap"));
  ASSERT_TRUE(key) << key.status().toString();
  auto sealed = key->encrypt(std::vector<std::uint8_t>(32, 7));
  ASSERT_TRUE(sealed);

  vanish("kc-cluster-b");
  for (int i = 0; i < 10; ++i) {
    auto opened = key->decrypt(sealed->bytes, sealed->hash);
    ASSERT_TRUE(opened) << "attempt " << i << ": " << opened.status().toString();
  }
  auto states = tokens->states();
  EXPECT_TRUE(states[0].inRotation);
  EXPECT_FALSE(states[1].inRotation);
  EXPECT_EQ(states[1].failures, 1u) << "out of rotation after its first failure";
  EXPECT_NE(states[1].lastFailure.find("UNAVAILABLE"), std::string::npos) << states[1].lastFailure;

  vanish("");
  const auto start = std::chrono::steady_clock::now();
  while (!tokens->states()[1].inRotation && std::chrono::steady_clock::now() - start < 3s) {
    std::this_thread::sleep_for(5ms);
  }
  EXPECT_TRUE(tokens->states()[1].inRotation);
  EXPECT_LT(std::chrono::steady_clock::now() - start, 1s);
  EXPECT_EQ(tokens->states()[1].returns, 1u);
}

TEST_F(TokenClusterTest, WithNoTokenInRotationAnOperationIsUnavailableNamingTheTokens) {
  auto tokens = cluster();
  auto key = RsaKeyPair::findOnCluster(tokens, *Pkcs11Uri::parse("pkcs11:object=cluster-wrap"));
  ASSERT_TRUE(key) << key.status().toString();
  auto sealed = key->encrypt(std::vector<std::uint8_t>(32, 7));
  ASSERT_TRUE(sealed);
  std::ofstream(vanishedFile() + ".new", std::ios::trunc) << "kc-cluster-a\nkc-cluster-b\n";
  std::filesystem::rename(vanishedFile() + ".new", vanishedFile());
  auto failed = key->decrypt(sealed->bytes, sealed->hash);
  ASSERT_FALSE(failed);
  EXPECT_EQ(failed.status().code(), StatusCode::kUnavailable);
  auto refused = key->decrypt(sealed->bytes, sealed->hash);
  ASSERT_FALSE(refused);
  EXPECT_EQ(refused.status().code(), StatusCode::kUnavailable);
  EXPECT_NE(refused.status().message().find("no token of the cluster is in rotation (a, b)"),
            std::string::npos)
      << refused.status().toString();
}

TEST_F(TokenClusterTest, AKeyThatDiffersBetweenTokensIsRefusedNamingBoth) {
  auto tokens = cluster();
  auto key = RsaKeyPair::findOnCluster(tokens, *Pkcs11Uri::parse("pkcs11:object=cluster-mismatch"));
  ASSERT_FALSE(key);
  EXPECT_EQ(key.status().code(), StatusCode::kConflict);
  EXPECT_NE(key.status().message().find("not the same key on token b as on token a: public key"),
            std::string::npos)
      << key.status().toString();
}

}  // namespace
}  // namespace kc::pkcs11
