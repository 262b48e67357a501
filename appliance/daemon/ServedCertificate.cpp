#include "ServedCertificate.h"

#include <openssl/err.h>

#include <memory>
#include <mutex>
#include <string>

namespace kc::daemon {
namespace {

struct FreeSslContext {
  void operator()(SSL_CTX* context) const { SSL_CTX_free(context); }
};
using SslContext = std::shared_ptr<SSL_CTX>;

// What a live context serves: empty until the first replacement (the pair loaded at start).
struct ServedPair {
  std::mutex mutex;
  SslContext loaded;  // GUARDED_BY(mutex): a context holding the checked certificate and key
};

void freeServedPair(void*, void* pair, CRYPTO_EX_DATA*, int, long, void*) {
  delete static_cast<ServedPair*>(pair);
}

int servedPairIndex() {
  static const int index = SSL_CTX_get_ex_new_index(0, nullptr, nullptr, nullptr, freeServedPair);
  return index;
}

ServedPair* servedPairOf(SSL_CTX* context) {
  return static_cast<ServedPair*>(SSL_CTX_get_ex_data(context, servedPairIndex()));
}

// The oldest error OpenSSL queued, then the queue emptied: file paths and reasons only.
std::string takeOpenSslError() {
  const unsigned long code = ERR_get_error();
  ERR_clear_error();
  if (code == 0) return "unknown error";
  char text[256];
  ERR_error_string_n(code, text, sizeof text);
  return text;
}

// Every handshake: the certificate, key and chain of the pair in use, if one was replaced.
int useServedPair(SSL* ssl, void* argument) {
  auto* pair = static_cast<ServedPair*>(argument);
  SslContext loaded;
  {
    std::lock_guard lock(pair->mutex);
    loaded = pair->loaded;
  }
  if (!loaded) return 1;  // the pair loaded at start, already in the context
  STACK_OF(X509)* chain = nullptr;
  SSL_CTX_get0_chain_certs(loaded.get(), &chain);
  return SSL_use_cert_and_key(ssl, SSL_CTX_get0_certificate(loaded.get()),
                              SSL_CTX_get0_privatekey(loaded.get()), chain, 1) == 1
             ? 1
             : 0;
}

}  // namespace

Status attachServedCertificate(SSL_CTX* context) {
  if (servedPairOf(context) != nullptr) return Status::ok();
  auto pair = std::make_unique<ServedPair>();
  if (SSL_CTX_set_ex_data(context, servedPairIndex(), pair.get()) != 1) {
    return Status(StatusCode::kInternal, "cannot attach the certificate switch to the context");
  }
  SSL_CTX_set_cert_cb(context, useServedPair, pair.release());  // freed with the context
  return Status::ok();
}

Status replaceServedCertificate(SSL_CTX* context, const std::filesystem::path& certificate,
                                const std::filesystem::path& privateKey) {
  ServedPair* pair = servedPairOf(context);
  if (pair == nullptr) {
    return Status(StatusCode::kInternal, "the TLS context has no certificate switch attached");
  }
  ERR_clear_error();
  SslContext fresh(SSL_CTX_new(TLS_server_method()), FreeSslContext());
  if (!fresh) return Status(StatusCode::kInternal, "out of memory for a TLS context");
  if (SSL_CTX_use_certificate_chain_file(fresh.get(), certificate.c_str()) != 1) {
    return Status(
        StatusCode::kInvalidArgument,
        "tls.certificate: cannot load " + certificate.string() + ": " + takeOpenSslError());
  }
  if (SSL_CTX_use_PrivateKey_file(fresh.get(), privateKey.c_str(), SSL_FILETYPE_PEM) != 1 ||
      SSL_CTX_check_private_key(fresh.get()) != 1) {
    return Status(StatusCode::kInvalidArgument,
                  "tls.private_key: " + privateKey.string() +
                      " cannot be loaded or does not match tls.certificate " +
                      certificate.string() + ": " + takeOpenSslError());
  }
  std::lock_guard lock(pair->mutex);
  pair->loaded = std::move(fresh);
  return Status::ok();
}

}  // namespace kc::daemon
