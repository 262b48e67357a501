#include "Jwk.h"

#include <Poco/Exception.h>
#include <Poco/JSON/Array.h>
#include <Poco/JSON/Object.h>
#include <Poco/JSON/Parser.h>
#include <openssl/core_names.h>
#include <openssl/evp.h>
#include <openssl/param_build.h>

#include "kc/Base64.h"

namespace kc::api {
namespace {

constexpr int kMinModulusBits = 2048;
constexpr int kMaxModulusBits = 8192;

Poco::JSON::Object::Ptr parseObject(std::string_view document) {
  Poco::JSON::Parser parser;
  const Poco::Dynamic::Var root = parser.parse(std::string(document));
  if (root.type() != typeid(Poco::JSON::Object::Ptr)) return nullptr;
  return root.extract<Poco::JSON::Object::Ptr>();
}

// The string member `name`, or nullopt when it is absent or not a string.
std::optional<std::string> stringMember(const Poco::JSON::Object& object, const std::string& name) {
  if (!object.has(name)) return std::nullopt;
  const Poco::Dynamic::Var value = object.get(name);
  if (value.type() != typeid(std::string)) return std::nullopt;
  return value.extract<std::string>();
}

std::string stripLeadingZeros(std::string_view bytes) {
  while (!bytes.empty() && bytes.front() == '\0') bytes.remove_prefix(1);
  return std::string(bytes);
}

std::optional<SigningKey> keyFrom(const Poco::JSON::Object& jwk) {
  if (stringMember(jwk, "kty") != "RSA") return std::nullopt;
  if (jwk.has("use") && stringMember(jwk, "use") != "sig") return std::nullopt;
  std::string algorithm;
  if (jwk.has("alg")) {
    const auto alg = stringMember(jwk, "alg");
    if (alg != "RS256" && alg != "PS256") return std::nullopt;
    algorithm = *alg;
  }
  const auto n = stringMember(jwk, "n");
  const auto e = stringMember(jwk, "e");
  if (!n || !e) return std::nullopt;
  const auto modulus = decodeBase64Url(*n);
  const auto exponent = decodeBase64Url(*e);
  if (!modulus || !exponent) return std::nullopt;
  auto key = rsaPublicKey(*modulus, *exponent);
  if (!key) return std::nullopt;
  SigningKey out;
  out.kid = stringMember(jwk, "kid").value_or("");
  out.algorithm = std::move(algorithm);
  out.key = std::move(key.value());
  return out;
}

}  // namespace

Result<std::shared_ptr<evp_pkey_st>> rsaPublicKey(std::string_view modulus,
                                                  std::string_view exponent) {
  const std::string n = stripLeadingZeros(modulus);
  const std::string e = stripLeadingZeros(exponent);
  const auto bits = static_cast<long long>(n.size()) * 8;
  if (bits < kMinModulusBits - 7 || bits > kMaxModulusBits || e.empty() || e.size() > 8 ||
      (static_cast<unsigned char>(e.back()) & 1) == 0) {
    return Status(StatusCode::kInvalidArgument, "RSA key size or exponent out of bounds");
  }
  std::unique_ptr<BIGNUM, decltype(&BN_free)> bnN(
      BN_bin2bn(reinterpret_cast<const unsigned char*>(n.data()), static_cast<int>(n.size()),
                nullptr),
      BN_free);
  std::unique_ptr<BIGNUM, decltype(&BN_free)> bnE(
      BN_bin2bn(reinterpret_cast<const unsigned char*>(e.data()), static_cast<int>(e.size()),
                nullptr),
      BN_free);
  if (!bnN || !bnE || BN_num_bits(bnN.get()) < kMinModulusBits || BN_is_one(bnE.get())) {
    return Status(StatusCode::kInvalidArgument, "RSA key size or exponent out of bounds");
  }
  std::unique_ptr<OSSL_PARAM_BLD, decltype(&OSSL_PARAM_BLD_free)> builder(OSSL_PARAM_BLD_new(),
                                                                          OSSL_PARAM_BLD_free);
  if (!builder || !OSSL_PARAM_BLD_push_BN(builder.get(), OSSL_PKEY_PARAM_RSA_N, bnN.get()) ||
      !OSSL_PARAM_BLD_push_BN(builder.get(), OSSL_PKEY_PARAM_RSA_E, bnE.get())) {
    return Status(StatusCode::kInternal, "cannot build RSA parameters");
  }
  std::unique_ptr<OSSL_PARAM, decltype(&OSSL_PARAM_free)> params(
      OSSL_PARAM_BLD_to_param(builder.get()), OSSL_PARAM_free);
  std::unique_ptr<EVP_PKEY_CTX, decltype(&EVP_PKEY_CTX_free)> context(
      EVP_PKEY_CTX_new_from_name(nullptr, "RSA", nullptr), EVP_PKEY_CTX_free);
  EVP_PKEY* key = nullptr;
  if (!params || !context || EVP_PKEY_fromdata_init(context.get()) <= 0 ||
      EVP_PKEY_fromdata(context.get(), &key, EVP_PKEY_PUBLIC_KEY, params.get()) <= 0) {
    return Status(StatusCode::kInvalidArgument, "OpenSSL refused the RSA key");
  }
  return std::shared_ptr<evp_pkey_st>(key, EVP_PKEY_free);
}

Result<std::map<std::string, SigningKey>> parseJwks(std::string_view document) {
  std::map<std::string, SigningKey> keys;
  try {
    const auto root = parseObject(document);
    if (!root) return Status(StatusCode::kInvalidArgument, "JWKS is not a JSON object");
    if (!root->has("keys") || root->get("keys").type() != typeid(Poco::JSON::Array::Ptr)) {
      return Status(StatusCode::kInvalidArgument, "JWKS has no keys array");
    }
    const auto array = root->getArray("keys");
    for (std::size_t i = 0; i < array->size(); ++i) {
      const auto jwk = array->getObject(static_cast<unsigned>(i));
      if (!jwk) continue;
      auto key = keyFrom(*jwk);
      if (key) keys.try_emplace(key->kid, std::move(*key));
    }
  } catch (const Poco::Exception&) {
    return Status(StatusCode::kInvalidArgument, "JWKS is not valid JSON");
  } catch (const std::exception&) {
    return Status(StatusCode::kInvalidArgument, "JWKS is not valid JSON");
  }
  if (keys.empty()) return Status(StatusCode::kInvalidArgument, "JWKS holds no usable RSA key");
  return keys;
}

Result<Discovery> parseDiscovery(std::string_view document) {
  try {
    const auto root = parseObject(document);
    if (!root) return Status(StatusCode::kInvalidArgument, "discovery document is not an object");
    Discovery out;
    auto issuer = stringMember(*root, "issuer");
    auto jwksUri = stringMember(*root, "jwks_uri");
    if (!issuer || issuer->empty() || !jwksUri) {
      return Status(StatusCode::kInvalidArgument, "discovery document lacks issuer or jwks_uri");
    }
    if (jwksUri->rfind("https://", 0) != 0 && jwksUri->rfind("http://", 0) != 0) {
      return Status(StatusCode::kInvalidArgument, "jwks_uri is not an http(s) URI");
    }
    out.issuer = std::move(*issuer);
    out.jwksUri = std::move(*jwksUri);
    return out;
  } catch (const Poco::Exception&) {
  } catch (const std::exception&) {
  }
  return Status(StatusCode::kInvalidArgument, "discovery document is not valid JSON");
}

}  // namespace kc::api
