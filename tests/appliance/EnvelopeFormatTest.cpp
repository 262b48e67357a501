// The envelope's binary format and its AES-256-GCM half, without a token: strict parsing,
// serialisation bounds, and the binding of the ciphertext to the header and the user id.

#include <gtest/gtest.h>

#include <string>
#include <vector>

#include "kc/appliance/Envelope.h"
#include "support/UserIds.h"

namespace kc::appliance {
namespace {

using test::kAlice;
using test::kBob;

SecretBytes filledSecret(std::size_t size, std::uint8_t seed) {
  SecretBytes out(size);
  for (std::size_t i = 0; i < size; ++i) out.data()[i] = static_cast<std::uint8_t>(seed + i);
  return out;
}

Envelope headerOnly() {
  Envelope envelope;
  envelope.oaepHash = pkcs11::OaepHash::kSha1;
  envelope.wrappingKeyId = {0x01, 0x02, 0x03, 0x04};
  envelope.wrappedDek.assign(256, 0xAB);
  return envelope;
}

// A well-formed envelope whose user key is sealed under `dek` for `userId`.
std::vector<std::uint8_t> sealedBytes(const SecretBytes& dek, const UserId& userId,
                                      const SecretBytes& userKey) {
  Envelope envelope = headerOnly();
  EXPECT_TRUE(encryptUserKey(envelope, dek, userId, userKey).isOk());
  auto bytes = serializeEnvelope(envelope);
  EXPECT_TRUE(bytes) << bytes.status().toString();
  return *bytes;
}

bool sameSecret(const SecretBytes& a, const SecretBytes& b) {
  return a == b;
}

TEST(EnvelopeFormat, SerializedEnvelopeParsesBackToTheSameFields) {
  const auto dek = filledSecret(kDekBytes, 1);
  const auto bytes = sealedBytes(dek, kAlice, filledSecret(64, 9));
  auto parsed = parseEnvelope(bytes);
  ASSERT_TRUE(parsed) << parsed.status().toString();
  EXPECT_EQ(parsed->oaepHash, pkcs11::OaepHash::kSha1);
  EXPECT_EQ(parsed->wrappingKeyId, headerOnly().wrappingKeyId);
  EXPECT_EQ(parsed->wrappedDek, headerOnly().wrappedDek);
  EXPECT_EQ(parsed->ciphertext.size(), 64u);
  auto again = serializeEnvelope(*parsed);
  ASSERT_TRUE(again);
  EXPECT_EQ(*again, bytes);
}

TEST(EnvelopeFormat, LayoutStartsWithMagicVersionHashAndKeyId) {
  const auto bytes = sealedBytes(filledSecret(kDekBytes, 1), kAlice, filledSecret(32, 2));
  ASSERT_GE(bytes.size(), 10u);
  EXPECT_EQ(bytes[0], 'K');
  EXPECT_EQ(bytes[1], 'C');
  EXPECT_EQ(bytes[2], 'E');
  EXPECT_EQ(bytes[3], 1);  // version
  EXPECT_EQ(bytes[4], static_cast<std::uint8_t>(pkcs11::OaepHash::kSha1));
  EXPECT_EQ(bytes[5], 4);  // key id length
  EXPECT_EQ(bytes[6], 0x01);
  EXPECT_EQ(bytes[10], 0x01);  // wrapped DEK length 256, big-endian
  EXPECT_EQ(bytes[11], 0x00);
  EXPECT_EQ(bytes.size(), 3u + 1 + 1 + 1 + 4 + 2 + 256 + 2 + kNonceBytes + 32 + kTagBytes);
}

TEST(EnvelopeFormat, GcmHalfRoundTripsForTheSameUser) {
  const auto dek = filledSecret(kDekBytes, 1);
  const auto key = filledSecret(64, 9);
  auto parsed = parseEnvelope(sealedBytes(dek, kAlice, key));
  ASSERT_TRUE(parsed);
  auto opened = decryptUserKey(*parsed, dek, kAlice);
  ASSERT_TRUE(opened) << opened.status().toString();
  EXPECT_TRUE(sameSecret(*opened, key));
}

TEST(EnvelopeFormat, GcmHalfRefusesAnotherUsersId) {
  const auto dek = filledSecret(kDekBytes, 1);
  auto parsed = parseEnvelope(sealedBytes(dek, kAlice, filledSecret(64, 9)));
  ASSERT_TRUE(parsed);
  auto opened = decryptUserKey(*parsed, dek, kBob);
  ASSERT_FALSE(opened);
  EXPECT_EQ(opened.status().code(), StatusCode::kIntegrity);
}

TEST(EnvelopeFormat, GcmHalfRefusesAnotherDek) {
  auto parsed = parseEnvelope(sealedBytes(filledSecret(kDekBytes, 1), kAlice, filledSecret(64, 9)));
  ASSERT_TRUE(parsed);
  auto opened = decryptUserKey(*parsed, filledSecret(kDekBytes, 2), kAlice);
  ASSERT_FALSE(opened);
  EXPECT_EQ(opened.status().code(), StatusCode::kIntegrity);
}

TEST(EnvelopeFormat, EveryFlippedByteFailsToParseOrToAuthenticate) {
  const auto dek = filledSecret(kDekBytes, 1);
  const auto bytes = sealedBytes(dek, kAlice, filledSecret(48, 9));
  for (std::size_t i = 0; i < bytes.size(); ++i) {
    for (const int mask : {0x01, 0x80}) {
      auto changed = bytes;
      changed[i] = static_cast<std::uint8_t>(changed[i] ^ mask);
      auto parsed = parseEnvelope(changed);
      if (!parsed) {
        EXPECT_EQ(parsed.status().code(), StatusCode::kIntegrity) << "byte " << i;
        continue;
      }
      auto opened = decryptUserKey(*parsed, dek, kAlice);
      ASSERT_FALSE(opened) << "byte " << i << " mask " << mask << " still opened";
      EXPECT_EQ(opened.status().code(), StatusCode::kIntegrity) << "byte " << i;
    }
  }
}

TEST(EnvelopeFormat, UnknownVersionIsRefusedNamingTheVersion) {
  auto bytes = sealedBytes(filledSecret(kDekBytes, 1), kAlice, filledSecret(32, 2));
  bytes[3] = 7;
  auto parsed = parseEnvelope(bytes);
  ASSERT_FALSE(parsed);
  EXPECT_EQ(parsed.status().code(), StatusCode::kIntegrity);
  EXPECT_NE(parsed.status().message().find("version 7"), std::string::npos)
      << parsed.status().message();
  EXPECT_NE(parsed.status().message().find("reads version 1"), std::string::npos);
}

TEST(EnvelopeFormat, WrongMagicIsRefused) {
  auto bytes = sealedBytes(filledSecret(kDekBytes, 1), kAlice, filledSecret(32, 2));
  bytes[0] = 'X';
  auto parsed = parseEnvelope(bytes);
  ASSERT_FALSE(parsed);
  EXPECT_NE(parsed.status().message().find("magic"), std::string::npos);
}

TEST(EnvelopeFormat, EveryTruncationIsRefusedAsDamaged) {
  const auto bytes = sealedBytes(filledSecret(kDekBytes, 1), kAlice, filledSecret(32, 2));
  for (std::size_t size = 0; size < bytes.size(); ++size) {
    auto parsed = parseEnvelope(std::span(bytes.data(), size));
    ASSERT_FALSE(parsed) << "a prefix of " << size << " bytes parsed";
    EXPECT_EQ(parsed.status().code(), StatusCode::kIntegrity);
  }
}

TEST(EnvelopeFormat, TrailingBytesAreRefused) {
  auto bytes = sealedBytes(filledSecret(kDekBytes, 1), kAlice, filledSecret(32, 2));
  bytes.push_back(0);
  auto parsed = parseEnvelope(bytes);
  ASSERT_FALSE(parsed);
  EXPECT_EQ(parsed.status().code(), StatusCode::kIntegrity);
  EXPECT_NE(parsed.status().message().find("1 unexpected bytes after the tag"), std::string::npos)
      << parsed.status().message();
}

TEST(EnvelopeFormat, ZeroLengthFieldsAreRefused) {
  const auto bytes = sealedBytes(filledSecret(kDekBytes, 1), kAlice, filledSecret(32, 2));
  auto noKeyId = bytes;
  noKeyId[5] = 0;
  EXPECT_FALSE(parseEnvelope(noKeyId));
  auto noWrappedDek = bytes;
  noWrappedDek[10] = 0;
  noWrappedDek[11] = 0;
  EXPECT_FALSE(parseEnvelope(noWrappedDek));
}

TEST(EnvelopeFormat, UnknownOaepHashIsRefused) {
  auto bytes = sealedBytes(filledSecret(kDekBytes, 1), kAlice, filledSecret(32, 2));
  bytes[4] = 9;
  auto parsed = parseEnvelope(bytes);
  ASSERT_FALSE(parsed);
  EXPECT_NE(parsed.status().message().find("OAEP hash"), std::string::npos);
}

TEST(EnvelopeFormat, SerializeRefusesFieldsTheParserWouldRefuse) {
  Envelope envelope = headerOnly();
  envelope.ciphertext.assign(16, 1);
  EXPECT_TRUE(serializeEnvelope(envelope));
  auto longId = envelope;
  longId.wrappingKeyId.assign(kMaxKeyIdBytes + 1, 1);
  EXPECT_EQ(serializeEnvelope(longId).status().code(), StatusCode::kInvalidArgument);
  auto noDek = envelope;
  noDek.wrappedDek.clear();
  EXPECT_EQ(serializeEnvelope(noDek).status().code(), StatusCode::kInvalidArgument);
  auto noCiphertext = envelope;
  noCiphertext.ciphertext.clear();
  EXPECT_EQ(serializeEnvelope(noCiphertext).status().code(), StatusCode::kInvalidArgument);
  auto hugeCiphertext = envelope;
  hugeCiphertext.ciphertext.assign(kMaxSealedKeyBytes + 1, 1);
  EXPECT_EQ(serializeEnvelope(hugeCiphertext).status().code(), StatusCode::kInvalidArgument);
}

TEST(EnvelopeFormat, EachSealUsesAFreshNonce) {
  const auto dek = filledSecret(kDekBytes, 1);
  auto first = parseEnvelope(sealedBytes(dek, kAlice, filledSecret(32, 2)));
  auto second = parseEnvelope(sealedBytes(dek, kAlice, filledSecret(32, 2)));
  ASSERT_TRUE(first && second);
  EXPECT_NE(first->nonce, second->nonce);
  EXPECT_NE(first->ciphertext, second->ciphertext);
}

// A known answer computed independently (Python's cryptography AESGCM) from the layout and the
// associated data DESIGN.md and Envelope.h describe: DEK 00..1f, nonce 00..0b, key id aabb,
// wrapped DEK 010203, OAEP SHA-256, user key 64..73 (hex), sealed for kAlice.
TEST(EnvelopeFormat, OpensAnEnvelopeMadeByAnIndependentImplementation) {
  const std::string hex =
      "4b4345010202aabb00030102030010000102030405060708090a0b2367b07cad8ca870e12cf9e4c1980a1ee5"
      "07fc3b9d9580ad6d7783a2aa029194";
  std::vector<std::uint8_t> bytes;
  for (std::size_t i = 0; i < hex.size(); i += 2) {
    bytes.push_back(static_cast<std::uint8_t>(std::stoi(hex.substr(i, 2), nullptr, 16)));
  }
  auto parsed = parseEnvelope(bytes);
  ASSERT_TRUE(parsed) << parsed.status().toString();
  EXPECT_EQ(parsed->oaepHash, pkcs11::OaepHash::kSha256);
  EXPECT_EQ(parsed->wrappingKeyId, (std::vector<std::uint8_t>{0xaa, 0xbb}));
  SecretBytes dek(kDekBytes);
  for (std::size_t i = 0; i < dek.size(); ++i) dek.data()[i] = static_cast<std::uint8_t>(i);
  auto opened = decryptUserKey(*parsed, dek, kAlice);
  ASSERT_TRUE(opened) << opened.status().toString();
  SecretBytes expected(16);
  for (std::size_t i = 0; i < 16; ++i) expected.data()[i] = static_cast<std::uint8_t>(100 + i);
  EXPECT_TRUE(*opened == expected);
  EXPECT_FALSE(decryptUserKey(*parsed, dek, kBob));
}

TEST(EnvelopeFormat, AssociatedDataBindsDomainHeaderAndUser) {
  Envelope envelope = headerOnly();
  envelope.ciphertext.assign(16, 1);
  const auto forAlice = envelopeAssociatedData(envelope, kAlice);
  const auto forBob = envelopeAssociatedData(envelope, kBob);
  EXPECT_NE(forAlice, forBob);
  const std::string text(forAlice.begin(), forAlice.end());
  EXPECT_EQ(text.rfind(std::string(kAssociatedDataDomain), 0), 0u);
  EXPECT_EQ(text.substr(text.size() - kAlice.str().size()), kAlice.str());
}

}  // namespace
}  // namespace kc::appliance
