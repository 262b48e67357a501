// Key generation, attributes, policy and cryptographic operations on a real token (each of
// tests/support/TestToken.h).

#include <gtest/gtest.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/sha.h>

#include <atomic>
#include <thread>

#include "TokenEnvironment.h"
#include "kc/pkcs11/KeyGeneration.h"
#include "kc/pkcs11/Pkcs11Uri.h"

namespace kc::pkcs11 {
namespace {

using test::suiteAuditKey;
using test::suitePool;
using test::suiteWrapKey;

std::vector<std::uint8_t> bytesOf(std::string_view text) {
  return std::vector<std::uint8_t>(text.begin(), text.end());
}

bool sameBytes(const SecretBytes& secret, const std::vector<std::uint8_t>& plain) {
  return secret.size() == plain.size() && std::equal(plain.begin(), plain.end(), secret.data());
}

TEST(KeyOperations, GeneratedWrapKeyHasThePolicyAttributes) {
  auto attributes = suiteWrapKey().readAttributes();
  ASSERT_TRUE(attributes) << attributes.status().toString();
  EXPECT_TRUE(attributes->onToken);
  EXPECT_TRUE(attributes->isPrivate);
  EXPECT_TRUE(attributes->sensitive);
  EXPECT_FALSE(attributes->extractable);
  EXPECT_TRUE(attributes->alwaysSensitive);
  EXPECT_TRUE(attributes->neverExtractable);
  EXPECT_TRUE(attributes->decrypt);
  EXPECT_TRUE(attributes->unwrap);
  EXPECT_FALSE(attributes->sign);
  EXPECT_FALSE(attributes->derive);
  EXPECT_TRUE(attributes->publicEncrypt);
  EXPECT_FALSE(attributes->publicVerify);
  EXPECT_EQ(attributes->modulusBits, 2048u);
  EXPECT_EQ(attributes->label, "suite-wrap");
  EXPECT_EQ(attributes->id.size(), 16u);
  EXPECT_TRUE(enforceKeyPolicy(*attributes, KeyPurpose::kWrap).isOk());
}

TEST(KeyOperations, GeneratedAuditKeyOnlySigns) {
  auto attributes = suiteAuditKey().readAttributes();
  ASSERT_TRUE(attributes);
  EXPECT_TRUE(attributes->sign);
  EXPECT_FALSE(attributes->decrypt);
  EXPECT_FALSE(attributes->unwrap);
  EXPECT_FALSE(attributes->publicEncrypt);
  EXPECT_TRUE(attributes->publicVerify);
  EXPECT_TRUE(enforceKeyPolicy(*attributes, KeyPurpose::kAudit).isOk());
  EXPECT_FALSE(enforceKeyPolicy(*attributes, KeyPurpose::kWrap).isOk());
}

TEST(KeyOperations, DefaultSizeKeyIs3072Bits) {
  auto key = generateKeyPair(suitePool(), {.purpose = KeyPurpose::kWrap, .label = "default-size"});
  ASSERT_TRUE(key) << key.status().toString();
  auto attributes = key->readAttributes();
  ASSERT_TRUE(attributes);
  EXPECT_EQ(attributes->modulusBits, 3072u);
}

TEST(KeyOperations, PolicyRefusesExtractableKey) {
  test::generateRawKeyPair(*suitePool(), "extractable", true, true, 3);
  auto uri = Pkcs11Uri::parse("pkcs11:object=extractable;type=private");
  ASSERT_TRUE(uri);
  auto key = RsaKeyPair::find(suitePool(), *uri);
  ASSERT_TRUE(key) << key.status().toString();
  auto attributes = key->readAttributes();
  ASSERT_TRUE(attributes);
  EXPECT_TRUE(attributes->extractable);
  Status status = enforceKeyPolicy(*attributes, KeyPurpose::kWrap);
  EXPECT_EQ(status.code(), StatusCode::kPolicyViolation);
  EXPECT_NE(status.message().find("extractable"), std::string::npos);
}

TEST(KeyOperations, PolicyRefusesKeyWhoseExtractableFlagWasCleared) {
  test::generateOnceExtractableWrapKey(*suitePool(), "once-extractable", 5);
  auto uri = Pkcs11Uri::parse("pkcs11:object=once-extractable;type=private");
  ASSERT_TRUE(uri);
  auto key = RsaKeyPair::find(suitePool(), *uri);
  ASSERT_TRUE(key) << key.status().toString();
  auto attributes = key->readAttributes();
  ASSERT_TRUE(attributes);
  EXPECT_FALSE(attributes->extractable);
  EXPECT_FALSE(attributes->neverExtractable);
  Status status = enforceKeyPolicy(*attributes, KeyPurpose::kWrap);
  EXPECT_EQ(status.code(), StatusCode::kPolicyViolation);
  EXPECT_NE(status.message().find("CKA_NEVER_EXTRACTABLE=false"), std::string::npos)
      << status.message();
  EXPECT_NE(status.message().find("once-extractable"), std::string::npos);
}

TEST(KeyOperations, PolicyRefusesNonSensitiveKey) {
  test::generateRawKeyPair(*suitePool(), "not-sensitive", false, false, 4);
  auto uri = Pkcs11Uri::parse("pkcs11:object=not-sensitive;type=private");
  ASSERT_TRUE(uri);
  auto key = RsaKeyPair::find(suitePool(), *uri);
  ASSERT_TRUE(key);
  auto attributes = key->readAttributes();
  ASSERT_TRUE(attributes);
  EXPECT_FALSE(enforceKeyPolicy(*attributes, KeyPurpose::kWrap).isOk());
}

TEST(KeyOperations, GenerationRefusesATakenLabel) {
  (void)suiteWrapKey();
  auto key = generateKeyPair(suitePool(), {.bits = 2048, .label = "suite-wrap"});
  ASSERT_FALSE(key);
  EXPECT_EQ(key.status().code(), StatusCode::kAlreadyExists);
}

TEST(KeyOperations, GenerationRefusesUnsupportedSizes) {
  auto key = generateKeyPair(suitePool(), {.bits = 1024, .label = "small"});
  ASSERT_FALSE(key);
  EXPECT_EQ(key.status().code(), StatusCode::kInvalidArgument);
}

TEST(KeyOperations, EncryptThenDecryptReturnsThePlaintext) {
  const auto plaintext = bytesOf("a 64-byte user key would go here, this is thirty-two+");
  auto ciphertext = suiteWrapKey().encrypt(plaintext);
  ASSERT_TRUE(ciphertext) << ciphertext.status().toString();
  EXPECT_EQ(ciphertext->bytes.size(), 256u);
  EXPECT_EQ(ciphertext->hash, suiteWrapKey().oaepHash());
  auto decrypted = suiteWrapKey().decrypt(ciphertext->bytes, ciphertext->hash);
  ASSERT_TRUE(decrypted) << decrypted.status().toString();
  EXPECT_TRUE(sameBytes(*decrypted, plaintext));
}

TEST(KeyOperations, OaepIsRandomised) {
  const auto plaintext = bytesOf("same input");
  auto a = suiteWrapKey().encrypt(plaintext);
  auto b = suiteWrapKey().encrypt(plaintext);
  ASSERT_TRUE(a && b);
  EXPECT_NE(a->bytes, b->bytes);
}

TEST(KeyOperations, ProbedOaepHashIsTheStrongestTheTokenAccepts) {
  // SoftHSM 2.6 does OAEP with SHA-1 only; softokn does SHA-256, which the probe prefers.
  EXPECT_EQ(suiteWrapKey().oaepHash(), test::suiteToken().strongestOaep());
  const auto plaintext = bytesOf("probe");
  auto ciphertext = suiteWrapKey().encrypt(plaintext);
  ASSERT_TRUE(ciphertext);
  EXPECT_EQ(ciphertext->hash, test::suiteToken().strongestOaep());
  const OaepHash other = ciphertext->hash == OaepHash::kSha1 ? OaepHash::kSha256 : OaepHash::kSha1;
  EXPECT_FALSE(suiteWrapKey().decrypt(ciphertext->bytes, other));
  EXPECT_TRUE(suiteWrapKey().decrypt(ciphertext->bytes, ciphertext->hash));
}

TEST(KeyOperations, TamperedCiphertextIsAnIntegrityFailure) {
  auto ciphertext = suiteWrapKey().encrypt(bytesOf("user key"));
  ASSERT_TRUE(ciphertext);
  for (std::size_t position : {std::size_t{0}, std::size_t{100}, ciphertext->bytes.size() - 1}) {
    auto tampered = ciphertext->bytes;
    tampered[position] ^= 0x01;
    auto decrypted = suiteWrapKey().decrypt(tampered, ciphertext->hash);
    ASSERT_FALSE(decrypted) << "flipped byte " << position;
    EXPECT_EQ(decrypted.status().code(), StatusCode::kIntegrity) << decrypted.status().toString();
  }
}

TEST(KeyOperations, TruncatedCiphertextIsAnIntegrityFailure) {
  auto ciphertext = suiteWrapKey().encrypt(bytesOf("user key"));
  ASSERT_TRUE(ciphertext);
  ciphertext->bytes.pop_back();
  auto decrypted = suiteWrapKey().decrypt(ciphertext->bytes, ciphertext->hash);
  ASSERT_FALSE(decrypted);
  EXPECT_EQ(decrypted.status().code(), StatusCode::kIntegrity);
}

TEST(KeyOperations, FailedDecryptLeavesTheSessionUsable) {
  // One session only: a decrypt left active after a failure would break the next one.
  auto pool = test::suiteToken().openPool({.size = 1});
  auto uri = Pkcs11Uri::parse("pkcs11:object=suite-wrap;type=private");
  ASSERT_TRUE(uri);
  (void)suiteWrapKey();
  auto key = RsaKeyPair::find(pool, *uri);
  ASSERT_TRUE(key);
  auto ciphertext = key->encrypt(bytesOf("user key"));
  ASSERT_TRUE(ciphertext);
  auto tampered = ciphertext->bytes;
  tampered[7] ^= 0x80;
  ASSERT_FALSE(key->decrypt(tampered, ciphertext->hash));
  auto decrypted = key->decrypt(ciphertext->bytes, ciphertext->hash);
  ASSERT_TRUE(decrypted) << decrypted.status().toString();
  EXPECT_TRUE(sameBytes(*decrypted, bytesOf("user key")));
}

TEST(KeyOperations, AuditKeyCannotDecryptAndWrapKeyCannotSign) {
  auto signature = suiteWrapKey().sign(bytesOf("checkpoint"));
  ASSERT_FALSE(signature);
  EXPECT_NE(signature.status().message().find("CKR_"), std::string::npos);
  auto ciphertext = suiteWrapKey().encrypt(bytesOf("x"));
  ASSERT_TRUE(ciphertext);
  EXPECT_FALSE(suiteAuditKey().decrypt(ciphertext->bytes, ciphertext->hash));
}

TEST(KeyOperations, SignatureVerifiesWithTheExportedPublicKey) {
  const auto message = bytesOf("chain head 42");
  auto signature = suiteAuditKey().sign(message);
  ASSERT_TRUE(signature) << signature.status().toString();
  auto exported = suiteAuditKey().exportPublicKey();
  ASSERT_TRUE(exported);

  BIO* bio = BIO_new_mem_buf(exported->pem.data(), static_cast<int>(exported->pem.size()));
  EVP_PKEY* key = PEM_read_bio_PUBKEY(bio, nullptr, nullptr, nullptr);
  BIO_free(bio);
  ASSERT_NE(key, nullptr);
  auto verify = [&](const std::vector<std::uint8_t>& data) {
    EVP_MD_CTX* context = EVP_MD_CTX_new();
    EVP_DigestVerifyInit(context, nullptr, EVP_sha256(), nullptr, key);
    const int ok =
        EVP_DigestVerify(context, signature->data(), signature->size(), data.data(), data.size());
    EVP_MD_CTX_free(context);
    return ok == 1;
  };
  EXPECT_TRUE(verify(message));
  EXPECT_FALSE(verify(bytesOf("chain head 43")));
  EVP_PKEY_free(key);
}

TEST(KeyOperations, ExportedPublicKeyIsPemSpkiWithItsSha256Fingerprint) {
  auto exported = suiteWrapKey().exportPublicKey();
  ASSERT_TRUE(exported) << exported.status().toString();
  EXPECT_EQ(exported->pem.rfind("-----BEGIN PUBLIC KEY-----", 0), 0u);
  EXPECT_EQ(exported->modulusBits, 2048u);
  unsigned char digest[SHA256_DIGEST_LENGTH];
  SHA256(exported->der.data(), exported->der.size(), digest);
  char hex[3];
  std::string expected = "sha256:";
  for (unsigned char b : digest) {
    std::snprintf(hex, sizeof hex, "%02x", b);
    expected += hex;
  }
  EXPECT_EQ(exported->fingerprint, expected);
}

TEST(KeyOperations, ConcurrentRoundTripsAllSucceed) {
  constexpr int kThreads = 8;
  // Enough for the threads to contend for each of the pool's sessions many times over. On
  // softokn a private-key operation costs ~35 ms of CPU here (SoftHSM's: ~1 ms), so it runs a
  // tenth as many: 500 took 150 s of a CI run.
  const int operations = test::suiteToken().kind() == "softokn" ? 50 : 500;
  std::atomic<int> failures{0};
  std::vector<std::thread> threads;
  for (int t = 0; t < kThreads; ++t) {
    threads.emplace_back([&, t] {
      for (int i = 0; i < operations; ++i) {
        const auto plaintext = bytesOf("thread " + std::to_string(t) + " op " + std::to_string(i));
        auto ciphertext = suiteWrapKey().encrypt(plaintext);
        if (!ciphertext) {
          ++failures;
          continue;
        }
        auto decrypted = suiteWrapKey().decrypt(ciphertext->bytes, ciphertext->hash);
        if (!decrypted || !sameBytes(*decrypted, plaintext)) ++failures;
      }
    });
  }
  for (auto& thread : threads) thread.join();
  EXPECT_EQ(failures.load(), 0);
}

}  // namespace
}  // namespace kc::pkcs11
