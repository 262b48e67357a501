#include "kc/provisioning/DevIdentity.h"

#include <Poco/JSON/Array.h>
#include <Poco/JSON/Object.h>
#include <Poco/JSON/Stringifier.h>
#include <openssl/bio.h>
#include <openssl/bn.h>
#include <openssl/core_names.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/rsa.h>
#include <openssl/sha.h>
#include <sys/stat.h>

#include <fstream>
#include <memory>
#include <sstream>

namespace kc::provisioning {
namespace {

struct KeyDeleter {
  void operator()(EVP_PKEY* key) const { EVP_PKEY_free(key); }
};
using KeyPtr = std::unique_ptr<EVP_PKEY, KeyDeleter>;
struct BignumDeleter {
  void operator()(BIGNUM* n) const { BN_free(n); }
};
using BignumPtr = std::unique_ptr<BIGNUM, BignumDeleter>;

std::string base64Url(const unsigned char* data, std::size_t size) {
  std::string out(4 * ((size + 2) / 3) + 1, '\0');
  const int length =
      EVP_EncodeBlock(reinterpret_cast<unsigned char*>(out.data()), data, static_cast<int>(size));
  out.resize(static_cast<std::size_t>(length));
  for (char& c : out) {
    if (c == '+') c = '-';
    if (c == '/') c = '_';
  }
  while (!out.empty() && out.back() == '=') out.pop_back();
  return out;
}
std::string base64Url(std::string_view text) {
  return base64Url(reinterpret_cast<const unsigned char*>(text.data()), text.size());
}

std::string bignumBase64Url(const BIGNUM* n) {
  std::vector<unsigned char> bytes(static_cast<std::size_t>(BN_num_bytes(n)));
  BN_bn2bin(n, bytes.data());
  return base64Url(bytes.data(), bytes.size());
}

std::string toJson(const Poco::JSON::Object& object) {
  std::ostringstream out;
  Poco::JSON::Stringifier::condense(object, out);
  return out.str();
}

Result<std::string> readText(const std::filesystem::path& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) return Status(StatusCode::kNotFound, "cannot read " + path.string());
  std::ostringstream out;
  out << in.rdbuf();
  return out.str();
}

Status writeText(const std::filesystem::path& path, const std::string& text, mode_t mode) {
  const std::string temporary = path.string() + ".tmp";
  {
    std::ofstream out(temporary, std::ios::binary | std::ios::trunc);
    if (!out) return Status(StatusCode::kInvalidArgument, "cannot write " + temporary);
    if (chmod(temporary.c_str(), mode) != 0) {
      return Status(StatusCode::kInvalidArgument, "cannot chmod " + temporary);
    }
    out << text;
    if (!out.flush()) return Status(StatusCode::kInvalidArgument, "cannot write " + temporary);
  }
  std::error_code error;
  std::filesystem::rename(temporary, path, error);
  if (error) return Status(StatusCode::kInvalidArgument, "cannot write " + path.string());
  return Status::ok();
}

// The RFC 7638 thumbprint of an RSA public key: base64url(SHA-256({"e":..,"kty":"RSA","n":..})).
std::string thumbprint(const std::string& e, const std::string& n) {
  const std::string canonical = R"({"e":")" + e + R"(","kty":"RSA","n":")" + n + R"("})";
  unsigned char digest[SHA256_DIGEST_LENGTH];
  SHA256(reinterpret_cast<const unsigned char*>(canonical.data()), canonical.size(), digest);
  return base64Url(digest, sizeof digest);
}

struct PublicParts {
  std::string n;
  std::string e;
  std::string kid;
};

Result<PublicParts> publicParts(EVP_PKEY* key) {
  BIGNUM* n = nullptr;
  BIGNUM* e = nullptr;
  if (EVP_PKEY_get_bn_param(key, OSSL_PKEY_PARAM_RSA_N, &n) != 1 ||
      EVP_PKEY_get_bn_param(key, OSSL_PKEY_PARAM_RSA_E, &e) != 1) {
    BN_free(n);
    return Status(StatusCode::kInternal, "cannot read the RSA public key");
  }
  BignumPtr nOwner(n), eOwner(e);
  PublicParts parts{bignumBase64Url(n), bignumBase64Url(e), {}};
  parts.kid = thumbprint(parts.e, parts.n);
  return parts;
}

Result<KeyPtr> loadSigningKey(const std::filesystem::path& path) {
  auto pem = readText(path);
  if (!pem) return pem.status();
  BIO* bio = BIO_new_mem_buf(pem->data(), static_cast<int>(pem->size()));
  EVP_PKEY* key = PEM_read_bio_PrivateKey(bio, nullptr, nullptr, nullptr);
  BIO_free(bio);
  OPENSSL_cleanse(pem->data(), pem->size());
  if (key == nullptr) {
    return Status(StatusCode::kInvalidArgument, path.string() + " holds no PEM private key");
  }
  return KeyPtr(key);
}

}  // namespace

