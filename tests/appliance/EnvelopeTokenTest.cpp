// Sealing and opening envelopes with wrapping keys on a real SoftHSM token, through the key
// ring: round trips, tampering, user binding, keys the ring does not hold, policy on load.

#include <gtest/gtest.h>

#include <string>
#include <vector>

#include "ApplianceTokenEnvironment.h"
#include "kc/appliance/Envelope.h"
#include "kc/appliance/KeyRing.h"
#include "kc/pkcs11/Pkcs11Uri.h"
#include "kc/pkcs11/SessionPool.h"
#include "support/UserIds.h"

namespace kc::appliance {
namespace {

using test::appliancePool;
using test::currentWrapKey;
using test::outsiderWrapKey;
using test::previousWrapKey;
using test::suiteRing;

using test::kAlice;
using test::kBob;

SecretBytes userKey(std::size_t size = 64, std::uint8_t seed = 7) {
  SecretBytes out(size);
  for (std::size_t i = 0; i < size; ++i) out.data()[i] = static_cast<std::uint8_t>(seed * i + 3);
  return out;
}

std::vector<std::uint8_t> sealForAlice(const KeyRing& ring, const SecretBytes& key) {
  auto sealed = ring.seal(kAlice, key);
  EXPECT_TRUE(sealed) << sealed.status().toString();
  return sealed ? *sealed : std::vector<std::uint8_t>{};
}

TEST(EnvelopeToken, SealedKeyOpensForTheSameUser) {
  const auto key = userKey();
  const auto sealed = sealForAlice(*suiteRing(), key);
  auto opened = suiteRing()->open(kAlice, sealed);
  ASSERT_TRUE(opened) << opened.status().toString();
  EXPECT_TRUE(*opened == key);
}

TEST(EnvelopeToken, EnvelopeNamesTheCurrentKeyAndItsOaepHash) {
  const auto sealed = sealForAlice(*suiteRing(), userKey());
  auto parsed = parseEnvelope(sealed);
  ASSERT_TRUE(parsed);
  EXPECT_EQ(parsed->wrappingKeyId, currentWrapKey().id());
  EXPECT_EQ(parsed->oaepHash, currentWrapKey().oaepHash());
  EXPECT_EQ(parsed->wrappedDek.size(), 256u);  // RSA-2048
}

TEST(EnvelopeToken, EachSealWrapsAFreshDek) {
  const auto key = userKey();
  auto first = parseEnvelope(sealForAlice(*suiteRing(), key));
  auto second = parseEnvelope(sealForAlice(*suiteRing(), key));
  ASSERT_TRUE(first && second);
  EXPECT_NE(first->wrappedDek, second->wrappedDek);
  EXPECT_NE(first->ciphertext, second->ciphertext);
}

TEST(EnvelopeToken, EveryFlippedByteIsAnIntegrityFailure) {
  const auto sealed = sealForAlice(*suiteRing(), userKey(32));
  for (std::size_t i = 0; i < sealed.size(); ++i) {
    auto changed = sealed;
    changed[i] ^= 0x01;
    auto opened = suiteRing()->open(kAlice, changed);
    ASSERT_FALSE(opened) << "flipping byte " << i << " still opened the envelope";
    EXPECT_EQ(opened.status().code(), StatusCode::kIntegrity)
        << "byte " << i << ": " << opened.status().toString();
  }
}

TEST(EnvelopeToken, EachHeaderFieldTamperedIsAnIntegrityFailure) {
  const auto sealed = sealForAlice(*suiteRing(), userKey(32));
  const std::size_t keyIdSize = sealed[5];
  const std::size_t wrappedAt = 6 + keyIdSize;
  const std::size_t wrappedSize = (std::size_t{sealed[wrappedAt]} << 8) | sealed[wrappedAt + 1];
  const std::size_t ciphertextLengthAt = wrappedAt + 2 + wrappedSize;
  const struct {
    const char* field;
    std::size_t offset;
  } fields[] = {
      {"magic", 1},
      {"version", 3},
      {"OAEP hash", 4},
      {"key id length", 5},
      {"key id", 6},
      {"wrapped DEK length", wrappedAt + 1},
      {"wrapped DEK", wrappedAt + 2 + wrappedSize / 2},
      {"ciphertext length", ciphertextLengthAt + 1},
      {"nonce", ciphertextLengthAt + 2},
      {"ciphertext", ciphertextLengthAt + 2 + kNonceBytes},
      {"tag", sealed.size() - 1},
  };
  for (const auto& field : fields) {
    for (const std::uint8_t value : {std::uint8_t{0x00}, std::uint8_t{0x02}, std::uint8_t{0xFF}}) {
      auto changed = sealed;
      if (changed[field.offset] == value) continue;
      changed[field.offset] = value;
      auto opened = suiteRing()->open(kAlice, changed);
      ASSERT_FALSE(opened) << field.field << " set to " << int{value} << " still opened";
      EXPECT_EQ(opened.status().code(), StatusCode::kIntegrity)
          << field.field << ": " << opened.status().toString();
    }
  }
}

TEST(EnvelopeToken, RecordCopiedToAnotherUserDoesNotOpen) {
  const auto sealed = sealForAlice(*suiteRing(), userKey());
  auto opened = suiteRing()->open(kBob, sealed);
  ASSERT_FALSE(opened);
  EXPECT_EQ(opened.status().code(), StatusCode::kIntegrity);
}

TEST(EnvelopeToken, TruncatedAndExtendedRecordsAreRefused) {
  auto sealed = sealForAlice(*suiteRing(), userKey());
  auto truncated = std::vector<std::uint8_t>(sealed.begin(), sealed.end() - 1);
  EXPECT_EQ(suiteRing()->open(kAlice, truncated).status().code(), StatusCode::kIntegrity);
  sealed.push_back(0);
  auto extended = suiteRing()->open(kAlice, sealed);
  EXPECT_EQ(extended.status().code(), StatusCode::kIntegrity);
  EXPECT_NE(extended.status().message().find("unexpected bytes"), std::string::npos);
}

TEST(EnvelopeToken, EnvelopeOfAKeyNotInTheRingIsAnIntegrityFailureNamingTheKey) {
  auto outsiderRing = KeyRing::create(outsiderWrapKey());
  ASSERT_TRUE(outsiderRing);
  const auto sealed = sealForAlice(*outsiderRing, userKey());
  auto opened = suiteRing()->open(kAlice, sealed);
  ASSERT_FALSE(opened);
  EXPECT_EQ(opened.status().code(), StatusCode::kIntegrity);
  EXPECT_NE(opened.status().message().find(outsiderWrapKey().idHex()), std::string::npos)
      << opened.status().message();
  EXPECT_NE(opened.status().message().find("not in the key ring"), std::string::npos);
}

TEST(EnvelopeToken, OlderKeyOfTheRingStillOpensItsRecords) {
  auto oldRing = KeyRing::create(previousWrapKey());
  ASSERT_TRUE(oldRing);
  const auto key = userKey(100, 3);
  const auto sealed = sealForAlice(*oldRing, key);
  auto opened = suiteRing()->open(kAlice, sealed);
  ASSERT_TRUE(opened) << opened.status().toString();
  EXPECT_TRUE(*opened == key);
}

TEST(EnvelopeToken, OpeningWithAKeyOtherThanTheNamedOneIsRefused) {
  auto parsed = parseEnvelope(sealForAlice(*suiteRing(), userKey()));
  ASSERT_TRUE(parsed);
  auto opened = openEnvelope(previousWrapKey(), kAlice, *parsed);
  EXPECT_EQ(opened.status().code(), StatusCode::kIntegrity);
}

TEST(EnvelopeToken, WrappedDekOfAnotherEnvelopeDoesNotOpen) {
  auto first = parseEnvelope(sealForAlice(*suiteRing(), userKey(32, 1)));
  auto second = parseEnvelope(sealForAlice(*suiteRing(), userKey(32, 2)));
  ASSERT_TRUE(first && second);
  first->wrappedDek = second->wrappedDek;
  auto bytes = serializeEnvelope(*first);
  ASSERT_TRUE(bytes);
  EXPECT_EQ(suiteRing()->open(kAlice, *bytes).status().code(), StatusCode::kIntegrity);
}

TEST(EnvelopeToken, SealRefusesAnEmptyKey) {
  auto sealed = suiteRing()->seal(kAlice, SecretBytes());
  EXPECT_EQ(sealed.status().code(), StatusCode::kInvalidArgument);
}

TEST(KeyRing, FindsKeysByIdAndReportsUnknownIdsAsNotFound) {
  auto found = suiteRing()->find(previousWrapKey().id());
  ASSERT_TRUE(found);
  EXPECT_EQ(found->label(), "ring-previous");
  EXPECT_EQ(suiteRing()->current().label(), "ring-current");
  const std::vector<std::uint8_t> unknown = {0xde, 0xad};
  auto missing = suiteRing()->find(unknown);
  ASSERT_FALSE(missing);
  EXPECT_EQ(missing.status().code(), StatusCode::kNotFound);
  EXPECT_NE(missing.status().message().find("dead"), std::string::npos);
}

TEST(KeyRing, RefusesTwoKeysWithTheSameId) {
  auto ring = KeyRing::create(currentWrapKey(), {previousWrapKey(), currentWrapKey()});
  ASSERT_FALSE(ring);
  EXPECT_EQ(ring.status().code(), StatusCode::kInvalidArgument);
}

TEST(KeyRing, FindKeyRingLoadsCurrentAndPreviousKeysByUri) {
  (void)currentWrapKey(), (void)previousWrapKey();
  auto ring = findKeyRing(appliancePool(), {.currentKeyUri = "pkcs11:object=ring-current",
                                            .previousKeyUris = {"pkcs11:object=ring-previous"}});
  ASSERT_TRUE(ring) << ring.status().toString();
  EXPECT_EQ(ring->current().id(), currentWrapKey().id());
  ASSERT_EQ(ring->keys().size(), 2u);
  EXPECT_EQ(ring->keys()[1].id(), previousWrapKey().id());
}

TEST(KeyRing, FindKeyRingNamesAMissingKeyUri) {
  auto ring = findKeyRing(appliancePool(), {.currentKeyUri = "pkcs11:object=no-such-key"});
  ASSERT_FALSE(ring);
  EXPECT_NE(ring.status().message().find("no-such-key"), std::string::npos)
      << ring.status().message();
}

TEST(KeyRing, NoncompliantKeyIsRefusedUnlessTheDevelopmentFlagAllowsIt) {
  // A wrapping key generated with CKA_EXTRACTABLE=true breaks the policy.
  test::generateRawKeyPair(*appliancePool(), "extractable-wrap", true, true, 0x42);
  auto refused = findKeyRing(appliancePool(), {.currentKeyUri = "pkcs11:object=extractable-wrap"});
  ASSERT_FALSE(refused);
  EXPECT_EQ(refused.status().code(), StatusCode::kPolicyViolation);
  EXPECT_NE(refused.status().message().find("extractable-wrap"), std::string::npos);

  auto allowed = findKeyRing(appliancePool(), {.currentKeyUri = "pkcs11:object=extractable-wrap",
                                               .allowNoncompliantKeys = true});
  ASSERT_TRUE(allowed) << allowed.status().toString();
  const auto key = userKey();
  auto sealed = allowed->seal(kAlice, key);
  ASSERT_TRUE(sealed);
  auto opened = allowed->open(kAlice, *sealed);
  ASSERT_TRUE(opened);
  EXPECT_TRUE(*opened == key);
}

}  // namespace
}  // namespace kc::appliance
