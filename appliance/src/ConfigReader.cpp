#include "ConfigReader.h"

#include <algorithm>
#include <cctype>
#include <charconv>
#include <fstream>

#include "kc/Text.h"

namespace kc::appliance::config {
namespace {

namespace fs = std::filesystem;

bool isSecretKey(std::string_view key) {
  return key == "database.connection_string";
}

bool hasControlCharacter(std::string_view text) {
  return std::any_of(text.begin(), text.end(),
                     [](unsigned char c) { return c < 0x20 || c == 0x7F; });
}

bool looksLikeKey(std::string_view key) {
  return key.size() <= 64 && key.find('.') != std::string_view::npos &&
         std::all_of(key.begin(), key.end(), [](unsigned char c) {
           return std::islower(c) || std::isdigit(c) || c == '.' || c == '_';
         });
}

}  // namespace

Status settingError(std::string_view key, const Value& value, const std::string& problem) {
  return {StatusCode::kInvalidArgument, std::string(key) + " (" + value.origin + "): " + problem};
}

Status missingError(std::string_view key, const std::string& problem) {
  return {StatusCode::kInvalidArgument, std::string(key) + ": " + problem};
}

std::string quoted(std::string_view key, const Value& value) {
  if (isSecretKey(key)) return "";
  std::string shown;
  for (const char c : value.text.substr(0, 40)) {
    const auto byte = static_cast<unsigned char>(c);
    shown.push_back(byte >= 0x20 && byte < 0x7F ? c : '?');
  }
  if (value.text.size() > 40) shown += "...";
  return ", got '" + shown + "'";
}

Sources::Sources(Environment environment, std::string fileOrigin,
                 std::map<std::string, std::string, std::less<>> fileValues)
    : environment_(std::move(environment)),
      fileOrigin_(std::move(fileOrigin)),
      file_(std::move(fileValues)) {}

std::optional<std::string> Sources::environmentValue(std::string_view name) const {
  const auto found = environment_.find(name);
  if (found == environment_.end() || found->second.empty()) return std::nullopt;
  return found->second;
}

void Sources::setReference(std::string key, Value value) {
  reference_[std::move(key)] = std::move(value);
}

std::optional<Value> Sources::get(std::string_view key) const {
  const std::string variable = environmentVariableFor(key);
  if (auto value = environmentValue(variable)) {
    return Value{*value, "environment variable " + variable, Layer::kOverride, {}};
  }
  if (const auto found = reference_.find(key); found != reference_.end()) return found->second;
  if (const auto found = file_.find(key); found != file_.end()) {
    std::string text = trim(found->second);
    if (!text.empty()) return Value{std::move(text), "file " + fileOrigin_, Layer::kFile, {}};
  }
  return std::nullopt;
}

Result<std::optional<Value>> Reader::value(std::string_view key) const {
  auto found = sources_.get(key);
  origins_.insert_or_assign(std::string(key), found ? found->origin : std::string("default"));
  if (found && found->deferredError) return *found->deferredError;
  if (found && hasControlCharacter(found->text)) {
    return settingError(key, *found, "contains a control character");
  }
  return found;
}

Status Reader::string(std::string_view key, std::string& out) const {
  auto found = value(key);
  if (!found) return found.status();
  if (*found) out = (*found)->text;
  return Status::ok();
}

Status Reader::unsignedNumber(std::string_view key, std::uint64_t& out, std::uint64_t min,
                              std::uint64_t max) const {
  auto found = value(key);
  if (!found) return found.status();
  if (!*found) return Status::ok();
  const std::string& text = (*found)->text;
  std::uint64_t parsed = 0;
  const auto [end, error] = std::from_chars(text.data(), text.data() + text.size(), parsed);
  if (error != std::errc() || end != text.data() + text.size() || parsed < min || parsed > max) {
    return settingError(key, **found,
                        "expected a whole number from " + std::to_string(min) + " to " +
                            std::to_string(max) + quoted(key, **found));
  }
  out = parsed;
  return Status::ok();
}

Status Reader::seconds(std::string_view key, std::chrono::seconds& out, std::uint64_t min,
                       std::uint64_t max) const {
  std::uint64_t count = static_cast<std::uint64_t>(out.count());
  KC_RETURN_IF_ERROR(unsignedNumber(key, count, min, max));
  out = std::chrono::seconds(static_cast<std::chrono::seconds::rep>(count));
  return Status::ok();
}

Status Reader::boolean(std::string_view key, bool& out) const {
  auto found = value(key);
  if (!found) return found.status();
  if (!*found) return Status::ok();
  const std::string text = toLower((*found)->text);
  if (text == "true" || text == "yes" || text == "on" || text == "1") {
    out = true;
  } else if (text == "false" || text == "no" || text == "off" || text == "0") {
    out = false;
  } else {
    return settingError(key, **found, "expected true or false" + quoted(key, **found));
  }
  return Status::ok();
}

Status Reader::path(std::string_view key, fs::path& out) const {
  std::string text;
  KC_RETURN_IF_ERROR(string(key, text));
  if (!text.empty()) out = resolve(text);
  return Status::ok();
}

Status Reader::existingFile(std::string_view key, fs::path& out) const {
  auto found = value(key);
  if (!found) return found.status();
  if (!*found) return Status::ok();
  out = resolve((*found)->text);
  std::error_code error;
  if (!fs::is_regular_file(out, error)) {
    return settingError(key, **found, "no such file: " + out.string());
  }
  std::ifstream probe(out);
  if (!probe) return settingError(key, **found, "cannot read " + out.string());
  return Status::ok();
}

fs::path Reader::resolve(const std::string& text) const {
  fs::path out(text);
  if (out.is_relative()) out = baseDir_ / out;
  return out.lexically_normal();
}

Status Reader::checkFileKeysWereRead() const {
  for (const auto& [key, value] : sources_.fileValues()) {
    if (origins_.contains(key)) continue;
    if (looksLikeKey(key)) {
      return Status(StatusCode::kInvalidArgument,
                    key + " (file " + sources_.fileOrigin() + "): not a setting this daemon knows");
    }
    return Status(
        StatusCode::kInvalidArgument,
        "file " + sources_.fileOrigin() + ": a line that is not 'key = value' with a known key");
  }
  return Status::ok();
}

}  // namespace kc::appliance::config
