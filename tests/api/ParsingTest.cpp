// The parsers and the error mapping on their own: base64, content type, the /user-keys body,
// GUIDs, JWT structure, JWKS and discovery documents, Status → HTTP.

#include <Poco/JSON/Parser.h>
#include <gtest/gtest.h>

#include "ApiTestSupport.h"
#include "Jwk.h"
#include "Jwt.h"
#include "UserKeyBody.h"
#include "kc/Base64.h"
#include "kc/api/ErrorMapping.h"

namespace kc::test {
namespace {

using namespace kc::api;

std::string text(const SecretBytes& bytes) {
  return std::string(reinterpret_cast<const char*>(bytes.data()), bytes.size());
}

TEST(Base64Test, StandardBase64DecodesOnlyCanonicalPaddedText) {
  EXPECT_EQ(text(*decodeBase64Secret("aGVsbG8=")), "hello");
  EXPECT_EQ(text(*decodeBase64Secret("aGVsbG8h")), "hello!");
  EXPECT_EQ(text(*decodeBase64Secret("aGk=")), "hi");
  EXPECT_EQ(text(*decodeBase64Secret("aA==")), "h");
  EXPECT_TRUE(decodeBase64Secret("")->empty());
  for (const char* bad : {"aGVsbG8", "aGVsbG9=", "aA=", "a===", "====", "aGk=aGk=", "aG k=", "aGk_",
                          "aGk-", "aB==", "aGVsbG8\n"}) {
    EXPECT_FALSE(decodeBase64Secret(bad)) << bad;
  }
}

TEST(Base64Test, Base64UrlDecodesOnlyUnpaddedUrlAlphabet) {
  EXPECT_EQ(decodeBase64Url("aGk"), "hi");
  EXPECT_EQ(decodeBase64Url("-_8"), std::string("\xfb\xff", 2));
  for (const char* bad : {"aGk=", "a", "+/8", "aGk.", "aB"}) {
    EXPECT_FALSE(decodeBase64Url(bad)) << bad;
  }
}

TEST(Base64Test, EncodersRoundTrip) {
  for (std::size_t n = 0; n < 40; ++n) {
    std::string bytes;
    for (std::size_t i = 0; i < n; ++i) bytes += static_cast<char>(i * 37 + n);
    const std::span<const std::uint8_t> view(reinterpret_cast<const std::uint8_t*>(bytes.data()),
                                             bytes.size());
    EXPECT_EQ(text(*decodeBase64Secret(encodeBase64(view))), bytes);
    EXPECT_EQ(decodeBase64Url(encodeBase64Url(view)), bytes);
  }
}

TEST(UserKeyBodyTest, JsonContentTypesAreRecognised) {
  for (const char* ok :
       {"application/json", "application/json; charset=utf-8", "APPLICATION/JSON;charset=UTF-8",
        "application/json; charset=\"utf-8\"", " application/json ;"}) {
    EXPECT_TRUE(isJsonContentType(ok)) << ok;
  }
  for (const char* bad : {"", "text/json", "application/json-patch+json", "application/jsonx",
                          "application/json; charset=utf-16", "application/json; boundary=x",
                          "text/plain; application/json", "application/json; charset"}) {
    EXPECT_FALSE(isJsonContentType(bad)) << bad;
  }
}

TEST(UserKeyBodyTest, KeyIsDecodedFromAnyCaseOfTheProperty) {
  const auto key = parseUserKeyBody(R"({"KeY":")" + keyBase64(20) + R"("})");
  ASSERT_TRUE(key.isOk());
  EXPECT_EQ(text(*key), std::string(20, 'k'));
}

TEST(UserKeyBodyTest, RenderedBodyNamesThePropertyKey) {
  EXPECT_EQ(renderUserKeyBody(SecretBytes::fromString("hello")), R"({"key":"aGVsbG8="})");
}

TEST(UserKeyBodyTest, DeeplyNestedBodyIsRefusedNotACrash) {
  const std::string body = std::string(10000, '[') + std::string(10000, ']');
  EXPECT_FALSE(parseUserKeyBody(body).isOk());
  EXPECT_FALSE(parseUserKeyBody(R"({"a":)" + std::string(100, '{') + "}").isOk());
}

TEST(JwtParseTest, TokenLongerThanTheCapIsRefusedBeforeDecoding) {
  JwtSettings settings;
  const std::string token = makeToken(signerA(), TokenClaims{}) + std::string(17 * 1024, 'A');
  const auto parsed = parseJwt(token, settings);
  ASSERT_FALSE(parsed.isOk());
  EXPECT_EQ(parsed.status().message(), "token too long");
}

TEST(JwtParseTest, AlgorithmIsCheckedBeforeThePayload) {
  JwtSettings settings;
  const auto parsed = parseJwt(base64Url(R"({"alg":"HS256"})") + ".!!!.AAAA", settings);
  ASSERT_FALSE(parsed.isOk());
  EXPECT_EQ(parsed.status().message(), "token algorithm refused");
}

TEST(JwtParseTest, Ps256CanBeDisabled) {
  JwtSettings settings;
  settings.allowPs256 = false;
  EXPECT_FALSE(parseJwt(makeToken(signerA(), TokenClaims{}, "PS256"), settings).isOk());
  EXPECT_TRUE(parseJwt(makeToken(signerA(), TokenClaims{}, "RS256"), settings).isOk());
}

TEST(JwtClaimsTest, AuthenticationFailuresAreNotPermissionDenied) {
  TokenClaims claims;
  claims.issuer = "https://issuer.test";
  claims.expiresIn = -3600;
  Poco::JSON::Parser parser;
  const auto object = parser.parse(claims.payloadJson()).extract<Poco::JSON::Object::Ptr>();
  const auto result = checkClaims(
      *object, {.issuer = "https://issuer.test", .now = std::chrono::system_clock::now()});
  ASSERT_FALSE(result.isOk());
  EXPECT_EQ(result.status().code(), StatusCode::kInvalidArgument);
  EXPECT_EQ(result.status().message(), "token expired");
}

TEST(JwtClaimsTest, ExpAsStringIsRefused) {
  Poco::JSON::Parser parser;
  const auto object =
      parser
          .parse(R"({"iss":"i","exp":"99999999999","amr":["external"],"scope":"api",)"
                 R"("sub":"abcdef01-2345-6789-abcd-ef0123456789"})")
          .extract<Poco::JSON::Object::Ptr>();
  EXPECT_FALSE(checkClaims(*object, {.issuer = "i", .now = std::chrono::system_clock::now()}));
}

TEST(JwksParseTest, OnlyRsaSignatureKeysAreKept) {
  const std::string document = jwksOf({
      R"({"kty":"EC","crv":"P-256","kid":"ec","x":"AAAA","y":"AAAA"})",
      signerB().jwk("enc"),
      R"({"kty":"oct","kid":"hmac","k":"c2VjcmV0"})",
      R"({"kty":"RSA","kid":"short","n":"AQAB","e":"AQAB"})",
      R"({"kty":"RSA","kid":"broken","n":"!!","e":"AQAB"})",
      signerA().jwk(),
      "7",
  });
  const auto keys = parseJwks(document);
  ASSERT_TRUE(keys.isOk()) << keys.status().toString();
  EXPECT_EQ(keys->size(), 1u);
  EXPECT_TRUE(keys->contains("key-a"));
}

TEST(JwksParseTest, DocumentsWithoutUsableKeysAreInvalid) {
  for (const char* bad : {"", "[]", "{}", R"({"keys":{}})", R"({"keys":[]})",
                          R"({"keys":[{"kty":"EC"}]})", "{\"keys\":[", "null"}) {
    const auto keys = parseJwks(bad);
    ASSERT_FALSE(keys.isOk()) << bad;
    EXPECT_EQ(keys.status().code(), StatusCode::kInvalidArgument) << bad;
  }
}

TEST(DiscoveryParseTest, IssuerAndJwksUriAreRequired) {
  const auto ok = parseDiscovery(R"({"issuer":"https://i","jwks_uri":"https://i/jwks"})");
  ASSERT_TRUE(ok.isOk());
  EXPECT_EQ(ok->issuer, "https://i");
  EXPECT_EQ(ok->jwksUri, "https://i/jwks");
  for (const char* bad :
       {"{}", R"({"issuer":"https://i"})", R"({"issuer":1,"jwks_uri":"https://i"})",
        R"({"issuer":"i","jwks_uri":"file:///etc/passwd"})", "[", ""}) {
    EXPECT_FALSE(parseDiscovery(bad).isOk()) << bad;
  }
}

TEST(ErrorMappingTest, KeyServiceStatusesMapToTheContract) {
  const auto map = [](StatusCode code) {
    return httpStatusFor(Status(code, "x"), StatusSource::kKeyService);
  };
  EXPECT_EQ(map(StatusCode::kNotFound), 404);
  EXPECT_EQ(map(StatusCode::kAlreadyExists), 400);
  EXPECT_EQ(map(StatusCode::kInvalidArgument), 400);
  EXPECT_EQ(map(StatusCode::kUnavailable), 503);
  EXPECT_EQ(map(StatusCode::kTimeout), 503);
  EXPECT_EQ(map(StatusCode::kIntegrity), 500);
  EXPECT_EQ(map(StatusCode::kInternal), 500);
  EXPECT_EQ(map(StatusCode::kTokenError), 500);
  EXPECT_EQ(map(StatusCode::kConflict), 500);
  EXPECT_EQ(map(StatusCode::kPermissionDenied), 500);
}

TEST(ErrorMappingTest, AuthenticationStatusesAre401Or403) {
  EXPECT_EQ(
      httpStatusFor(Status(StatusCode::kPermissionDenied, "x"), StatusSource::kAuthentication),
      403);
  EXPECT_EQ(httpStatusFor(Status(StatusCode::kInvalidArgument, "x"), StatusSource::kAuthentication),
            401);
  EXPECT_EQ(httpStatusFor(Status(StatusCode::kNotFound, "x"), StatusSource::kAuthentication), 401);
}

TEST(ErrorMappingTest, ServerErrorMessagesNameOnlyTheRequestId) {
  const auto message =
      clientMessageFor(Status(StatusCode::kIntegrity, "row 7 of user x"), 500, "id-1");
  EXPECT_EQ(message.find("row"), std::string::npos);
  EXPECT_NE(message.find("id-1"), std::string::npos);
}

}  // namespace
}  // namespace kc::test
