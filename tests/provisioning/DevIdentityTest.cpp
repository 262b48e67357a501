// kc-setup dev-identity and dev-token end to end: the tokens they mint verify against the
// JWKS they write, with the claims asked for.

#include <Poco/Base64Decoder.h>
#include <Poco/JSON/Object.h>
#include <Poco/JSON/Parser.h>
#include <openssl/bn.h>
#include <openssl/core_names.h>
#include <openssl/evp.h>
#include <openssl/param_build.h>
#include <sys/stat.h>

#include <chrono>
#include <sstream>

#include "KcSetupFixture.h"

namespace kc::test {
namespace {

constexpr const char* kUser = "5b0d9f8e-2c41-4b7a-9e63-0f1d2a3b4c5d";

std::string base64UrlDecode(std::string text) {
  for (char& c : text) {
    if (c == '-') c = '+';
    if (c == '_') c = '/';
  }
  while (text.size() % 4 != 0) text += '=';
  std::istringstream in(text);
  Poco::Base64Decoder decoder(in);
  std::ostringstream out;
  out << decoder.rdbuf();
  return out.str();
}

Poco::JSON::Object::Ptr parseObject(const std::string& json) {
  Poco::JSON::Parser parser;
  return parser.parse(json).extract<Poco::JSON::Object::Ptr>();
}

struct Jwt {
  Poco::JSON::Object::Ptr header;
  Poco::JSON::Object::Ptr payload;
  std::string signingInput;
  std::string signature;
};

Jwt splitJwt(const std::string& token) {
  const auto first = token.find('.');
  const auto second = token.find('.', first + 1);
  Jwt jwt;
  jwt.header = parseObject(base64UrlDecode(token.substr(0, first)));
  jwt.payload = parseObject(base64UrlDecode(token.substr(first + 1, second - first - 1)));
  jwt.signingInput = token.substr(0, second);
  jwt.signature = base64UrlDecode(token.substr(second + 1));
  return jwt;
}

// Verifies RS256 with the RSA key of the JWKS whose kid the header names.
bool verifiesAgainstJwks(const Jwt& jwt, const std::string& jwksText) {
  auto keys = parseObject(jwksText)->getArray("keys");
  for (std::size_t i = 0; i < keys->size(); ++i) {
    auto jwk = keys->getObject(static_cast<unsigned>(i));
    if (jwk->getValue<std::string>("kid") != jwt.header->getValue<std::string>("kid")) continue;
    const std::string n = base64UrlDecode(jwk->getValue<std::string>("n"));
    const std::string e = base64UrlDecode(jwk->getValue<std::string>("e"));
    BIGNUM* bn = BN_bin2bn(reinterpret_cast<const unsigned char*>(n.data()),
                           static_cast<int>(n.size()), nullptr);
    BIGNUM* be = BN_bin2bn(reinterpret_cast<const unsigned char*>(e.data()),
                           static_cast<int>(e.size()), nullptr);
    OSSL_PARAM_BLD* build = OSSL_PARAM_BLD_new();
    OSSL_PARAM_BLD_push_BN(build, OSSL_PKEY_PARAM_RSA_N, bn);
    OSSL_PARAM_BLD_push_BN(build, OSSL_PKEY_PARAM_RSA_E, be);
    OSSL_PARAM* params = OSSL_PARAM_BLD_to_param(build);
    EVP_PKEY_CTX* context = EVP_PKEY_CTX_new_from_name(nullptr, "RSA", nullptr);
    EVP_PKEY* key = nullptr;
    EVP_PKEY_fromdata_init(context);
    EVP_PKEY_fromdata(context, &key, EVP_PKEY_PUBLIC_KEY, params);
    EVP_MD_CTX* md = EVP_MD_CTX_new();
    EVP_DigestVerifyInit(md, nullptr, EVP_sha256(), nullptr, key);
    const int ok = EVP_DigestVerify(
        md, reinterpret_cast<const unsigned char*>(jwt.signature.data()), jwt.signature.size(),
        reinterpret_cast<const unsigned char*>(jwt.signingInput.data()), jwt.signingInput.size());
    EVP_MD_CTX_free(md);
    EVP_PKEY_free(key);
    EVP_PKEY_CTX_free(context);
    OSSL_PARAM_free(params);
    OSSL_PARAM_BLD_free(build);
    BN_free(bn);
    BN_free(be);
    return ok == 1;
  }
  return false;
}

long long nowSeconds() {
  return std::chrono::duration_cast<std::chrono::seconds>(
             std::chrono::system_clock::now().time_since_epoch())
      .count();
}

class DevIdentity : public KcSetupTest {};

TEST_F(DevIdentity, CreatesSigningKeyJwksAndIssuerWithSafePermissions) {
  TempDir out;
  const auto identity = out / "identity";
  auto result =
      kcSetup({"dev-identity", "--out", identity.string(), "--issuer", "https://id.test"});
  ASSERT_EQ(result.exitCode, 0) << result.err;
  EXPECT_NE(result.err.find("development"), std::string::npos) << "the warning is missing";
  struct stat info {};
  ASSERT_EQ(stat((identity / "signing-key.pem").c_str(), &info), 0);
  EXPECT_EQ(info.st_mode & 0777, 0600u);
  ASSERT_EQ(stat(identity.c_str(), &info), 0);
  EXPECT_EQ(info.st_mode & 0077, 0u);
  EXPECT_EQ(readFile(identity / "issuer"), "https://id.test\n");
  auto jwks = parseObject(readFile(identity / "jwks.json"));
  auto key = jwks->getArray("keys")->getObject(0);
  EXPECT_EQ(key->getValue<std::string>("kty"), "RSA");
  EXPECT_EQ(key->getValue<std::string>("alg"), "RS256");
  EXPECT_FALSE(key->has("d")) << "the JWKS must hold only the public key";
}

TEST_F(DevIdentity, RefusesToOverwriteAnIdentityUnlessIfMissing) {
  TempDir out;
  ASSERT_EQ(kcSetup({"dev-identity", "--out", out.path().string()}).exitCode, 0);
  const std::string key = readFile(out / "signing-key.pem");
  auto again = kcSetup({"dev-identity", "--out", out.path().string()});
  EXPECT_EQ(again.exitCode, 2);
  EXPECT_NE(again.err.find("already holds"), std::string::npos);
  EXPECT_EQ(kcSetup({"dev-identity", "--out", out.path().string(), "--if-missing"}).exitCode, 0);
  EXPECT_EQ(readFile(out / "signing-key.pem"), key) << "the signing key was replaced";
}

TEST_F(DevIdentity, MintedTokenVerifiesAgainstTheJwksWithBitwardenShapedClaims) {
  TempDir out;
  ASSERT_EQ(kcSetup({"dev-identity", "--out", out.path().string()}).exitCode, 0);
  auto result = kcSetup({"dev-token", "--identity", out.path().string(), "--user", kUser});
  ASSERT_EQ(result.exitCode, 0) << result.err;
  const std::string token = result.out.substr(0, result.out.find('\n'));
  const Jwt jwt = splitJwt(token);
  EXPECT_EQ(jwt.header->getValue<std::string>("alg"), "RS256");
  EXPECT_TRUE(verifiesAgainstJwks(jwt, readFile(out / "jwks.json")));
  EXPECT_EQ(jwt.payload->getValue<std::string>("sub"), kUser);
  EXPECT_EQ(jwt.payload->getValue<std::string>("iss") + "\n", readFile(out / "issuer"));
  auto amr = jwt.payload->getArray("amr");
  ASSERT_TRUE(amr);
  EXPECT_EQ(amr->getElement<std::string>(0), "Application");
  auto scope = jwt.payload->getArray("scope");
  ASSERT_TRUE(scope);
  EXPECT_EQ(scope->getElement<std::string>(0), "api");
  const auto exp = jwt.payload->getValue<long long>("exp");
  EXPECT_GT(exp, nowSeconds() + 3000);
  EXPECT_LE(exp, nowSeconds() + 3600);
}

TEST_F(DevIdentity, TokenFlagsSetLifetimeAmrAndScope) {
  TempDir out;
  ASSERT_EQ(kcSetup({"dev-identity", "--out", out.path().string()}).exitCode, 0);
  auto result = kcSetup({"dev-token", "--identity", out.path().string(), "--user", kUser, "--ttl",
                         "-60", "--amr", "pwd", "--scope", "api.organization,profile"});
  ASSERT_EQ(result.exitCode, 0) << result.err;
  const Jwt jwt = splitJwt(result.out.substr(0, result.out.find('\n')));
  EXPECT_LT(jwt.payload->getValue<long long>("exp"), nowSeconds()) << "a negative ttl expires";
  EXPECT_EQ(jwt.payload->getArray("amr")->getElement<std::string>(0), "pwd");
  auto scope = jwt.payload->getArray("scope");
  ASSERT_EQ(scope->size(), 2u);
  EXPECT_EQ(scope->getElement<std::string>(1), "profile");
}

TEST_F(DevIdentity, TokenRefusesAUserThatIsNotAGuid) {
  TempDir out;
  ASSERT_EQ(kcSetup({"dev-identity", "--out", out.path().string()}).exitCode, 0);
  auto result = kcSetup({"dev-token", "--identity", out.path().string(), "--user", "alice"});
  EXPECT_EQ(result.exitCode, 2);
  EXPECT_NE(result.err.find("--user"), std::string::npos);
  EXPECT_TRUE(result.out.empty());
}

TEST_F(DevIdentity, TokenWithoutAnIdentityIsAClearError) {
  TempDir out;
  auto result = kcSetup({"dev-token", "--identity", (out / "none").string(), "--user", kUser});
  EXPECT_EQ(result.exitCode, 2);
  EXPECT_NE(result.err.find("signing-key.pem"), std::string::npos);
}

TEST_F(DevIdentity, HelpOfOneWordCommandsExitsZero) {
  for (const char* command : {"dev-identity", "dev-token"}) {
    auto result = kcSetup({command, "--help"});
    EXPECT_EQ(result.exitCode, 0) << command;
    EXPECT_NE(result.out.find("DEVELOPMENT ONLY"), std::string::npos) << command;
  }
}

}  // namespace
}  // namespace kc::test
