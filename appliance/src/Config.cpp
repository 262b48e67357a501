#include "kc/appliance/Config.h"

#include <Poco/AutoPtr.h>
#include <Poco/Exception.h>
#include <Poco/URI.h>
#include <Poco/Util/PropertyFileConfiguration.h>

#include <algorithm>
#include <cctype>
#include <charconv>
#include <fstream>
#include <set>

#include "kc/appliance/ConnectionStrings.h"
#include "kc/pkcs11/Pkcs11Uri.h"

extern char** environ;

namespace kc::appliance {
namespace {

namespace fs = std::filesystem;

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

const std::set<std::string, std::less<>> kSecretKeys = {"database.connection_string"};

// Where a value came from; a higher layer wins.
enum class Layer { kFile = 1, kReference = 2, kOverride = 3 };

struct Value {
  std::string text;
  std::string origin;  // "file /etc/kc/kc.properties", "environment variable KC_SERVER_PORT"
  Layer layer = Layer::kFile;
  std::optional<Status> deferredError;  // a reference value that cannot carry over
};

Status settingError(std::string_view key, const Value& value, const std::string& problem) {
  return {StatusCode::kInvalidArgument, std::string(key) + " (" + value.origin + "): " + problem};
}

Status missingError(std::string_view key, const std::string& problem) {
  return {StatusCode::kInvalidArgument, std::string(key) + ": " + problem};
}

// A value fit to quote in an error: printable, at most 40 characters; nothing for secrets.
std::string quoted(std::string_view key, const Value& value) {
  if (kSecretKeys.contains(key)) return "";
  std::string shown;
  for (const char c : value.text.substr(0, 40)) {
    const auto byte = static_cast<unsigned char>(c);
    shown.push_back(byte >= 0x20 && byte < 0x7F ? c : '?');
  }
  if (value.text.size() > 40) shown += "...";
  return ", got '" + shown + "'";
}

std::string lower(std::string_view text) {
  std::string out(text);
  std::transform(out.begin(), out.end(), out.begin(),
                 [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
  return out;
}

std::string trim(std::string_view text) {
  const auto begin = text.find_first_not_of(" \t\r\n");
  if (begin == std::string_view::npos) return "";
  const auto end = text.find_last_not_of(" \t\r\n");
  return std::string(text.substr(begin, end - begin + 1));
}

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

bool looksLikeKey(std::string_view key) {
  return key.size() <= 64 && key.find('.') != std::string_view::npos &&
         std::all_of(key.begin(), key.end(), [](unsigned char c) {
           return std::islower(c) || std::isdigit(c) || c == '.' || c == '_';
         });
}

// Every source of settings, looked up per key by precedence.
class Sources {
 public:
  Sources(const Environment& environment, std::string fileOrigin)
      : environment_(environment), fileOrigin_(std::move(fileOrigin)) {}

  void setFile(std::map<std::string, std::string> values) { file_ = std::move(values); }
  void setReference(std::string key, Value value) { reference_[std::move(key)] = std::move(value); }

  std::optional<std::string> environmentValue(std::string_view name) const {
    const auto found = environment_.find(name);
    if (found == environment_.end() || found->second.empty()) return std::nullopt;
    return found->second;
  }

  // The winning value of `key`, if any layer sets it to something not empty.
  std::optional<Value> get(std::string_view key) const {
    const std::string variable = environmentVariableFor(key);
    if (auto value = environmentValue(variable)) {
      return Value{*value, "environment variable " + variable, Layer::kOverride, {}};
    }
    if (const auto found = reference_.find(std::string(key)); found != reference_.end()) {
      return found->second;
    }
    if (const auto found = file_.find(std::string(key));
        found != file_.end() && !trim(found->second).empty()) {
      return Value{trim(found->second), "file " + fileOrigin_, Layer::kFile, {}};
    }
    return std::nullopt;
  }

 private:
  const Environment& environment_;
  std::string fileOrigin_;
  std::map<std::string, std::string> file_;
  std::map<std::string, Value> reference_;
};

// Reads typed settings, stopping at the first error.
class Reader {
 public:
  Reader(const Sources& sources, fs::path baseDir)
      : sources_(sources), baseDir_(std::move(baseDir)) {}

  Result<std::optional<Value>> value(std::string_view key) const {
    auto found = sources_.get(key);
    if (found && found->deferredError) return *found->deferredError;
    // No setting needs a control character; refusing them keeps every message one line.
    if (found && std::any_of(found->text.begin(), found->text.end(),
                             [](unsigned char c) { return c < 0x20 || c == 0x7F; })) {
      return settingError(key, *found, "contains a control character");
    }
    return found;
  }

  Status string(std::string_view key, std::string& out) const {
    auto found = value(key);
    if (!found) return found.status();
    if (*found) {
      const auto& text = (*found)->text;
      if (std::any_of(text.begin(), text.end(), [](unsigned char c) { return c < 0x20; })) {
        return settingError(key, **found, "contains a control character");
      }
      out = text;
    }
    return Status::ok();
  }

  template <typename Number>
  Status number(std::string_view key, Number& out, std::uint64_t min, std::uint64_t max) const {
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
    out = static_cast<Number>(parsed);
    return Status::ok();
  }

  Status seconds(std::string_view key, std::chrono::seconds& out, std::uint64_t min,
                 std::uint64_t max) const {
    std::uint64_t count = static_cast<std::uint64_t>(out.count());
    KC_RETURN_IF_ERROR(number(key, count, min, max));
    out = std::chrono::seconds(static_cast<std::chrono::seconds::rep>(count));
    return Status::ok();
  }

  Status boolean(std::string_view key, bool& out) const {
    auto found = value(key);
    if (!found) return found.status();
    if (!*found) return Status::ok();
    const std::string text = lower((*found)->text);
    if (text == "true" || text == "yes" || text == "on" || text == "1") {
      out = true;
    } else if (text == "false" || text == "no" || text == "off" || text == "0") {
      out = false;
    } else {
      return settingError(key, **found, "expected true or false" + quoted(key, **found));
    }
    return Status::ok();
  }

  // A path, resolved against the base directory when relative.
  Status path(std::string_view key, fs::path& out) const {
    std::string text;
    KC_RETURN_IF_ERROR(string(key, text));
    if (!text.empty()) out = resolve(text);
    return Status::ok();
  }

  // A path that must name a readable regular file when set.
  Status existingFile(std::string_view key, fs::path& out) const {
    KC_RETURN_IF_ERROR(path(key, out));
    if (out.empty()) return Status::ok();
    std::error_code error;
    if (!fs::is_regular_file(out, error)) {
      auto found = value(key);
      return settingError(key, **found, "no such file: " + out.string());
    }
    std::ifstream probe(out);
    if (!probe) {
      auto found = value(key);
      return settingError(key, **found, "cannot read " + out.string());
    }
    return Status::ok();
  }

  fs::path resolve(const std::string& text) const {
    fs::path out(text);
    if (out.is_relative()) out = baseDir_ / out;
    return out.lexically_normal();
  }

  const Sources& sources() const { return sources_; }

 private:
  const Sources& sources_;
  fs::path baseDir_;
};

Status checkHttpUrl(std::string_view key, const Value& value, bool originOnly,
                    std::string* normalised) {
  try {
    Poco::URI uri(value.text);
    const std::string scheme = lower(uri.getScheme());
    if (scheme != "http" && scheme != "https") {
      return settingError(key, value, "expected an http:// or https:// URL");
    }
    if (uri.getHost().empty()) return settingError(key, value, "the URL names no host");
    if (originOnly) {
      if ((!uri.getPath().empty() && uri.getPath() != "/") || !uri.getRawQuery().empty() ||
          !uri.getFragment().empty() || !uri.getUserInfo().empty()) {
        return settingError(key, value,
                            "expected an origin (scheme://host[:port]) without a path or query");
      }
      if (normalised) {
        *normalised = scheme + "://" + lower(uri.getHost());
        if (uri.getSpecifiedPort() != 0)
          *normalised += ":" + std::to_string(uri.getSpecifiedPort());
      }
    } else if (normalised) {
      *normalised = value.text;
    }
  } catch (const Poco::Exception&) {
    return settingError(key, value, "not a valid URL");
  }
  return Status::ok();
}

Status checkKeyUri(std::string_view key, const Value& value, bool mustNameObject) {
  auto uri = pkcs11::Pkcs11Uri::parse(value.text);
  if (!uri) return settingError(key, value, uri.status().message());
  if (mustNameObject && !uri->namesObject()) {
    return settingError(key, value, "the PKCS#11 URI names no key (object=... or id=...)");
  }
  return Status::ok();
}

// "pkcs11:a,pkcs11:b": a comma separates two URIs only where the next one starts, since a
// comma may appear unencoded inside a URI.
std::vector<std::string> splitUriList(std::string_view text) {
  std::vector<std::string> out;
  std::string current;
  for (std::size_t i = 0; i < text.size(); ++i) {
    if (text[i] == ',') {
      const std::string rest = trim(text.substr(i + 1));
      if (rest.rfind("pkcs11:", 0) == 0 || rest.empty()) {
        out.push_back(trim(current));
        current.clear();
        continue;
      }
    }
    current.push_back(text[i]);
  }
  out.push_back(trim(current));
  return out;
}

// Translates the reference Key Connector's variables into our keys (the reference layer).
// Connection strings are converted later, once the provider is known.
Status addReferenceSettings(Sources& sources) {
  auto reference = [&](std::string_view variable) { return sources.environmentValue(variable); };
  auto origin = [](std::string_view variable) {
    return "environment variable " + std::string(variable);
  };
  if (auto value = reference(kRefWebVault)) {
    sources.setReference("web_vault.origin", {*value, origin(kRefWebVault), Layer::kReference, {}});
  }
  if (auto value = reference(kRefIdentity)) {
    sources.setReference("identity.server_uri",
                         {*value, origin(kRefIdentity), Layer::kReference, {}});
  }
  if (auto value = reference(kRefProvider)) {
    const std::string provider = lower(trim(*value));
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
  return Status::ok();
}

// The reference's connection string for `provider`, converted, as a reference-layer value.
Status addReferenceConnection(Sources& sources, storage::StoreBackend provider,
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
      if (dialect != storage::OdbcDialect::kSqlServer) return Status::ok();
      variable = kRefSqlServer;
      convert = &odbcFromSqlServer;
      break;
  }
  const auto text = sources.environmentValue(variable);
  if (!text) return Status::ok();
  Value value{"", "environment variable " + std::string(variable), Layer::kReference, {}};
  auto converted = convert(*text);
  if (!converted) {
    // The converters never quote their input, so their message is safe to pass on.
    value.deferredError = settingError(key, value, converted.status().message());
  } else {
    value.text = std::move(*converted);
  }
  sources.setReference(key, std::move(value));
  return Status::ok();
}

Result<storage::StoreBackend> parseProvider(const Value& value) {
  const std::string text = lower(value.text);
  if (text == "sqlite") return storage::StoreBackend::kSqlite;
  if (text == "postgresql") return storage::StoreBackend::kPostgreSql;
  if (text == "mysql") return storage::StoreBackend::kMySql;
  if (text == "odbc") return storage::StoreBackend::kOdbc;
  return settingError(
      "database.provider", value,
      "expected sqlite, postgresql, mysql or odbc" + quoted("database.provider", value));
}

Result<storage::OdbcDialect> parseDialect(const Value& value) {
  const std::string text = lower(value.text);
  if (text == "sqlserver") return storage::OdbcDialect::kSqlServer;
  if (text == "postgresql") return storage::OdbcDialect::kPostgreSql;
  if (text == "sqlite") {
    // Debian's sqliteodbc cuts values over 255 bytes (every envelope) and loses track of other
    // connections' commits: fine for testing the ODBC code path, never for keys.
    return settingError("database.odbc_dialect", value,
                        "SQLite through ODBC corrupts envelopes; use database.provider = sqlite" +
                            quoted("database.odbc_dialect", value));
  }
  return settingError("database.odbc_dialect", value,
                      "expected sqlserver or postgresql" + quoted("database.odbc_dialect", value));
}

Status readServer(const Reader& in, ServerSettings& out) {
  KC_RETURN_IF_ERROR(in.string("server.address", out.address));
  if (out.address.find_first_of(" \t") != std::string::npos) {
    return settingError("server.address", *in.sources().get("server.address"),
                        "expected an address or host name" +
                            quoted("server.address", *in.sources().get("server.address")));
  }
  KC_RETURN_IF_ERROR(in.number("server.port", out.port, 1, 65535));
  KC_RETURN_IF_ERROR(in.number("server.workers", out.workers, 1, 1024));
  KC_RETURN_IF_ERROR(in.number("server.max_queued", out.maxQueued, 0, 100000));
  KC_RETURN_IF_ERROR(in.boolean("server.keep_alive", out.keepAlive));
  KC_RETURN_IF_ERROR(
      in.number("server.max_keep_alive_requests", out.maxKeepAliveRequests, 1, 1000000));
  KC_RETURN_IF_ERROR(in.seconds("server.keep_alive_timeout_s", out.keepAliveTimeout, 1, 3600));
  KC_RETURN_IF_ERROR(in.seconds("server.read_timeout_s", out.readTimeout, 1, 3600));
  KC_RETURN_IF_ERROR(in.seconds("server.write_timeout_s", out.writeTimeout, 1, 3600));
  KC_RETURN_IF_ERROR(in.boolean("server.metrics", out.metrics));
  return Status::ok();
}

Status readTls(const Reader& in, TlsSettings& out) {
  KC_RETURN_IF_ERROR(in.existingFile("tls.certificate", out.certificate));
  KC_RETURN_IF_ERROR(in.existingFile("tls.private_key", out.privateKey));
  KC_RETURN_IF_ERROR(in.existingFile("tls.ca_chain", out.caChain));
  if (out.certificate.empty() != out.privateKey.empty()) {
    const std::string_view given = out.certificate.empty() ? "tls.private_key" : "tls.certificate";
    const std::string_view missing =
        out.certificate.empty() ? "tls.certificate" : "tls.private_key";
    return settingError(missing, *in.sources().get(given),
                        "TLS needs both tls.certificate and tls.private_key; only " +
                            std::string(given) + " is set");
  }
  if (!out.caChain.empty() && !out.enabled()) {
    return settingError("tls.ca_chain", *in.sources().get("tls.ca_chain"),
                        "set only with tls.certificate and tls.private_key");
  }
  return Status::ok();
}

Status readIdentity(const Reader& in, IdentitySettings& out) {
  KC_RETURN_IF_ERROR(in.existingFile("identity.jwks_file", out.jwksFile));
  KC_RETURN_IF_ERROR(in.existingFile("identity.ca_file", out.caFile));
  auto server = in.value("identity.server_uri");
  if (!server) return server.status();
  if (*server) {
    KC_RETURN_IF_ERROR(checkHttpUrl("identity.server_uri", **server, false, &out.serverUri));
  } else if (out.jwksFile.empty()) {
    return missingError(
        "identity.server_uri",
        "required (the identity server's URL, or KC_IDENTITY_SERVER_URI, or "
        "keyConnectorSettings__identityServerUri) unless identity.jwks_file is set");
  }
  KC_RETURN_IF_ERROR(in.string("identity.issuer", out.issuer));
  KC_RETURN_IF_ERROR(in.seconds("identity.clock_skew_s", out.clockSkew, 0, 3600));
  KC_RETURN_IF_ERROR(
      in.seconds("identity.jwks_refresh_min_interval_s", out.jwksRefreshMinInterval, 1, 86400));
  return Status::ok();
}

Status readWebVault(const Reader& in, WebVaultSettings& out) {
  auto origin = in.value("web_vault.origin");
  if (!origin) return origin.status();
  if (*origin) KC_RETURN_IF_ERROR(checkHttpUrl("web_vault.origin", **origin, true, &out.origin));
  return Status::ok();
}

Status readDatabase(Sources& sources, const Reader& in, std::size_t workers,
                    DatabaseSettings& out) {
  auto provider = in.value("database.provider");
  if (!provider) return provider.status();
  if (*provider) {
    auto parsed = parseProvider(**provider);
    if (!parsed) return parsed.status();
    out.provider = *parsed;
  }
  auto dialect = in.value("database.odbc_dialect");
  if (!dialect) return dialect.status();
  if (*dialect) {
    auto parsed = parseDialect(**dialect);
    if (!parsed) return parsed.status();
    out.odbcDialect = *parsed;
  }
  KC_RETURN_IF_ERROR(addReferenceConnection(sources, out.provider, out.odbcDialect));

  KC_RETURN_IF_ERROR(in.path("database.sqlite_path", out.sqlitePath));
  if (out.sqlitePath.empty()) out.sqlitePath = in.resolve("keys.db");

  auto connection = in.value("database.connection_string");
  if (!connection) return connection.status();
  if (*connection) {
    const auto& text = (*connection)->text;
    if (std::any_of(text.begin(), text.end(), [](unsigned char c) { return c < 0x20; })) {
      return settingError("database.connection_string", **connection,
                          "contains a control character");
    }
    out.connectionString = text;
  }
  if (out.provider != storage::StoreBackend::kSqlite && out.connectionString.empty()) {
    const std::string providerName = lower((*provider)->text);
    return missingError("database.connection_string", "required when database.provider is " +
                                                          providerName + " (from " +
                                                          (*provider)->origin + ")");
  }
  out.poolSize = workers;
  KC_RETURN_IF_ERROR(in.number("database.pool_size", out.poolSize, 1, 1024));
  return Status::ok();
}

Status readPkcs11(const Reader& in, std::size_t workers, Pkcs11Settings& out) {
  KC_RETURN_IF_ERROR(in.string("pkcs11.module", out.module));
  if (out.module.find('/') != std::string::npos) {
    out.module = in.resolve(out.module).string();
    std::error_code error;
    if (!fs::is_regular_file(out.module, error)) {
      auto value = in.value("pkcs11.module");
      const std::string origin = (value.isOk() && *value) ? (**value).origin : "default";
      return {StatusCode::kInvalidArgument,
              "pkcs11.module (" + origin + "): no such file: " + out.module};
    }
  }
  KC_RETURN_IF_ERROR(in.string("pkcs11.init_args", out.initArgs));

  auto token = in.value("pkcs11.token");
  if (!token) return token.status();
  if (*token) {
    KC_RETURN_IF_ERROR(checkKeyUri("pkcs11.token", **token, false));
    out.token = (*token)->text;
  }
  auto wrap = in.value("pkcs11.wrap_key");
  if (!wrap) return wrap.status();
  if (!*wrap) {
    return missingError("pkcs11.wrap_key",
                        "required: the PKCS#11 URI of the wrapping key (e.g. "
                        "pkcs11:token=kc;object=kc-wrap)");
  }
  KC_RETURN_IF_ERROR(checkKeyUri("pkcs11.wrap_key", **wrap, true));
  out.wrapKey = (*wrap)->text;

  auto audit = in.value("pkcs11.audit_key");
  if (!audit) return audit.status();
  if (*audit) {
    KC_RETURN_IF_ERROR(checkKeyUri("pkcs11.audit_key", **audit, true));
    out.auditKey = (*audit)->text;
  }

  auto previous = in.value("pkcs11.previous_wrap_keys");
  if (!previous) return previous.status();
  if (*previous) {
    for (const auto& uri : splitUriList((*previous)->text)) {
      if (uri.empty()) {
        return settingError("pkcs11.previous_wrap_keys", **previous,
                            "an empty entry in the comma-separated list");
      }
      Value one = **previous;
      one.text = uri;
      KC_RETURN_IF_ERROR(checkKeyUri("pkcs11.previous_wrap_keys", one, true));
      if (uri == out.wrapKey) {
        return settingError("pkcs11.previous_wrap_keys", **previous,
                            "lists the current pkcs11.wrap_key");
      }
      out.previousWrapKeys.push_back(uri);
    }
  }

  // The PIN: a file or an environment variable. The highest layer that sets either wins; one
  // layer setting both is ambiguous.
  auto pinFile = in.value("pkcs11.pin_file");
  if (!pinFile) return pinFile.status();
  auto pinEnv = in.value("pkcs11.pin_env");
  if (!pinEnv) return pinEnv.status();
  if (*pinFile && *pinEnv && (*pinFile)->layer == (*pinEnv)->layer) {
    return settingError("pkcs11.pin_file", **pinFile,
                        "give pkcs11.pin_file or pkcs11.pin_env, not both (pkcs11.pin_env from " +
                            (*pinEnv)->origin + ")");
  }
  const bool useFile = *pinFile && (!*pinEnv || (*pinFile)->layer > (*pinEnv)->layer);
  if (useFile) {
    KC_RETURN_IF_ERROR(in.existingFile("pkcs11.pin_file", out.pinFile));
    out.pinEnv.clear();
  } else if (*pinEnv) {
    out.pinEnv = (*pinEnv)->text;
    const bool validName = std::all_of(out.pinEnv.begin(), out.pinEnv.end(),
                                       [](unsigned char c) { return std::isalnum(c) || c == '_'; });
    if (!validName) {
      return settingError(
          "pkcs11.pin_env", **pinEnv,
          "expected the name of an environment variable" + quoted("pkcs11.pin_env", **pinEnv));
    }
  } else {
    out.pinEnv = "KC_PKCS11_PIN";
  }

  out.sessions = workers;
  KC_RETURN_IF_ERROR(in.number("pkcs11.sessions", out.sessions, 1, 1024));
  return Status::ok();
}

Status readAudit(const Reader& in, const fs::path& baseDir, AuditSettings& out) {
  out.directory = baseDir / "audit";
  KC_RETURN_IF_ERROR(in.path("audit.directory", out.directory));
  KC_RETURN_IF_ERROR(in.string("audit.instance", out.instance));
  if (out.instance.size() > 128) {
    auto found = in.value("audit.instance");
    return settingError("audit.instance", **found, "longer than 128 characters");
  }
  KC_RETURN_IF_ERROR(in.seconds("audit.checkpoint_interval_s", out.checkpointInterval, 0, 86400));
  KC_RETURN_IF_ERROR(in.number("audit.rotate_bytes", out.rotateBytes, 0, std::uint64_t{1} << 40));
  KC_RETURN_IF_ERROR(in.boolean("audit.syslog", out.syslog));
  return Status::ok();
}

Status readLog(const Reader& in, LogSettings& out) {
  auto level = in.value("log.level");
  if (!level) return level.status();
  if (*level) {
    static const std::set<std::string, std::less<>> kLevels = {
        "none", "fatal", "critical", "error", "warning", "notice", "information", "debug", "trace"};
    const std::string text = lower((*level)->text);
    if (!kLevels.contains(text)) {
      return settingError("log.level", **level,
                          "expected fatal, critical, error, warning, notice, information, debug, "
                          "trace or none" +
                              quoted("log.level", **level));
    }
    out.level = text;
  }
  auto format = in.value("log.format");
  if (!format) return format.status();
  if (*format) {
    const std::string text = lower((*format)->text);
    if (text == "text") {
      out.format = LogFormat::kText;
    } else if (text == "json") {
      out.format = LogFormat::kJson;
    } else {
      return settingError("log.format", **format,
                          "expected text or json" + quoted("log.format", **format));
    }
  }
  return Status::ok();
}

Result<DaemonConfig> buildConfig(std::map<std::string, std::string> fileValues,
                                 const std::string& origin, const fs::path& baseDir,
                                 const Environment& environment) {
  const auto& known = knownConfigKeys();
  for (const auto& [key, value] : fileValues) {
    if (std::find(known.begin(), known.end(), key) != known.end()) continue;
    if (looksLikeKey(key)) {
      return Status(StatusCode::kInvalidArgument,
                    key + " (file " + origin + "): not a setting this daemon knows");
    }
    return Status(StatusCode::kInvalidArgument,
                  "file " + origin + ": a line that is not 'key = value' with a known key");
  }
  Sources sources(environment, origin);
  sources.setFile(std::move(fileValues));
  KC_RETURN_IF_ERROR(addReferenceSettings(sources));
  const Reader in(sources, baseDir);

  DaemonConfig config;
  config.baseDir = baseDir;
  KC_RETURN_IF_ERROR(readServer(in, config.server));
  KC_RETURN_IF_ERROR(readTls(in, config.tls));
  KC_RETURN_IF_ERROR(readIdentity(in, config.identity));
  KC_RETURN_IF_ERROR(readWebVault(in, config.webVault));
  KC_RETURN_IF_ERROR(readDatabase(sources, in, config.server.workers, config.database));
  KC_RETURN_IF_ERROR(readPkcs11(in, config.server.workers, config.pkcs11));
  KC_RETURN_IF_ERROR(
      in.boolean("policy.allow_noncompliant_key", config.policy.allowNoncompliantKey));
  KC_RETURN_IF_ERROR(readAudit(in, baseDir, config.audit));
  KC_RETURN_IF_ERROR(readLog(in, config.log));
  return config;
}

// A properties file whose raw entries can be walked in order.
class PropertyList : public Poco::Util::PropertyFileConfiguration {
 public:
  explicit PropertyList(std::istream& input) : PropertyFileConfiguration(input) {}
  using MapConfiguration::begin;
  using MapConfiguration::end;

 protected:
  ~PropertyList() override = default;
};

Result<std::map<std::string, std::string>> readProperties(std::istream& input,
                                                          const std::string& origin) {
  std::map<std::string, std::string> values;
  try {
    const Poco::AutoPtr<PropertyList> file(new PropertyList(input));
    // Raw values: no ${...} expansion, so a value is exactly what the file says.
    for (auto it = file->begin(); it != file->end(); ++it) values[it->first] = it->second;
  } catch (const Poco::Exception& e) {
    return Status(StatusCode::kInvalidArgument,
                  "file " + origin + ": cannot read it: " + e.className());
  } catch (const std::exception&) {
    return Status(StatusCode::kInvalidArgument, "file " + origin + ": cannot read it");
  }
  return values;
}

}  // namespace

const std::vector<std::string>& knownConfigKeys() {
  static const std::vector<std::string> kKeys = {
      "server.address",
      "server.port",
      "server.workers",
      "server.max_queued",
      "server.keep_alive",
      "server.max_keep_alive_requests",
      "server.keep_alive_timeout_s",
      "server.read_timeout_s",
      "server.write_timeout_s",
      "server.metrics",
      "tls.certificate",
      "tls.private_key",
      "tls.ca_chain",
      "identity.server_uri",
      "identity.issuer",
      "identity.jwks_file",
      "identity.ca_file",
      "identity.clock_skew_s",
      "identity.jwks_refresh_min_interval_s",
      "web_vault.origin",
      "database.provider",
      "database.sqlite_path",
      "database.connection_string",
      "database.odbc_dialect",
      "database.pool_size",
      "pkcs11.module",
      "pkcs11.init_args",
      "pkcs11.token",
      "pkcs11.wrap_key",
      "pkcs11.audit_key",
      "pkcs11.pin_file",
      "pkcs11.pin_env",
      "pkcs11.sessions",
      "pkcs11.previous_wrap_keys",
      "policy.allow_noncompliant_key",
      "audit.directory",
      "audit.instance",
      "audit.checkpoint_interval_s",
      "audit.rotate_bytes",
      "audit.syslog",
      "log.level",
      "log.format",
  };
  return kKeys;
}

std::string environmentVariableFor(std::string_view key) {
  std::string out = "KC_";
  for (const char c : key) {
    out.push_back(c == '.' ? '_' : static_cast<char>(std::toupper(static_cast<unsigned char>(c))));
  }
  return out;
}

Environment processEnvironment() {
  Environment out;
  for (char** entry = environ; entry != nullptr && *entry != nullptr; ++entry) {
    const std::string_view text(*entry);
    const auto equals = text.find('=');
    if (equals == std::string_view::npos) continue;
    out.emplace(std::string(text.substr(0, equals)), std::string(text.substr(equals + 1)));
  }
  return out;
}

Result<DaemonConfig> parseDaemonConfig(std::istream& properties, const std::string& origin,
                                       const fs::path& baseDir, const Environment& environment) {
  auto values = readProperties(properties, origin);
  if (!values) return values.status();
  return buildConfig(std::move(*values), origin, baseDir, environment);
}

Result<DaemonConfig> loadDaemonConfig(const std::optional<fs::path>& file,
                                      const Environment& environment) {
  if (!file) {
    std::error_code error;
    fs::path cwd = fs::current_path(error);
    return buildConfig({}, "(none)", cwd, environment);
  }
  std::error_code error;
  const fs::path absolute = fs::absolute(*file, error).lexically_normal();
  if (error || !fs::is_regular_file(absolute, error)) {
    return Status(StatusCode::kInvalidArgument,
                  "configuration file " + file->string() + ": no such file");
  }
  std::ifstream input(absolute, std::ios::binary);
  if (!input) {
    return Status(StatusCode::kInvalidArgument,
                  "configuration file " + absolute.string() + ": cannot read it");
  }
  auto config = parseDaemonConfig(input, absolute.string(), absolute.parent_path(), environment);
  if (!config) return config.status();
  config->configFile = absolute;
  return config;
}

storage::StoreConfig storeConfigFrom(const DaemonConfig& config) {
  storage::StoreConfig out;
  out.backend = config.database.provider;
  out.sqlitePath = config.database.sqlitePath.string();
  out.connectionString = config.database.connectionString;
  out.odbcDialect = config.database.odbcDialect;
  out.poolSize = config.database.poolSize;
  return out;
}

pkcs11::TokenSettings tokenSettingsFrom(const DaemonConfig& config) {
  pkcs11::TokenSettings out;
  out.modulePath = config.pkcs11.module;
  out.initArgs = config.pkcs11.initArgs;
  out.uri = config.pkcs11.token.empty() ? config.pkcs11.wrapKey : config.pkcs11.token;
  out.pin = config.pkcs11.pinFile.empty() ? pkcs11::PinSource::fromEnvironment(config.pkcs11.pinEnv)
                                          : pkcs11::PinSource::fromFile(config.pkcs11.pinFile);
  out.pool.size = config.pkcs11.sessions;
  return out;
}

KeyRingSettings keyRingSettingsFrom(const DaemonConfig& config) {
  return {.currentKeyUri = config.pkcs11.wrapKey,
          .previousKeyUris = config.pkcs11.previousWrapKeys,
          .allowNoncompliantKeys = config.policy.allowNoncompliantKey};
}

}  // namespace kc::appliance
