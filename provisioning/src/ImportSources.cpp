#include "ImportSources.h"

#include <array>

#include "kc/Text.h"
#include "kc/appliance/ConnectionStrings.h"
#include "kc/appliance/ReferenceVariables.h"
#include "kc/pkcs11/PinSource.h"

namespace kc::setup {
namespace {

using appliance::ReferenceVariable;
using appliance::ReferenceVariables;
using provisioning::ReferenceKeySource;
using provisioning::ReferenceSource;

constexpr std::string_view kVariablePrefix = "keyConnectorSettings__";

Status invalid(std::string message) {
  return {StatusCode::kInvalidArgument, std::move(message)};
}

std::string variableName(std::string_view path) {
  return std::string(kVariablePrefix) + std::string(path);
}

// The one flag of `names` that is given; none; or an error when several are.
Result<std::optional<std::string>> oneOf(const cli::ParsedFlags& flags,
                                         std::initializer_list<std::string_view> names,
                                         std::string_view what) {
  std::optional<std::string> found;
  for (const auto name : names) {
    if (!flags.has(name)) continue;
    if (found)
      return invalid(*found + " and " + std::string(name) + " both name the " + std::string(what) +
                     "; give one");
    found = std::string(name);
  }
  return found;
}

// A connection string from a file readable only by its owner (it holds a password).
Result<std::string> readConnectionFile(const std::string& flag, const std::string& path) {
  auto text = pkcs11::PinSource::fromFile(path).read();
  if (!text) return Status(text.status().code(), flag + ": " + text.status().message());
  std::string out(text->view().begin(), text->view().end());
  return trim(out);
}

// The data source named by a flag.
Result<ReferenceSource> dataFromFlag(const cli::ParsedFlags& flags, const std::string& flag) {
  const std::string value = *flags.value(flag);
  ReferenceSource source;
  if (flag == "--source-sqlite") {
    source.kind = ReferenceSource::Kind::kSqlite;
    source.location = value;
    return source;
  }
  if (flag == "--source-json") {
    source.kind = ReferenceSource::Kind::kJsonFile;
    source.location = value;
    return source;
  }
  auto text = readConnectionFile(flag, value);
  if (!text) return text.status();
  if (flag == "--source-postgresql-file") {
    source.kind = ReferenceSource::Kind::kPostgreSql;
    // The reference's Npgsql form separates its keywords with ';'; a libpq string with spaces.
    source.referenceConnectionString =
        text->find(';') != std::string::npos && appliance::libpqFromNpgsql(*text).isOk();
  } else {
    source.kind = ReferenceSource::Kind::kMySql;
    // Both forms use ';'; Poco's uses keywords (db=...) the reference's converter refuses.
    source.referenceConnectionString = appliance::pocoMySqlFromConnectionString(*text).isOk();
  }
  source.location = std::move(*text);
  return source;
}

Result<ReferenceSource> dataFromVariables(const ReferenceVariables& variables,
                                          std::string& origin) {
  const ReferenceVariable* provider = variables.find("database__provider");
  if (provider == nullptr) {
    return invalid(
        "no source named: give --source-sqlite FILE, --source-json FILE, "
        "--source-postgresql-file FILE or --source-mysql-file FILE, or run inside the reference "
        "Key Connector's environment (keyConnectorSettings__database__provider)");
  }
  const std::string name = toLower(trim(provider->value));
  const auto need = [&](std::string_view path) -> Result<const ReferenceVariable*> {
    const ReferenceVariable* variable = variables.find(path);
    if (variable == nullptr) {
      return invalid(provider->name + " is " + name + " but " + variableName(path) + " is not set");
    }
    return variable;
  };
  ReferenceSource source;
  source.referenceConnectionString = true;
  Result<const ReferenceVariable*> variable = Status(StatusCode::kInternal, "unset");
  if (name == "sqlite") {
    source.kind = ReferenceSource::Kind::kSqlite;
    variable = need("database__sqliteConnectionString");
  } else if (name == "postgresql") {
    source.kind = ReferenceSource::Kind::kPostgreSql;
    variable = need("database__postgreSqlConnectionString");
  } else if (name == "mysql") {
    source.kind = ReferenceSource::Kind::kMySql;
    variable = need("database__mySqlConnectionString");
  } else if (name == "json") {
    source.kind = ReferenceSource::Kind::kJsonFile;
    source.referenceConnectionString = false;
    variable = need("database__jsonFilePath");
  } else {
    return invalid(provider->name + " (" + appliance::originOf(*provider) + "): the reference's " +
                   name +
                   " provider cannot be imported from; move its data to one of the reference's "
                   "sqlite, postgresql or mysql providers (or its json file) and import that");
  }
  if (!variable) return variable.status();
  source.location = source.kind == ReferenceSource::Kind::kJsonFile ? trim((*variable)->value)
                                                                    : (*variable)->value;
  origin = appliance::originOf(**variable);
  return source;
}

// The PIN of a key on a token: --source-pin-file or --source-pin-env, else the reference's
// pkcs11LoginPin variable (read from the environment by name, never copied).
Result<pkcs11::PinSource> pinFor(const cli::ParsedFlags& flags,
                                 const ReferenceVariables& variables) {
  auto pinFlag = oneOf(flags, {"--source-pin-file", "--source-pin-env"}, "PIN of the source key");
  if (!pinFlag) return pinFlag.status();
  if (*pinFlag == "--source-pin-file") {
    return pkcs11::PinSource::fromFile(*flags.value("--source-pin-file"));
  }
  if (*pinFlag == "--source-pin-env") {
    return pkcs11::PinSource::fromEnvironment(*flags.value("--source-pin-env"));
  }
  if (const auto* pin = variables.find("rsaKey__pkcs11LoginPin")) {
    return pkcs11::PinSource::fromEnvironment(pin->name);
  }
  return invalid(
      "the source key is on a PKCS#11 token but no PIN is named: give --source-pin-file FILE or "
      "--source-pin-env VAR (or set keyConnectorSettings__rsaKey__pkcs11LoginPin)");
}

Result<ReferenceKeySource> pkcs11Key(const cli::ParsedFlags& flags,
                                     const ReferenceVariables& variables, std::string& origin) {
  ReferenceKeySource key;
  key.kind = ReferenceKeySource::Kind::kPkcs11;
  if (auto uri = flags.value("--source-pkcs11-key")) {
    key.pkcs11KeyUri = *uri;
    origin = "--source-pkcs11-key";
  } else {
    auto fromVariables = appliance::referenceKeyUri(variables);
    if (!fromVariables) return fromVariables.status();
    if (!*fromVariables) {
      return invalid(
          "the reference's key is on a PKCS#11 token but neither "
          "keyConnectorSettings__rsaKey__pkcs11PrivateKeyLabel nor __pkcs11PrivateKeyId is set; "
          "give --source-pkcs11-key URI");
    }
    key.pkcs11KeyUri = **fromVariables;
    key.tokenMatch = pkcs11::TokenMatch::kSerialIgnoringCase;  // as the reference matches it
    origin = "the keyConnectorSettings__rsaKey__pkcs11* variables";
  }
  if (auto module = flags.value("--source-pkcs11-module")) {
    key.pkcs11Module = *module;
  } else if (const auto* path = variables.find("rsaKey__pkcs11LibraryPath")) {
    key.pkcs11Module = trim(path->value);
  } else if (const auto* provider = variables.find("rsaKey__pkcs11Provider")) {
    auto known = appliance::modulePathForProvider(provider->value);
    if (!known) {
      return invalid(provider->name +
                     ": expected yubihsm or opensc; or give "
                     "--source-pkcs11-module PATH");
    }
    key.pkcs11Module = *known;
  } else {
    return invalid(
        "the source key is on a PKCS#11 token but no module is named: give "
        "--source-pkcs11-module PATH (or set keyConnectorSettings__rsaKey__pkcs11LibraryPath)");
  }
  auto pin = pinFor(flags, variables);
  if (!pin) return pin.status();
  key.pin = std::move(*pin);
  return key;
}

// A PKCS#12 file's password: --source-pfx-password-file, else the reference's
// certificate__filesystemPassword variable (by name), else none.
void pfxPassword(const cli::ParsedFlags& flags, const ReferenceVariables& variables,
                 ReferenceKeySource& key) {
  if (auto file = flags.value("--source-pfx-password-file")) {
    key.passwordFile = *file;
  } else if (const auto* password = variables.find("certificate__filesystemPassword")) {
    key.passwordEnv = password->name;
  }
}

Result<ReferenceKeySource> keyFromVariables(const cli::ParsedFlags& flags,
                                            const ReferenceVariables& variables,
                                            std::string& origin) {
  const auto* rsaProvider = variables.find("rsaKey__provider");
  const std::string rsa = rsaProvider ? toLower(trim(rsaProvider->value)) : "";
  const bool anyPkcs11 = variables.find("rsaKey__pkcs11PrivateKeyLabel") != nullptr ||
                         variables.find("rsaKey__pkcs11PrivateKeyId") != nullptr;
  if (rsa == "pkcs11" || (rsa.empty() && anyPkcs11)) return pkcs11Key(flags, variables, origin);
  if (!rsa.empty() && rsa != "certificate") {
    return invalid(rsaProvider->name + " (" + appliance::originOf(*rsaProvider) +
                   "): the reference's " + rsa +
                   " RSA key never leaves its cloud KMS, so kc-setup cannot open the reference's "
                   "symmetric key with it; give --source-pfx, --source-pem or --source-pkcs11-key");
  }
  const auto* certificate = variables.find("certificate__provider");
  if (certificate == nullptr) {
    return invalid(
        "no source key named: give --source-pfx FILE, --source-pem FILE or --source-pkcs11-key "
        "URI, or run inside the reference Key Connector's environment "
        "(keyConnectorSettings__rsaKey__* or keyConnectorSettings__certificate__*)");
  }
  if (toLower(trim(certificate->value)) != "filesystem") {
    return invalid(certificate->name + " (" + appliance::originOf(*certificate) +
                   "): kc-setup reads the reference's certificate only from a file; export it "
                   "with its private key to a PKCS#12 file and give --source-pfx FILE "
                   "--source-pfx-password-file FILE");
  }
  const auto* path = variables.find("certificate__filesystemPath");
  if (path == nullptr) {
    return invalid(certificate->name +
                   " is filesystem but keyConnectorSettings__certificate__filesystemPath is not "
                   "set; give --source-pfx FILE");
  }
  ReferenceKeySource key;
  key.kind = ReferenceKeySource::Kind::kPkcs12;
  key.path = trim(path->value);
  pfxPassword(flags, variables, key);
  origin = appliance::originOf(*path);
  return key;
}

}  // namespace

std::vector<cli::FlagSpec> importSourceFlags() {
  return {
      {"--source-sqlite", "FILE",
       "the reference's SQLite database (else keyConnectorSettings__database__provider=sqlite "
       "with __sqliteConnectionString)"},
      {"--source-postgresql-file", "FILE",
       "a file (mode 0600) holding the PostgreSQL connection string, the reference's Npgsql "
       "form or libpq's (else keyConnectorSettings__database__provider=postgresql with "
       "__postgreSqlConnectionString)"},
      {"--source-mysql-file", "FILE",
       "a file (mode 0600) holding the MySQL/MariaDB connection string, the reference's .NET "
       "form or Poco's (else keyConnectorSettings__database__provider=mysql with "
       "__mySqlConnectionString)"},
      {"--source-json", "FILE",
       "the reference's JSON file store (else keyConnectorSettings__database__provider=json "
       "with __jsonFilePath)"},
      {"--source-pfx", "FILE",
       "the reference's PKCS#12/PFX certificate with its RSA key (else "
       "keyConnectorSettings__certificate__provider=filesystem with __filesystemPath)"},
      {"--source-pfx-password-file", "FILE",
       "a file (mode 0600) holding the PFX password (else the variable "
       "keyConnectorSettings__certificate__filesystemPassword, read from the environment)"},
      {"--source-pem", "FILE", "the reference's RSA key as a PEM PKCS#8 or PKCS#1 file"},
      {"--source-pem-password-file", "FILE",
       "a file (mode 0600) holding the pass-phrase of an encrypted --source-pem key"},
      {"--source-pkcs11-key", "URI",
       "pkcs11: URI of the reference's RSA private key on its token, e.g. "
       "pkcs11:token=kc;object=key (else keyConnectorSettings__rsaKey__provider=pkcs11 with "
       "__pkcs11SlotTokenSerialNumber and __pkcs11PrivateKeyId or __pkcs11PrivateKeyLabel); "
       "an import source only, never our wrapping key"},
      {"--source-pkcs11-module", "PATH",
       "the PKCS#11 module of that token (else keyConnectorSettings__rsaKey__pkcs11LibraryPath "
       "or __pkcs11Provider)"},
      {"--source-pin-file", "FILE",
       "a file (mode 0600) holding that token's user PIN (else the variable "
       "keyConnectorSettings__rsaKey__pkcs11LoginPin, read from the environment)"},
      {"--source-pin-env", "VAR", "the environment variable holding that token's user PIN"},
  };
}

Result<ImportSource> resolveImportSource(const cli::ParsedFlags& flags,
                                         const appliance::Environment& environment) {
  auto variables = ReferenceVariables::collect(environment);
  if (!variables) return variables.status();
  ImportSource out;

  auto dataFlag =
      oneOf(flags,
            {"--source-sqlite", "--source-json", "--source-postgresql-file", "--source-mysql-file"},
            "source database");
  if (!dataFlag) return dataFlag.status();
  if (*dataFlag) {
    auto data = dataFromFlag(flags, **dataFlag);
    if (!data) return data.status();
    out.data = std::move(*data);
    out.dataOrigin = **dataFlag;
  } else {
    auto data = dataFromVariables(*variables, out.dataOrigin);
    if (!data) return data.status();
    out.data = std::move(*data);
  }

  auto keyFlag =
      oneOf(flags, {"--source-pfx", "--source-pem", "--source-pkcs11-key"}, "source RSA key");
  if (!keyFlag) return keyFlag.status();
  if (*keyFlag == "--source-pfx") {
    out.key.kind = ReferenceKeySource::Kind::kPkcs12;
    out.key.path = *flags.value("--source-pfx");
    pfxPassword(flags, *variables, out.key);
    out.keyOrigin = "--source-pfx";
  } else if (*keyFlag == "--source-pem") {
    out.key.kind = ReferenceKeySource::Kind::kPem;
    out.key.path = *flags.value("--source-pem");
    if (auto file = flags.value("--source-pem-password-file")) out.key.passwordFile = *file;
    out.keyOrigin = "--source-pem";
  } else if (*keyFlag == "--source-pkcs11-key") {
    auto key = pkcs11Key(flags, *variables, out.keyOrigin);
    if (!key) return key.status();
    out.key = std::move(*key);
  } else {
    auto key = keyFromVariables(flags, *variables, out.keyOrigin);
    if (!key) return key.status();
    out.key = std::move(*key);
  }
  // Flags that only make sense with another one.
  const std::array<std::pair<std::string_view, ReferenceKeySource::Kind>, 5> belongs = {{
      {"--source-pfx-password-file", ReferenceKeySource::Kind::kPkcs12},
      {"--source-pem-password-file", ReferenceKeySource::Kind::kPem},
      {"--source-pkcs11-module", ReferenceKeySource::Kind::kPkcs11},
      {"--source-pin-file", ReferenceKeySource::Kind::kPkcs11},
      {"--source-pin-env", ReferenceKeySource::Kind::kPkcs11},
  }};
  for (const auto& [flag, kind] : belongs) {
    if (flags.has(flag) && out.key.kind != kind) {
      return invalid(std::string(flag) + " does not go with the source key from " + out.keyOrigin);
    }
  }
  return out;
}

}  // namespace kc::setup
