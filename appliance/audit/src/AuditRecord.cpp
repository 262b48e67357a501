#include "kc/audit/AuditRecord.h"

#include <Poco/Dynamic/Var.h>
#include <Poco/Exception.h>
#include <Poco/JSON/Object.h>
#include <Poco/JSON/Parser.h>
#include <openssl/evp.h>
#include <openssl/sha.h>

#include <array>
#include <chrono>
#include <cstdio>
#include <ctime>
#include <initializer_list>
#include <vector>

#include "kc/Text.h"

namespace kc::audit {

namespace {

void appendEscaped(std::string& out, std::string_view text) {
  out += '"';
  for (const char c : text) {
    const auto byte = static_cast<unsigned char>(c);
    if (c == '"') {
      out += "\\\"";
    } else if (c == '\\') {
      out += "\\\\";
    } else if (byte < 0x20) {
      char buffer[8];
      // Always 6 characters: cannot fail or be cut.
      (void)std::snprintf(buffer, sizeof buffer, "\\u%04x", static_cast<unsigned>(byte));
      out += buffer;
    } else {
      out += c;
    }
  }
  out += '"';
}

void appendMember(std::string& out, std::string_view name, std::string_view value) {
  out += '"';
  out += name;
  out += "\":";
  appendEscaped(out, value);
}

void appendMember(std::string& out, std::string_view name, std::uint64_t value) {
  out += '"';
  out += name;
  out += "\":";
  out += std::to_string(value);
}

// The members every version has; version 2 adds "client_request" (after "request").
constexpr std::array<std::string_view, 15> kMembers = {
    "v",   "seq",     "time",   "instance",    "op",     "outcome", "status", "user",
    "key", "request", "client", "duration_us", "detail", "sig",     "prev"};
constexpr std::string_view kClientRequestMember = "client_request";

Result<std::uint64_t> unsignedMember(const Poco::JSON::Object& object, const std::string& name) {
  const Poco::Dynamic::Var value = object.get(name);
  if (!value.isInteger())
    return Status(StatusCode::kInvalidArgument, "\"" + name + "\" is not an integer");
  if (value.isSigned()) {
    const auto signedValue = value.convert<Poco::Int64>();
    if (signedValue < 0)
      return Status(StatusCode::kInvalidArgument, "\"" + name + "\" is negative");
    return static_cast<std::uint64_t>(signedValue);
  }
  return static_cast<std::uint64_t>(value.convert<Poco::UInt64>());
}

Result<std::string> stringMember(const Poco::JSON::Object& object, const std::string& name) {
  const Poco::Dynamic::Var value = object.get(name);
  if (!value.isString())
    return Status(StatusCode::kInvalidArgument, "\"" + name + "\" is not a string");
  return value.extract<std::string>();
}

bool isLowerHex(std::string_view text) {
  for (const char c : text) {
    if (!((c >= '0' && c <= '9') || (c >= 'a' && c <= 'f'))) return false;
  }
  return true;
}

Result<AuditRecord> parseObject(const Poco::JSON::Object& object) {
  if (!object.has("v")) return Status(StatusCode::kInvalidArgument, "member \"v\" missing");
  auto version = unsignedMember(object, "v");
  if (!version) return version.status();
  if (*version != 1 && *version != 2)
    return Status(StatusCode::kInvalidArgument, "unknown record version");
  const std::size_t members = *version == 1 ? kMembers.size() : kMembers.size() + 1;
  if (object.size() != members) {
    return Status(StatusCode::kInvalidArgument, "a version " + std::to_string(*version) +
                                                    " record has exactly " +
                                                    std::to_string(members) + " members");
  }
  for (const auto name : kMembers) {
    if (!object.has(std::string(name)))
      return Status(StatusCode::kInvalidArgument, "member \"" + std::string(name) + "\" missing");
  }
  AuditRecord record;
  record.version = static_cast<unsigned>(*version);
  if (record.version >= 2) {
    const std::string name(kClientRequestMember);
    if (!object.has(name))
      return Status(StatusCode::kInvalidArgument, "member \"" + name + "\" missing");
    auto text = stringMember(object, name);
    if (!text) return text.status();
    record.clientRequestId = std::move(*text);
  }
  auto seq = unsignedMember(object, "seq");
  if (!seq) return seq.status();
  if (*seq == 0) return Status(StatusCode::kInvalidArgument, "\"seq\" starts at 1");
  record.seq = *seq;
  auto status = unsignedMember(object, "status");
  if (!status) return status.status();
  if (*status > 999) return Status(StatusCode::kInvalidArgument, "\"status\" out of range");
  record.httpStatus = static_cast<unsigned>(*status);
  auto duration = unsignedMember(object, "duration_us");
  if (!duration) return duration.status();
  record.durationMicros = *duration;

  std::string time;
  for (auto [name, target] : {std::pair<const char*, std::string*>{"time", &time},
                              {"instance", &record.instance},
                              {"op", &record.operation},
                              {"outcome", &record.outcome},
                              {"user", &record.userId},
                              {"key", &record.keyId},
                              {"request", &record.requestId},
                              {"client", &record.clientAddress},
                              {"detail", &record.detail},
                              {"sig", &record.signature},
                              {"prev", &record.prev}}) {
    auto text = stringMember(object, name);
    if (!text) return text.status();
    *target = std::move(*text);
  }
  auto micros = parseTime(time);
  if (!micros) return micros.status();
  record.timeMicros = *micros;
  if (record.prev.size() != 64 || !isLowerHex(record.prev))
    return Status(StatusCode::kInvalidArgument, "\"prev\" is not 64 lower-case hex digits");
  if (record.instance.empty()) return Status(StatusCode::kInvalidArgument, "\"instance\" is empty");
  if (record.operation.empty()) return Status(StatusCode::kInvalidArgument, "\"op\" is empty");
  return record;
}

}  // namespace

std::string serialize(const AuditRecord& record) {
  std::string out;
  out.reserve(256 + record.detail.size());
  out += '{';
  const bool v1 = record.version == 1;
  appendMember(out, "v", std::uint64_t{v1 ? 1u : kRecordVersion});
  out += ',';
  appendMember(out, "seq", record.seq);
  out += ',';
  appendMember(out, "time", formatTime(record.timeMicros));
  out += ',';
  appendMember(out, "instance", record.instance);
  out += ',';
  appendMember(out, "op", record.operation);
  out += ',';
  appendMember(out, "outcome", record.outcome);
  out += ',';
  appendMember(out, "status", std::uint64_t{record.httpStatus});
  out += ',';
  appendMember(out, "user", record.userId);
  out += ',';
  appendMember(out, "key", record.keyId);
  out += ',';
  appendMember(out, "request", record.requestId);
  out += ',';
  if (!v1) {
    appendMember(out, kClientRequestMember, record.clientRequestId);
    out += ',';
  }
  appendMember(out, "client", record.clientAddress);
  out += ',';
  appendMember(out, "duration_us", record.durationMicros);
  out += ',';
  appendMember(out, "detail", record.detail);
  out += ',';
  appendMember(out, "sig", record.signature);
  out += ',';
  appendMember(out, "prev", record.prev);
  out += '}';
  return out;
}

Result<AuditRecord> parseRecord(std::string_view line) {
  if (line.empty() || line.front() != '{' || line.back() != '}')
    return Status(StatusCode::kInvalidArgument, "not a JSON object");
  Result<AuditRecord> parsed = Status(StatusCode::kInvalidArgument, "not a JSON object");
  try {
    Poco::JSON::Parser parser;
    const Poco::Dynamic::Var value = parser.parse(std::string(line));
    const auto& object = value.extract<Poco::JSON::Object::Ptr>();
    if (object.isNull()) return Status(StatusCode::kInvalidArgument, "not a JSON object");
    parsed = parseObject(*object);
  } catch (const Poco::Exception& e) {
    return Status(StatusCode::kInvalidArgument, "not valid JSON: " + e.message());
  } catch (const std::exception&) {
    return Status(StatusCode::kInvalidArgument, "not valid JSON");
  }
  if (!parsed) return parsed;
  if (serialize(*parsed) != line)
    return Status(StatusCode::kInvalidArgument, "not in canonical form (altered formatting)");
  return parsed;
}

Sha256 sha256(std::span<const std::uint8_t> bytes) {
  Sha256 digest{};
  SHA256(bytes.data(), bytes.size(), digest.data());
  return digest;
}

Sha256 sha256(std::string_view text) {
  return sha256({reinterpret_cast<const std::uint8_t*>(text.data()), text.size()});
}

std::string lineHash(std::string_view line) {
  return toHex(sha256(line));
}

std::string genesisHash(std::string_view instance) {
  std::string text = "kc-audit-genesis:";
  text += instance;
  return lineHash(text);
}

std::string checkpointMessage(AuditRecord checkpoint) {
  checkpoint.signature.clear();
  return serialize(checkpoint);
}

std::string formatTime(std::int64_t micros) {
  std::int64_t seconds = micros / 1'000'000;
  std::int64_t fraction = micros % 1'000'000;
  if (fraction < 0) {
    fraction += 1'000'000;
    --seconds;
  }
  const auto when = static_cast<std::time_t>(seconds);
  std::tm utc{};
  gmtime_r(&when, &utc);
  char buffer[64];
  // At most 48 characters for any date (tm_year is an int): cannot fail or be cut.
  (void)std::snprintf(buffer, sizeof buffer, "%04d-%02d-%02dT%02d:%02d:%02d.%06lldZ",
                      utc.tm_year + 1900, utc.tm_mon + 1, utc.tm_mday, utc.tm_hour, utc.tm_min,
                      utc.tm_sec, static_cast<long long>(fraction));
  return buffer;
}

Result<std::int64_t> parseTime(std::string_view text) {
  // YYYY-MM-DDTHH:MM:SS.ffffffZ
  static constexpr std::string_view kShape = "dddd-dd-ddTdd:dd:dd.ddddddZ";
  const Status bad(StatusCode::kInvalidArgument, "time is not YYYY-MM-DDTHH:MM:SS.ffffffZ in UTC");
  if (text.size() != kShape.size()) return bad;
  for (std::size_t i = 0; i < kShape.size(); ++i) {
    if (kShape[i] == 'd' ? !(text[i] >= '0' && text[i] <= '9') : text[i] != kShape[i]) return bad;
  }
  auto number = [&](std::size_t at, std::size_t length) {
    int value = 0;
    for (std::size_t i = 0; i < length; ++i) value = value * 10 + (text[at + i] - '0');
    return value;
  };
  const int year = number(0, 4), month = number(5, 2), day = number(8, 2);
  const int hour = number(11, 2), minute = number(14, 2), second = number(17, 2);
  const int fraction = number(20, 6);
  if (year < 1970 || month < 1 || month > 12 || day < 1 || hour > 23 || minute > 59 || second > 59)
    return bad;
  const std::chrono::year_month_day date{std::chrono::year(year),
                                         std::chrono::month(static_cast<unsigned>(month)),
                                         std::chrono::day(static_cast<unsigned>(day))};
  if (!date.ok()) return bad;
  const auto days = std::chrono::sys_days(date).time_since_epoch().count();
  const std::int64_t seconds =
      static_cast<std::int64_t>(days) * 86400 + hour * 3600 + minute * 60 + second;
  return seconds * 1'000'000 + fraction;
}

std::int64_t nowMicros() {
  return std::chrono::duration_cast<std::chrono::microseconds>(
             std::chrono::system_clock::now().time_since_epoch())
      .count();
}

std::string sanitizeUtf8(std::string_view text) {
  std::string out;
  out.reserve(text.size());
  std::size_t i = 0;
  while (i < text.size()) {
    const auto lead = static_cast<unsigned char>(text[i]);
    std::size_t length = 0;
    std::uint32_t min = 0;
    if (lead < 0x80) {
      out += text[i++];
      continue;
    } else if ((lead & 0xE0) == 0xC0) {
      length = 2;
      min = 0x80;
    } else if ((lead & 0xF0) == 0xE0) {
      length = 3;
      min = 0x800;
    } else if ((lead & 0xF8) == 0xF0) {
      length = 4;
      min = 0x10000;
    }
    bool valid = length != 0 && i + length <= text.size();
    std::uint32_t code = length == 2   ? (lead & 0x1Fu)
                         : length == 3 ? (lead & 0x0Fu)
                                       : (lead & 0x07u);
    for (std::size_t k = 1; valid && k < length; ++k) {
      const auto next = static_cast<unsigned char>(text[i + k]);
      if ((next & 0xC0) != 0x80) valid = false;
      code = (code << 6) | (next & 0x3Fu);
    }
    if (valid && (code < min || code > 0x10FFFF || (code >= 0xD800 && code <= 0xDFFF)))
      valid = false;
    if (valid) {
      out.append(text.substr(i, length));
      i += length;
    } else {
      out += '?';
      ++i;
    }
  }
  return out;
}

}  // namespace kc::audit
