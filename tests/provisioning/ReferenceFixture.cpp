#include "ReferenceFixture.h"

#include <Poco/Data/MySQL/Connector.h>
#include <Poco/Data/PostgreSQL/Connector.h>
#include <Poco/Data/SQLite/Connector.h>
#include <Poco/Data/Session.h>
#include <Poco/Data/Statement.h>
#include <openssl/bn.h>
#include <openssl/core_names.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/pkcs12.h>
#include <openssl/rand.h>
#include <openssl/rsa.h>
#include <openssl/x509.h>

#include <cstdio>
#include <memory>
#include <mutex>
#include <stdexcept>

#include "kc/pkcs11/Cryptoki.h"
#include "kc/storage/Connectors.h"
#include "support/TempDir.h"

namespace kc::test {
namespace {

using namespace Poco::Data::Keywords;

[[noreturn]] void fail(const std::string& what) {
  ERR_clear_error();
  throw std::runtime_error("reference fixture: " + what);
}

EVP_PKEY* pkey(void* key) {
  return static_cast<EVP_PKEY*>(key);
}

std::vector<std::uint8_t> randomBytes(std::size_t size) {
  std::vector<std::uint8_t> out(size);
  if (!out.empty() && RAND_bytes(out.data(), static_cast<int>(out.size())) != 1) fail("RAND_bytes");
  return out;
}

std::vector<std::uint8_t> bnParam(EVP_PKEY* key, const char* name) {
  BIGNUM* value = nullptr;
  if (EVP_PKEY_get_bn_param(key, name, &value) != 1) fail(std::string("read RSA ") + name);
  std::vector<std::uint8_t> out(static_cast<std::size_t>(BN_num_bytes(value)));
  BN_bn2bin(value, out.data());
  BN_clear_free(value);
  return out;
}

std::string twoDigits(long value) {
  char text[24];
  std::snprintf(text, sizeof text, "%02ld", value);
  return text;
}

// "yyyy-MM-dd HH:mm:ss" and the microseconds of `time`.
std::pair<std::string, long> splitDate(ReferenceMicros time, char separator) {
  const auto days = std::chrono::floor<std::chrono::days>(time);
  const std::chrono::year_month_day date(days);
  const std::chrono::hh_mm_ss clock(std::chrono::floor<std::chrono::microseconds>(time - days));
  const std::string text =
      std::to_string(static_cast<int>(date.year())) + "-" +
      twoDigits(static_cast<unsigned>(date.month())) + "-" +
      twoDigits(static_cast<unsigned>(date.day())) + separator + twoDigits(clock.hours().count()) +
      ":" + twoDigits(clock.minutes().count()) + ":" + twoDigits(clock.seconds().count());
  return {text, static_cast<long>(clock.subseconds().count())};
}

// EF Core's SQLite form: "yyyy-MM-dd HH:mm:ss.FFFFFFF" (trailing zeros and a bare dot dropped).
std::string sqliteDate(ReferenceMicros time) {
  auto [text, micros] = splitDate(time, ' ');
  if (micros == 0) return text;
  char fraction[16];
  std::snprintf(fraction, sizeof fraction, ".%06ld0", micros);
  std::string tail = fraction;
  while (tail.back() == '0') tail.pop_back();
  return text + tail;
}

// "yyyy-MM-dd HH:mm:ss.ffffff", which PostgreSQL and MariaDB read into their timestamp types.
std::string serverDate(ReferenceMicros time) {
  auto [text, micros] = splitDate(time, ' ');
  char fraction[16];
  std::snprintf(fraction, sizeof fraction, ".%06ld", micros);
  return text + fraction;
}

// Newtonsoft's round-trip form of a UTC DateTime: "yyyy-MM-ddTHH:mm:ss.fffffffZ" (trailing
// zeros dropped).
std::string jsonDate(ReferenceMicros time) {
  auto [text, micros] = splitDate(time, 'T');
  std::string tail;
  if (micros != 0) {
    char fraction[16];
    std::snprintf(fraction, sizeof fraction, ".%06ld0", micros);
    tail = fraction;
    while (tail.back() == '0') tail.pop_back();
  }
  return text + tail + "Z";
}

std::string guid(std::size_t index, bool upper) {
  const auto bytes = randomBytes(16);
  std::string hex;
  static constexpr char kLower[] = "0123456789abcdef";
  static constexpr char kUpper[] = "0123456789ABCDEF";
  const char* digits = upper ? kUpper : kLower;
  for (std::size_t i = 0; i < bytes.size(); ++i) {
    if (i == 4 || i == 6 || i == 8 || i == 10) hex += '-';
    hex += digits[bytes[i] >> 4];
    hex += digits[bytes[i] & 0xF];
  }
  (void)index;
  return hex;
}

// Inserts `data` with statements whose placeholders and date casts `dateValue` shapes.
void insertRows(Poco::Data::Session& session, const ReferenceData& data, bool withSymmetricKey,
                const std::string& applicationInsert, const std::string& userInsert,
                std::string (*formatDate)(ReferenceMicros)) {
  session.begin();
  if (withSymmetricKey) {
    std::string column = data.symmetricKeyColumn;
    session << applicationInsert, use(column), now;
  }
  for (const auto& user : data.users) {
    std::string id = user.id;
    std::string key = user.keyColumn;
    std::string created = formatDate(user.creationDate);
    Poco::Nullable<std::string> revised, accessed;
    if (user.revisionDate) revised = formatDate(*user.revisionDate);
    if (user.lastAccessDate) accessed = formatDate(*user.lastAccessDate);
    session << userInsert, use(id), use(key), use(created), use(revised), use(accessed), now;
  }
  session.commit();
}

}  // namespace

std::chrono::sys_time<std::chrono::milliseconds> toMillis(ReferenceMicros time) {
  return std::chrono::floor<std::chrono::milliseconds>(time);
}

ReferenceRsaKey::ReferenceRsaKey(int bits) : key_(EVP_RSA_gen(static_cast<unsigned>(bits))) {
  if (!key_) fail("EVP_RSA_gen");
}

ReferenceRsaKey::~ReferenceRsaKey() {
  EVP_PKEY_free(pkey(key_));
}

std::string ReferenceRsaKey::wrapBase64(std::span<const std::uint8_t> plaintext) const {
  std::unique_ptr<EVP_PKEY_CTX, decltype(&EVP_PKEY_CTX_free)> context(
      EVP_PKEY_CTX_new(pkey(key_), nullptr), EVP_PKEY_CTX_free);
  std::size_t length = 0;
  if (!context || EVP_PKEY_encrypt_init(context.get()) != 1 ||
      EVP_PKEY_CTX_set_rsa_padding(context.get(), RSA_PKCS1_OAEP_PADDING) != 1 ||
      EVP_PKEY_CTX_set_rsa_oaep_md(context.get(), EVP_sha1()) != 1 ||
      EVP_PKEY_CTX_set_rsa_mgf1_md(context.get(), EVP_sha1()) != 1 ||
      EVP_PKEY_encrypt(context.get(), nullptr, &length, plaintext.data(), plaintext.size()) != 1) {
    fail("RSA-OAEP set-up");
  }
  std::vector<std::uint8_t> out(length);
  if (EVP_PKEY_encrypt(context.get(), out.data(), &length, plaintext.data(), plaintext.size()) !=
      1) {
    fail("RSA-OAEP encrypt");
  }
  out.resize(length);
  return encodeBase64(out);
}

void ReferenceRsaKey::writePkcs8Pem(const std::filesystem::path& path) const {
  std::unique_ptr<BIO, decltype(&BIO_free)> bio(BIO_new(BIO_s_mem()), BIO_free);
  if (!bio || PEM_write_bio_PKCS8PrivateKey(bio.get(), pkey(key_), nullptr, nullptr, 0, nullptr,
                                            nullptr) != 1) {
    fail("write PEM");
  }
  char* text = nullptr;
  const long size = BIO_get_mem_data(bio.get(), &text);
  writeFile(path, std::string(text, static_cast<std::size_t>(size)));
}

void ReferenceRsaKey::writePkcs12(const std::filesystem::path& path, const std::string& password,
                                  const std::filesystem::path& passwordFile) const {
  std::unique_ptr<X509, decltype(&X509_free)> cert(X509_new(), X509_free);
  if (!cert) fail("X509_new");
  X509_set_version(cert.get(), 2);
  ASN1_INTEGER_set(X509_get_serialNumber(cert.get()), 1);
  X509_gmtime_adj(X509_getm_notBefore(cert.get()), 0);
  X509_gmtime_adj(X509_getm_notAfter(cert.get()), 3600L * 24 * 365);
  X509_set_pubkey(cert.get(), pkey(key_));
  X509_NAME* name = X509_get_subject_name(cert.get());
  X509_NAME_add_entry_by_txt(name, "CN", MBSTRING_ASC,
                             reinterpret_cast<const unsigned char*>("Bitwarden Key Connector"), -1,
                             -1, 0);
  X509_set_issuer_name(cert.get(), name);
  if (X509_sign(cert.get(), pkey(key_), EVP_sha256()) == 0) fail("X509_sign");
  std::unique_ptr<PKCS12, decltype(&PKCS12_free)> p12(
      PKCS12_create(password.c_str(), "key-connector", pkey(key_), cert.get(), nullptr, 0, 0, 0, 0,
                    0),
      PKCS12_free);
  if (!p12) fail("PKCS12_create");
  unsigned char* der = nullptr;
  const int size = i2d_PKCS12(p12.get(), &der);
  if (size <= 0) fail("i2d_PKCS12");
  writeFile(path, std::string(reinterpret_cast<char*>(der), static_cast<std::size_t>(size)));
  OPENSSL_free(der);
  writeFile(passwordFile, password + "\n");
}

void ReferenceRsaKey::importPrivateKey(pkcs11::SessionPool& pool, const std::string& label,
                                       std::span<const std::uint8_t> id) const {
  auto n = bnParam(pkey(key_), OSSL_PKEY_PARAM_RSA_N);
  auto e = bnParam(pkey(key_), OSSL_PKEY_PARAM_RSA_E);
  auto d = bnParam(pkey(key_), OSSL_PKEY_PARAM_RSA_D);
  auto p = bnParam(pkey(key_), OSSL_PKEY_PARAM_RSA_FACTOR1);
  auto q = bnParam(pkey(key_), OSSL_PKEY_PARAM_RSA_FACTOR2);
  auto dp = bnParam(pkey(key_), OSSL_PKEY_PARAM_RSA_EXPONENT1);
  auto dq = bnParam(pkey(key_), OSSL_PKEY_PARAM_RSA_EXPONENT2);
  auto qinv = bnParam(pkey(key_), OSSL_PKEY_PARAM_RSA_COEFFICIENT1);
  CK_OBJECT_CLASS keyClass = CKO_PRIVATE_KEY;
  CK_KEY_TYPE keyType = CKK_RSA;
  CK_BBOOL yes = CK_TRUE;
  std::string labelText = label;
  std::vector<std::uint8_t> idBytes(id.begin(), id.end());
  std::vector<CK_ATTRIBUTE> attributes = {
      {CKA_CLASS, &keyClass, sizeof keyClass},
      {CKA_KEY_TYPE, &keyType, sizeof keyType},
      {CKA_TOKEN, &yes, sizeof yes},
      {CKA_PRIVATE, &yes, sizeof yes},
      {CKA_SENSITIVE, &yes, sizeof yes},
      {CKA_DECRYPT, &yes, sizeof yes},
      {CKA_SIGN, &yes, sizeof yes},
      {CKA_LABEL, labelText.data(), labelText.size()},
      {CKA_ID, idBytes.data(), idBytes.size()},
      {CKA_MODULUS, n.data(), n.size()},
      {CKA_PUBLIC_EXPONENT, e.data(), e.size()},
      {CKA_PRIVATE_EXPONENT, d.data(), d.size()},
      {CKA_PRIME_1, p.data(), p.size()},
      {CKA_PRIME_2, q.data(), q.size()},
      {CKA_EXPONENT_1, dp.data(), dp.size()},
      {CKA_EXPONENT_2, dq.data(), dq.size()},
      {CKA_COEFFICIENT, qinv.data(), qinv.size()},
  };
  Status status = pool.run("C_CreateObject", [&](CK_SESSION_HANDLE session) {
    CK_OBJECT_HANDLE handle = CK_INVALID_HANDLE;
    return pool.api()->C_CreateObject(session, attributes.data(), attributes.size(), &handle);
  });
  if (!status.isOk()) fail(status.toString());
}

std::string encodeBase64(std::span<const std::uint8_t> bytes) {
  std::string out(4 * ((bytes.size() + 2) / 3) + 1, '\0');
  const int written = EVP_EncodeBlock(reinterpret_cast<unsigned char*>(out.data()), bytes.data(),
                                      static_cast<int>(bytes.size()));
  out.resize(static_cast<std::size_t>(written));
  return out;
}

std::vector<std::uint8_t> decodeBase64(const std::string& text) {
  std::vector<std::uint8_t> out(text.size() / 4 * 3 + 3);
  const int written =
      EVP_DecodeBlock(out.data(), reinterpret_cast<const unsigned char*>(text.data()),
                      static_cast<int>(text.size()));
  if (written < 0) fail("base64 decode");
  std::size_t size = static_cast<std::size_t>(written);
  if (!text.empty() && text.back() == '=') --size;
  if (text.size() >= 2 && text[text.size() - 2] == '=') --size;
  out.resize(size);
  return out;
}

std::string sealReferenceUserKey(const SecretBytes& aesKey, std::span<const std::uint8_t> key) {
  const auto nonce = randomBytes(12);
  std::vector<std::uint8_t> sealed(key.size() + 16 + 12);
  std::unique_ptr<EVP_CIPHER_CTX, decltype(&EVP_CIPHER_CTX_free)> context(EVP_CIPHER_CTX_new(),
                                                                          EVP_CIPHER_CTX_free);
  int written = 0;
  int finalWritten = 0;
  if (!context ||
      EVP_EncryptInit_ex(context.get(), EVP_aes_256_gcm(), nullptr, aesKey.data(), nonce.data()) !=
          1 ||
      EVP_EncryptUpdate(context.get(), sealed.data(), &written, key.data(),
                        static_cast<int>(key.size())) != 1 ||
      EVP_EncryptFinal_ex(context.get(), sealed.data() + written, &finalWritten) != 1 ||
      EVP_CIPHER_CTX_ctrl(context.get(), EVP_CTRL_GCM_GET_TAG, 16, sealed.data() + key.size()) !=
          1) {
    fail("AES-GCM seal");
  }
  std::copy(nonce.begin(), nonce.end(), sealed.begin() + static_cast<long>(key.size()) + 16);
  return encodeBase64(sealed);
}

ReferenceData makeReferenceData(const ReferenceRsaKey& rsa, std::size_t count, GuidCase guidCase) {
  static constexpr std::size_t kSizes[] = {64, 16, 32, 512, 17, 100};
  ReferenceData data;
  const auto aes = randomBytes(32);
  data.aesKey = SecretBytes(aes);
  data.symmetricKeyColumn = rsa.wrapBase64(aes);
  // 2021-08-20 15:59:54 UTC, plus a step per user with microseconds in it.
  const ReferenceMicros base{std::chrono::microseconds(1629475194000000LL)};
  data.users.reserve(count);
  for (std::size_t i = 0; i < count; ++i) {
    ReferenceUser user;
    const bool upper = guidCase == GuidCase::kUpper || (guidCase == GuidCase::kMixed && i % 2);
    user.id = guid(i, upper);
    user.key = randomBytes(kSizes[i % std::size(kSizes)]);
    user.keyColumn = sealReferenceUserKey(data.aesKey, user.key);
    const auto step = std::chrono::microseconds(static_cast<long>(i) * 3'600'123'457LL);
    user.creationDate = base + step;
    if (i % 4 != 0) user.revisionDate = base + step + std::chrono::microseconds(86'400'000'001LL);
    if (i % 3 != 0)
      user.lastAccessDate = base + step + std::chrono::microseconds(172'800'999'999LL);
    data.users.push_back(std::move(user));
  }
  return data;
}

void writeReferenceSqlite(const std::filesystem::path& path, const ReferenceData& data,
                          bool withSymmetricKey) {
  storage::registerDatabaseConnectors();
  Poco::Data::Session session("sqlite", path.string());
  session << "CREATE TABLE \"ApplicationDatas\" (\"Id\" INTEGER NOT NULL CONSTRAINT "
             "\"PK_ApplicationDatas\" PRIMARY KEY AUTOINCREMENT, \"SymmetricKey\" TEXT NULL)",
      now;
  session << "CREATE TABLE \"UserKeys\" (\"Id\" TEXT NOT NULL CONSTRAINT \"PK_UserKeys\" PRIMARY "
             "KEY, \"Key\" TEXT NULL, \"CreationDate\" TEXT NOT NULL, \"RevisionDate\" TEXT NULL, "
             "\"LastAccessDate\" TEXT NULL)",
      now;
  insertRows(session, data, withSymmetricKey,
             "INSERT INTO \"ApplicationDatas\" (\"SymmetricKey\") VALUES (?)",
             "INSERT INTO \"UserKeys\" (\"Id\", \"Key\", \"CreationDate\", \"RevisionDate\", "
             "\"LastAccessDate\") VALUES (?, ?, ?, ?, ?)",
             sqliteDate);
}

void executeSqlite(const std::filesystem::path& path, const std::string& sql) {
  storage::registerDatabaseConnectors();
  Poco::Data::Session session("sqlite", path.string());
  session << sql, now;
}

void writeReferencePostgres(const std::string& connectionString, const ReferenceData& data) {
  storage::registerDatabaseConnectors();
  Poco::Data::Session session("postgresql", connectionString);
  session << "CREATE TABLE \"ApplicationDatas\" (\"Id\" integer GENERATED BY DEFAULT AS "
             "IDENTITY, \"SymmetricKey\" text NULL, CONSTRAINT \"PK_ApplicationDatas\" PRIMARY "
             "KEY (\"Id\"))",
      now;
  session << "CREATE TABLE \"UserKeys\" (\"Id\" uuid NOT NULL, \"Key\" text NULL, "
             "\"CreationDate\" timestamp without time zone NOT NULL, \"RevisionDate\" timestamp "
             "without time zone NULL, \"LastAccessDate\" timestamp without time zone NULL, "
             "CONSTRAINT \"PK_UserKeys\" PRIMARY KEY (\"Id\"))",
      now;
  insertRows(session, data, true, "INSERT INTO \"ApplicationDatas\" (\"SymmetricKey\") VALUES ($1)",
             "INSERT INTO \"UserKeys\" (\"Id\", \"Key\", \"CreationDate\", \"RevisionDate\", "
             "\"LastAccessDate\") VALUES (CAST($1 AS uuid), $2, CAST($3 AS timestamp), "
             "CAST($4 AS timestamp), CAST($5 AS timestamp))",
             serverDate);
}

void writeReferenceMySql(const std::string& connectionString, const ReferenceData& data) {
  storage::registerDatabaseConnectors();
  Poco::Data::Session session("mysql", connectionString);
  session << "CREATE TABLE `ApplicationDatas` (`Id` int NOT NULL AUTO_INCREMENT, `SymmetricKey` "
             "longtext CHARACTER SET utf8mb4 NULL, CONSTRAINT `PK_ApplicationDatas` PRIMARY KEY "
             "(`Id`)) CHARACTER SET=utf8mb4",
      now;
  session << "CREATE TABLE `UserKeys` (`Id` char(36) COLLATE ascii_general_ci NOT NULL, `Key` "
             "longtext CHARACTER SET utf8mb4 NULL, `CreationDate` datetime(6) NOT NULL, "
             "`RevisionDate` datetime(6) NULL, `LastAccessDate` datetime(6) NULL, CONSTRAINT "
             "`PK_UserKeys` PRIMARY KEY (`Id`)) CHARACTER SET=utf8mb4",
      now;
  insertRows(session, data, true, "INSERT INTO `ApplicationDatas` (`SymmetricKey`) VALUES (?)",
             "INSERT INTO `UserKeys` (`Id`, `Key`, `CreationDate`, `RevisionDate`, "
             "`LastAccessDate`) VALUES (?, ?, ?, ?, ?)",
             serverDate);
}

std::string referenceJson(const ReferenceData& data) {
  auto dateOrNull = [](const std::optional<ReferenceMicros>& date) {
    return date ? "\"" + jsonDate(*date) + "\"" : std::string("null");
  };
  std::string out = "{\n  \"symmetricKey\": \"" + data.symmetricKeyColumn + "\",\n  \"userKey\": [";
  for (std::size_t i = 0; i < data.users.size(); ++i) {
    const auto& user = data.users[i];
    out += i ? ",\n" : "\n";
    out += "    {\n      \"id\": \"" + user.id + "\",\n      \"key\": \"" + user.keyColumn +
           "\",\n      \"creationDate\": \"" + jsonDate(user.creationDate) +
           "\",\n      \"revisionDate\": " + dateOrNull(user.revisionDate) +
           ",\n      \"lastAccessDate\": " + dateOrNull(user.lastAccessDate) + "\n    }";
  }
  return out + "\n  ]\n}";
}

void writeReferenceJson(const std::filesystem::path& path, const ReferenceData& data) {
  writeFile(path, referenceJson(data));
}

}  // namespace kc::test
