#include "kc/pkcs11/PublicKey.h"

#include <openssl/bio.h>
#include <openssl/bn.h>
#include <openssl/core_names.h>
#include <openssl/evp.h>
#include <openssl/param_build.h>
#include <openssl/pem.h>
#include <openssl/sha.h>
#include <openssl/x509.h>

#include <memory>

#include "kc/Text.h"

namespace kc::pkcs11 {
namespace {

template <typename T, void (*Free)(T*)>
struct OpenSslDeleter {
  void operator()(T* p) const { Free(p); }
};
using BignumPtr = std::unique_ptr<BIGNUM, OpenSslDeleter<BIGNUM, BN_free>>;
using ParamBuildPtr =
    std::unique_ptr<OSSL_PARAM_BLD, OpenSslDeleter<OSSL_PARAM_BLD, OSSL_PARAM_BLD_free>>;
using ParamsPtr = std::unique_ptr<OSSL_PARAM, OpenSslDeleter<OSSL_PARAM, OSSL_PARAM_free>>;
using ContextPtr = std::unique_ptr<EVP_PKEY_CTX, OpenSslDeleter<EVP_PKEY_CTX, EVP_PKEY_CTX_free>>;
using KeyPtr = std::unique_ptr<EVP_PKEY, OpenSslDeleter<EVP_PKEY, EVP_PKEY_free>>;
using BioPtr = std::unique_ptr<BIO, OpenSslDeleter<BIO, BIO_free_all>>;

Status openSslError(const std::string& what) {
  return Status(StatusCode::kInternal, what + " failed in OpenSSL");
}

}  // namespace

Result<PublicKeyInfo> rsaPublicKeyInfo(std::span<const std::uint8_t> modulus,
                                       std::span<const std::uint8_t> exponent) {
  if (modulus.empty() || exponent.empty()) {
    return Status(StatusCode::kInvalidArgument, "RSA public key without modulus or exponent");
  }
  BignumPtr n(BN_bin2bn(modulus.data(), static_cast<int>(modulus.size()), nullptr));
  BignumPtr e(BN_bin2bn(exponent.data(), static_cast<int>(exponent.size()), nullptr));
  ParamBuildPtr build(OSSL_PARAM_BLD_new());
  if (!n || !e || !build || !OSSL_PARAM_BLD_push_BN(build.get(), OSSL_PKEY_PARAM_RSA_N, n.get()) ||
      !OSSL_PARAM_BLD_push_BN(build.get(), OSSL_PKEY_PARAM_RSA_E, e.get())) {
    return openSslError("building RSA parameters");
  }
  ParamsPtr params(OSSL_PARAM_BLD_to_param(build.get()));
  ContextPtr context(EVP_PKEY_CTX_new_from_name(nullptr, "RSA", nullptr));
  EVP_PKEY* raw = nullptr;
  if (!params || !context || EVP_PKEY_fromdata_init(context.get()) <= 0 ||
      EVP_PKEY_fromdata(context.get(), &raw, EVP_PKEY_PUBLIC_KEY, params.get()) <= 0) {
    return openSslError("importing the RSA public key");
  }
  KeyPtr key(raw);

  PublicKeyInfo info;
  info.modulusBits = static_cast<unsigned>(EVP_PKEY_get_bits(key.get()));
  unsigned char* der = nullptr;
  const int derLength = i2d_PUBKEY(key.get(), &der);
  if (derLength <= 0) return openSslError("encoding the public key as DER");
  info.der.assign(der, der + derLength);
  OPENSSL_free(der);

  BioPtr bio(BIO_new(BIO_s_mem()));
  if (!bio || PEM_write_bio_PUBKEY(bio.get(), key.get()) != 1) {
    return openSslError("encoding the public key as PEM");
  }
  char* pem = nullptr;
  const long pemLength = BIO_get_mem_data(bio.get(), &pem);
  info.pem.assign(pem, static_cast<std::size_t>(pemLength));

  unsigned char digest[SHA256_DIGEST_LENGTH];
  SHA256(info.der.data(), info.der.size(), digest);
  info.fingerprint = "sha256:" + toHex(digest);
  return info;
}

}  // namespace kc::pkcs11
