// The reference's RSA private key: a PKCS#12 or PEM file through OpenSSL, or a private key on a
// PKCS#11 token. The reference holds only the private key on a token (its public half comes
// from a certificate elsewhere), so the token key is found by itself, not as a key pair.

#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/pkcs12.h>
#include <openssl/provider.h>
#include <openssl/rsa.h>

#include <cstdio>
#include <memory>

#include "kc/pkcs11/Module.h"
#include "kc/pkcs11/Pkcs11Uri.h"
#include "kc/pkcs11/SessionPool.h"
#include "kc/provisioning/BitwardenImport.h"

namespace kc::provisioning {
namespace {

struct PkeyDeleter {
  void operator()(EVP_PKEY* key) const { EVP_PKEY_free(key); }
};
struct PkeyContextDeleter {
  void operator()(EVP_PKEY_CTX* context) const { EVP_PKEY_CTX_free(context); }
};
struct Pkcs12Deleter {
  void operator()(PKCS12* p12) const { PKCS12_free(p12); }
};
struct X509Deleter {
  void operator()(X509* cert) const { X509_free(cert); }
};
struct BioDeleter {
  void operator()(BIO* bio) const { BIO_free(bio); }
};
using Pkey = std::unique_ptr<EVP_PKEY, PkeyDeleter>;

// A NUL-terminated copy of the source's password (its variable, else its file), as OpenSSL
// takes it; neither: none.
Result<SecretBytes> readPassword(const ReferenceKeySource& source) {
  if (source.passwordEnv.empty() && source.passwordFile.empty()) return SecretBytes(1);  // ""
  auto password = source.passwordEnv.empty()
                      ? pkcs11::PinSource::fromFile(source.passwordFile).read()
                      : pkcs11::PinSource::fromEnvironment(source.passwordEnv).read();
  if (!password) return password.status();
  SecretBytes terminated(password->size() + 1);
  std::copy(password->view().begin(), password->view().end(), terminated.data());
  return terminated;
}

Result<std::unique_ptr<BIO, BioDeleter>> openFile(const std::filesystem::path& path,
                                                  std::string_view what) {
  std::unique_ptr<BIO, BioDeleter> bio(BIO_new_file(path.c_str(), "rb"));
  if (!bio) {
    ERR_clear_error();
    return Status(StatusCode::kInvalidArgument,
                  "cannot read the " + std::string(what) + " " + path.string());
  }
  return bio;
}

Result<Pkey> loadPkcs12(const ReferenceKeySource& source) {
  auto password = readPassword(source);
  if (!password) return password.status();
  auto bio = openFile(source.path, "PKCS#12 file");
  if (!bio) return bio.status();
  std::unique_ptr<PKCS12, Pkcs12Deleter> p12(d2i_PKCS12_bio(bio->get(), nullptr));
  if (!p12) {
    ERR_clear_error();
    return Status(StatusCode::kInvalidArgument, source.path.string() + " is not a PKCS#12 file");
  }
  const char* pass = reinterpret_cast<const char*>(password->data());
  if (PKCS12_mac_present(p12.get()) && PKCS12_verify_mac(p12.get(), pass, -1) != 1) {
    ERR_clear_error();
    return Status(StatusCode::kPermissionDenied,
                  "the password does not open the PKCS#12 file " + source.path.string());
  }
  for (int attempt = 0; attempt < 2; ++attempt) {
    EVP_PKEY* key = nullptr;
    X509* cert = nullptr;
    if (PKCS12_parse(p12.get(), pass, &key, &cert, nullptr) == 1) {
      std::unique_ptr<X509, X509Deleter> certificate(cert);
      if (!key) {
        return Status(StatusCode::kInvalidArgument,
                      "the PKCS#12 file " + source.path.string() + " holds no private key");
      }
      return Pkey(key);
    }
    ERR_clear_error();
    // Older PFX files protect the key with RC2 or 3DES, which OpenSSL 3 keeps in its legacy
    // provider; load it (beside the default one) and try once more.
    if (attempt == 0 && !OSSL_PROVIDER_available(nullptr, "legacy")) {
      if (!OSSL_PROVIDER_try_load(nullptr, "legacy", 1)) break;
      continue;
    }
    break;
  }
  ERR_clear_error();
  return Status(StatusCode::kPermissionDenied, "cannot decrypt the PKCS#12 file " +
                                                   source.path.string() +
                                                   " (wrong password or unsupported cipher)");
}

// A PEM pass-phrase callback that never prompts: it offers the password file's contents, if
// any, else nothing.
int pemPassword(char* buffer, int size, int, void* userData) {
  const auto* password = static_cast<const SecretBytes*>(userData);
  if (!password || password->size() <= 1) return 0;
  const int length = static_cast<int>(password->size() - 1);
  if (length > size) return 0;
  std::copy(password->data(), password->data() + length, buffer);
  return length;
}

Result<Pkey> loadPem(const ReferenceKeySource& source) {
  auto password = readPassword(source);
  if (!password) return password.status();
  auto bio = openFile(source.path, "PEM key file");
  if (!bio) return bio.status();
  Pkey key(PEM_read_bio_PrivateKey(bio->get(), nullptr, pemPassword, &*password));
  if (!key) {
    ERR_clear_error();
    return Status(StatusCode::kInvalidArgument,
                  source.path.string() +
                      " holds no PEM private key (or its pass-phrase file does not open it)");
  }
  return key;
}

}  // namespace

struct ReferenceKey::State {
  std::string description;
  Pkey fileKey;  // kPkcs12, kPem
  // kPkcs11: the pool, and the URI naming the private key.
  std::shared_ptr<pkcs11::SessionPool> pool;
  std::optional<pkcs11::Pkcs11Uri> uri;

