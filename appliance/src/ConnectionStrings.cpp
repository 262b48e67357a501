#include "kc/appliance/ConnectionStrings.h"

#include <algorithm>
#include <cctype>
#include <map>
#include <optional>
#include <set>
#include <vector>

#include "kc/Text.h"

namespace kc::appliance {
namespace {

struct Entry {
  std::string keyword;  // lower case, without blanks or underscores: "userid", "sslmode"
  std::string value;
  std::size_t position;  // 1-based, for messages
};

Status invalid(std::string_view kind, const std::string& what) {
  return {StatusCode::kInvalidArgument, std::string(kind) + " connection string: " + what};
}

constexpr std::string_view kBlanks = " \t";

bool isBlank(char c) {
  return c == ' ' || c == '\t';
}
bool isControl(char c) {
  const auto byte = static_cast<unsigned char>(c);
  return byte < 0x20 || byte == 0x7F;
}

std::string normaliseKeyword(std::string_view keyword) {
  std::string out;
  for (const char c : keyword) {
    if (isBlank(c) || c == '_') continue;
    out.push_back(asciiLower(c));
  }
  return out;
}

// Splits an ADO.NET connection string. Never quotes the input in an error.
Result<std::vector<Entry>> parseAdoNet(std::string_view kind, std::string_view text) {
  std::vector<Entry> out;
  std::size_t i = 0;
  std::size_t position = 0;
  while (i < text.size()) {
    while (i < text.size() && (isBlank(text[i]) || text[i] == ';')) ++i;
    if (i >= text.size()) break;
    ++position;
    const std::string where = "keyword " + std::to_string(position);
    const std::size_t keywordStart = i;
    while (i < text.size() && text[i] != '=' && text[i] != ';') ++i;
    if (i >= text.size() || text[i] != '=') return invalid(kind, where + " has no '='");
    const std::string_view rawKeyword = text.substr(keywordStart, i - keywordStart);
    ++i;  // '='
    if (std::any_of(rawKeyword.begin(), rawKeyword.end(), isControl)) {
      return invalid(kind, where + " contains a control character");
    }
    Entry entry{normaliseKeyword(rawKeyword), {}, position};
    if (entry.keyword.empty()) return invalid(kind, where + " is empty");

    while (i < text.size() && isBlank(text[i])) ++i;
    if (i < text.size() && (text[i] == '\'' || text[i] == '"')) {
      const char quote = text[i++];
      bool closed = false;
      while (i < text.size()) {
        if (text[i] == quote) {
          if (i + 1 < text.size() && text[i + 1] == quote) {
            entry.value.push_back(quote);
            i += 2;
            continue;
          }
          ++i;
          closed = true;
          break;
        }
        entry.value.push_back(text[i++]);
      }
      if (!closed) return invalid(kind, "the value of " + where + " has no closing quote");
      while (i < text.size() && isBlank(text[i])) ++i;
      if (i < text.size() && text[i] != ';') {
        return invalid(kind, "the quoted value of " + where + " is followed by more text");
      }
    } else {
      const std::size_t valueStart = i;
      while (i < text.size() && text[i] != ';') ++i;
      entry.value = trim(text.substr(valueStart, i - valueStart), kBlanks);
    }
    if (std::any_of(entry.value.begin(), entry.value.end(), isControl)) {
      return invalid(kind, "the value of " + where + " contains a control character");
    }
    out.push_back(std::move(entry));
  }
  if (out.empty()) return invalid(kind, "it is empty");
  return out;
}

// Maps each entry's keyword to a field name by `synonyms`; `dropped` keywords are accepted and
// ignored. An unknown keyword, or one field given twice, is an error.
Result<std::map<std::string, Entry>> mapFields(
    std::string_view kind, const std::vector<Entry>& entries,
    const std::map<std::string, std::string, std::less<>>& synonyms,
    const std::set<std::string, std::less<>>& dropped) {
  std::map<std::string, Entry> fields;
  for (const auto& entry : entries) {
    const std::string where = "keyword " + std::to_string(entry.position);
    if (dropped.contains(entry.keyword)) continue;
    const auto found = synonyms.find(entry.keyword);
    if (found == synonyms.end()) {
      return invalid(kind, where + " is not one this server can carry over");
    }
    if (!fields.emplace(found->second, entry).second) {
      return invalid(kind, where + " sets the same thing as an earlier keyword");
    }
  }
  return fields;
}

Status checkPort(std::string_view kind, const Entry& port) {
  const std::string& value = port.value;
  const bool digits =
      !value.empty() && value.size() <= 5 &&
      std::all_of(value.begin(), value.end(), [](unsigned char c) { return std::isdigit(c); });
  if (!digits || std::stoi(value) < 1 || std::stoi(value) > 65535) {
    return invalid(kind, "the port (keyword " + std::to_string(port.position) +
                             ") must be a number from 1 to 65535");
  }
  return Status::ok();
}

Status requireField(std::string_view kind, const std::map<std::string, Entry>& fields,
                    const std::string& field, std::string_view keywords) {
  const auto found = fields.find(field);
  if (found == fields.end() || found->second.value.empty()) {
    return invalid(kind, "it names no " + field + " (" + std::string(keywords) + ")");
  }
  return Status::ok();
}

std::optional<bool> parseBool(std::string_view value) {
  const std::string text = toLower(value);
  if (text == "true" || text == "yes" || text == "1") return true;
  if (text == "false" || text == "no" || text == "0") return false;
  return std::nullopt;
}

std::string libpqQuote(std::string_view value) {
  std::string out = "'";
  for (const char c : value) {
    if (c == '\'' || c == '\\') out.push_back('\\');
    out.push_back(c);
  }
  out.push_back('\'');
  return out;
}

std::string odbcValue(std::string_view value) {
  const bool needsBraces = value.find_first_of(";{}=") != std::string_view::npos ||
                           (!value.empty() && (isBlank(value.front()) || isBlank(value.back())));
  if (!needsBraces) return std::string(value);
  std::string out = "{";
  for (const char c : value) {
    out.push_back(c);
    if (c == '}') out.push_back('}');
  }
  out.push_back('}');
  return out;
}

}  // namespace

Result<std::string> sqlitePathFromConnectionString(std::string_view text) {
  constexpr std::string_view kKind = "SQLite";
  auto entries = parseAdoNet(kKind, text);
  if (!entries) return entries.status();
  auto fields = mapFields(
      kKind, *entries, {{"datasource", "path"}, {"filename", "path"}, {"mode", "mode"}}, {"cache"});
  if (!fields) return fields.status();
  KC_RETURN_IF_ERROR(requireField(kKind, *fields, "path", "Data Source"));
  if (const auto mode = fields->find("mode"); mode != fields->end()) {
    const std::string value = toLower(mode->second.value);
    if (value != "readwritecreate" && value != "readwrite") {
      return invalid(kKind, "only Mode=ReadWriteCreate or ReadWrite can be carried over");
    }
  }
  return fields->at("path").value;
}

Result<std::string> libpqFromNpgsql(std::string_view text) {
  constexpr std::string_view kKind = "PostgreSQL";
  auto entries = parseAdoNet(kKind, text);
  if (!entries) return entries.status();
  auto fields =
      mapFields(kKind, *entries,
                {{"host", "host"},
                 {"server", "host"},
                 {"port", "port"},
                 {"database", "dbname"},
                 {"db", "dbname"},
                 {"username", "user"},
                 {"userid", "user"},
                 {"user", "user"},
                 {"uid", "user"},
                 {"password", "password"},
                 {"pwd", "password"},
                 {"psw", "password"},
                 {"sslmode", "sslmode"},
                 {"timeout", "connect_timeout"},
                 {"applicationname", "application_name"}},
                {"pooling", "minpoolsize", "maxpoolsize", "minimumpoolsize", "maximumpoolsize",
                 "connectionidlelifetime", "connectionpruninginterval", "connectionlifetime",
                 "commandtimeout", "includeerrordetail", "enlist", "multiplexing"});
  if (!fields) return fields.status();
  KC_RETURN_IF_ERROR(requireField(kKind, *fields, "host", "Host or Server"));
  if (const auto port = fields->find("port"); port != fields->end()) {
    KC_RETURN_IF_ERROR(checkPort(kKind, port->second));
  }
  if (auto sslmode = fields->find("sslmode"); sslmode != fields->end()) {
    static const std::map<std::string, std::string, std::less<>> kModes = {
        {"disable", "disable"},        {"allow", "allow"},
        {"prefer", "prefer"},          {"require", "require"},
        {"verifyca", "verify-ca"},     {"verify-ca", "verify-ca"},
        {"verifyfull", "verify-full"}, {"verify-full", "verify-full"}};
    const auto mode = kModes.find(toLower(sslmode->second.value));
    if (mode == kModes.end()) {
      return invalid(kKind,
                     "SSL Mode must be Disable, Allow, Prefer, Require, VerifyCA or "
                     "VerifyFull");
    }
    sslmode->second.value = mode->second;
  }
  if (const auto timeout = fields->find("connect_timeout"); timeout != fields->end()) {
    const std::string& value = timeout->second.value;
    if (value.empty() || value.size() > 6 ||
        !std::all_of(value.begin(), value.end(), [](unsigned char c) { return std::isdigit(c); })) {
      return invalid(kKind, "Timeout must be a number of seconds");
    }
  }
  std::string out;
  for (const char* name : {"host", "port", "dbname", "user", "password", "sslmode",
                           "connect_timeout", "application_name"}) {
    const auto found = fields->find(name);
    if (found == fields->end()) continue;
    if (!out.empty()) out.push_back(' ');
    out += std::string(name) + "=" + libpqQuote(found->second.value);
  }
  return out;
}

Result<std::string> pocoMySqlFromConnectionString(std::string_view text) {
  constexpr std::string_view kKind = "MySQL";
  auto entries = parseAdoNet(kKind, text);
  if (!entries) return entries.status();
  auto fields =
      mapFields(kKind, *entries,
                {{"server", "host"},
                 {"host", "host"},
                 {"datasource", "host"},
                 {"address", "host"},
                 {"addr", "host"},
                 {"networkaddress", "host"},
                 {"port", "port"},
                 {"database", "db"},
                 {"initialcatalog", "db"},
                 {"uid", "user"},
                 {"userid", "user"},
                 {"user", "user"},
                 {"username", "user"},
                 {"pwd", "password"},
                 {"password", "password"},
                 {"charset", "character-set"},
                 {"characterset", "character-set"}},
                {"pooling", "minpoolsize", "maxpoolsize", "minimumpoolsize", "maximumpoolsize",
                 "connectionlifetime", "connectionreset", "defaultcommandtimeout"});
  if (!fields) return fields.status();
  KC_RETURN_IF_ERROR(requireField(kKind, *fields, "host", "Server or Host"));
  if (const auto port = fields->find("port"); port != fields->end()) {
    KC_RETURN_IF_ERROR(checkPort(kKind, port->second));
  }
  std::string out;
  for (const char* name : {"host", "port", "db", "user", "password", "character-set"}) {
    const auto found = fields->find(name);
    if (found == fields->end()) continue;
    const std::string& value = found->second.value;
    const std::string where = "keyword " + std::to_string(found->second.position);
    // Poco splits on ';' without quoting and strips blanks around each value.
    if (value.find(';') != std::string::npos) {
      return invalid(kKind, "the value of " + where +
                                " holds a ';', which Poco's MySQL connection string cannot carry");
    }
    if (!value.empty() && (isBlank(value.front()) || isBlank(value.back()))) {
      return invalid(kKind, "the value of " + where +
                                " starts or ends with a blank, which Poco's MySQL connection "
                                "string would drop");
    }
    if (!out.empty()) out.push_back(';');
    out += std::string(name) + "=" + value;
  }
  return out;
}

Result<std::string> odbcFromSqlServer(std::string_view text) {
  constexpr std::string_view kKind = "SQL Server";
  auto entries = parseAdoNet(kKind, text);
  if (!entries) return entries.status();
  auto fields =
      mapFields(kKind, *entries,
                {{"server", "Server"},
                 {"datasource", "Server"},
                 {"address", "Server"},
                 {"addr", "Server"},
                 {"networkaddress", "Server"},
                 {"database", "Database"},
                 {"initialcatalog", "Database"},
                 {"userid", "UID"},
                 {"uid", "UID"},
                 {"user", "UID"},
                 {"password", "PWD"},
                 {"pwd", "PWD"},
                 {"encrypt", "Encrypt"},
                 {"trustservercertificate", "TrustServerCertificate"},
                 {"applicationname", "APP"},
                 {"integratedsecurity", "integrated"},
                 {"trustedconnection", "integrated"}},
                {"pooling", "minpoolsize", "maxpoolsize", "multipleactiveresultsets",
                 "connecttimeout", "connectiontimeout", "timeout", "persistsecurityinfo"});
  if (!fields) return fields.status();
  KC_RETURN_IF_ERROR(requireField(kKind, *fields, "Server", "Server or Data Source"));
  if (const auto integrated = fields->find("integrated"); integrated != fields->end()) {
    const auto flag = parseBool(integrated->second.value);
    if (!flag.has_value() && toLower(integrated->second.value) != "sspi") {
      return invalid(kKind, "Integrated Security must be true, false or SSPI");
    }
    if (!flag.has_value() || *flag) {
      return invalid(kKind,
                     "integrated (Windows) authentication is not supported; give User "
                     "Id and Password");
    }
    fields->erase(integrated);
  }
  if (auto encrypt = fields->find("Encrypt"); encrypt != fields->end()) {
    const std::string value = toLower(encrypt->second.value);
    if (value == "strict") {
      encrypt->second.value = "strict";
    } else if (value == "mandatory") {
      encrypt->second.value = "yes";
    } else if (value == "optional") {
      encrypt->second.value = "no";
    } else if (const auto flag = parseBool(value)) {
      encrypt->second.value = *flag ? "yes" : "no";
    } else {
      return invalid(kKind, "Encrypt must be true, false, strict, mandatory or optional");
    }
  }
  if (auto trust = fields->find("TrustServerCertificate"); trust != fields->end()) {
    const auto flag = parseBool(trust->second.value);
    if (!flag) return invalid(kKind, "TrustServerCertificate must be true or false");
    trust->second.value = *flag ? "yes" : "no";
  }
  std::string out = "Driver={ODBC Driver 18 for SQL Server}";
  for (const char* name :
       {"Server", "Database", "UID", "PWD", "Encrypt", "TrustServerCertificate", "APP"}) {
    const auto found = fields->find(name);
    if (found == fields->end()) continue;
    out += std::string(";") + name + "=" + odbcValue(found->second.value);
  }
  return out;
}

}  // namespace kc::appliance
