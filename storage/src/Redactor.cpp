#include "kc/storage/Redactor.h"

#include <algorithm>
#include <cctype>

#include "kc/Text.h"

namespace kc::storage {
namespace {

bool isSecretKey(std::string_view key) {
  const std::string k = toLower(key);
  return k == "password" || k == "pwd" || k == "passwd";
}

// Whatever std::isspace calls a space, in the C locale.
std::string_view trim(std::string_view text) {
  return trimView(text, " \t\n\v\f\r");
}

}  // namespace

Redactor::Redactor(std::string_view connectionString) {
  if (!trim(connectionString).empty()) secrets_.emplace_back(connectionString);
  // Scan "key = value" pairs; a value ends at ';' or whitespace unless quoted or braced.
  std::size_t i = 0;
  const std::string_view s = connectionString;
  while (i < s.size()) {
    const std::size_t eq = s.find('=', i);
    if (eq == std::string_view::npos) break;
    std::size_t keyStart = s.find_last_of("; \t", eq == 0 ? 0 : eq - 1);
    keyStart = keyStart == std::string_view::npos ? 0 : keyStart + 1;
    const std::string_view key = trim(s.substr(keyStart, eq - keyStart));
    std::size_t v = eq + 1;
    while (v < s.size() && (s[v] == ' ' || s[v] == '\t')) ++v;
    std::size_t end = v;
    std::string_view value;
    if (v < s.size() && (s[v] == '\'' || s[v] == '"' || s[v] == '{')) {
      const char close = s[v] == '{' ? '}' : s[v];
      end = s.find(close, v + 1);
      if (end == std::string_view::npos) end = s.size();
      value = s.substr(v + 1, end - v - 1);
      if (end < s.size()) ++end;
    } else {
      end = s.find_first_of("; \t", v);
      if (end == std::string_view::npos) end = s.size();
      value = s.substr(v, end - v);
    }
    if (isSecretKey(key) && !value.empty()) secrets_.emplace_back(value);
    i = end + 1;
  }
  // Longest first, so a password inside the connection string is not half-replaced.
  std::sort(secrets_.begin(), secrets_.end(),
            [](const std::string& a, const std::string& b) { return a.size() > b.size(); });
}

std::string Redactor::redact(std::string text) const {
  for (const auto& secret : secrets_) {
    for (std::size_t at = text.find(secret); at != std::string::npos;
         at = text.find(secret, at + 3)) {
      text.replace(at, secret.size(), "***");
    }
  }
  return text;
}

}  // namespace kc::storage
