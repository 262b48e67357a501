#include "ReferenceSettings.h"

#include <array>
#include <cctype>
#include <charconv>
#include <set>

#include "kc/Text.h"
#include "kc/appliance/ConnectionStrings.h"
#include "kc/appliance/ReferenceVariables.h"

namespace kc::appliance {
namespace {

using config::Layer;
using config::quoted;
using config::settingError;
using config::Value;

constexpr std::string_view kPrefix = "keyconnectorsettings__";

// Every setting of the reference (KeyConnectorSettings), lower case, after the prefix.
const std::set<std::string, std::less<>>& knownPaths() {
  static const std::set<std::string, std::less<>> kPaths = [] {
    std::set<std::string, std::less<>> paths = {"webvaulturi", "identityserveruri"};
    const std::array<std::string_view, 8> database = {"provider",
                                                      "jsonfilepath",
                                                      "sqlserverconnectionstring",
                                                      "postgresqlconnectionstring",
                                                      "mysqlconnectionstring",
                                                      "sqliteconnectionstring",
                                                      "mongoconnectionstring",
                                                      "mongodatabasename"};
    const std::array<std::string_view, 19> certificate = {"provider",
                                                          "filesystempath",
                                                          "filesystempassword",
                                                          "storethumbprint",
                                                          "azurestorageconnectionstring",
                                                          "azurestoragecontainer",
                                                          "azurestoragefilename",
                                                          "azurestoragefilepassword",
                                                          "azurekeyvaulturi",
                                                          "azurekeyvaultcertificatename",
                                                          "azurekeyvaultadtenantid",
                                                          "azurekeyvaultadappid",
                                                          "azurekeyvaultadsecret",
                                                          "vaultserveruri",
                                                          "vaulttoken",
                                                          "vaultsecretmountpoint",
                                                          "vaultsecretpath",
                                                          "vaultsecretdatakey",
                                                          "vaultsecretfilepassword"};
    const std::array<std::string_view, 23> rsaKey = {"provider",
                                                     "azurekeyvaulturi",
                                                     "azurekeyvaultkeyname",
                                                     "azurekeyvaultadtenantid",
                                                     "azurekeyvaultadappid",
                                                     "azurekeyvaultadsecret",
                                                     "googlecloudprojectid",
                                                     "googlecloudlocationid",
                                                     "googlecloudkeyringid",
                                                     "googlecloudkeyid",
                                                     "googlecloudkeyversionid",
                                                     "awsaccesskeyid",
                                                     "awsaccesskeysecret",
                                                     "awsregion",
                                                     "awskeyid",
                                                     "awsusesymmetricencryption",
                                                     "pkcs11provider",
                                                     "pkcs11librarypath",
                                                     "pkcs11slottokenserialnumber",
                                                     "pkcs11loginusertype",
                                                     "pkcs11loginpin",
                                                     "pkcs11privatekeylabel",
                                                     "pkcs11privatekeyid"};
    for (const std::string_view section : {"", "transferto__"}) {
      for (const auto name : database)
        paths.insert(std::string(section) + "database__" + std::string(name));
      for (const auto name : certificate)
        paths.insert(std::string(section) + "certificate__" + std::string(name));
      for (const auto name : rsaKey)
        paths.insert(std::string(section) + "rsakey__" + std::string(name));
    }
    paths.insert("transferto__lockfilepath");
    return paths;
  }();
  return kPaths;
}

// The Value a reference variable gives one of our keys.
Value referenceValue(const ReferenceVariable& variable, std::string text) {
  return {std::move(text), originOf(variable), Layer::kReference, {}};
}

// The CKA_ID the reference's pkcs11PrivateKeyId stands for: Pkcs11Interop passes the ulong as
// a CK_ULONG attribute, 8 bytes in the machine's order (little-endian on x86-64 and arm64).
std::optional<std::string> keyIdAttribute(std::string_view decimal) {
  std::uint64_t number = 0;
  const std::string text = trim(decimal);
  const auto [end, error] = std::from_chars(text.data(), text.data() + text.size(), number);
  if (error != std::errc() || end != text.data() + text.size()) return std::nullopt;
  std::string out;
  for (int byte = 0; byte < 8; ++byte) {
    out += percentEncode(std::string(1, static_cast<char>((number >> (8 * byte)) & 0xFF)));
  }
  return out;
}

// Settings of the reference this daemon has no counterpart for: the error that stops
// start-up, naming the variable and what to do instead; OK when there are none.
Status unsupportedSettings(const ReferenceVariables& variables) {
  for (const auto& [path, variable] : variables.all()) {
    if (path.rfind("transferto__", 0) == 0) {
      return {StatusCode::kInvalidArgument,
              variable.name + " (" + originOf(variable) +
                  "): the reference's transferTo migration is not supported; import its data "
                  "with kc-setup import-bitwarden instead, then remove the transferTo settings"};
    }
  }
  return Status::ok();
}

// What to do instead of the reference's json or mongo data provider: the exact kc-setup
// command that moves its users into one of ours.
std::string importInstead(const config::Sources& sources, const ReferenceVariables& variables,
                          std::string_view provider) {
  const std::string configFile =
      sources.fileOrigin() == "(none)" ? "<the daemon's properties file>" : sources.fileOrigin();
  const std::string keyFlags =
      " with the reference's RSA key (run inside this environment, kc-setup reads it from the "
      "keyConnectorSettings__rsaKey__* or __certificate__* variables; or give --source-pfx FILE "
      "--source-pfx-password-file FILE, --source-pem FILE, or --source-pkcs11-module PATH "
      "--source-pkcs11-key URI --source-pin-file FILE)";
  if (provider == "json") {
    const auto* path = variables.find("database__jsonFilePath");
    return "the reference Key Connector's json provider is not supported; choose "
           "database.provider sqlite, postgresql, mysql or odbc, then import the file with: "
           "kc-setup import-bitwarden --config " +
           configFile + " --source-json " +
           (path ? trim(path->value) : std::string("<its jsonFilePath>")) + keyFlags;
  }
  return "the reference Key Connector's mongo provider is not supported (nor by the reference "
         "any more); move its data to one of its SQL providers, choose database.provider sqlite, "
         "postgresql, mysql or odbc, then import it with: kc-setup import-bitwarden --config " +
         configFile +
         " and --source-sqlite FILE, --source-postgresql-file FILE or --source-mysql-file FILE" +
         keyFlags;
}

// The deferred error of pkcs11.wrap_key when the reference's RSA key is held anywhere but on a
// PKCS#11 token, or logs in as another user type than the normal user.
std::optional<Status> unsupportedRsaKey(const ReferenceVariables& variables) {
  // The reference's variables outrank the properties file, so only the environment (or
  // removing the variable) lifts this: say so, or an operator edits the file in vain.
  constexpr std::string_view kSetOurs =
      "set our key in the environment variable KC_PKCS11_WRAP_KEY or remove this variable "
      "(the keyConnectorSettings__* variables outrank the properties file)";
  const auto refuse = [](const ReferenceVariable& variable, const std::string& problem) {
    return Status(StatusCode::kInvalidArgument,
                  "pkcs11.wrap_key (" + originOf(variable) + "): " + problem);
  };
  if (const auto* provider = variables.find("rsaKey__provider");
      provider != nullptr && toLower(trim(provider->value)) != "pkcs11") {
    return refuse(*provider,
                  "the reference's '" + trim(provider->value) +
                      "' RSA key provider keeps the key outside a PKCS#11 token, so it cannot be "
                      "the wrapping key; generate one with kc-setup key generate, " +
                      std::string(kSetOurs) +
                      ", and move the users with kc-setup import-bitwarden");
  }
  for (const auto& [path, variable] : variables.all()) {
    if (path.rfind("rsakey__azure", 0) == 0 || path.rfind("rsakey__google", 0) == 0 ||
        path.rfind("rsakey__aws", 0) == 0) {
      return refuse(variable,
                    "a cloud KMS RSA key cannot be the wrapping key; generate one on the token "
                    "with kc-setup key generate, " +
                        std::string(kSetOurs));
    }
  }
  if (const auto* userType = variables.find("rsaKey__pkcs11LoginUserType");
      userType != nullptr && toLower(trim(userType->value)) != "user") {
    return refuse(*userType,
                  "only the normal user (CKU_USER) logs in; remove the setting or set it to user");
  }
  return std::nullopt;
}

}  // namespace

Result<ReferenceVariables> ReferenceVariables::collect(const Environment& environment) {
  ReferenceVariables out;
  for (const auto& [name, value] : environment) {
    if (value.empty() || name.size() <= kPrefix.size() ||
        !equalsIgnoringCase(std::string_view(name).substr(0, kPrefix.size()), kPrefix)) {
      continue;
    }
    std::string path = toLower(std::string_view(name).substr(kPrefix.size()));
    if (!knownPaths().contains(path)) {
      return Status(StatusCode::kInvalidArgument,
                    name +
                        " (environment variable): not a setting of Bitwarden Key Connector; "
                        "check its spelling or remove it");
    }
    const auto [existing, added] = out.byPath_.try_emplace(path, ReferenceVariable{name, value});
    if (!added) {
      return Status(StatusCode::kInvalidArgument,
                    name + " (environment variable): the same setting as " + existing->second.name +
                        "; keep one of them");
    }
  }
  return out;
}

const ReferenceVariable* ReferenceVariables::find(std::string_view path) const {
  const auto found = byPath_.find(toLower(path));
  return found == byPath_.end() ? nullptr : &found->second;
}

std::string originOf(const ReferenceVariable& variable) {
  return "environment variable " + variable.name;
}

Result<std::optional<std::string>> referenceKeyUri(const ReferenceVariables& variables) {
  const auto* label = variables.find("rsaKey__pkcs11PrivateKeyLabel");
  const auto* id = variables.find("rsaKey__pkcs11PrivateKeyId");
  if (label == nullptr && id == nullptr) return std::optional<std::string>();
  std::string uri = "pkcs11:";
  if (const auto* serial = variables.find("rsaKey__pkcs11SlotTokenSerialNumber")) {
    uri += "serial=" + percentEncode(trim(serial->value)) + ";";
  }
  if (id != nullptr) {
    auto attribute = keyIdAttribute(id->value);
    if (!attribute) {
      return Status(StatusCode::kInvalidArgument,
                    id->name + " (" + originOf(*id) +
                        "): expected a decimal key id (an unsigned 64-bit number)");
    }
    return std::optional<std::string>(uri + "id=" + *attribute);
  }
  return std::optional<std::string>(uri + "object=" + percentEncode(label->value));
}

std::optional<std::string> modulePathForProvider(std::string_view provider) {
#if defined(__x86_64__)
  const std::string libdir = "/usr/lib/x86_64-linux-gnu/";
#elif defined(__aarch64__)
  const std::string libdir = "/usr/lib/aarch64-linux-gnu/";
#else
  const std::string libdir = "/usr/lib/";
#endif
  const std::string name = toLower(trim(provider));
  if (name == "yubihsm") return libdir + "pkcs11/yubihsm_pkcs11.so";
  if (name == "opensc") return libdir + "opensc-pkcs11.so";
  return std::nullopt;
}

namespace config {

Status addReferenceSettings(Sources& sources) {
  auto collected = ReferenceVariables::collect(sources.environment());
  if (!collected) return collected.status();
  const ReferenceVariables& variables = *collected;
  KC_RETURN_IF_ERROR(unsupportedSettings(variables));
  sources.useReferenceLayer();

  if (const auto* variable = variables.find("webVaultUri")) {
    sources.setReference("web_vault.origin", referenceValue(*variable, variable->value));
  }
  if (const auto* variable = variables.find("identityServerUri")) {
    sources.setReference("identity.server_uri", referenceValue(*variable, variable->value));
  }
  if (const auto* variable = variables.find("database__provider")) {
    const std::string provider = toLower(trim(variable->value));
    Value mapped = referenceValue(*variable, provider);
    if (provider == "sqlserver") {
      mapped.text = "odbc";
      sources.setReference("database.odbc_dialect", referenceValue(*variable, "sqlserver"));
    } else if (provider == "json" || provider == "mongo") {
      mapped.deferredError =
          settingError("database.provider", mapped, importInstead(sources, variables, provider));
    } else if (provider != "sqlite" && provider != "postgresql" && provider != "mysql") {
      mapped.deferredError = settingError(
          "database.provider", mapped,
          "expected sqlite, postgresql, mysql or sqlserver" + quoted("database.provider", mapped));
    }
    sources.setReference("database.provider", std::move(mapped));
  }

  if (const auto* path = variables.find("rsaKey__pkcs11LibraryPath")) {
    sources.setReference("pkcs11.module", referenceValue(*path, path->value));
  } else if (const auto* provider = variables.find("rsaKey__pkcs11Provider")) {
    Value module = referenceValue(*provider, "");
    if (auto known = modulePathForProvider(provider->value)) {
      module.text = *known;
    } else {
      module.deferredError =
          settingError("pkcs11.module", module,
                       "expected yubihsm or opensc" +
                           quoted("pkcs11.module", referenceValue(*provider, provider->value)) +
                           "; or set keyConnectorSettings__rsaKey__pkcs11LibraryPath");
    }
    sources.setReference("pkcs11.module", std::move(module));
  }
  if (const auto* serial = variables.find("rsaKey__pkcs11SlotTokenSerialNumber")) {
    // The reference compares serials ignoring case (see Pkcs11Settings::tokenSerialIgnoresCase).
    sources.setReference(
        "pkcs11.token",
        referenceValue(*serial, "pkcs11:serial=" + percentEncode(trim(serial->value))));
  }
  const auto* label = variables.find("rsaKey__pkcs11PrivateKeyLabel");
  const auto* id = variables.find("rsaKey__pkcs11PrivateKeyId");
  if (auto refused = unsupportedRsaKey(variables)) {
    Value key;
    key.origin = "the reference's rsaKey settings";
    key.layer = Layer::kReference;
    key.deferredError = *refused;
    sources.setReference("pkcs11.wrap_key", std::move(key));
  } else if (id != nullptr) {
    // As in the reference, an id wins over the label.
    Value key = referenceValue(*id, "pkcs11:id=");
    if (auto attribute = keyIdAttribute(id->value)) {
      key.text += *attribute;
    } else {
      key.deferredError = settingError("pkcs11.wrap_key", key,
                                       "expected a decimal key id (an unsigned 64-bit number)");
    }
    sources.setReference("pkcs11.wrap_key", std::move(key));
  } else if (label != nullptr) {
    sources.setReference("pkcs11.wrap_key",
                         referenceValue(*label, "pkcs11:object=" + percentEncode(label->value)));
  }
  if (const auto* pin = variables.find("rsaKey__pkcs11LoginPin")) {
    sources.setReference("pkcs11.pin_env", referenceValue(*pin, pin->name));
  }
  return Status::ok();
}

void addReferenceConnection(Sources& sources, storage::StoreBackend provider,
                            storage::OdbcDialect dialect) {
  // A load without the reference layer (kc-setup import-bitwarden's destination, read inside
  // the reference's environment) must not pick up the reference's database as its own.
  if (!sources.usesReferenceLayer()) return;
  using Converter = Result<std::string> (*)(std::string_view);
  std::string_view path;
  Converter convert = nullptr;
  std::string key = "database.connection_string";
  switch (provider) {
    case storage::StoreBackend::kSqlite:
      path = "database__sqliteConnectionString";
      convert = &sqlitePathFromConnectionString;
      key = "database.sqlite_path";
      break;
    case storage::StoreBackend::kPostgreSql:
      path = "database__postgreSqlConnectionString";
      convert = &libpqFromNpgsql;
      break;
    case storage::StoreBackend::kMySql:
      path = "database__mySqlConnectionString";
      convert = &pocoMySqlFromConnectionString;
      break;
    case storage::StoreBackend::kOdbc:
      if (dialect != storage::OdbcDialect::kSqlServer) return;
      path = "database__sqlServerConnectionString";
      convert = &odbcFromSqlServer;
      break;
  }
  auto variables = ReferenceVariables::collect(sources.environment());
  if (!variables) return;  // addReferenceSettings reported it already
  const auto* variable = variables->find(path);
  if (variable == nullptr) return;
  Value value = referenceValue(*variable, "");
  auto converted = convert(variable->value);
  if (!converted) {
    // The converters never quote their input, so their message is safe to pass on.
    value.deferredError = settingError(key, value, converted.status().message());
  } else {
    value.text = std::move(*converted);
  }
  sources.setReference(key, std::move(value));
}

}  // namespace config
}  // namespace kc::appliance
