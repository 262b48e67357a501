#include "kc/appliance/Config.h"

#include <Poco/AutoPtr.h>
#include <Poco/Exception.h>
#include <Poco/URI.h>
#include <Poco/Util/PropertyFileConfiguration.h>

#include <algorithm>
#include <cctype>
#include <fstream>
#include <set>

#include "ConfigReader.h"
#include "ReferenceSettings.h"
#include "kc/Text.h"
#include "kc/pkcs11/Pkcs11Uri.h"

extern char** environ;

namespace kc::appliance {
namespace {

namespace fs = std::filesystem;
using config::missingError;
using config::quoted;
using config::Reader;
using config::settingError;
using config::Sources;
using config::Value;

Status checkHttpUrl(std::string_view key, const Value& value, bool originOnly,
                    std::string* normalised) {
  try {
    Poco::URI uri(value.text);
    const std::string scheme = toLower(uri.getScheme());
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
        *normalised = scheme + "://" + toLower(uri.getHost());
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

Result<storage::StoreBackend> parseProvider(const Value& value) {
  const std::string text = toLower(value.text);
  if (text == "sqlite") return storage::StoreBackend::kSqlite;
  if (text == "postgresql") return storage::StoreBackend::kPostgreSql;
  if (text == "mysql") return storage::StoreBackend::kMySql;
  if (text == "odbc") return storage::StoreBackend::kOdbc;
  return settingError(
      "database.provider", value,
      "expected sqlite, postgresql, mysql or odbc" + quoted("database.provider", value));
}

Result<storage::OdbcDialect> parseDialect(const Value& value) {
  const std::string text = toLower(value.text);
  if (text == "sqlserver") return storage::OdbcDialect::kSqlServer;
  if (text == "postgresql") return storage::OdbcDialect::kPostgreSql;
  if (text == "sqlite") {
    // Debian's sqliteodbc cuts values over 255 bytes (every envelope), loses track of other
    // connections' commits and, when a statement fails, writes past the SQL text Poco hands
    // it (SQLNativeSql), corrupting the heap: never for keys.
    return settingError("database.odbc_dialect", value,
                        "SQLite through ODBC corrupts envelopes; use database.provider = sqlite" +
                            quoted("database.odbc_dialect", value));
  }
  return settingError("database.odbc_dialect", value,
                      "expected sqlserver or postgresql" + quoted("database.odbc_dialect", value));
}

Status readServer(const Reader& in, ServerSettings& out) {
  auto address = in.value("server.address");
  if (!address) return address.status();
  if (*address) {
    if ((*address)->text.find_first_of(" \t") != std::string::npos) {
      return settingError("server.address", **address,
                          "expected an address or host name" + quoted("server.address", **address));
    }
    out.address = (*address)->text;
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
  KC_RETURN_IF_ERROR(in.seconds("server.head_timeout_s", out.headTimeout, 1, 300));
  KC_RETURN_IF_ERROR(
      in.number("server.max_connections_per_client", out.maxConnectionsPerClient, 1, 1000000));
  KC_RETURN_IF_ERROR(in.boolean("server.metrics", out.metrics));
  KC_RETURN_IF_ERROR(in.boolean("server.public_metrics", out.publicMetrics));
  KC_RETURN_IF_ERROR(in.boolean("server.public_health_detail", out.publicHealthDetail));
  auto adminAddress = in.value("server.admin_address");
  if (!adminAddress) return adminAddress.status();
  if (*adminAddress) {
    if ((*adminAddress)->text.find_first_of(" \t") != std::string::npos) {
      return settingError(
          "server.admin_address", **adminAddress,
          "expected an address or host name" + quoted("server.admin_address", **adminAddress));
    }
    out.adminAddress = (*adminAddress)->text;
  }
  KC_RETURN_IF_ERROR(in.number("server.admin_port", out.adminPort, 0, 65535));
  auto proxies = in.value("server.trusted_proxies");
  if (!proxies) return proxies.status();
  if (*proxies) {
    auto parsed = api::TrustedProxies::parse((*proxies)->text);
    if (!parsed)
      return settingError("server.trusted_proxies", **proxies, parsed.status().message());
    out.trustedProxies = std::move(*parsed);
  }
  return Status::ok();
}

Status readTls(const Reader& in, TlsSettings& out) {
  KC_RETURN_IF_ERROR(in.existingFile("tls.certificate", out.certificate));
  KC_RETURN_IF_ERROR(in.existingFile("tls.private_key", out.privateKey));
  KC_RETURN_IF_ERROR(in.existingFile("tls.ca_chain", out.caChain));
  return Status::ok();
}

// The identity server's keys decide whose token is believed, so they come over TLS unless
// identity.allow_insecure_http says the network is private.
Status checkIdentityUrl(std::string_view key, const Value& value, bool allowInsecureHttp,
                        std::string* out) {
  KC_RETURN_IF_ERROR(checkHttpUrl(key, value, false, out));
  if (allowInsecureHttp || toLower(Poco::URI(value.text).getScheme()) == "https") {
    return Status::ok();
  }
  return settingError(key, value,
                      "must be an https:// URL (tokens are checked with the keys fetched from "
                      "it); set identity.allow_insecure_http = true to allow plain HTTP on a "
                      "private network");
}

Status readIdentity(const Reader& in, IdentitySettings& out) {
  KC_RETURN_IF_ERROR(in.existingFile("identity.jwks_file", out.jwksFile));
  KC_RETURN_IF_ERROR(in.existingFile("identity.ca_file", out.caFile));
  KC_RETURN_IF_ERROR(in.boolean("identity.allow_insecure_http", out.allowInsecureHttp));
  for (const auto& [key, target] : {std::pair{"identity.server_uri", &out.serverUri},
                                    std::pair{"identity.jwks_uri", &out.jwksUri}}) {
    auto found = in.value(key);
    if (!found) return found.status();
    if (*found) KC_RETURN_IF_ERROR(checkIdentityUrl(key, **found, out.allowInsecureHttp, target));
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
  config::addReferenceConnection(sources, out.provider, out.odbcDialect);

  KC_RETURN_IF_ERROR(in.path("database.sqlite_path", out.sqlitePath));
  if (out.sqlitePath.empty()) out.sqlitePath = in.resolve("keys.db");

  KC_RETURN_IF_ERROR(in.string("database.connection_string", out.connectionString));
  out.poolSize = workers;
  KC_RETURN_IF_ERROR(in.number("database.pool_size", out.poolSize, 1, 1024));
  return Status::ok();
}

Status readPkcs11(const Reader& in, std::size_t workers, Pkcs11Settings& out) {
  // A bare file name is left to the dynamic loader's search path.
  auto module = in.value("pkcs11.module");
  if (!module) return module.status();
  if (*module) {
    out.module = (*module)->text;
    if (out.module.find('/') != std::string::npos) {
      fs::path resolved;
      KC_RETURN_IF_ERROR(in.existingFile("pkcs11.module", resolved));
      out.module = resolved.string();
    }
  }
  KC_RETURN_IF_ERROR(in.string("pkcs11.init_args", out.initArgs));

  auto token = in.value("pkcs11.token");
  if (!token) return token.status();
  if (*token) {
    KC_RETURN_IF_ERROR(checkKeyUri("pkcs11.token", **token, false));
    out.token = (*token)->text;
    // Only the reference's pkcs11SlotTokenSerialNumber sets the token in that layer.
    out.tokenSerialIgnoresCase = (*token)->layer == config::Layer::kReference;
  }
  auto tokens = in.value("pkcs11.tokens");
  if (!tokens) return tokens.status();
  if (*tokens) {
    if (*token) {
      return settingError("pkcs11.tokens", **tokens,
                          "give pkcs11.token (one token) or pkcs11.tokens (a cluster), not both "
                          "(pkcs11.token from " +
                              (*token)->origin + ")");
    }
    for (const auto& uri : splitUriList((*tokens)->text)) {
      Value one = **tokens;
      one.text = uri;
      if (uri.empty()) {
        return settingError("pkcs11.tokens", **tokens,
                            "an empty entry in the comma-separated list");
      }
      KC_RETURN_IF_ERROR(checkKeyUri("pkcs11.tokens", one, false));
      if (std::find(out.tokens.begin(), out.tokens.end(), uri) != out.tokens.end()) {
        return settingError("pkcs11.tokens", **tokens, "lists " + uri + " twice");
      }
      out.tokens.push_back(uri);
    }
    if (out.tokens.size() < 2) {
      return settingError(
          "pkcs11.tokens", **tokens,
          "a cluster needs at least two token URIs; for one token use pkcs11.token");
    }
  }
  auto wrap = in.value("pkcs11.wrap_key");
  if (!wrap) return wrap.status();
  if (*wrap) {
    KC_RETURN_IF_ERROR(checkKeyUri("pkcs11.wrap_key", **wrap, true));
    out.wrapKey = (*wrap)->text;
  }

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
  KC_RETURN_IF_ERROR(in.string("audit.archive_command", out.archiveCommand));
  KC_RETURN_IF_ERROR(in.number("audit.refusals_per_client", out.refusalsPerClient, 0, 1000000));
  KC_RETURN_IF_ERROR(in.number("audit.refusals_total", out.refusalsTotal, 0, 100000000));
  KC_RETURN_IF_ERROR(in.seconds("audit.refusal_interval_s", out.refusalInterval, 1, 86400));
  return Status::ok();
}

Status readLog(const Reader& in, LogSettings& out) {
  auto level = in.value("log.level");
  if (!level) return level.status();
  if (*level) {
    static const std::set<std::string, std::less<>> kLevels = {
        "none", "fatal", "critical", "error", "warning", "notice", "information", "debug", "trace"};
    const std::string text = toLower((*level)->text);
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
    const std::string text = toLower((*format)->text);
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

// "<key> (<where it came from>): <problem>", for a check across several settings.
Status originError(const SettingOrigins& origins, std::string_view key,
                   const std::string& problem) {
  const std::string origin = settingOrigin(origins, key);
  return {StatusCode::kInvalidArgument, std::string(key) + " (" + origin + "): " + problem};
}

std::string_view providerName(storage::StoreBackend provider) {
  switch (provider) {
    case storage::StoreBackend::kSqlite:
      return "sqlite";
    case storage::StoreBackend::kPostgreSql:
      return "postgresql";
    case storage::StoreBackend::kMySql:
      return "mysql";
    case storage::StoreBackend::kOdbc:
      return "odbc";
  }
  return "?";
}

// What the daemon needs beyond well-formed values: checked after the file's keys, so a typo
// in a key's name is reported as the typo rather than as the setting it failed to set.
Status checkDaemonRequirements(const DaemonConfig& config) {
  const SettingOrigins& origins = config.origins;
  if (config.tls.certificate.empty() != config.tls.privateKey.empty()) {
    const std::string_view given =
        config.tls.certificate.empty() ? "tls.private_key" : "tls.certificate";
    const std::string_view missing =
        config.tls.certificate.empty() ? "tls.certificate" : "tls.private_key";
    return originError(origins, given,
                       "TLS needs both tls.certificate and tls.private_key; " +
                           std::string(missing) + " is not set");
  }
  if (!config.tls.caChain.empty() && !config.tls.enabled()) {
    return originError(origins, "tls.ca_chain",
                       "set only with tls.certificate and tls.private_key");
  }
  if (config.identity.serverUri.empty() && config.identity.jwksFile.empty()) {
    return missingError(
        "identity.server_uri",
        "required (the identity server's URL, or KC_IDENTITY_SERVER_URI, or "
        "keyConnectorSettings__identityServerUri) unless identity.jwks_file is set");
  }
  if (!config.identity.jwksUri.empty() && !config.identity.jwksFile.empty()) {
    return originError(origins, "identity.jwks_uri",
                       "give identity.jwks_uri or identity.jwks_file, not both");
  }
  if (config.database.provider != storage::StoreBackend::kSqlite &&
      config.database.connectionString.empty()) {
    return missingError("database.connection_string",
                        "required when database.provider is " +
                            std::string(providerName(config.database.provider)) + " (from " +
                            origins.find("database.provider")->second + ")");
  }
  std::error_code error;
  if (config.pkcs11.module.find('/') != std::string::npos &&
      !fs::is_regular_file(config.pkcs11.module, error)) {
    return originError(origins, "pkcs11.module", "no such file: " + config.pkcs11.module);
  }
  if (config.pkcs11.wrapKey.empty()) {
    return missingError("pkcs11.wrap_key",
                        "required: the PKCS#11 URI of the wrapping key (e.g. "
                        "pkcs11:token=kc;object=kc-wrap)");
  }
  return Status::ok();
}

Result<DaemonConfig> readDaemonConfig(Sources& sources, const fs::path& baseDir) {
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
  KC_RETURN_IF_ERROR(in.checkFileKeysWereRead());
  config.origins = in.origins();
  KC_RETURN_IF_ERROR(checkDaemonRequirements(config));
  return config;
}

Result<TokenConfig> readTokenConfig(const Sources& sources, const fs::path& baseDir) {
  const Reader in(sources, baseDir);
  TokenConfig config;
  config.baseDir = baseDir;
  std::size_t workers = ServerSettings{}.workers;
  KC_RETURN_IF_ERROR(in.number("server.workers", workers, 1, 1024));
  KC_RETURN_IF_ERROR(readPkcs11(in, workers, config.pkcs11));
  KC_RETURN_IF_ERROR(
      in.boolean("policy.allow_noncompliant_key", config.policy.allowNoncompliantKey));
  config.origins = in.origins();
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

Result<std::map<std::string, std::string, std::less<>>> readProperties(std::istream& input,
                                                                       const std::string& origin) {
  std::map<std::string, std::string, std::less<>> values;
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

// The file (when given) and the environment, with the reference layer added.
struct LoadedSources {
  Sources sources;
  fs::path configFile;  // absolute; empty when none was given
  fs::path baseDir;     // the file's directory, else the working directory
};

Result<LoadedSources> loadSources(const std::optional<fs::path>& file,
                                  const Environment& environment, ConfigLayers layers) {
  std::error_code error;
  if (!file) {
    LoadedSources out{Sources(environment, "(none)", {}), {}, fs::current_path(error)};
    if (layers == ConfigLayers::kAll) KC_RETURN_IF_ERROR(config::addReferenceSettings(out.sources));
    return out;
  }
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
  auto values = readProperties(input, absolute.string());
  if (!values) return values.status();
  LoadedSources out{Sources(environment, absolute.string(), std::move(*values)), absolute,
                    absolute.parent_path()};
  if (layers == ConfigLayers::kAll) KC_RETURN_IF_ERROR(config::addReferenceSettings(out.sources));
  return out;
}

}  // namespace

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
  Sources sources(environment, origin, std::move(*values));
  KC_RETURN_IF_ERROR(config::addReferenceSettings(sources));
  return readDaemonConfig(sources, baseDir);
}

Result<DaemonConfig> loadDaemonConfig(const std::optional<fs::path>& file,
                                      const Environment& environment, ConfigLayers layers) {
  auto loaded = loadSources(file, environment, layers);
  if (!loaded) return loaded.status();
  auto config = readDaemonConfig(loaded->sources, loaded->baseDir);
  if (!config) return config.status();
  config->configFile = loaded->configFile;
  return config;
}

Result<TokenConfig> loadTokenConfig(const std::optional<fs::path>& file,
                                    const Environment& environment, ConfigLayers layers) {
  auto loaded = loadSources(file, environment, layers);
  if (!loaded) return loaded.status();
  auto config = readTokenConfig(loaded->sources, loaded->baseDir);
  if (!config) return config.status();
  config->configFile = loaded->configFile;
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

pkcs11::PinSource pinSourceFrom(const Pkcs11Settings& settings) {
  return settings.pinFile.empty() ? pkcs11::PinSource::fromEnvironment(settings.pinEnv)
                                  : pkcs11::PinSource::fromFile(settings.pinFile);
}

pkcs11::TokenSettings tokenSettingsFrom(const Pkcs11Settings& settings) {
  pkcs11::TokenSettings out;
  out.modulePath = settings.module;
  out.initArgs = settings.initArgs;
  out.uri = settings.token.empty() ? settings.wrapKey : settings.token;
  // A cluster's tools (kc-setup) work on its first token; the daemon opens every one.
  if (!settings.tokens.empty()) out.uri = settings.tokens.front();
  if (!settings.token.empty() && settings.tokenSerialIgnoresCase) {
    out.match = pkcs11::TokenMatch::kSerialIgnoringCase;
  }
  out.pin = pinSourceFrom(settings);
  out.pool.size = settings.sessions;
  return out;
}

KeyRingSettings keyRingSettingsFrom(const DaemonConfig& config) {
  return {.currentKeyUri = config.pkcs11.wrapKey,
          .previousKeyUris = config.pkcs11.previousWrapKeys,
          .allowNoncompliantKeys = config.policy.allowNoncompliantKey};
}

}  // namespace kc::appliance
