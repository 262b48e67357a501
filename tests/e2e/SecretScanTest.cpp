// No secret the end-to-end suites minted shows in anything they wrote. ctest runs this entry
// after every e2e suite (the e2e_output fixture in CMakeLists.txt): they append each token,
// user key, PIN and password they mint to KC_SECRET_LEDGER, and keep every daemon log, audit
// directory and child process's output under KC_TEST_OUTPUT_DIR (tests/support/SecretLedger.h);
// ctest's own log of their output is in KC_CTEST_LOG_DIR. Each secret is looked for raw, in
// hex, and in base64 and base64url at each of the three alignments it can have inside a longer
// encoded text. A failure names the file, the kind of secret and the form, never the secret.

#include <gtest/gtest.h>

#include <cstdint>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <map>
#include <random>
#include <span>
#include <sstream>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

#include "kc/Base64.h"

namespace kc::test {
namespace {

namespace fs = std::filesystem;

// Shorter forms would match by chance in megabytes of logs; every secret minted is longer.
constexpr std::size_t kMinimumForm = 12;

struct Secret {
  std::string kind;
  std::string bytes;
};

struct Form {
  std::string kind;  // the secret's
  std::string name;  // "raw", "hex", "base64+1", ...
  std::string text;
};

struct Finding {
  std::string kind;
  std::string form;
};

std::span<const std::uint8_t> asBytes(std::string_view text) {
  return {reinterpret_cast<const std::uint8_t*>(text.data()), text.size()};
}

std::string hex(std::string_view bytes, const char* digits) {
  std::string out;
  for (const char c : bytes) {
    const auto byte = static_cast<unsigned char>(c);
    out += digits[byte >> 4];
    out += digits[byte & 0xf];
  }
  return out;
}

// The characters of base64(`shift` bytes, then `bytes`, then more) that depend on `bytes`
// alone: what any encoding of a text holding the secret at that alignment contains.
std::string base64Core(std::string_view bytes, std::size_t shift, bool url) {
  std::string prefixed(shift, '\0');
  prefixed += bytes;
  std::string text = url ? encodeBase64Url(asBytes(prefixed)) : encodeBase64(asBytes(prefixed));
  const std::size_t skip = (8 * shift + 5) / 6;
  const std::size_t end = 8 * prefixed.size() / 6;
  return end > skip ? text.substr(skip, end - skip) : std::string();
}

std::vector<Form> formsOf(const Secret& secret) {
  std::vector<Form> forms;
  forms.push_back({secret.kind, "raw", secret.bytes});
  forms.push_back({secret.kind, "hex", hex(secret.bytes, "0123456789abcdef")});
  forms.push_back({secret.kind, "HEX", hex(secret.bytes, "0123456789ABCDEF")});
  for (std::size_t shift = 0; shift < 3; ++shift) {
    forms.push_back(
        {secret.kind, "base64+" + std::to_string(shift), base64Core(secret.bytes, shift, false)});
    forms.push_back(
        {secret.kind, "base64url+" + std::to_string(shift), base64Core(secret.bytes, shift, true)});
  }
  if (secret.kind == "token") {
    // A JWT's signature is what makes it a credential; a log that cut the rest off still leaks.
    const auto dot = secret.bytes.rfind('.');
    if (dot != std::string::npos)
      forms.push_back({secret.kind, "signature", secret.bytes.substr(dot + 1)});
  }
  std::erase_if(forms, [](const Form& form) { return form.text.size() < kMinimumForm; });
  return forms;
}

// Every form of every secret, found in one pass over a text: each position's first
// kMinimumForm bytes are looked up, and only a hit is compared in full.
class SecretScanner {
 public:
  explicit SecretScanner(const std::vector<Secret>& secrets) {
    for (const auto& secret : secrets) {
      for (auto& form : formsOf(secret)) forms_.push_back(std::move(form));
    }
    for (std::size_t i = 0; i < forms_.size(); ++i) {
      byPrefix_.emplace(std::string_view(forms_[i].text).substr(0, kMinimumForm), i);
    }
  }

  std::vector<Finding> scan(std::string_view text) const {
    std::vector<Finding> found;
    for (std::size_t at = 0; at + kMinimumForm <= text.size(); ++at) {
      const auto [first, last] = byPrefix_.equal_range(text.substr(at, kMinimumForm));
      for (auto it = first; it != last; ++it) {
        const Form& form = forms_[it->second];
        if (text.substr(at, form.text.size()) == form.text) {
          found.push_back({form.kind, form.name});
        }
      }
    }
    return found;
  }

