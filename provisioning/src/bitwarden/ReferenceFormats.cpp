// The token-free half of reading the reference: its AES-GCM row format and its dates.

#include <openssl/evp.h>

#include <array>
#include <memory>

#include "ReferenceInternal.h"
#include "kc/Base64.h"

namespace kc::provisioning {
namespace {

struct CipherContextDeleter {
  void operator()(EVP_CIPHER_CTX* context) const { EVP_CIPHER_CTX_free(context); }
};

bool readDigits(std::string_view text, std::size_t at, std::size_t count, int& out) {
  if (at + count > text.size()) return false;
  out = 0;
  for (std::size_t i = at; i < at + count; ++i) {
    if (text[i] < '0' || text[i] > '9') return false;
    out = out * 10 + (text[i] - '0');
  }
  return true;
}

Status badDate(std::string_view why) {
  return Status(StatusCode::kInvalidArgument, "date " + std::string(why));
}

}  // namespace

Result<SecretBytes> decryptReferenceUserKey(const SecretBytes& aesKey, std::string_view keyColumn) {
  if (aesKey.size() != kReferenceAesKeyBytes) {
    return Status(StatusCode::kInvalidArgument,
                  "the reference's AES key must be 32 bytes, got " + std::to_string(aesKey.size()));
  }
  if (keyColumn.empty()) return Status(StatusCode::kInvalidArgument, "Key is empty");
  if (keyColumn.size() > kMaxReferenceKeyColumnLength) {
    return Status(StatusCode::kInvalidArgument, "Key is " + std::to_string(keyColumn.size()) +
                                                    " characters, more than " +
                                                    std::to_string(kMaxReferenceKeyColumnLength));
  }
  auto sealed = decodeBase64Secret(keyColumn);
  if (!sealed) return Status(StatusCode::kInvalidArgument, "Key is not padded base64");
  constexpr std::size_t kOverhead = kReferenceGcmTagBytes + kReferenceGcmNonceBytes;
  if (sealed->size() < kOverhead + 1) {
    return Status(StatusCode::kInvalidArgument,
                  "Key holds " + std::to_string(sealed->size()) +
                      " bytes, fewer than ciphertext + 16-byte tag + 12-byte nonce");
  }
  const std::size_t length = sealed->size() - kOverhead;
  const std::uint8_t* ciphertext = sealed->data();
  const std::uint8_t* tag = ciphertext + length;
  const std::uint8_t* nonce = tag + kReferenceGcmTagBytes;

  std::unique_ptr<EVP_CIPHER_CTX, CipherContextDeleter> context(EVP_CIPHER_CTX_new());
  SecretBytes plain(length);
  int written = 0;
  int finalWritten = 0;
  if (!context ||
      EVP_DecryptInit_ex(context.get(), EVP_aes_256_gcm(), nullptr, nullptr, nullptr) != 1 ||
      EVP_CIPHER_CTX_ctrl(context.get(), EVP_CTRL_GCM_SET_IVLEN,
                          static_cast<int>(kReferenceGcmNonceBytes), nullptr) != 1 ||
      EVP_DecryptInit_ex(context.get(), nullptr, nullptr, aesKey.data(), nonce) != 1 ||
      EVP_DecryptUpdate(context.get(), plain.data(), &written, ciphertext,
                        static_cast<int>(length)) != 1 ||
      EVP_CIPHER_CTX_ctrl(context.get(), EVP_CTRL_GCM_SET_TAG,
                          static_cast<int>(kReferenceGcmTagBytes),
                          const_cast<std::uint8_t*>(tag)) != 1) {
    return Status(StatusCode::kInternal, "AES-256-GCM could not be set up");
  }
  if (EVP_DecryptFinal_ex(context.get(), plain.data() + written, &finalWritten) != 1) {
    return Status(StatusCode::kIntegrity,
                  "Key does not open: its GCM tag does not verify under the symmetric key");
  }
  return plain;
}

Result<ReferenceTime> parseReferenceDate(std::string_view text) {
  int year = 0, month = 0, day = 0, hour = 0, minute = 0, second = 0;
  if (text.size() < 19 || !readDigits(text, 0, 4, year) || text[4] != '-' ||
      !readDigits(text, 5, 2, month) || text[7] != '-' || !readDigits(text, 8, 2, day) ||
      (text[10] != 'T' && text[10] != ' ') || !readDigits(text, 11, 2, hour) || text[13] != ':' ||
      !readDigits(text, 14, 2, minute) || text[16] != ':' || !readDigits(text, 17, 2, second)) {
    return badDate("is not yyyy-MM-dd HH:mm:ss");
  }
  std::size_t at = 19;
  int millis = 0;
  if (at < text.size() && text[at] == '.') {
    ++at;
    std::size_t digits = 0;
    while (at < text.size() && text[at] >= '0' && text[at] <= '9') {
      if (digits < 3) millis = millis * 10 + (text[at] - '0');
      ++digits;
      ++at;
    }
    if (digits == 0 || digits > 7) return badDate("has a fraction of other than 1..7 digits");
    for (std::size_t i = digits; i < 3; ++i) millis *= 10;
  }
  int offsetMinutes = 0;
  if (at < text.size()) {
    if (text[at] == 'Z' && at + 1 == text.size()) {
      at = text.size();
    } else if ((text[at] == '+' || text[at] == '-') && at + 6 == text.size() &&
               text[at + 3] == ':') {
      int offsetHours = 0, offsetMins = 0;
      if (!readDigits(text, at + 1, 2, offsetHours) || !readDigits(text, at + 4, 2, offsetMins) ||
          offsetHours > 14 || offsetMins > 59) {
        return badDate("has a malformed zone offset");
      }
      offsetMinutes = (offsetHours * 60 + offsetMins) * (text[at] == '-' ? -1 : 1);
      at = text.size();
    } else {
      return badDate("has trailing characters");
    }
  }
  const std::chrono::year_month_day date{std::chrono::year{year},
                                         std::chrono::month{static_cast<unsigned>(month)},
                                         std::chrono::day{static_cast<unsigned>(day)}};
  if (!date.ok() || hour > 23 || minute > 59 || second > 59) {
    return badDate("names a day or time that does not exist");
  }
  return ReferenceTime(std::chrono::sys_days(date)) + std::chrono::hours(hour) +
         std::chrono::minutes(minute - offsetMinutes) + std::chrono::seconds(second) +
         std::chrono::milliseconds(millis);
}

ReferenceUserKeyRow makeReferenceRow(std::string_view where, std::string id, std::string key,
                                     std::string_view creationDate, std::string_view revisionDate,
                                     std::string_view lastAccessDate) {
  ReferenceUserKeyRow row;
  row.id = std::move(id);
  row.key = std::move(key);
  const std::string prefix = std::string(where) + " row " + row.id + ": ";
  auto date = [&](std::string_view text, const char* column,
                  std::optional<ReferenceTime>& out) -> Status {
    if (text.empty()) return Status::ok();
    auto parsed = parseReferenceDate(text);
    if (!parsed)
      return Status(StatusCode::kInvalidArgument,
                    prefix + column + " " + parsed.status().message());
    out = *parsed;
    return Status::ok();
  };
  Status problems[] = {
      row.key.empty() ? Status(StatusCode::kInvalidArgument, prefix + "Key is NULL or empty")
                      : Status::ok(),
      creationDate.empty()
          ? Status(StatusCode::kInvalidArgument, prefix + "CreationDate is NULL or empty")
          : date(creationDate, "CreationDate", row.creationDate),
      date(revisionDate, "RevisionDate", row.revisionDate),
      date(lastAccessDate, "LastAccessDate", row.lastAccessDate),
  };
  for (auto& problem : problems) {
    if (!problem.isOk()) {
      row.problem = std::move(problem);
      break;
    }
  }
  return row;
}

}  // namespace kc::provisioning
