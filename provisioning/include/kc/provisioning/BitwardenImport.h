#pragma once
// Reading an existing deployment of Bitwarden's reference Key Connector, so `kc-setup
// import-bitwarden` can move its users' keys under our token without anyone re-enrolling.
// This library only reads: it never writes to the reference's database, file or token.
//
// The reference's formats, which this reader follows byte for byte:
//   - Its data lives in a database made by its EF Core migrations (SQLite, PostgreSQL, MySQL or
//     MariaDB) or in one JSON file (its `jsonFilePath`).
//       ApplicationDatas(Id int PK, SymmetricKey text NULL): the symmetric key, in the row with
//         the lowest Id (the reference keeps one row).
//       UserKeys(Id GUID PK, Key text NULL, CreationDate NOT NULL, RevisionDate NULL,
//                LastAccessDate NULL).
//     Column types per provider: SQLite TEXT for the GUID (upper-case as EF Core writes it, or
//     lower-case) and for the dates ("yyyy-MM-dd HH:mm:ss.FFFFFFF", no zone, UTC);
//     PostgreSQL `uuid` and `timestamp without time zone` (UTC); MySQL/MariaDB `char(36)`
//     (collation ascii_general_ci) and `datetime(6)` (UTC).
//     The JSON file, as JsonFlatFileDataStore writes it (camelCase names):
//       {"symmetricKey": "<base64>",
//        "userKey": [{"id": "<guid>", "key": "<base64>", "creationDate": "<ISO 8601>",
//                     "revisionDate": "<ISO 8601>"|null, "lastAccessDate": "<ISO 8601>"|null}]}
//     Dates there are "yyyy-MM-ddTHH:mm:ss[.fffffff]" followed by "Z", "+hh:mm"/"-hh:mm" or
//     nothing (UTC); other members are ignored.
//   - SymmetricKey = base64(RSA-OAEP(SHA-1, MGF1-SHA-1, empty label) of a 32-byte AES key)
//     under the reference's RSA key.
//   - UserKeys.Key = base64(c ‖ t ‖ n): AES-256-GCM under that AES key, c the ciphertext of the
//     user's key bytes (as long as them), t the 16-byte tag, n the 12-byte nonce, no associated
//     data. The reference's GET /user-keys returns base64 of the plaintext bytes.
//   Base64 is RFC 4648 §4 with padding, as .NET's Convert.ToBase64String writes it.
//
// Secrets: the connection string (its password), the PFX password, the PIN, the AES key and the
// user keys never appear in a Status or a log line. Every error names what failed: the file,
// the table, the row id.

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <filesystem>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "kc/Result.h"
#include "kc/SecretBytes.h"
#include "kc/pkcs11/PinSource.h"
#include "kc/pkcs11/Pkcs11Uri.h"

namespace kc::provisioning {

inline constexpr std::size_t kReferenceAesKeyBytes = 32;
inline constexpr std::size_t kReferenceGcmTagBytes = 16;
inline constexpr std::size_t kReferenceGcmNonceBytes = 12;
// The longest Key column decoded (base64 characters); a longer one is refused unread. Our
// service stores user keys of at most 512 bytes, so 64 KiB leaves room for any real row.
inline constexpr std::size_t kMaxReferenceKeyColumnLength = 64 * 1024;

// A UTC instant to the millisecond, what our store keeps; finer digits are dropped (floor).
using ReferenceTime = std::chrono::sys_time<std::chrono::milliseconds>;

// Where the reference keeps its data.
struct ReferenceSource {
  enum class Kind { kSqlite, kPostgreSql, kMySql, kJsonFile };
  Kind kind = Kind::kSqlite;
  // kSqlite: the database file; kJsonFile: the JSON file; kPostgreSql: a libpq key=value
  // string; kMySql: Poco's "host=..;port=..;user=..;password=..;db=.." string. Secret: never
  // quoted in an error.
  std::string location;
  // When true, `location` is the reference's own .NET connection string
  // (keyConnectorSettings__database__{sqlite,postgreSql,mySql}ConnectionString) and is
  // converted with kc/appliance/ConnectionStrings.h. Ignored for kJsonFile.
  bool referenceConnectionString = false;
};

// Where the reference's RSA private key is, as its key providers hold it.
struct ReferenceKeySource {
  enum class Kind {
    kPkcs12,  // a PKCS#12/PFX file (its `certificate__filesystemPath`) with a password
    kPem,     // a PEM private key file: PKCS#8 ("BEGIN PRIVATE KEY") or PKCS#1 RSA
    kPkcs11,  // a private key on a PKCS#11 token (its `rsaKey__pkcs11*` settings)
  };
  Kind kind = Kind::kPkcs12;
  // kPkcs12, kPem: the file.
  std::filesystem::path path;
  // kPkcs12: a file holding the password (one trailing newline ignored; refused when every user
  // may read it, like a PIN file). Empty: the PFX has no password. Never on a command line.
  // kPem: the same, for an encrypted PKCS#8 key; empty: the key is not encrypted.
  std::filesystem::path passwordFile;
  // Instead of passwordFile: the environment variable holding the password (the reference's
  // keyConnectorSettings__certificate__filesystemPassword). Used when not empty.
  std::string passwordEnv;
  // kPkcs11: the module, and a URI naming the token and one private RSA key on it
  // (object=<label> or id=<id>, as the reference's pkcs11PrivateKeyLabel/Id name it).
  std::string pkcs11Module;
  std::string pkcs11KeyUri;
  std::optional<pkcs11::PinSource> pin;
  // How the URI's serial is matched: the reference matches its pkcs11SlotTokenSerialNumber
  // ignoring case.
  pkcs11::TokenMatch tokenMatch = pkcs11::TokenMatch::kExact;
};

// The reference's RSA private key, able to do the one operation the import needs. Keys on a
// token are used as they are: the reference's may also sign, so our wrapping-key policy is not
// applied to an import source.
class ReferenceKey {
 public:
  // Loads the key `source` names. A wrong PFX password is PERMISSION_DENIED; a file that is
  // missing or holds no RSA private key is INVALID_ARGUMENT naming the file; a PKCS#11 key that
  // is missing or ambiguous is NOT_FOUND/CONFLICT naming the URI; a refused PIN is
  // PERMISSION_DENIED.
  static Result<ReferenceKey> open(const ReferenceKeySource& source);
  ~ReferenceKey();
  ReferenceKey(ReferenceKey&&) noexcept;
  ReferenceKey& operator=(ReferenceKey&&) noexcept;

