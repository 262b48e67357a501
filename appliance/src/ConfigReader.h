#pragma once
// The layered sources of the configuration and the typed reader over them. Private to the
// appliance library: the daemon and kc-setup reach it only through Config.h, so both resolve
// every setting by the same rules.
//
// Precedence, highest first: KC_<KEY> in the environment, the reference Key Connector's
// keyConnectorSettings__* variables (translated by ReferenceSettings.h), the properties file.
// A value that is empty (after trimming, for the file) counts as unset. Values are raw: no
// ${...} expansion.

#include <chrono>
#include <cstdint>
#include <filesystem>
#include <map>
#include <optional>
#include <set>
#include <string>
#include <string_view>

#include "kc/Result.h"
#include "kc/appliance/Config.h"

namespace kc::appliance::config {

// Where a value came from; a higher layer wins.
enum class Layer { kFile = 1, kReference = 2, kOverride = 3 };

struct Value {
  std::string text;
  std::string origin;  // "file /etc/kc/kc.properties", "environment variable KC_SERVER_PORT"
  Layer layer = Layer::kFile;
  std::optional<Status> deferredError;  // a reference value that cannot carry over
};

// "<key> (<origin>): <problem>": the one shape of every setting error.
Status settingError(std::string_view key, const Value& value, const std::string& problem);
// "<key>: <problem>", for a setting no layer gives.
Status missingError(std::string_view key, const std::string& problem);
// ", got '<value>'": a printable prefix of at most 40 characters; nothing for a secret key.
std::string quoted(std::string_view key, const Value& value);

// Every layer of settings, looked up per key by precedence.
class Sources {
 public:
  // `fileValues`: the raw entries of the properties file named `fileOrigin` (none: empty).
  Sources(Environment environment, std::string fileOrigin,
          std::map<std::string, std::string, std::less<>> fileValues);

  // A non-empty environment variable.
  std::optional<std::string> environmentValue(std::string_view name) const;
  // Adds or replaces a value of the reference layer.
  void setReference(std::string key, Value value);
  // Marks the reference layer as read even when it sets nothing (addReferenceSettings), so
  // the connection string added once the provider is known comes from it only then.
  void useReferenceLayer() { referenceLayer_ = true; }
  bool usesReferenceLayer() const { return referenceLayer_; }

  // The winning value of `key`, if any layer sets it to something not empty.
  std::optional<Value> get(std::string_view key) const;

  const std::map<std::string, std::string, std::less<>>& fileValues() const { return file_; }
  const Environment& environment() const { return environment_; }
  const std::string& fileOrigin() const { return fileOrigin_; }

 private:
  Environment environment_;
  std::string fileOrigin_;
  std::map<std::string, std::string, std::less<>> file_;
  std::map<std::string, Value, std::less<>> reference_;
  bool referenceLayer_ = false;
};

// Reads typed settings. Every key it is asked for is remembered, with the origin of the value
// that won, so the file's unknown keys can be found afterwards and callers can name where a
// setting came from. A value holding a control character (which no setting needs, and which
// would break one-line messages) is refused on every read.
class Reader {
 public:
  Reader(const Sources& sources, std::filesystem::path baseDir)
      : sources_(sources), baseDir_(std::move(baseDir)) {}

  // The winning value, or none; the deferred error of a reference value that cannot carry
  // over; INVALID_ARGUMENT for a control character.
  Result<std::optional<Value>> value(std::string_view key) const;

  // Each of these leaves `out` (its default) alone when no layer sets `key`, and returns
  // INVALID_ARGUMENT naming the key and its origin for a malformed value.
  Status string(std::string_view key, std::string& out) const;
  template <typename Number>
  Status number(std::string_view key, Number& out, std::uint64_t min, std::uint64_t max) const {
    std::uint64_t parsed = static_cast<std::uint64_t>(out);
    KC_RETURN_IF_ERROR(unsignedNumber(key, parsed, min, max));
    out = static_cast<Number>(parsed);
    return Status::ok();
  }
  Status seconds(std::string_view key, std::chrono::seconds& out, std::uint64_t min,
                 std::uint64_t max) const;
  Status boolean(std::string_view key, bool& out) const;
  // A path, resolved against the base directory when relative.
  Status path(std::string_view key, std::filesystem::path& out) const;
  // A path that must name a readable regular file when set.
  Status existingFile(std::string_view key, std::filesystem::path& out) const;

  std::filesystem::path resolve(const std::string& text) const;
  const std::filesystem::path& baseDir() const { return baseDir_; }

  // Every key read so far, with the origin of the value that won ("default" when none did).
  const SettingOrigins& origins() const { return origins_; }
  // INVALID_ARGUMENT naming the first key of the file that nothing read: a typo, or a
  // setting of another version. A line that is not a key at all is named by the file only,
  // since it may be a secret pasted in the wrong place.
  Status checkFileKeysWereRead() const;

 private:
  Status unsignedNumber(std::string_view key, std::uint64_t& out, std::uint64_t min,
                        std::uint64_t max) const;

  const Sources& sources_;
  std::filesystem::path baseDir_;
  mutable SettingOrigins origins_;
};

}  // namespace kc::appliance::config