DevIdentityFiles devIdentityFiles(const std::filesystem::path& directory) {
  return {directory / "signing-key.pem", directory / "jwks.json", directory / "issuer"};
}

Status createDevIdentity(const std::filesystem::path& directory, const std::string& issuer) {
  if (issuer.empty() || issuer.find('\n') != std::string::npos) {
    return Status(StatusCode::kInvalidArgument, "the issuer must be one non-empty line");
  }
  const auto files = devIdentityFiles(directory);
  if (std::filesystem::exists(files.signingKey)) {
    return Status(StatusCode::kAlreadyExists,
                  directory.string() + " already holds a development identity");
  }
  std::error_code error;
  std::filesystem::create_directories(directory, error);
  if (error) return Status(StatusCode::kInvalidArgument, "cannot create " + directory.string());
  chmod(directory.c_str(), 0700);

  KeyPtr key(EVP_RSA_gen(2048));
  if (!key) return Status(StatusCode::kInternal, "RSA key generation failed");
  BIO* bio = BIO_new(BIO_s_mem());
  PEM_write_bio_PrivateKey(bio, key.get(), nullptr, nullptr, 0, nullptr, nullptr);
  char* data = nullptr;
  const long length = BIO_get_mem_data(bio, &data);
  std::string pem(data, static_cast<std::size_t>(length));
  BIO_free(bio);
  Status written = writeText(files.signingKey, pem, 0600);
  OPENSSL_cleanse(pem.data(), pem.size());
  KC_RETURN_IF_ERROR(written);

  auto parts = publicParts(key.get());
  if (!parts) return parts.status();
  Poco::JSON::Object jwk;
  jwk.set("kty", "RSA");
  jwk.set("use", "sig");
  jwk.set("alg", "RS256");
  jwk.set("kid", parts->kid);
  jwk.set("n", parts->n);
  jwk.set("e", parts->e);
  Poco::JSON::Array keys;
  keys.add(jwk);
  Poco::JSON::Object jwks;
  jwks.set("keys", keys);
  KC_RETURN_IF_ERROR(writeText(files.jwks, toJson(jwks) + "\n", 0644));
  return writeText(files.issuer, issuer + "\n", 0644);
}

Result<std::string> mintDevToken(const std::filesystem::path& directory,
                                 const DevTokenClaims& claims) {
  const auto files = devIdentityFiles(directory);
  auto key = loadSigningKey(files.signingKey);
  if (!key) return key.status();
  std::string issuer = claims.issuer;
  if (issuer.empty()) {
    auto text = readText(files.issuer);
    if (!text) return text.status();
    issuer = text->substr(0, text->find('\n'));
  }
  auto parts = publicParts(key->get());
  if (!parts) return parts.status();

  Poco::JSON::Object header;
  header.set("alg", "RS256");
  header.set("typ", "JWT");
  header.set("kid", parts->kid);

  const auto now = std::chrono::duration_cast<std::chrono::seconds>(
                       std::chrono::system_clock::now().time_since_epoch())
                       .count();
  Poco::JSON::Object payload;
  payload.set("iss", issuer);
  payload.set("sub", claims.userId);
  payload.set("iat", static_cast<Poco::Int64>(now));
  payload.set("nbf", static_cast<Poco::Int64>(now + claims.notBeforeOffset.count()));
  payload.set("exp", static_cast<Poco::Int64>(now + claims.timeToLive.count()));
  payload.set("client_id", claims.clientId);
  Poco::JSON::Array amr, scope;
  for (const auto& value : claims.amr) amr.add(value);
  for (const auto& value : claims.scope) scope.add(value);
  payload.set("amr", amr);
  payload.set("scope", scope);

  const std::string signingInput = base64Url(toJson(header)) + "." + base64Url(toJson(payload));
  EVP_MD_CTX* context = EVP_MD_CTX_new();
  std::size_t length = 0;
  std::vector<unsigned char> signature;
  bool ok = context != nullptr &&
            EVP_DigestSignInit(context, nullptr, EVP_sha256(), nullptr, key->get()) == 1 &&
            EVP_DigestSign(context, nullptr, &length,
                           reinterpret_cast<const unsigned char*>(signingInput.data()),
                           signingInput.size()) == 1;
  if (ok) {
    signature.resize(length);
    ok = EVP_DigestSign(context, signature.data(), &length,
                        reinterpret_cast<const unsigned char*>(signingInput.data()),
                        signingInput.size()) == 1;
  }
  EVP_MD_CTX_free(context);
  if (!ok) return Status(StatusCode::kInternal, "signing the development token failed");
  return signingInput + "." + base64Url(signature.data(), length);
}

}  // namespace kc::provisioning