  // RSA-OAEP with SHA-1 and MGF1-SHA-1, empty label. INTEGRITY when `ciphertext` does not open
  // (another key, damaged bytes); the plaintext comes back in a buffer that wipes itself.
  Result<SecretBytes> decryptOaepSha1(std::span<const std::uint8_t> ciphertext) const;

  // "PKCS#12 file /etc/kc/key.pfx", "PKCS#11 key pkcs11:token=..;object=..": for messages.
  const std::string& describe() const;

 private:
  struct State;
  explicit ReferenceKey(std::unique_ptr<State> state);
  std::unique_ptr<State> state_;
};

// One UserKeys row (or "userKey" entry) as stored.
struct ReferenceUserKeyRow {
  std::string id;   // the Id exactly as stored (PostgreSQL's uuid reads as lower case)
  std::string key;  // the Key column as stored: base64 text, still encrypted
  std::optional<ReferenceTime> creationDate;
  std::optional<ReferenceTime> revisionDate;    // empty when NULL
  std::optional<ReferenceTime> lastAccessDate;  // empty when NULL
  // OK, or why this row cannot be imported as read (Key NULL or not text, CreationDate NULL, a
  // date that does not parse), naming the row id and the column. creationDate is set when OK.
  Status problem;
};

// An open reference data source. Not thread-safe: one caller at a time.
class ReferenceDeployment {
 public:
  // Opens the source and checks it is the reference's: the tables (or the JSON file's shape)
  // are there. A missing file, a refused connection or a missing table is an error naming the
  // file, database or table; a JSON file that does not parse, or whose members have the wrong
  // types, is INVALID_ARGUMENT naming the file and the member. A JSON file with two entries of
  // one id (in any case) is refused: the reference would read only the first.
  static Result<std::unique_ptr<ReferenceDeployment>> open(const ReferenceSource& source);
  virtual ~ReferenceDeployment() = default;

  // "SQLite database /var/lib/kc/data.db", "PostgreSQL database keyconnector on db.example"
  // (never a password): for messages and the summary.
  virtual const std::string& describe() const = 0;

  // The base64 text of the wrapped symmetric key. NOT_FOUND when ApplicationDatas is empty, its
  // SymmetricKey is NULL, or the JSON file has no "symmetricKey" (a reference that never stored
  // a user key).
  virtual Result<std::string> wrappedSymmetricKey() = 0;

  // How many user rows there are, for a progress bar.
  virtual Result<std::uint64_t> countUserKeys() = 0;

  // Up to `limit` rows (1..10000) whose Id sorts after `after` (empty: from the first), in the
  // source's own order of Id: binary text for SQLite and the JSON file, uuid order for
  // PostgreSQL, the column's case-insensitive collation for MySQL. Passing the last id of a
  // page gets the next page, so 100,000 users are read in bounded memory and a reader can
  // resume after a crash from the last id it finished. An empty page is the end.
  virtual Result<std::vector<ReferenceUserKeyRow>> readUserKeys(std::string_view after,
                                                                std::size_t limit) = 0;
};

// Reads the wrapped symmetric key of `deployment` and opens it with `key`: base64, then
// RSA-OAEP-SHA-1. Exactly 32 bytes, else INTEGRITY; a wrong RSA key is INTEGRITY too.
Result<SecretBytes> openSymmetricKey(ReferenceDeployment& deployment, const ReferenceKey& key);

// The user's key bytes from one Key column: strict base64, then AES-256-GCM under `aesKey`
// (32 bytes, else INVALID_ARGUMENT) with the tag checked. Text that is not base64, longer than
// kMaxReferenceKeyColumnLength, or shorter than nonce + tag + 1 byte is INVALID_ARGUMENT; a tag
// that does not verify (tampered row, another AES key) is INTEGRITY. Messages never hold key
// bytes; the caller adds the row id.
Result<SecretBytes> decryptReferenceUserKey(const SecretBytes& aesKey, std::string_view keyColumn);

// Parses a reference date as the sources store it: "yyyy-MM-dd" then 'T' or ' ' then
// "HH:mm:ss", optionally '.' and 1..7 digits, optionally "Z" or "+hh:mm"/"-hh:mm" (converted to
// UTC); no zone means UTC. INVALID_ARGUMENT for anything else, including a day that does not
// exist. Exposed for the tests and the fuzzer.
Result<ReferenceTime> parseReferenceDate(std::string_view text);

// Parses the reference's JSON file contents (see the format above) into its symmetric key (if
// any) and its rows sorted by id. `fileName` is only used in messages. The JSON source is this
// plus reading the file; exposed for the fuzzer.
struct ReferenceJsonContents {
  std::optional<std::string> symmetricKey;
  std::vector<ReferenceUserKeyRow> rows;
};
Result<ReferenceJsonContents> parseReferenceJson(std::string_view text, std::string_view fileName);

}  // namespace kc::provisioning
