#include "RotationState.h"

#include <cstdio>

#include "PropertiesFile.h"
#include "kc/Text.h"

namespace kc::setup {
namespace {

constexpr std::string_view kWrapKey = "pkcs11.wrap_key";
constexpr std::string_view kPreviousWrapKeys = "pkcs11.previous_wrap_keys";

bool fromEnvironment(const appliance::DaemonConfig& config, std::string_view key) {
  return appliance::settingOrigin(config.origins, key).starts_with("environment variable");
}

}  // namespace

std::string_view rotationStepName(RotationStep step) {
  return step == RotationStep::kBegun ? "begun" : "promoted";
}

std::filesystem::path journalPath(const std::filesystem::path& configFile) {
  return configFile.string() + ".rotation";
}

Result<std::optional<RotationJournal>> readJournal(const std::filesystem::path& configFile) {
  const auto path = journalPath(configFile);
  std::error_code error;
  if (!std::filesystem::exists(path, error)) return std::optional<RotationJournal>();
  auto file = PropertiesFile::read(path);
  if (!file) return file.status();
  RotationJournal journal;
  const auto step = file->get("step");
  if (step == "begun") {
    journal.step = RotationStep::kBegun;
  } else if (step == "promoted") {
    journal.step = RotationStep::kPromoted;
  } else {
    return Status(StatusCode::kInvalidArgument,
                  path.string() +
                      ": step must be begun or promoted; remove the file only if no "
                      "rotation is under way");
  }
  journal.newKey = file->get("new_key").value_or("");
  journal.oldKey = file->get("old_key").value_or("");
  if (journal.newKey.empty() ||
      (journal.step == RotationStep::kPromoted && journal.oldKey.empty())) {
    return Status(StatusCode::kInvalidArgument, path.string() + ": new_key or old_key is missing");
  }
  return std::optional(journal);
}

Status writeJournal(const std::filesystem::path& configFile, const RotationJournal& journal) {
  PropertiesFile file = PropertiesFile::parse(
      "# kc-setup rotate: the wrapping-key rotation under way for " + configFile.string() +
      ".\n# Written by kc-setup rotate begin and promote, removed by rotate retire; do not "
      "edit.\n");
  KC_RETURN_IF_ERROR(file.set("step", rotationStepName(journal.step)));
  KC_RETURN_IF_ERROR(file.set("new_key", journal.newKey));
  if (!journal.oldKey.empty()) KC_RETURN_IF_ERROR(file.set("old_key", journal.oldKey));
  return writeFileAtomically(journalPath(configFile), file.text());
}

Status removeJournal(const std::filesystem::path& configFile) {
  std::error_code error;
  std::filesystem::remove(journalPath(configFile), error);
  if (error) {
    return {StatusCode::kInvalidArgument,
            "cannot remove " + journalPath(configFile).string() + ": " + error.message()};
  }
  return Status::ok();
}

WrapKeySettings wrapKeySettingsOf(const appliance::DaemonConfig& config) {
  return {config.pkcs11.wrapKey, config.pkcs11.previousWrapKeys};
}

std::string joinUris(const std::vector<std::string>& uris) {
  std::string out;
  for (const auto& uri : uris) out += (out.empty() ? "" : ",") + uri;
  return out;
}

Result<SettingsChange> applyWrapKeySettings(const appliance::DaemonConfig& config,
                                            const WrapKeySettings& wanted) {
  const WrapKeySettings now = wrapKeySettingsOf(config);
  const std::vector<std::pair<std::string_view, std::pair<std::string, std::string>>> changes = {
      {kWrapKey, {now.wrapKey, wanted.wrapKey}},
      {kPreviousWrapKeys, {joinUris(now.previousWrapKeys), joinUris(wanted.previousWrapKeys)}}};
  SettingsChange change;
  bool anyFromEnvironment = false;
  for (const auto& [key, values] : changes) {
    if (values.first != values.second && fromEnvironment(config, key)) anyFromEnvironment = true;
  }
  if (anyFromEnvironment) {
    // Both keys, so that no layer below the environment is left to disagree with it.
    for (const auto& [key, values] : changes) {
      const std::string variable = appliance::environmentVariableFor(key);
      change.instead += values.second.empty() ? "unset " + variable + "\n"
                                              : variable + "=" + values.second + "\n";
      if (appliance::settingOrigin(config.origins, key).starts_with("environment variable") &&
          appliance::settingOrigin(config.origins, key) != "environment variable " + variable) {
        change.instead += "unset the " + appliance::settingOrigin(config.origins, key) +
                          " setting " + std::string(key) + " (" + variable + " overrides it too)\n";
      }
    }
    return change;
  }
  if (config.configFile.empty()) {
    return Status(StatusCode::kInvalidArgument, "--config FILE is required to change the keys");
  }
  auto file = PropertiesFile::read(config.configFile);
  if (!file) return file.status();
  bool changed = false;
  for (const auto& [key, values] : changes) {
    if (values.first == values.second) continue;
    changed = true;
    if (values.second.empty()) {
      file->erase(key);
    } else {
      KC_RETURN_IF_ERROR(file->set(key, values.second));
    }
  }
  if (!changed) return change;
  KC_RETURN_IF_ERROR(replaceFileAtomically(config.configFile, file->text()));
  change.written = true;
  return change;
}

}  // namespace kc::setup
