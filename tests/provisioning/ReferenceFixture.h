#pragma once
// Builds deployments of Bitwarden's reference Key Connector the way the reference itself leaves
// them (its EF Core tables in SQLite, PostgreSQL or MariaDB, or its JSON file), with an RSA key
// in each form its key providers hold it (PKCS#12 with a password file, PEM PKCS#8, a private key
// on a PKCS#11 token). Independent of the reader under test: it encrypts with OpenSSL directly.
// Every function throws std::runtime_error on failure.

#include <chrono>
#include <cstdint>
#include <filesystem>
#include <optional>
#include <span>
#include <string>
#include <vector>

#include "kc/SecretBytes.h"
#include "kc/pkcs11/SessionPool.h"

namespace kc::test {

// Dates with the microseconds the databases keep; the reader keeps milliseconds.
using ReferenceMicros = std::chrono::sys_time<std::chrono::microseconds>;
std::chrono::sys_time<std::chrono::milliseconds> toMillis(ReferenceMicros time);

// A freshly generated RSA key, as the reference's operator would have made it.
class ReferenceRsaKey {
 public:
  explicit ReferenceRsaKey(int bits = 2048);
  ~ReferenceRsaKey();
  ReferenceRsaKey(const ReferenceRsaKey&) = delete;
  ReferenceRsaKey& operator=(const ReferenceRsaKey&) = delete;

  // base64(RSA-OAEP-SHA-1(MGF1-SHA-1, no label) of `plaintext`): the SymmetricKey column.
  std::string wrapBase64(std::span<const std::uint8_t> plaintext) const;
  // PEM PKCS#8 ("BEGIN PRIVATE KEY"), mode 0600.
  void writePkcs8Pem(const std::filesystem::path& path) const;
  // A PKCS#12 file holding the key and a self-signed certificate, encrypted with `password`
  // (OpenSSL 3's defaults: AES-256-CBC, PBKDF2, SHA-256 MAC); and `passwordFile` (mode 0600)
  // holding the password followed by a newline.
  void writePkcs12(const std::filesystem::path& path, const std::string& password,
                   const std::filesystem::path& passwordFile) const;
  // Creates the private key (only: the reference keeps its public half in a certificate) on the
  // pool's token with C_CreateObject: CKA_LABEL `label`, CKA_ID `id`, sensitive, able to decrypt
  // and sign, as a reference deployment's key would be.
  void importPrivateKey(pkcs11::SessionPool& pool, const std::string& label,
                        std::span<const std::uint8_t> id) const;

 private:
  void* key_;  // EVP_PKEY*
};

struct ReferenceUser {
  std::string id;                 // as stored (upper- or lower-case GUID)
  std::vector<std::uint8_t> key;  // the user's key bytes (what GET /user-keys returns)
  std::string keyColumn;          // UserKeys.Key: base64(ciphertext ‖ tag ‖ nonce)
  ReferenceMicros creationDate{};
  std::optional<ReferenceMicros> revisionDate;
  std::optional<ReferenceMicros> lastAccessDate;
};

struct ReferenceData {
  SecretBytes aesKey;              // the reference's 32-byte symmetric key
  std::string symmetricKeyColumn;  // ApplicationDatas.SymmetricKey
  std::vector<ReferenceUser> users;
};

enum class GuidCase { kUpper, kLower, kMixed };  // kMixed: alternating rows

// A random AES key wrapped under `rsa`, and `count` users with random 16..512-byte keys (sizes
// cycle through 16, 32, 64, 512 and others), dates with microseconds; every third user has a
// NULL LastAccessDate and every fourth a NULL RevisionDate.
ReferenceData makeReferenceData(const ReferenceRsaKey& rsa, std::size_t count,
                                GuidCase guidCase = GuidCase::kLower);

// base64(AES-256-GCM(aesKey, key) ‖ tag ‖ nonce) with a random nonce, as the reference seals.
std::string sealReferenceUserKey(const SecretBytes& aesKey, std::span<const std::uint8_t> key);
std::string encodeBase64(std::span<const std::uint8_t> bytes);
std::vector<std::uint8_t> decodeBase64(const std::string& text);

// The EF Core tables as the reference's InitialCreate migration makes them, filled with `data`
// (dates as each provider stores them). `withSymmetricKey` false leaves ApplicationDatas empty.
void writeReferenceSqlite(const std::filesystem::path& path, const ReferenceData& data,
                          bool withSymmetricKey = true);
// `connectionString`: libpq key=value for PostgreSQL, Poco's form for MariaDB.
void writeReferencePostgres(const std::string& connectionString, const ReferenceData& data);
void writeReferenceMySql(const std::string& connectionString, const ReferenceData& data);
// Runs one SQL statement on a reference database (for damaging rows in negative tests).
void executeSqlite(const std::filesystem::path& path, const std::string& sql);

// The JSON file as JsonFlatFileDataStore writes it (camelCase, dates "...T...1234560Z").
std::string referenceJson(const ReferenceData& data);
void writeReferenceJson(const std::filesystem::path& path, const ReferenceData& data);

}  // namespace kc::test
