#include "SetupSettings.h"

#include <algorithm>
#include <cctype>
#include <filesystem>

#include "kc/Text.h"

namespace kc::setup {
namespace {

constexpr std::string_view kDefaultModule = "/usr/lib/softhsm/libsofthsm2.so";
constexpr std::string_view kDefaultSoPinVariable = "KC_PKCS11_SO_PIN";

Status usageError(std::string message) {
  return {StatusCode::kInvalidArgument, std::move(message)};
}

// Picks the PIN source among a file flag and an env flag; none when neither is given.
Result<std::optional<PinChoice>> pinFromFlags(const cli::ParsedFlags& flags,
                                              std::string_view fileFlag, std::string_view envFlag) {
  const auto file = flags.value(fileFlag);
  const auto env = flags.value(envFlag);
  if (file && env) {
    return usageError("give " + std::string(fileFlag) + " or " + std::string(envFlag) +
                      ", not both");
  }
  if (file) {
    return std::optional<PinChoice>(
        PinChoice{pkcs11::PinSource::fromFile(*file), std::string(fileFlag)});
  }
  if (env) {
    return std::optional<PinChoice>(
        PinChoice{pkcs11::PinSource::fromEnvironment(*env), std::string(envFlag)});
  }
  return std::optional<PinChoice>();
}

}  // namespace

Result<ConfigFile> ConfigFile::load(const std::optional<std::string>& path) {
  std::optional<std::filesystem::path> file;
  if (path) file = *path;
  auto loaded = appliance::loadTokenConfig(file, appliance::processEnvironment());
  if (!loaded) {
    return usageError((path ? "--config " + *path + ": " : std::string()) +
                      loaded.status().message());
  }
  ConfigFile config;
  config.config_ = std::move(*loaded);
  return config;
}

std::string ConfigFile::originOf(std::string_view key) const {
  return appliance::settingOrigin(config_.origins, key);
}

std::optional<Setting> ConfigFile::get(std::string_view key) const {
  const appliance::Pkcs11Settings& p = config_.pkcs11;
  const std::string* value = key == "pkcs11.module"      ? &p.module
                             : key == "pkcs11.init_args" ? &p.initArgs
                             : key == "pkcs11.token"     ? &p.token
                             : key == "pkcs11.wrap_key"  ? &p.wrapKey
                             : key == "pkcs11.audit_key" ? &p.auditKey
                                                         : nullptr;
  if (key == "pkcs11.token" && !p.tokens.empty()) {
    // A cluster: kc-setup works on its first token, as appliance::tokenSettingsFrom does (the
    // keys are the same on each); --token picks another.
    return Setting{p.tokens.front(), "pkcs11.tokens (" + originOf("pkcs11.tokens") +
                                         "), the first of its " + std::to_string(p.tokens.size()) +
                                         " tokens"};
  }
  const std::string origin = originOf(key);
  if (value == nullptr || value->empty() || origin == "default") return std::nullopt;
  Setting setting{*value, std::string(key) + " (" + origin + ")"};
  if (key == "pkcs11.token" && p.tokenSerialIgnoresCase) {
    setting.match = pkcs11::TokenMatch::kSerialIgnoringCase;
  }
  return setting;
}

PinChoice ConfigFile::pin() const {
  const std::string_view key =
      config_.pkcs11.pinFile.empty() ? "pkcs11.pin_env" : "pkcs11.pin_file";
  const std::string origin = originOf(key);
  return {appliance::pinSourceFrom(config_.pkcs11),
          origin == "default" ? "default: no --pin-file or --pin-env given"
                              : std::string(key) + " (" + origin + ")"};
}

std::string namingUri(const Setting& uri, const std::string& message) {
  if (message.find(uri.value) != std::string::npos) return uri.origin + ": " + message;
  return uri.origin + " (" + uri.value + "): " + message;
}

std::optional<Setting> flagOrConfig(const cli::ParsedFlags& flags, std::string_view flag,
                                    const ConfigFile& config, std::string_view key) {
  if (auto value = flags.value(flag)) return Setting{std::move(*value), std::string(flag)};
  return config.get(key);
}

Result<Setting> resolveModule(const cli::ParsedFlags& flags, const ConfigFile& config) {
  if (auto module = flagOrConfig(flags, "--module", config, "pkcs11.module")) return *module;
  std::error_code error;
  if (std::filesystem::exists(kDefaultModule, error)) {
    return Setting{std::string(kDefaultModule), "default"};
  }
  return usageError("no PKCS#11 module given and " + std::string(kDefaultModule) +
                    " does not exist: pass --module PATH (or --config FILE with pkcs11.module)");
}

std::string resolveInitArgs(const cli::ParsedFlags& flags, const ConfigFile& config) {
  auto initArgs = flagOrConfig(flags, "--init-args", config, "pkcs11.init_args");
  return initArgs ? initArgs->value : std::string();
}

Result<PinChoice> resolveUserPin(const cli::ParsedFlags& flags, const ConfigFile& config) {
  auto fromFlags = pinFromFlags(flags, "--pin-file", "--pin-env");
  if (!fromFlags) return fromFlags.status();
  if (*fromFlags) return std::move(**fromFlags);
  return config.pin();
}

Result<PinChoice> resolveSoPin(const cli::ParsedFlags& flags) {
  auto fromFlags = pinFromFlags(flags, "--so-pin-file", "--so-pin-env");
  if (!fromFlags) return fromFlags.status();
  if (*fromFlags) return std::move(**fromFlags);
  return PinChoice{pkcs11::PinSource::fromEnvironment(std::string(kDefaultSoPinVariable)),
                   "default: no --so-pin-file or --so-pin-env given"};
}

Result<pkcs11::KeyPurpose> resolvePurpose(const cli::ParsedFlags& flags) {
  const auto purpose = flags.value("--purpose");
  if (!purpose || *purpose == "wrap") return pkcs11::KeyPurpose::kWrap;
  if (*purpose == "audit") return pkcs11::KeyPurpose::kAudit;
  return usageError("--purpose must be wrap or audit");
}

Result<unsigned> resolveBits(const cli::ParsedFlags& flags) {
  const auto bits = flags.value("--bits");
  if (!bits) return 3072U;
  if (*bits == "2048") return 2048U;
  if (*bits == "3072") return 3072U;
  if (*bits == "4096") return 4096U;
  return usageError("--bits must be 2048, 3072 or 4096");
}

std::string_view keyConfigKey(pkcs11::KeyPurpose purpose) {
  return purpose == pkcs11::KeyPurpose::kAudit ? "pkcs11.audit_key" : "pkcs11.wrap_key";
}

Result<pkcs11::Pkcs11Uri> parseUriSetting(const Setting& uri) {
  if (toLower(uri.value).find("pin-value") != std::string::npos) {
    // Not echoed: the URI carries a secret.
    return usageError("the URI given by " + uri.origin +
                      " carries a PIN (pin-value): PINs come from files or the environment "
                      "(--pin-file FILE or --pin-env VAR), never from a URI");
  }
  auto parsed = pkcs11::Pkcs11Uri::parse(uri.value);
  if (!parsed) return usageError(namingUri(uri, parsed.status().message()));
  return parsed;
}

std::optional<std::string> objectLabel(const pkcs11::Pkcs11Uri& uri) {
  for (const CK_ATTRIBUTE& attribute : uri.objectTemplate()) {
    if (attribute.type == CKA_LABEL && attribute.pValue != nullptr) {
      return std::string(static_cast<const char*>(attribute.pValue), attribute.ulValueLen);
    }
  }
  return std::nullopt;
}

Result<std::shared_ptr<pkcs11::Module>> loadModule(const Setting& module,
                                                   const std::string& initArgs) {
  std::error_code error;
  if (module.value.find('/') != std::string::npos &&
      !std::filesystem::exists(module.value, error)) {
    return usageError("the PKCS#11 module " + module.value + " (from " + module.origin +
                      ") does not exist");
  }
  auto loaded = pkcs11::Module::load(module.value, initArgs);
  if (!loaded) {
    return Status(loaded.status().code(), "cannot load the PKCS#11 module " + module.value +
                                              " (from " + module.origin +
                                              "): " + loaded.status().message());
  }
  return loaded;
}

Result<ConnectedToken> connect(const Setting& module, const std::string& initArgs,
                               const Setting& uri, const PinChoice& pin) {
  auto parsedUri = parseUriSetting(uri);
  if (!parsedUri) return parsedUri.status();
  auto loaded = loadModule(module, initArgs);
  if (!loaded) return loaded.status();
  auto slot = (*loaded)->findToken(*parsedUri, uri.match);
  if (!slot) return Status(slot.status().code(), namingUri(uri, slot.status().message()));

  ConnectedToken connected;
  connected.module = *loaded;
  auto tokens = connected.module->tokens();
  if (!tokens) return tokens.status();
  const auto token =
      std::find_if(tokens->begin(), tokens->end(), [&](const auto& t) { return t.slot == *slot; });
  if (token == tokens->end()) {
    return Status(StatusCode::kNotFound, namingUri(uri, "the token's slot disappeared"));
  }
  connected.token = *token;

  // Reading the PIN first tells a missing PIN file apart from a PIN the token refuses.
  if (auto read = pin.source.read(); !read) {
    return Status(read.status().code(),
                  "cannot read the user PIN (" + pin.origin + "): " + read.status().message());
  }
  pkcs11::SessionPoolOptions options;
  options.size = 1;
  options.loginAttempts = 1;
  auto pool = pkcs11::SessionPool::open(connected.module, *slot, pin.source, options);
  if (!pool) {
    // A refused PIN is PERMISSION_DENIED, and the pkcs11 layer says why in words
    // ("PIN incorrect", "PIN locked").
    const Status& status = pool.status();
    return Status(status.code(), "login to token '" + connected.token.label +
                                     "' with the PIN from " + pin.source.describe() + " (" +
                                     pin.origin + ") failed: " + status.message());
  }
  connected.pool = *pool;
  return connected;
}

}  // namespace kc::setup
