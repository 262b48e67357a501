#pragma once
// Helpers for the audit suites: a checkpoint signer over an OpenSSL key (so the format and
// the verifier can be tested without a token), a log made of known records, and file
// helpers that read and rewrite a log line by line (to tamper with it).

#include <filesystem>
#include <memory>
#include <string>
#include <vector>

#include "kc/audit/AuditLog.h"
#include "kc/audit/AuditVerifier.h"
#include "kc/audit/CheckpointSigner.h"

namespace kc::test {

// An RSA-2048 key in process memory that signs like the token's audit key.
class OpenSslSigner final : public audit::CheckpointSigner {
 public:
  OpenSslSigner();
  ~OpenSslSigner() override;
  OpenSslSigner(const OpenSslSigner&) = delete;
  OpenSslSigner& operator=(const OpenSslSigner&) = delete;
  Result<std::vector<std::uint8_t>> sign(std::span<const std::uint8_t> message) override;
  std::string keyId() const override { return keyId_; }
  std::string publicKeyPem() const;

 private:
  void* key_;  // EVP_PKEY
  std::string keyId_;
};

// A record as the daemon would append it for request `n`.
audit::AuditRecord sampleRecord(int n);

std::vector<std::string> readLines(const std::filesystem::path& path);
void writeLines(const std::filesystem::path& path, const std::vector<std::string>& lines);

// Every regular file in `directory` whose name ends in ".log", sorted by name.
std::vector<std::filesystem::path> logFiles(const std::filesystem::path& directory);
// Every *.log file of `directory`, named by its file name, for verifyLogs.
std::vector<audit::LogFile> loadLogDirectory(const std::filesystem::path& directory);

// The path of the built kc-audit binary.
std::string kcAuditPath();

}  // namespace kc::test
