#pragma once
// Where a wrapping-key rotation stands, and the two places it is written down:
// - the daemon's properties file, whose pkcs11.wrap_key and pkcs11.previous_wrap_keys every
//   instance reads on SIGHUP (edited in place, atomically: PropertiesFile.h);
// - the journal beside it, <config>.rotation, kc-setup's own note of the rotation under way
//   (which key is new, which is old, the last step done), so each step can tell a re-run from
//   a mistake: "promote" run twice must not swap the keys back. Removed by "retire".

#include <filesystem>
#include <optional>
#include <string>
#include <vector>

#include "kc/Result.h"
#include "kc/appliance/Config.h"

namespace kc::setup {

enum class RotationStep { kBegun, kPromoted };
std::string_view rotationStepName(RotationStep step);  // "begun", "promoted"

struct RotationJournal {
  RotationStep step = RotationStep::kBegun;
  std::string newKey;  // the key URI begin added to pkcs11.previous_wrap_keys
  std::string oldKey;  // pkcs11.wrap_key before promote; empty until then
};

// <config>.rotation
std::filesystem::path journalPath(const std::filesystem::path& configFile);

// The journal of `configFile`'s rotation; none when no rotation is under way.
// INVALID_ARGUMENT naming the journal when it exists but cannot be read or is malformed.
Result<std::optional<RotationJournal>> readJournal(const std::filesystem::path& configFile);
// Writes it atomically (mode 0600 when new).
Status writeJournal(const std::filesystem::path& configFile, const RotationJournal& journal);
// Removes it; OK when there is none.
Status removeJournal(const std::filesystem::path& configFile);

// The wrapping-key settings a step wants the daemons to read.
struct WrapKeySettings {
  std::string wrapKey;
  std::vector<std::string> previousWrapKeys;
};

WrapKeySettings wrapKeySettingsOf(const appliance::DaemonConfig& config);
// "a,b" as pkcs11.previous_wrap_keys lists them.
std::string joinUris(const std::vector<std::string>& uris);

// The outcome of applyWrapKeySettings.
struct SettingsChange {
  bool written = false;  // the file was edited
  // Non-empty when a setting to change comes from the environment, which kc-setup cannot
  // edit: what to set instead, in every instance's environment and kc-setup's. Nothing was
  // written then.
  std::string instead;
};

// Makes `config.configFile` say `wanted` (only the keys whose value changes are touched) or,
// when one of them comes from an environment variable, writes nothing and says what to set.
Result<SettingsChange> applyWrapKeySettings(const appliance::DaemonConfig& config,
                                            const WrapKeySettings& wanted);

// The instruction every step that changes the keys prints.
inline constexpr std::string_view kReloadInstruction =
    "now reload every instance (SIGHUP, e.g. systemctl reload keyconnectord), and wait until\n"
    "each has logged \"wrapping keys reloaded\" (or its audit log has a keyring.reload record)";

}  // namespace kc::setup
