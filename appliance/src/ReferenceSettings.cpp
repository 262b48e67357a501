#include "ReferenceSettings.h"

#include <cctype>
#include <charconv>

#include "kc/Text.h"
#include "kc/appliance/ConnectionStrings.h"

namespace kc::appliance::config {
namespace {

// Reference Key Connector variables (ASP.NET's "__" section separator).
constexpr std::string_view kRefWebVault = "keyConnectorSettings__webVaultUri";
constexpr std::string_view kRefIdentity = "keyConnectorSettings__identityServerUri";
constexpr std::string_view kRefProvider = "keyConnectorSettings__database__provider";
constexpr std::string_view kRefSqlite = "keyConnectorSettings__database__sqliteConnectionString";
constexpr std::string_view kRefPostgres =
    "keyConnectorSettings__database__postgreSqlConnectionString";
constexpr std::string_view kRefMySql = "keyConnectorSettings__database__mySqlConnectionString";
constexpr std::string_view kRefSqlServer =
    "keyConnectorSettings__database__sqlServerConnectionString";
constexpr std::string_view kRefModule = "keyConnectorSettings__rsaKey__pkcs11LibraryPath";
constexpr std::string_view kRefSerial = "keyConnectorSettings__rsaKey__pkcs11SlotTokenSerialNumber";
constexpr std::string_view kRefKeyLabel = "keyConnectorSettings__rsaKey__pkcs11PrivateKeyLabel";
constexpr std::string_view kRefKeyId = "keyConnectorSettings__rsaKey__pkcs11PrivateKeyId";
constexpr std::string_view kRefPin = "keyConnectorSettings__rsaKey__pkcs11LoginPin";

std::string percentEncode(std::string_view text) {
  static constexpr char kDigits[] = "0123456789ABCDEF";
  std::string out;
  for (const char c : text) {
    const auto byte = static_cast<unsigned char>(c);
    if (std::isalnum(byte) || c == '-' || c == '.' || c == '_' || c == '~') {
      out.push_back(c);
    } else {
      out.push_back('%');
      out.push_back(kDigits[byte >> 4]);
      out.push_back(kDigits[byte & 0x0F]);
    }
  }
  return out;
}

std::string origin(std::string_view variable) {
  return "environment variable " + std::string(variable);
}

}  // namespace

// Translates the reference Key Connector's variables into our keys (the reference layer).
// Connection strings are converted later, once the provider is known.
void addReferenceSettings(Sources& sources) {
  auto reference = [&](std::string_view variable) { return sources.environmentValue(variable); };
  if (auto value = reference(kRefWebVault)) {
    sources.setReference("web_vault.origin", {*value, origin(kRefWebVault), Layer::kReference, {}});
  }
  if (auto value = reference(kRefIdentity)) {
    sources.setReference("identity.server_uri",
                         {*value, origin(kRefIdentity), Layer::kReference, {}});
  }
  if (auto value = reference(kRefProvider)) {
    const std::string provider = toLower(trim(*value));
    Value mapped{provider, origin(kRefProvider), Layer::kReference, {}};
    if (provider == "sqlserver") {
      mapped.text = "odbc";
      sources.setReference("database.odbc_dialect",
                           {"sqlserver", origin(kRefProvider), Layer::kReference, {}});
    } else if (provider == "json" || provider == "mongo") {
      mapped.deferredError = settingError(
          "database.provider", mapped,
          "the reference Key Connector's " + provider +
              " provider is not supported; import its data with kc-setup and choose sqlite, "
              "postgresql, mysql or odbc");
    } else if (provider != "sqlite" && provider != "postgresql" && provider != "mysql") {
      mapped.deferredError = settingError(
          "database.provider", mapped,
          "expected sqlite, postgresql, mysql or sqlserver" + quoted("database.provider", mapped));
    }
    sources.setReference("database.provider", std::move(mapped));
  }
  if (auto value = reference(kRefModule)) {
    sources.setReference("pkcs11.module", {*value, origin(kRefModule), Layer::kReference, {}});
  }
  if (auto value = reference(kRefSerial)) {
    sources.setReference("pkcs11.token", {"pkcs11:serial=" + percentEncode(trim(*value)),
                                          origin(kRefSerial),
                                          Layer::kReference,
                                          {}});
  }
  const auto label = reference(kRefKeyLabel);
  const auto id = reference(kRefKeyId);
  if (label || id) {
    Value key{"pkcs11:", origin(label ? kRefKeyLabel : kRefKeyId), Layer::kReference, {}};
    if (label) key.text += "object=" + percentEncode(*label);
    if (id) {
      // The reference passes this ulong to Pkcs11Interop as a CK_ULONG attribute: 8 bytes in
      // the machine's order, little-endian on x86-64 and arm64 Linux.
      std::uint64_t number = 0;
      const std::string text = trim(*id);
      const auto [end, error] = std::from_chars(text.data(), text.data() + text.size(), number);
      if (error != std::errc() || end != text.data() + text.size()) {
        key.origin = origin(kRefKeyId);
        key.deferredError = settingError("pkcs11.wrap_key", key,
                                         "expected a decimal key id (an unsigned 64-bit number)");
      }
      if (label) key.text += ";";
      key.text += "id=";
      for (int byte = 0; byte < 8; ++byte) {
        key.text += percentEncode(std::string(1, static_cast<char>((number >> (8 * byte)) & 0xFF)));
      }
    }
    sources.setReference("pkcs11.wrap_key", std::move(key));
  }
  if (reference(kRefPin)) {
    sources.setReference("pkcs11.pin_env",
                         {std::string(kRefPin), origin(kRefPin), Layer::kReference, {}});
  }
}

// The reference's connection string for `provider`, converted, as a reference-layer value.
void addReferenceConnection(Sources& sources, storage::StoreBackend provider,
                            storage::OdbcDialect dialect) {
  using Converter = Result<std::string> (*)(std::string_view);
  std::string_view variable;
  Converter convert = nullptr;
  std::string key = "database.connection_string";
  switch (provider) {
    case storage::StoreBackend::kSqlite:
      variable = kRefSqlite;
      convert = &sqlitePathFromConnectionString;
      key = "database.sqlite_path";
      break;
    case storage::StoreBackend::kPostgreSql:
      variable = kRefPostgres;
      convert = &libpqFromNpgsql;
      break;
    case storage::StoreBackend::kMySql:
      variable = kRefMySql;
      convert = &pocoMySqlFromConnectionString;
      break;
    case storage::StoreBackend::kOdbc:
      if (dialect != storage::OdbcDialect::kSqlServer) return;
      variable = kRefSqlServer;
      convert = &odbcFromSqlServer;
      break;
  }
  const auto text = sources.environmentValue(variable);
  if (!text) return;
  Value value{"", "environment variable " + std::string(variable), Layer::kReference, {}};
  auto converted = convert(*text);
  if (!converted) {
    // The converters never quote their input, so their message is safe to pass on.
    value.deferredError = settingError(key, value, converted.status().message());
  } else {
    value.text = std::move(*converted);
  }
  sources.setReference(key, std::move(value));
}

}  // namespace kc::appliance::config
