#include "Jwt.h"

#include <Poco/Exception.h>
#include <Poco/JSON/Array.h>
#include <Poco/JSON/Parser.h>
#include <openssl/evp.h>
#include <openssl/rsa.h>

#include <memory>

#include "kc/Base64.h"

namespace kc::api {
namespace {

constexpr std::size_t kMaxJsonDepth = 16;

Status malformed(std::string reason) {
  return Status(StatusCode::kInvalidArgument, std::move(reason));
}
Status forbidden(std::string reason) {
  return Status(StatusCode::kPermissionDenied, std::move(reason));
}

// A base64url segment as a JSON object, or null.
Poco::JSON::Object::Ptr decodeObject(std::string_view segment) {
  const auto json = decodeBase64Url(segment);
  if (!json) return nullptr;
  try {
    Poco::JSON::Parser parser;
    parser.setDepth(kMaxJsonDepth);
    const Poco::Dynamic::Var root = parser.parse(*json);
    if (root.type() != typeid(Poco::JSON::Object::Ptr)) return nullptr;
    return root.extract<Poco::JSON::Object::Ptr>();
  } catch (const Poco::Exception&) {
  } catch (const std::exception&) {
  }
  return nullptr;
}

std::optional<std::string> stringMember(const Poco::JSON::Object& object, const std::string& name) {
  if (!object.has(name)) return std::nullopt;
  const Poco::Dynamic::Var value = object.get(name);
  if (value.type() != typeid(std::string)) return std::nullopt;
  return value.extract<std::string>();
}

// A JSON number member as seconds since the epoch; nullopt if absent or not a number.
std::optional<double> numericMember(const Poco::JSON::Object& object, const std::string& name) {
  if (!object.has(name)) return std::nullopt;
  const Poco::Dynamic::Var value = object.get(name);
  if (!value.isNumeric() || value.isBoolean() || value.isString()) return std::nullopt;
  try {
    return value.convert<double>();
  } catch (const Poco::Exception&) {
    return std::nullopt;
  }
}

// Whether claim `name` (a string or an array of strings) holds one of `wanted`; a string
// claim is split at spaces when `spaceDelimited`.
bool claimContains(const Poco::JSON::Object& claims, const std::string& name,
                   std::initializer_list<std::string_view> wanted, bool spaceDelimited) {
  if (!claims.has(name)) return false;
  const Poco::Dynamic::Var value = claims.get(name);
  const auto matches = [&](std::string_view item) {
    for (const auto w : wanted)
      if (item == w) return true;
    return false;
  };
  if (value.type() == typeid(std::string)) {
    const std::string& text = value.extract<std::string>();
    if (!spaceDelimited) return matches(text);
    std::string_view rest = text;
    while (!rest.empty()) {
      const auto space = rest.find(' ');
      if (matches(rest.substr(0, space))) return true;
      if (space == std::string_view::npos) break;
      rest.remove_prefix(space + 1);
    }
    return false;
  }
  if (value.type() == typeid(Poco::JSON::Array::Ptr)) {
    const auto& array = value.extract<Poco::JSON::Array::Ptr>();
    for (std::size_t i = 0; i < array->size(); ++i) {
      const Poco::Dynamic::Var item = array->get(static_cast<unsigned>(i));
      if (item.type() == typeid(std::string) && matches(item.extract<std::string>())) return true;
    }
  }
  return false;
}

}  // namespace

Result<Jwt> parseJwt(std::string_view token, const JwtSettings& settings) {
  if (token.empty()) return malformed("empty token");
  if (token.size() > settings.maxTokenBytes) return malformed("token too long");
  const auto firstDot = token.find('.');
  const auto secondDot =
      firstDot == std::string_view::npos ? firstDot : token.find('.', firstDot + 1);
  if (secondDot == std::string_view::npos ||
      token.find('.', secondDot + 1) != std::string_view::npos) {
    return malformed("token does not have three segments");
  }
  const auto headerText = token.substr(0, firstDot);
  const auto payloadText = token.substr(firstDot + 1, secondDot - firstDot - 1);
  const auto signatureText = token.substr(secondDot + 1);
  if (headerText.empty() || payloadText.empty() || signatureText.empty()) {
    return malformed("token has an empty segment");
  }

  const auto header = decodeObject(headerText);
  if (!header) return malformed("token header is not a base64url JSON object");
  Jwt jwt;
  const auto alg = stringMember(*header, "alg");
  if (!alg) return malformed("token header has no alg");
  if (*alg != "RS256" && !(settings.allowPs256 && *alg == "PS256")) {
    return malformed("token algorithm refused");
  }
  jwt.algorithm = *alg;
  if (header->has("crit")) return malformed("token header has crit");
  if (header->has("kid")) {
    jwt.kid = stringMember(*header, "kid");
    if (!jwt.kid) return malformed("token kid is not a string");
  }

  jwt.claims = decodeObject(payloadText);
  if (!jwt.claims) return malformed("token payload is not a base64url JSON object");
  auto signature = decodeBase64Url(signatureText);
  if (!signature) return malformed("token signature is not base64url");
  jwt.signature = std::move(*signature);
  jwt.signingInput = token.substr(0, secondDot);
  return jwt;
}

bool verifyJwtSignature(const Jwt& jwt, evp_pkey_st* key) {
  if (key == nullptr || EVP_PKEY_get_base_id(key) != EVP_PKEY_RSA) return false;
  if (jwt.signature.size() != static_cast<std::size_t>(EVP_PKEY_get_size(key))) return false;
  std::unique_ptr<EVP_MD_CTX, decltype(&EVP_MD_CTX_free)> context(EVP_MD_CTX_new(),
                                                                  EVP_MD_CTX_free);
  EVP_PKEY_CTX* keyContext = nullptr;  // owned by `context`
  if (!context ||
      EVP_DigestVerifyInit(context.get(), &keyContext, EVP_sha256(), nullptr, key) != 1) {
    return false;
  }
  if (jwt.algorithm == "PS256") {
    // RFC 7518 §3.5: MGF1 with SHA-256, salt as long as the hash.
    if (EVP_PKEY_CTX_set_rsa_padding(keyContext, RSA_PKCS1_PSS_PADDING) != 1 ||
        EVP_PKEY_CTX_set_rsa_mgf1_md(keyContext, EVP_sha256()) != 1 ||
        EVP_PKEY_CTX_set_rsa_pss_saltlen(keyContext, RSA_PSS_SALTLEN_DIGEST) != 1) {
      return false;
    }
  } else if (jwt.algorithm == "RS256") {
    if (EVP_PKEY_CTX_set_rsa_padding(keyContext, RSA_PKCS1_PADDING) != 1) return false;
  } else {
    return false;
  }
  return EVP_DigestVerify(
             context.get(), reinterpret_cast<const unsigned char*>(jwt.signature.data()),
             jwt.signature.size(), reinterpret_cast<const unsigned char*>(jwt.signingInput.data()),
             jwt.signingInput.size()) == 1;
}

Result<AuthenticatedUser> checkClaims(const Poco::JSON::Object& claims,
                                      const ClaimExpectations& expectations,
                                      std::optional<UserId>* deniedUserId) {
  const auto issuer = stringMember(claims, "iss");
  if (!issuer) return malformed("token has no iss");
  if (expectations.issuer.empty() || *issuer != expectations.issuer) {
    return malformed("token issuer not accepted");
  }
  const double now = std::chrono::duration<double>(expectations.now.time_since_epoch()).count();
  const auto skew = static_cast<double>(expectations.clockSkew.count());
  const auto exp = numericMember(claims, "exp");
  if (!exp) return malformed("token has no exp");
  if (now > *exp + skew) return malformed("token expired");
  if (claims.has("nbf")) {
    const auto nbf = numericMember(claims, "nbf");
    if (!nbf) return malformed("token nbf is not a number");
    if (now + skew < *nbf) return malformed("token not yet valid");
  }

  const auto sub = stringMember(claims, "sub");
  std::optional<UserId> userId;
  if (sub) {
    if (auto parsed = UserId::parse(*sub)) userId = std::move(parsed).value();
  }
  if (deniedUserId != nullptr && userId) *deniedUserId = *userId;
  if (!claimContains(claims, "amr", {"Application", "external"}, false)) {
    return forbidden("token amr lacks Application or external");
  }
  if (!claimContains(claims, "scope", {"api"}, true)) return forbidden("token scope lacks api");
  if (!sub) return forbidden("token has no sub");
  if (!userId) return forbidden("token sub is not a GUID");
  if (deniedUserId != nullptr) deniedUserId->reset();
  return AuthenticatedUser{std::move(*userId)};
}

}  // namespace kc::api
