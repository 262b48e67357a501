#pragma once
// Where kc-setup's settings come from: a flag, else the daemon's configuration as the daemon
// itself resolves it (appliance::loadTokenConfig: the properties file given by --config, the
// KC_<KEY> overrides and the reference's keyConnectorSettings__* variables), else a default.
// Every resolved value remembers its origin so an error can name the flag or setting at fault.

#include <map>
#include <memory>
#include <optional>
#include <string>
#include <string_view>

#include "kc/Result.h"
#include "kc/appliance/Config.h"
#include "kc/cli/CommandLine.h"
#include "kc/pkcs11/KeyPolicy.h"
#include "kc/pkcs11/Module.h"
#include "kc/pkcs11/PinSource.h"
#include "kc/pkcs11/Pkcs11Uri.h"
#include "kc/pkcs11/SessionPool.h"

namespace kc::setup {

// A value and where it came from: "--module", "pkcs11.module (file /etc/kc/kc.properties)",
// "pkcs11.module (environment variable KC_PKCS11_MODULE)" or "default".
struct Setting {
  std::string value;
  std::string origin;
  // How a token URI's serial is matched (the reference's serial is matched ignoring case).
  pkcs11::TokenMatch match = pkcs11::TokenMatch::kExact;
};

// A PIN's source and where that choice came from.
struct PinChoice {
  pkcs11::PinSource source;
  std::string origin;
};

// The daemon's token settings (pkcs11.*), resolved exactly as the daemon resolves them from the
// file given by --config (when given) and the process environment.
class ConfigFile {
 public:
  // INVALID_ARGUMENT naming --config for a missing or unreadable file, or the setting at fault
  // for a malformed one.
  static Result<ConfigFile> load(const std::optional<std::string>& path);

  // The value of a token setting the daemon's configuration gives ("pkcs11.module",
  // "pkcs11.init_args", "pkcs11.token", "pkcs11.wrap_key", "pkcs11.audit_key"); none when no
  // layer sets it.
  std::optional<Setting> get(std::string_view key) const;

  // The user PIN's source the daemon would use: pkcs11.pin_file or pkcs11.pin_env, else the
  // variable KC_PKCS11_PIN.
  PinChoice pin() const;

  const appliance::TokenConfig& settings() const { return config_; }

 private:
  std::string originOf(std::string_view key) const;
  appliance::TokenConfig config_;
};

// The flag's value when given, else the config key's, else none.
std::optional<Setting> flagOrConfig(const cli::ParsedFlags& flags, std::string_view flag,
                                    const ConfigFile& config, std::string_view key);

// The PKCS#11 module: --module, pkcs11.module, else SoftHSM's default path when it
// exists. INVALID_ARGUMENT asking for --module when there is none.
Result<Setting> resolveModule(const cli::ParsedFlags& flags, const ConfigFile& config);

// CK_C_INITIALIZE_ARGS.pReserved: --init-args or pkcs11.init_args, usually empty.
std::string resolveInitArgs(const cli::ParsedFlags& flags, const ConfigFile& config);

// The user PIN: --pin-file or --pin-env, else the configuration's (ConfigFile::pin).
Result<PinChoice> resolveUserPin(const cli::ParsedFlags& flags, const ConfigFile& config);

// The SO PIN (token init only): --so-pin-file or --so-pin-env, else KC_PKCS11_SO_PIN.
Result<PinChoice> resolveSoPin(const cli::ParsedFlags& flags);

// --purpose wrap|audit; wrap when not given.
Result<pkcs11::KeyPurpose> resolvePurpose(const cli::ParsedFlags& flags);

// --bits 2048|3072|4096; 3072 when not given.
Result<unsigned> resolveBits(const cli::ParsedFlags& flags);

// The daemon's config key of a purpose's key URI: pkcs11.wrap_key or pkcs11.audit_key.
std::string_view keyConfigKey(pkcs11::KeyPurpose purpose);

// "<origin>: <message>", adding the URI when the message does not name it already.
std::string namingUri(const Setting& uri, const std::string& message);

// Parses a URI setting, refusing one that carries a PIN (without echoing it).
Result<pkcs11::Pkcs11Uri> parseUriSetting(const Setting& uri);

// The CKA_LABEL a URI names (object=...), if any.
std::optional<std::string> objectLabel(const pkcs11::Pkcs11Uri& uri);

// A logged-in connection to the token a URI selects, and that token's description.
struct ConnectedToken {
  std::shared_ptr<pkcs11::Module> module;
  std::shared_ptr<pkcs11::SessionPool> pool;
  pkcs11::TokenDescription token;
};

// Loads the module, finds the one token `uri` selects and logs in with the PIN. Each
// failure names the setting at fault: the module, the URI, or the PIN's source (never
// the PIN).
Result<ConnectedToken> connect(const Setting& module, const std::string& initArgs,
                               const Setting& uri, const PinChoice& pin);

// Loads the module; the error names the setting it came from.
Result<std::shared_ptr<pkcs11::Module>> loadModule(const Setting& module,
                                                   const std::string& initArgs);

}  // namespace kc::setup
