#pragma once
// The certificate and key a TLS listener serves, replaced whole on SIGHUP. A new pair is
// loaded into a context of its own and checked (both files load, the key matches the
// certificate) before any handshake can see it; each handshake then takes the pair in use
// when it starts (SSL_CTX_set_cert_cb), so a reload never leaves a certificate without its
// key on the live listener, and a bad pair leaves the old one serving.

#include <openssl/ssl.h>

#include <filesystem>

#include "kc/Result.h"

namespace kc::daemon {

// Prepares `context` (whose certificate and key Poco loaded at start) for
// replaceServedCertificate. Call once, before the listener accepts.
Status attachServedCertificate(SSL_CTX* context);

// Loads `certificate` (PEM, leaf first, then its chain) and `privateKey` (PEM) and checks them;
// on success new handshakes on `context` get them, established connections keep the old pair.
// On failure nothing changes and the message names the file at fault and why.
Status replaceServedCertificate(SSL_CTX* context, const std::filesystem::path& certificate,
                                const std::filesystem::path& privateKey);

}  // namespace kc::daemon