 private:
  std::vector<Form> forms_;
  std::unordered_multimap<std::string_view, std::size_t> byPrefix_;
};

std::string readFile(const fs::path& path) {
  std::ifstream in(path, std::ios::binary);
  std::ostringstream out;
  out << in.rdbuf();
  return out.str();
}

std::string fromHex(std::string_view text) {
  std::string out;
  for (std::size_t i = 0; i + 1 < text.size(); i += 2) {
    out += static_cast<char>(std::stoi(std::string(text.substr(i, 2)), nullptr, 16));
  }
  return out;
}

std::vector<Secret> readLedger(const fs::path& path) {
  std::vector<Secret> secrets;
  std::istringstream in(readFile(path));
  for (std::string kind, hexBytes; in >> kind >> hexBytes;) {
    secrets.push_back({kind, fromHex(hexBytes)});
  }
  return secrets;
}

std::string randomBytes(std::size_t count) {
  std::random_device device;
  std::string out(count, '\0');
  for (char& c : out) c = static_cast<char>(device());
  return out;
}

bool finds(const SecretScanner& scanner, std::string_view text, std::string_view form) {
  for (const auto& finding : scanner.scan(text)) {
    if (finding.form == form) return true;
  }
  return false;
}

std::string environment(const char* name) {
  const char* value = std::getenv(name);
  return value == nullptr ? std::string() : std::string(value);
}

// The scanner itself: a planted secret is found in each form a careless line could print,
// inside longer text and at every alignment of an encoding, and clean text is clean.
TEST(SecretScan, FindsAPlantedSecretInEveryForm) {
  const std::vector<Secret> secrets = {{"user-key", randomBytes(64)}, {"pin", "Zq7-pin-Wx93kL"}};
  const SecretScanner scanner(secrets);
  const std::string& key = secrets[0].bytes;

  EXPECT_TRUE(finds(scanner, "pin=Zq7-pin-Wx93kL\n", "raw"));
  EXPECT_TRUE(finds(scanner, "body " + key + " end", "raw"));
  EXPECT_TRUE(finds(scanner, "k=" + hex(key, "0123456789abcdef") + ";", "hex"));
  EXPECT_TRUE(finds(scanner, "K=" + hex(key, "0123456789ABCDEF"), "HEX"));
  for (std::size_t before = 0; before < 3; ++before) {
    const std::string wrapped = randomBytes(before) + key + randomBytes(5);
    const std::string shift = std::to_string(before);
    EXPECT_TRUE(
        finds(scanner, "{\"key\":\"" + encodeBase64(asBytes(wrapped)) + "\"}", "base64+" + shift))
        << before;
    EXPECT_TRUE(finds(scanner, "x " + encodeBase64Url(asBytes(wrapped)), "base64url+" + shift))
        << before;
  }
  const std::string token = "eyJhbGciOiJSUzI1NiJ9.eyJzdWIiOiJ1In0.c2lnbmF0dXJlLW9mLXRoZS10b2tlbg";
  const SecretScanner tokens({{"token", token}});
  EXPECT_TRUE(finds(tokens, "Authorization: Bearer " + token, "raw"));
  EXPECT_TRUE(finds(tokens, "...c2lnbmF0dXJlLW9mLXRoZS10b2tlbg", "signature"));

  EXPECT_TRUE(scanner.scan("GET /user-keys 200 user 6f1c... Zq7-pin-Wx93k").empty());
  EXPECT_TRUE(scanner.scan(encodeBase64(asBytes(randomBytes(4096)))).empty());
}

TEST(SecretScan, NothingTheEndToEndSuitesWroteHoldsASecret) {
  const fs::path ledger = environment("KC_SECRET_LEDGER");
  const fs::path kept = environment("KC_TEST_OUTPUT_DIR");
  ASSERT_FALSE(ledger.empty() || kept.empty())
      << "run by ctest after the e2e suites (KC_SECRET_LEDGER, KC_TEST_OUTPUT_DIR unset)";

  // Not vacuous: the suites ran, minted secrets and left output to look at.
  const auto secrets = readLedger(ledger);
  std::map<std::string, int> perKind;
  for (const auto& secret : secrets) ++perKind[secret.kind];
  ASSERT_FALSE(secrets.empty()) << "no secret in " << ledger << ": did the e2e suites run?";
  // Every e2e suite makes a SoftHSM token, whose PINs are recorded first.
  ASSERT_GT(perKind["pin"], 0) << "no PIN in " << ledger;

  std::vector<fs::path> files;
  std::error_code error;
  if (fs::is_directory(kept, error)) {
    for (const auto& entry : fs::recursive_directory_iterator(kept)) {
      if (entry.is_regular_file()) files.push_back(entry.path());
    }
  }
  const fs::path ctestLogs = environment("KC_CTEST_LOG_DIR");
  if (!ctestLogs.empty() && fs::is_directory(ctestLogs, error)) {
    for (const auto& entry : fs::directory_iterator(ctestLogs)) {
      if (entry.path().filename().string().starts_with("LastTest")) files.push_back(entry.path());
    }
  }
  std::size_t daemonLogs = 0;
  for (const auto& file : files) {
    if (file.filename().string().ends_with("daemon.log")) ++daemonLogs;
  }
  ASSERT_GT(daemonLogs, 0u) << "no daemon log kept under " << kept;

  const SecretScanner scanner(secrets);
  std::size_t bytes = 0;
  for (const auto& file : files) {
    const std::string text = readFile(file);
    bytes += text.size();
    for (const auto& finding : scanner.scan(text)) {
      ADD_FAILURE() << "a " << finding.kind << " (" << finding.form << ") in " << file;
    }
  }
  std::ostringstream summary;
  for (const auto& [kind, count] : perKind) summary << " " << kind << "=" << count;
  std::cout << "scanned " << files.size() << " files (" << bytes << " bytes, " << daemonLogs
            << " daemon logs) for" << summary.str() << "\n";
}

}  // namespace
}  // namespace kc::test
