#include "AuditTestSupport.h"

#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/rsa.h>
#include <openssl/x509.h>

#include <algorithm>
#include <fstream>
#include <stdexcept>

#include "kc/Text.h"
#include "kc/audit/AuditRecord.h"
#include "support/TempDir.h"

namespace kc::test {

namespace {
EVP_PKEY* pkey(void* key) {
  return static_cast<EVP_PKEY*>(key);
}
}  // namespace

OpenSslSigner::OpenSslSigner() : key_(EVP_RSA_gen(2048)) {
  if (key_ == nullptr) throw std::runtime_error("RSA key generation failed");
  unsigned char* der = nullptr;
  const int length = i2d_PUBKEY(pkey(key_), &der);
  keyId_ = "sha256:" + toHex(audit::sha256({der, static_cast<std::size_t>(length)}));
  OPENSSL_free(der);
}

OpenSslSigner::~OpenSslSigner() {
  EVP_PKEY_free(pkey(key_));
}

Result<std::vector<std::uint8_t>> OpenSslSigner::sign(std::span<const std::uint8_t> message) {
  EVP_MD_CTX* context = EVP_MD_CTX_new();
  EVP_PKEY_CTX* keyContext = nullptr;
  std::vector<std::uint8_t> signature(512);
  std::size_t length = signature.size();
  const bool ok =
      EVP_DigestSignInit(context, &keyContext, EVP_sha256(), nullptr, pkey(key_)) == 1 &&
      EVP_PKEY_CTX_set_rsa_padding(keyContext, RSA_PKCS1_PADDING) == 1 &&
      EVP_DigestSign(context, signature.data(), &length, message.data(), message.size()) == 1;
  EVP_MD_CTX_free(context);
  if (!ok) return Status(StatusCode::kInternal, "OpenSSL signing failed");
  signature.resize(length);
  return signature;
}

std::string OpenSslSigner::publicKeyPem() const {
  BIO* bio = BIO_new(BIO_s_mem());
  PEM_write_bio_PUBKEY(bio, pkey(key_));
  char* data = nullptr;
  const long length = BIO_get_mem_data(bio, &data);
  std::string pem(data, static_cast<std::size_t>(length));
  BIO_free(bio);
  return pem;
}

audit::AuditRecord sampleRecord(int n) {
  audit::AuditRecord record;
  record.operation = std::string(n % 7 == 3 ? audit::op::kKeyRefused : audit::op::kKeyRelease);
  record.outcome = std::string(n % 7 == 3 ? audit::outcome::kDenied : audit::outcome::kOk);
  record.httpStatus = n % 7 == 3 ? 403 : 200;
  record.userId = "00000000-0000-0000-0000-00000000000" + std::to_string(n % 10);
  record.keyId = "a1b2c3d4";
  record.requestId = "req-" + std::to_string(n);
  record.clientAddress = "192.0.2." + std::to_string(n % 250 + 1);
  record.durationMicros = static_cast<std::uint64_t>(1000 + n);
  return record;
}

std::vector<std::string> readLines(const std::filesystem::path& path) {
  std::ifstream in(path, std::ios::binary);
  std::vector<std::string> lines;
  for (std::string line; std::getline(in, line);) lines.push_back(line);
  return lines;
}

void writeLines(const std::filesystem::path& path, const std::vector<std::string>& lines) {
  std::ofstream out(path, std::ios::binary | std::ios::trunc);
  for (const auto& line : lines) out << line << '\n';
}

std::vector<std::filesystem::path> logFiles(const std::filesystem::path& directory) {
  std::vector<std::filesystem::path> files;
  for (const auto& entry : std::filesystem::directory_iterator(directory)) {
    if (entry.is_regular_file() && entry.path().extension() == ".log")
      files.push_back(entry.path());
  }
  std::sort(files.begin(), files.end());
  return files;
}

std::vector<audit::LogFile> loadLogDirectory(const std::filesystem::path& directory) {
  std::vector<audit::LogFile> files;
  for (const auto& path : logFiles(directory))
    files.push_back({path.filename().string(), readFile(path)});
  return files;
}

std::string kcAuditPath() {
  return KC_AUDIT_PATH;
}

}  // namespace kc::test
