// The record format: canonical serialisation, strict parsing, hashes, times.

#include <gtest/gtest.h>
#include <openssl/sha.h>

#include "AuditTestSupport.h"
#include "kc/Base64.h"
#include "kc/Text.h"
#include "kc/audit/AuditRecord.h"
#include "kc/audit/CheckpointSigner.h"

namespace kc::audit {
namespace {

AuditRecord knownRecord() {
  AuditRecord r;
  r.operation = "key.release";
  r.outcome = "ok";
  r.httpStatus = 200;
  r.userId = "6b9c1f2e-0d4c-4a43-9a51-2f1f0c1f7a10";
  r.keyId = "0a1b";
  r.requestId = "req-1";
  r.clientAddress = "192.0.2.7";
  r.durationMicros = 1234;
  r.timeMicros = 1'764'084'104'123'456;  // 2025-11-25T15:21:44.123456Z
  r.seq = 7;
  r.instance = "kc-1";
  r.prev = std::string(64, 'a');
  return r;
}

TEST(AuditRecordFormat, SerializesEveryMemberInTheDocumentedOrder) {
  AuditRecord record = knownRecord();
  record.clientRequestId = "lb-7f3a";
  EXPECT_EQ(serialize(record),
            "{\"v\":2,\"seq\":7,\"time\":\"2025-11-25T15:21:44.123456Z\",\"instance\":\"kc-1\","
            "\"op\":\"key.release\",\"outcome\":\"ok\",\"status\":200,"
            "\"user\":\"6b9c1f2e-0d4c-4a43-9a51-2f1f0c1f7a10\",\"key\":\"0a1b\","
            "\"request\":\"req-1\",\"client_request\":\"lb-7f3a\",\"client\":\"192.0.2.7\","
            "\"duration_us\":1234,\"detail\":\"\",\"sig\":\"\",\"prev\":\"" +
                std::string(64, 'a') + "\"}");
}

TEST(AuditRecordFormat, VersionOneRecordsKeepTheirBytesWithoutClientRequest) {
  AuditRecord record = knownRecord();
  record.version = 1;
  EXPECT_EQ(serialize(record),
            "{\"v\":1,\"seq\":7,\"time\":\"2025-11-25T15:21:44.123456Z\",\"instance\":\"kc-1\","
            "\"op\":\"key.release\",\"outcome\":\"ok\",\"status\":200,"
            "\"user\":\"6b9c1f2e-0d4c-4a43-9a51-2f1f0c1f7a10\",\"key\":\"0a1b\","
            "\"request\":\"req-1\",\"client\":\"192.0.2.7\",\"duration_us\":1234,"
            "\"detail\":\"\",\"sig\":\"\",\"prev\":\"" +
                std::string(64, 'a') + "\"}");
}

TEST(AuditRecordFormat, ParsesItsOwnSerialisationBack) {
  AuditRecord record = knownRecord();
  record.clientRequestId = "client-7";
  auto parsed = parseRecord(serialize(record));
  ASSERT_TRUE(parsed.isOk()) << parsed.status().toString();
  EXPECT_EQ(*parsed, record);
}

TEST(AuditRecordFormat, ParsesVersionOneLinesAsVersionOneAndWritesThemBackUnchanged) {
  AuditRecord record = knownRecord();
  record.version = 1;
  const std::string line = serialize(record);
  auto parsed = parseRecord(line);
  ASSERT_TRUE(parsed.isOk()) << parsed.status().toString();
  EXPECT_EQ(parsed->version, 1u);
  EXPECT_EQ(parsed->clientRequestId, "");
  EXPECT_EQ(serialize(*parsed), line);
  EXPECT_EQ(lineHash(serialize(*parsed)), lineHash(line)) << "the chain of an old log holds";
}

TEST(AuditRecordFormat, EachVersionHasExactlyItsOwnMembers) {
  AuditRecord v1 = knownRecord();
  v1.version = 1;
  std::string v1WithClientRequest = serialize(v1);
  v1WithClientRequest.replace(v1WithClientRequest.find("\"client\":"), 0,
                              "\"client_request\":\"\",");
  std::string v2WithoutClientRequest = serialize(knownRecord());
  v2WithoutClientRequest.replace(v2WithoutClientRequest.find("\"client_request\":\"\","), 20, "");
  std::string v2Misplaced = serialize(knownRecord());
  v2Misplaced.replace(v2Misplaced.find("\"client_request\":\"\","), 20, "");
  v2Misplaced.replace(v2Misplaced.find("\"duration_us\""), 0, "\"client_request\":\"\",");
  std::string v2NotAString = serialize(knownRecord());
  v2NotAString.replace(v2NotAString.find("\"client_request\":\"\""), 19, "\"client_request\":0");
  for (const auto& bad : {v1WithClientRequest, v2WithoutClientRequest, v2Misplaced, v2NotAString}) {
    EXPECT_FALSE(parseRecord(bad).isOk()) << bad;
  }
}

TEST(AuditRecordFormat, EscapesQuotesBackslashesAndControlCharacters) {
  AuditRecord record = knownRecord();
  record.detail = "a \"quoted\" \\ path\nnext\ttab\x01 caf\xc3\xa9 /";
  const std::string line = serialize(record);
  EXPECT_NE(line.find("a \\\"quoted\\\" \\\\ path\\u000anext\\u0009tab\\u0001 caf\xc3\xa9 /"),
            std::string::npos)
      << line;
  auto parsed = parseRecord(line);
  ASSERT_TRUE(parsed.isOk()) << parsed.status().toString();
  EXPECT_EQ(parsed->detail, record.detail);
}

TEST(AuditRecordFormat, RefusesLinesThatAreNotCanonical) {
  const std::string line = serialize(knownRecord());
  std::string spaced = line;
  spaced.insert(1, " ");
  std::string reordered = line;
  reordered.replace(reordered.find("\"v\":2,\"seq\":7"), 13, "\"seq\":7,\"v\":2");
  std::string upperHex = line;
  upperHex.replace(upperHex.find(std::string(64, 'a')), 64, std::string(64, 'A'));
  std::string extra = line;
  extra.insert(extra.size() - 1, ",\"x\":1");
  std::string missing = line;
  missing.replace(missing.find(",\"detail\":\"\""), 12, "");
  std::string escapedSlash = line;
  escapedSlash.replace(escapedSlash.find("kc-1"), 4, "kc\\/1");
  std::string leadingZero = line;
  leadingZero.replace(leadingZero.find("\"seq\":7"), 7, "\"seq\":07");
  for (const auto& bad :
       {spaced, reordered, upperHex, extra, missing, escapedSlash, leadingZero, std::string("{}"),
        std::string("[]"), std::string(""), std::string("{\"v\":1"), std::string("{\"v\":2}")}) {
    EXPECT_FALSE(parseRecord(bad).isOk()) << bad;
  }
}

TEST(AuditRecordFormat, RefusesSeqZeroBadTimesAndOtherVersions) {
  AuditRecord record = knownRecord();
  record.seq = 0;
  EXPECT_FALSE(parseRecord(serialize(record)).isOk());
  std::string line = serialize(knownRecord());
  line.replace(line.find("\"v\":2"), 5, "\"v\":3");
  EXPECT_FALSE(parseRecord(line).isOk());
  line.replace(line.find("\"v\":3"), 5, "\"v\":0");
  EXPECT_FALSE(parseRecord(line).isOk());
  EXPECT_FALSE(parseTime("2025-11-25T15:21:44Z").isOk());
  EXPECT_FALSE(parseTime("2025-02-30T15:21:44.000000Z").isOk());
  EXPECT_FALSE(parseTime("2025-11-25 15:21:44.000000Z").isOk());
}

TEST(AuditRecordFormat, TimeIsUtcWithMicrosecondsAndRoundTrips) {
  EXPECT_EQ(formatTime(0), "1970-01-01T00:00:00.000000Z");
  EXPECT_EQ(formatTime(1'764'084'104'123'456), "2025-11-25T15:21:44.123456Z");
  auto parsed = parseTime("2025-11-25T15:21:44.123456Z");
  ASSERT_TRUE(parsed.isOk());
  EXPECT_EQ(*parsed, 1'764'084'104'123'456);
}

TEST(AuditRecordFormat, GenesisIsSha256OfPrefixAndInstance) {
  const std::string text = "kc-audit-genesis:kc-1";
  unsigned char digest[32];
  SHA256(reinterpret_cast<const unsigned char*>(text.data()), text.size(), digest);
  EXPECT_EQ(genesisHash("kc-1"), toHex({digest, 32}));
  EXPECT_NE(genesisHash("kc-1"), genesisHash("kc-2"));
}

TEST(AuditRecordFormat, CheckpointMessageIsTheLineWithAnEmptySignature) {
  AuditRecord checkpoint = knownRecord();
  checkpoint.operation = "checkpoint";
  checkpoint.signature = "c2ln";
  AuditRecord unsigned_ = checkpoint;
  unsigned_.signature.clear();
  EXPECT_EQ(checkpointMessage(checkpoint), serialize(unsigned_));
}

TEST(AuditRecordFormat, ReplacesInvalidUtf8) {
  EXPECT_EQ(sanitizeUtf8("ok caf\xc3\xa9"), "ok caf\xc3\xa9");
  EXPECT_EQ(sanitizeUtf8("bad \xff\xc3 \xed\xa0\x80"), "bad ?? ???");
}

TEST(AuditRecordFormat, Base64RoundTripsAndRefusesJunk) {
  const std::vector<std::uint8_t> bytes = {'c', 'p', 0x01, 0x02, 0xff};
  auto decoded = decodeBase64(encodeBase64(bytes));
  ASSERT_TRUE(decoded);
  EXPECT_EQ(*decoded, bytes);
  EXPECT_FALSE(decodeBase64("abc"));
  EXPECT_FALSE(decodeBase64("ab!="));
  EXPECT_FALSE(decodeBase64("ab==")) << "non-zero trailing bits";
}

TEST(CheckpointVerifierTest, AcceptsTheSignersSignatureAndRefusesAnyOther) {
  test::OpenSslSigner signer, other;
  auto verifier = CheckpointVerifier::fromPem(signer.publicKeyPem());
  ASSERT_TRUE(verifier.isOk()) << verifier.status().toString();
  EXPECT_EQ(verifier->keyId(), signer.keyId());
  const std::string message = "sealed";
  const std::span<const std::uint8_t> bytes{reinterpret_cast<const std::uint8_t*>(message.data()),
                                            message.size()};
  auto signature = signer.sign(bytes);
  ASSERT_TRUE(signature.isOk());
  EXPECT_TRUE(verifier->verify(bytes, *signature));
  auto forged = other.sign(bytes);
  EXPECT_FALSE(verifier->verify(bytes, *forged));
  const std::string altered = "sealed!";
  EXPECT_FALSE(verifier->verify(
      {reinterpret_cast<const std::uint8_t*>(altered.data()), altered.size()}, *signature));
  EXPECT_FALSE(CheckpointVerifier::fromPem("not a key").isOk());
}

}  // namespace
}  // namespace kc::audit
