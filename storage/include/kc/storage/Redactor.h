#pragma once
// Keeps connection secrets out of messages: every text a database driver produces passes
// through redact() before it reaches a Status or a log line.

#include <string>
#include <string_view>
#include <vector>

namespace kc::storage {

class Redactor {
 public:
  // Remembers the connection string and every password-like value in it (password=, pwd=,
  // passwd=; separated by ';' or whitespace, optionally quoted or in braces).
  explicit Redactor(std::string_view connectionString);

  // `text` with each remembered secret replaced by "***".
  std::string redact(std::string text) const;

 private:
  std::vector<std::string> secrets_;
};

}  // namespace kc::storage
