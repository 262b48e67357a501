#pragma once
// The daemon's configuration: one properties file (`key = value`), every key overridable by
// the environment variable KC_<KEY> (upper case, dots as underscores: database.provider ->
// KC_DATABASE_PROVIDER), and the reference Key Connector's keyConnectorSettings__* variables
// for the settings that carry over. Precedence, highest first: KC_*, the reference variables,
// the file, the default. Relative paths resolve against the config file's directory (the
// working directory when there is no file).
//
// A bad, missing or unknown setting is INVALID_ARGUMENT with one line naming the key and
// where its value came from ("server.port (environment variable KC_SERVER_PORT): ..."). A
// secret (the database connection string and the reference's connection strings) is never
// quoted in an error; the PIN is never read here at all, only where to find it.

#include <chrono>
#include <cstdint>
#include <filesystem>
#include <istream>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include "kc/Result.h"
#include "kc/api/TrustedProxies.h"
#include "kc/appliance/KeyRing.h"
#include "kc/pkcs11/TokenConnection.h"
#include "kc/storage/StoreConfig.h"

namespace kc::appliance {

struct ServerSettings {
  std::string address = "127.0.0.1";
  std::uint16_t port = 5000;
  std::size_t workers = 16;
  std::size_t maxQueued = 64;
  bool keepAlive = true;
  std::size_t maxKeepAliveRequests = 100;
  std::chrono::seconds keepAliveTimeout{15};
  std::chrono::seconds readTimeout{15};
  std::chrono::seconds writeTimeout{15};
  // The whole request head within this of its first byte (plain HTTP; kc/api/HttpFront.h).
  std::chrono::seconds headTimeout{5};
  // Open connections of one peer address (trusted proxies exempt; plain HTTP).
  std::size_t maxConnectionsPerClient = 64;
  bool metrics = true;  // serve GET /metrics (Prometheus) on the admin listener
  // GET /metrics on the API port too (existing Prometheus setups); otherwise 404 there.
  bool publicMetrics = false;
  // /health?format=json on the API port names each component's detail (module path, key
  // label, database errors, paths); otherwise only on the admin listener.
  bool publicHealthDetail = false;
  // The admin listener: /metrics and the detailed /health, plain HTTP, no CORS, no JWT.
  std::string adminAddress = "127.0.0.1";
  std::uint16_t adminPort = 5010;  // 0: no admin listener
  // server.trusted_proxies: the proxies whose X-Forwarded-For names the client; none: the peer
  // address is the client.
  api::TrustedProxies trustedProxies;
};

// TLS is on when certificate and private key are set (both or neither).
struct TlsSettings {
  std::filesystem::path certificate;  // PEM
  std::filesystem::path privateKey;   // PEM
  std::filesystem::path caChain;      // PEM, optional
  bool enabled() const { return !certificate.empty(); }
};

struct IdentitySettings {
  std::string serverUri;           // required unless jwksFile; https unless allowInsecureHttp
  std::string issuer;              // empty: the one discovery reports
  std::string jwksUri;             // the JWKS URL, trusted on any host; empty: from discovery
  std::filesystem::path jwksFile;  // air-gapped sites: a JWKS file instead of discovery
  std::filesystem::path caFile;    // PEM bundle to trust for the identity server
  bool allowInsecureHttp = false;  // http:// identity URLs, for a private network only
  std::chrono::seconds clockSkew{300};
  std::chrono::seconds jwksRefreshMinInterval{60};
};

struct WebVaultSettings {
  std::string origin;  // "https://vault.example.com"; empty: no CORS headers at all
};

struct DatabaseSettings {
  storage::StoreBackend provider = storage::StoreBackend::kSqlite;
  std::filesystem::path sqlitePath;  // default: keys.db beside the config file
  std::string connectionString;      // secret; PostgreSQL (libpq), MySQL (Poco), ODBC
  storage::OdbcDialect odbcDialect = storage::OdbcDialect::kSqlServer;
  std::size_t poolSize = 16;  // default: server.workers
};

struct Pkcs11Settings {
  std::string module = "/usr/lib/softhsm/libsofthsm2.so";
  std::string initArgs;
  std::string token;  // token URI; empty: the wrapping key's URI selects the token
  // pkcs11.tokens: the token URIs of a cluster that holds the same keys on each token (at least
  // two, each selecting exactly one token); empty: one token. Excludes `token`.
  std::vector<std::string> tokens;
  // The token's serial is matched ignoring case, as the reference Key Connector matches the
  // serial it was given (keyConnectorSettings__rsaKey__pkcs11SlotTokenSerialNumber).
  bool tokenSerialIgnoresCase = false;
  std::string wrapKey;                        // key URI, required by the daemon
  std::string auditKey;                       // key URI, optional for now
  std::filesystem::path pinFile;              // exactly one of pinFile and pinEnv is set
  std::string pinEnv;                         // default KC_PKCS11_PIN
  std::size_t sessions = 16;                  // default: server.workers
  std::vector<std::string> previousWrapKeys;  // older keys, open old records only
};

struct PolicySettings {
  bool allowNoncompliantKey = false;  // development only; the daemon warns loudly
};

// The tamper-evident audit log (always on: the daemon never releases a key unaudited).
struct AuditSettings {
  std::filesystem::path directory;  // holds audit.log and rotated files; default: audit/ beside
                                    // the config file
  std::string instance;             // the chain's name; empty: kept in <directory>/instance-id
  std::chrono::seconds checkpointInterval{60};  // 0: checkpoints only at rotation and shutdown
  std::uint64_t rotateBytes = 64u << 20;        // 0: never rotate
  bool syslog = false;                          // also copy each record to syslog
  // Run on each rotated file, "%p" its path (kc/audit/AuditArchiver.h); empty: none.
  std::string archiveCommand;
  // Refusals (401, 403, 400, 413) of one client recorded one by one per interval; the rest
  // are counted in one "key.refused.summary" record per client and interval.
  std::size_t refusalsPerClient = 20;
  // The same across all clients: a flood from many addresses is summarised beyond it.
  std::size_t refusalsTotal = 1000;
  std::chrono::seconds refusalInterval{60};
};

enum class LogFormat { kText, kJson };

struct LogSettings {
  std::string level = "information";  // a Poco::Logger level name
  LogFormat format = LogFormat::kText;
};

// Where each setting read came from, by key: "file /etc/kc/kc.properties", "environment variable
// KC_PKCS11_PIN_FILE", "environment variable keyConnectorSettings__...", or "default".
using SettingOrigins = std::map<std::string, std::string, std::less<>>;

// Where `key` came from: its entry in `origins`, else "default".
inline std::string settingOrigin(const SettingOrigins& origins, std::string_view key) {
  const auto found = origins.find(key);
  return found == origins.end() ? std::string("default") : found->second;
}

struct DaemonConfig {
  std::filesystem::path configFile;  // empty when none was given
  std::filesystem::path baseDir;     // where relative paths were resolved
  ServerSettings server;
  TlsSettings tls;
  IdentitySettings identity;
  WebVaultSettings webVault;
  DatabaseSettings database;
  Pkcs11Settings pkcs11;
  PolicySettings policy;
  AuditSettings audit;
  LogSettings log;
  SettingOrigins origins;
};

// The token's settings alone, for the tools that act on the daemon's token and keys (kc-setup):
// read from the same sources by the same rules as the daemon's, so both resolve the same module,
// token, keys and PIN source. Nothing is required here (pkcs11.wrap_key may be unset), and
// the file's other keys are neither read nor checked.
struct TokenConfig {
  std::filesystem::path configFile;  // empty when none was given
  std::filesystem::path baseDir;
  Pkcs11Settings pkcs11;
  PolicySettings policy;
  SettingOrigins origins;  // pkcs11.*, policy.* and server.workers
};

// The environment the loader reads, by name. Tests pass their own; main passes
// processEnvironment().
using Environment = std::map<std::string, std::string, std::less<>>;
Environment processEnvironment();

// Which layers a load reads. kc-setup import-bitwarden runs inside the reference deployment's
// environment, where the keyConnectorSettings__* variables describe the source it imports
// from, so it loads its destination without them.
enum class ConfigLayers { kAll, kWithoutReferenceVariables };

// Loads `file` (when given) and `environment`. INVALID_ARGUMENT, one line naming the key,
// when the file cannot be read, any value is malformed or out of range, the file holds a key
// this build does not know, or a required setting is missing (checked in that order).
Result<DaemonConfig> loadDaemonConfig(const std::optional<std::filesystem::path>& file,
                                      const Environment& environment,
                                      ConfigLayers layers = ConfigLayers::kAll);

// The same from properties text already in memory: `origin` names it in messages and
// `baseDir` anchors its relative paths. For tests and the fuzzer.
Result<DaemonConfig> parseDaemonConfig(std::istream& properties, const std::string& origin,
                                       const std::filesystem::path& baseDir,
                                       const Environment& environment);

// The token settings of `file` (when given) and `environment` (see TokenConfig). The same
// errors as loadDaemonConfig for the keys it reads.
Result<TokenConfig> loadTokenConfig(const std::optional<std::filesystem::path>& file,
                                    const Environment& environment,
                                    ConfigLayers layers = ConfigLayers::kAll);

// "KC_DATABASE_PROVIDER" for "database.provider".
std::string environmentVariableFor(std::string_view key);

// What openUserKeyStore needs.
storage::StoreConfig storeConfigFrom(const DaemonConfig& config);

// The user PIN's source: pkcs11.pin_file when it won, else the variable pkcs11.pin_env names.
pkcs11::PinSource pinSourceFrom(const Pkcs11Settings& settings);

// What connectToken needs: the module, the token (pkcs11.token, else the wrapping key's URI),
// the PIN's source and a pool of pkcs11.sessions sessions.
pkcs11::TokenSettings tokenSettingsFrom(const Pkcs11Settings& settings);

// What findKeyRing needs: pkcs11.wrap_key, pkcs11.previous_wrap_keys and
// policy.allow_noncompliant_key.
KeyRingSettings keyRingSettingsFrom(const DaemonConfig& config);

}  // namespace kc::appliance
