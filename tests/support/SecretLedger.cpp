#include "support/SecretLedger.h"

#include <fcntl.h>
#include <unistd.h>

#include <atomic>
#include <cstdlib>
#include <fstream>
#include <optional>
#include <stdexcept>
#include <system_error>

namespace kc::test {
namespace {

std::optional<std::filesystem::path> pathFrom(const char* variable) {
  const char* value = std::getenv(variable);
  if (value == nullptr || *value == '\0') return std::nullopt;
  return std::filesystem::path(value);
}

// A name no other process or call of this one uses: pid, then a counter.
std::string uniqueName(std::string_view stem) {
  static std::atomic<unsigned> counter{0};
  return std::to_string(getpid()) + "-" + std::to_string(counter++) + "-" + std::string(stem);
}

// One write(2) per line on an O_APPEND descriptor: suites running in parallel do not interleave.
// Throws when the ledger cannot be written: a secret left out of it would never be looked for.
void appendLine(const std::filesystem::path& path, const std::string& line) {
  std::error_code ignored;
  std::filesystem::create_directories(path.parent_path(), ignored);
  const int fd = open(path.c_str(), O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0600);
  if (fd < 0) throw std::runtime_error("cannot open the secret ledger " + path.string());
  const auto written = write(fd, line.data(), line.size());
  close(fd);
  if (written != static_cast<ssize_t>(line.size())) {
    throw std::runtime_error("cannot write the secret ledger " + path.string());
  }
}

}  // namespace

void recordSecret(std::string_view kind, std::string_view value) {
  const auto ledger = pathFrom("KC_SECRET_LEDGER");
  if (!ledger || value.empty()) return;
  std::string line(kind);
  line += ' ';
  for (const char c : value) {
    const auto byte = static_cast<unsigned char>(c);
    line += "0123456789abcdef"[byte >> 4];
    line += "0123456789abcdef"[byte & 0xf];
  }
  line += '\n';
  appendLine(*ledger, line);
}

void keepOutput(const std::string& program, std::string_view text) {
  const auto dir = pathFrom("KC_TEST_OUTPUT_DIR");
  if (!dir || text.empty()) return;
  std::error_code ignored;
  std::filesystem::create_directories(*dir, ignored);
  std::ofstream out(
      *dir / (uniqueName(std::filesystem::path(program).filename().string()) + ".out"),
      std::ios::binary);
  out.write(text.data(), static_cast<std::streamsize>(text.size()));
}

void keepFiles(const std::filesystem::path& path) {
  const auto dir = pathFrom("KC_TEST_OUTPUT_DIR");
  std::error_code error;
  if (!dir || !std::filesystem::exists(path, error)) return;
  const auto target = *dir / uniqueName(path.filename().string());
  std::filesystem::create_directories(*dir, error);
  std::filesystem::copy(path, target, std::filesystem::copy_options::recursive, error);
}

}  // namespace kc::test