  Result<SecretBytes> decryptWithFile(std::span<const std::uint8_t> ciphertext) const;
  Result<SecretBytes> decryptOnToken(std::span<const std::uint8_t> ciphertext) const;
};

ReferenceKey::ReferenceKey(std::unique_ptr<State> state) : state_(std::move(state)) {}
ReferenceKey::~ReferenceKey() = default;
ReferenceKey::ReferenceKey(ReferenceKey&&) noexcept = default;
ReferenceKey& ReferenceKey::operator=(ReferenceKey&&) noexcept = default;

const std::string& ReferenceKey::describe() const {
  return state_->description;
}

Result<ReferenceKey> ReferenceKey::open(const ReferenceKeySource& source) {
  auto state = std::make_unique<State>();
  switch (source.kind) {
    case ReferenceKeySource::Kind::kPkcs12:
    case ReferenceKeySource::Kind::kPem: {
      const bool pkcs12 = source.kind == ReferenceKeySource::Kind::kPkcs12;
      state->description = (pkcs12 ? "PKCS#12 file " : "PEM key file ") + source.path.string();
      auto key = pkcs12 ? loadPkcs12(source) : loadPem(source);
      if (!key) return key.status();
      if (!EVP_PKEY_is_a(key->get(), "RSA")) {
        return Status(StatusCode::kInvalidArgument,
                      "the " + state->description + " holds a key that is not RSA");
      }
      state->fileKey = std::move(*key);
      return ReferenceKey(std::move(state));
    }
    case ReferenceKeySource::Kind::kPkcs11: {
      state->description = "PKCS#11 key " + source.pkcs11KeyUri;
      if (source.pkcs11Module.empty() || !source.pin) {
        return Status(StatusCode::kInvalidArgument,
                      "the " + state->description + " needs a module path and a PIN source");
      }
      auto uri = pkcs11::Pkcs11Uri::parse(source.pkcs11KeyUri);
      if (!uri) return uri.status();
      if (!uri->namesObject()) {
        return Status(StatusCode::kInvalidArgument,
                      source.pkcs11KeyUri + " names no key: add object=<label> or id=<id>");
      }
      auto module = pkcs11::Module::load(source.pkcs11Module);
      if (!module) return module.status();
      auto slot = (*module)->findToken(*uri, source.tokenMatch);
      if (!slot) return slot.status();
      pkcs11::SessionPoolOptions options;
      options.size = 1;
      auto pool = pkcs11::SessionPool::open(*module, *slot, *source.pin, options);
      if (!pool) return pool.status();
      state->pool = std::move(*pool);
      state->uri = std::move(*uri);
      ReferenceKey key(std::move(state));
      // Look the key up now, so a wrong URI fails here rather than at the first decryption.
      auto probe = key.state_->decryptOnToken({});
      if (!probe && probe.status().code() != StatusCode::kIntegrity) return probe.status();
      return key;
    }
  }
  return Status(StatusCode::kInvalidArgument, "unknown kind of reference key");
}

Result<SecretBytes> ReferenceKey::decryptOaepSha1(std::span<const std::uint8_t> ciphertext) const {
  return state_->fileKey ? state_->decryptWithFile(ciphertext) : state_->decryptOnToken(ciphertext);
}

Result<SecretBytes> ReferenceKey::State::decryptWithFile(
    std::span<const std::uint8_t> ciphertext) const {
  std::unique_ptr<EVP_PKEY_CTX, PkeyContextDeleter> context(
      EVP_PKEY_CTX_new(fileKey.get(), nullptr));
  std::size_t length = 0;
  if (!context || EVP_PKEY_decrypt_init(context.get()) != 1 ||
      EVP_PKEY_CTX_set_rsa_padding(context.get(), RSA_PKCS1_OAEP_PADDING) != 1 ||
      EVP_PKEY_CTX_set_rsa_oaep_md(context.get(), EVP_sha1()) != 1 ||
      EVP_PKEY_CTX_set_rsa_mgf1_md(context.get(), EVP_sha1()) != 1 ||
      EVP_PKEY_decrypt(context.get(), nullptr, &length, ciphertext.data(), ciphertext.size()) !=
          1) {
    ERR_clear_error();
    return Status(StatusCode::kInternal, "RSA-OAEP could not be set up with the " + description);
  }
  SecretBytes plain(length);
  if (EVP_PKEY_decrypt(context.get(), plain.data(), &length, ciphertext.data(),
                       ciphertext.size()) != 1) {
    ERR_clear_error();
    return Status(StatusCode::kIntegrity,
                  "RSA-OAEP-SHA-1 decryption with the " + description + " failed");
  }
  plain.truncate(length);
  return plain;
}

Result<SecretBytes> ReferenceKey::State::decryptOnToken(
    std::span<const std::uint8_t> ciphertext) const {
  CK_FUNCTION_LIST* api = pool->api();
  SecretBytes plain;
  Status lookUp = Status::ok();
  CK_RV decryptRv = CKR_OK;
  Status ran = pool->run("RSA-OAEP decrypt with " + uri->text(), [&](CK_SESSION_HANDLE session) {
    CK_OBJECT_CLASS privateClass = CKO_PRIVATE_KEY;
    CK_KEY_TYPE rsa = CKK_RSA;
    std::vector<CK_ATTRIBUTE> query;
    for (const auto& attribute : uri->objectTemplate()) {
      if (attribute.type != CKA_CLASS) query.push_back(attribute);
    }
    query.push_back({CKA_CLASS, &privateClass, sizeof privateClass});
    query.push_back({CKA_KEY_TYPE, &rsa, sizeof rsa});
    CK_RV rv = api->C_FindObjectsInit(session, query.data(), query.size());
    if (rv != CKR_OK) return rv;
    std::array<CK_OBJECT_HANDLE, 2> found{};
    CK_ULONG count = 0;
    rv = api->C_FindObjects(session, found.data(), found.size(), &count);
    const CK_RV finalRv = api->C_FindObjectsFinal(session);
    if (rv != CKR_OK) return rv;
    if (finalRv != CKR_OK) return finalRv;
    if (count != 1) {
      lookUp = count == 0
                   ? Status(StatusCode::kNotFound, "no private RSA key matches " + uri->text())
                   : Status(StatusCode::kConflict, "several private RSA keys match " + uri->text() +
                                                       "; add id=... to choose one");
      return CKR_OK;
    }
    CK_ULONG bits = 0;
    CK_ATTRIBUTE modulus{CKA_MODULUS, nullptr, 0};
    rv = api->C_GetAttributeValue(session, found[0], &modulus, 1);
    if (rv != CKR_OK) return rv;
    bits = modulus.ulValueLen * 8;
    if (ciphertext.size() != bits / 8) {
      lookUp = Status(StatusCode::kIntegrity,
                      "the ciphertext is " + std::to_string(ciphertext.size()) + " bytes, the " +
                          description + " needs " + std::to_string(bits / 8));
      return CKR_OK;
    }
    CK_RSA_PKCS_OAEP_PARAMS params{CKM_SHA_1, CKG_MGF1_SHA1, CKZ_DATA_SPECIFIED, nullptr, 0};
    CK_MECHANISM mechanism{CKM_RSA_PKCS_OAEP, &params, sizeof params};
    rv = api->C_DecryptInit(session, &mechanism, found[0]);
    if (rv != CKR_OK) return decryptRv = rv;
    plain = SecretBytes(ciphertext.size());
    CK_ULONG length = plain.size();
    rv = api->C_Decrypt(session, const_cast<std::uint8_t*>(ciphertext.data()), ciphertext.size(),
                        plain.data(), &length);
    if (rv != CKR_OK) return decryptRv = rv;
    plain.truncate(length);
    return CKR_OK;
  });
  if (!ran.isOk()) {
    plain.clear();
    // Tokens report a failed OAEP check as CKR_ENCRYPTED_DATA_INVALID or (SoftHSM)
    // CKR_GENERAL_ERROR: the ciphertext did not open.
    if (decryptRv == CKR_ENCRYPTED_DATA_INVALID || decryptRv == CKR_GENERAL_ERROR ||
        decryptRv == CKR_ENCRYPTED_DATA_LEN_RANGE) {
      return Status(StatusCode::kIntegrity, ran.message());
    }
    return ran;
  }
  if (!lookUp.isOk()) return lookUp;
  return plain;
}

}  // namespace kc::provisioning
