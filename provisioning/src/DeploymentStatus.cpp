#include "DeploymentStatus.h"

#include <Poco/Exception.h>
#include <Poco/URI.h>
#include <sys/statvfs.h>

#include <fstream>
#include <set>
#include <sstream>

#include "kc/Base64.h"
#include "kc/Text.h"
#include "kc/appliance/Deployment.h"
#include "kc/audit/AuditVerifier.h"
#include "kc/audit/CheckpointSigner.h"
#include "kc/pkcs11/Module.h"
#include "kc/pkcs11/Pkcs11Uri.h"
#include "kc/pkcs11/RsaKeyPair.h"
#include "kc/pkcs11/TokenConnection.h"
#include "kc/storage/StoreInspection.h"
#include "kc/storage/UserKeyStore.h"

namespace kc::setup {
namespace {

using pkcs11::KeyPurpose;

constexpr std::uint64_t kMinimumDiskFree = 64u << 20;

std::string plural(std::size_t n, const std::string& word) {
  return std::to_string(n) + " " + word + (n == 1 ? "" : "s");
}

TokenStatus inspectToken(const appliance::DaemonConfig& config,
                         std::shared_ptr<pkcs11::SessionPool>& pool) {
  TokenStatus token;
  token.module = config.pkcs11.module;
  const pkcs11::TokenSettings settings = appliance::tokenSettingsFrom(config.pkcs11);
  auto module = pkcs11::Module::load(settings.modulePath, settings.initArgs);
  if (!module) {
    token.error = "pkcs11.module: " + module.status().message();
    return token;
  }
  const std::string uriSetting = config.pkcs11.token.empty() ? "pkcs11.wrap_key" : "pkcs11.token";
  auto uri = pkcs11::Pkcs11Uri::parse(settings.uri);
  if (!uri) {
    token.error = uriSetting + ": " + uri.status().message();
    return token;
  }
  auto slot = (*module)->findToken(*uri, settings.match);
  if (!slot) {
    token.error = uriSetting + ": " + slot.status().message();
    return token;
  }
  if (auto tokens = (*module)->tokens()) {
    for (const auto& description : *tokens) {
      if (description.slot != *slot) continue;
      token.found = true;
      token.label = description.label;
      token.serial = description.serial;
      token.manufacturer = description.manufacturer;
      token.model = description.model;
      token.sessions = description.sessionCount;
      token.maxSessions = description.maxSessionCount;
    }
  }
  auto opened = appliance::openTokenPool(config, 1);
  if (!opened) {
    token.error = opened.status().message();
    return token;
  }
  token.loggedIn = true;
  pool = *opened;
  return token;
}

// Examines one configured key; `pem` receives its public key when found.
KeyStatus inspectKey(const std::shared_ptr<pkcs11::SessionPool>& pool, std::string role,
                     std::string setting, const std::string& uriText, KeyPurpose purpose,
                     std::string* pem = nullptr) {
  KeyStatus key;
  key.role = std::move(role);
  key.setting = std::move(setting);
  key.purpose = std::string(pkcs11::keyPurposeName(purpose));
  if (!pool) {
    key.error = "not examined: the token is not reachable";
    return key;
  }
  auto uri = pkcs11::Pkcs11Uri::parse(uriText);
  if (!uri) {
    key.error = uri.status().message();
    return key;
  }
  auto found = pkcs11::RsaKeyPair::find(pool, *uri);
  if (!found) {
    key.error = (found.status().code() == StatusCode::kNotFound ? "not found: " : "") +
                found.status().message();
    return key;
  }
  key.found = true;
  key.label = found->label();
  key.id = found->idHex();
  if (auto publicKey = found->exportPublicKey()) {
    key.fingerprint = publicKey->fingerprint;
    key.bits = publicKey->modulusBits;
    if (pem) *pem = publicKey->pem;
  } else {
    key.error = publicKey.status().message();
  }
  if (auto attributes = found->readAttributes()) {
    const auto report = pkcs11::checkKeyPolicy(*attributes, purpose);
    key.violations = report.violations;
    key.warnings = report.warnings;
  } else {
    key.error = attributes.status().message();
  }
  return key;
}

DatabaseStatus inspectDatabase(const appliance::DaemonConfig& config,
                               const std::vector<KeyStatus>& keys, bool tokenReachable) {
  const storage::StoreConfig storeConfig = appliance::storeConfigFrom(config);
  DatabaseStatus database;
  database.location = databaseLocation(storeConfig);
  database.latestSchemaVersion = storage::latestSchemaVersion();
  auto inspection = storage::inspectUserKeyStore(storeConfig);
  if (!inspection) {
    database.error = inspection.status().message();
    switch (storeConfig.backend) {
      case storage::StoreBackend::kSqlite:
        database.backend = "sqlite";
        break;
      case storage::StoreBackend::kPostgreSql:
        database.backend = "postgresql";
        break;
      case storage::StoreBackend::kMySql:
        database.backend = "mysql";
        break;
      case storage::StoreBackend::kOdbc:
        database.backend = "odbc";
        break;
    }
    return database;
  }
  database.reachable = true;
  database.backend = inspection->backend;
  database.schemaVersion = inspection->schemaVersion;
  for (const auto& [keyId, count] : inspection->recordsPerWrappingKey) {
    RecordCount records{keyId, count, tokenReachable ? "unknown" : "unidentified"};
    for (const auto& key : keys) {
      if (key.found && key.purpose == "wrap" && key.id == keyId) records.role = key.role;
    }
    database.records.push_back(std::move(records));
  }
  return database;
}

std::uint64_t fileSize(const std::filesystem::path& file) {
  std::error_code error;
  const auto size = std::filesystem::file_size(file, error);
  return error ? 0 : static_cast<std::uint64_t>(size);
}

ChainStatus inspectChain(std::string name, const std::filesystem::path& file,
                         const audit::CheckpointVerifier* verifier) {
  ChainStatus chain;
  chain.name = std::move(name);
  chain.file = file;
  std::error_code error;
  if (!std::filesystem::exists(file, error)) return chain;
  chain.present = true;
  std::ifstream in(file, std::ios::binary);
  std::ostringstream contents;
  contents << in.rdbuf();
  if (!in && !in.eof()) {
    chain.error = "cannot read " + file.string();
    return chain;
  }
  chain.sizeBytes = fileSize(file);
  // A running daemon may be half-way through writing its last line: only whole lines count.
  std::string lines = contents.str();
  lines.resize(lines.rfind('\n') == std::string::npos ? 0 : lines.rfind('\n') + 1);
  const auto report = audit::readLogs({audit::LogFile{file.filename().string(), lines}});
  chain.records = report.records.size();
  chain.unreadableLines = report.errors();
  if (report.records.empty()) return chain;
  chain.lastRecordMicros = report.records.back().record.timeMicros;
  std::size_t sealedUpTo = 0;  // index after the last checkpoint
  for (std::size_t i = report.records.size(); i > 0; --i) {
    const auto& record = report.records[i - 1].record;
    if (record.operation != audit::op::kCheckpoint) continue;
    sealedUpTo = i;
    chain.lastCheckpointSeq = record.seq;
    chain.lastCheckpointMicros = record.timeMicros;
    chain.lastCheckpointSigned = !record.signature.empty();
    chain.lastCheckpointSignature = "unchecked";
    if (chain.lastCheckpointSigned && verifier) {
      const auto signature = decodeBase64(record.signature);
      const std::string message = audit::checkpointMessage(record);
      const bool valid =
          signature &&
          verifier->verify({reinterpret_cast<const std::uint8_t*>(message.data()), message.size()},
                           *signature);
      chain.lastCheckpointSignature = valid ? "valid" : "INVALID";
    }
    break;
  }
  chain.unsealed = report.records.size() - sealedUpTo;
  if (chain.unsealed > 0) chain.oldestUnsealedMicros = report.records[sealedUpTo].record.timeMicros;
  return chain;
}

AuditStatus inspectAudit(const appliance::DaemonConfig& config,
                         const audit::CheckpointVerifier* verifier) {
  AuditStatus audit;
  audit.directory = config.audit.directory;
  audit.checkpointInterval = config.audit.checkpointInterval;
  // The file system the log is (or will be) on: the directory's, or its nearest ancestor's.
  for (std::filesystem::path at = audit.directory; !at.empty(); at = at.parent_path()) {
    struct statvfs disk {};
    if (::statvfs(at.c_str(), &disk) == 0) {
      audit.diskFreeBytes = static_cast<std::uint64_t>(disk.f_bavail) * disk.f_frsize;
      break;
    }
    if (at == at.parent_path()) break;
  }
  audit.chains.push_back(inspectChain("daemon", audit.directory / "audit.log", verifier));
  audit.chains.push_back(
      inspectChain("kc-setup", audit.directory / "kc-setup" / "audit.log", verifier));
  return audit;
}

void findAttention(const appliance::DaemonConfig& config, DeploymentStatus& status,
                   std::int64_t nowMicros) {
  auto& out = status.attention;
  if (!status.token.error.empty()) out.push_back("token: " + status.token.error);
  for (const auto& key : status.keys) {
    if (!key.error.empty() && status.token.loggedIn) out.push_back(key.setting + ": " + key.error);
    if (!key.violations.empty()) {
      std::string list;
      for (const auto& violation : key.violations) list += (list.empty() ? "" : "; ") + violation;
      out.push_back(key.setting + ": key '" + key.label + "' breaks the " + key.purpose +
                    " key policy: " + list);
    }
  }
  if (config.pkcs11.auditKey.empty()) {
    out.push_back("pkcs11.audit_key is not set: audit checkpoints are not signed");
  }
  const auto& database = status.database;
  if (!database.reachable) {
    out.push_back("database: " + database.error);
  } else {
    if (database.schemaVersion < database.latestSchemaVersion) {
      out.push_back("database: schema version " + std::to_string(database.schemaVersion) +
                    " is older than version " + std::to_string(database.latestSchemaVersion) +
                    " of this build (the daemon migrates it when it starts; status does not)");
    } else if (database.schemaVersion > database.latestSchemaVersion) {
      out.push_back("database: schema version " + std::to_string(database.schemaVersion) +
                    " is newer than version " + std::to_string(database.latestSchemaVersion) +
                    " of this build; upgrade keyconnectord");
    }
    for (const auto& records : database.records) {
      if (records.role == "unknown") {
        out.push_back("database: " + plural(static_cast<std::size_t>(records.count), "record") +
                      " sealed by key " + records.keyId + ", which no configured key can open");
      }
    }
  }
  const auto& audit = status.audit;
  const std::uint64_t enough = std::max<std::uint64_t>(kMinimumDiskFree, config.audit.rotateBytes);
  if (audit.diskFreeBytes && *audit.diskFreeBytes < enough) {
    out.push_back("audit: only " + std::to_string(*audit.diskFreeBytes) + " bytes free in " +
                  audit.directory.string());
  }
  const std::int64_t staleAfter =
      2 * std::chrono::duration_cast<std::chrono::microseconds>(audit.checkpointInterval).count();
  for (const auto& chain : audit.chains) {
    const std::string name = "audit (" + chain.name + " chain, " + chain.file.string() + ")";
    if (!chain.present) {
      if (chain.name == "daemon") out.push_back(name + ": the log file is missing");
      continue;
    }
    if (!chain.error.empty()) out.push_back(name + ": " + chain.error);
    if (chain.unreadableLines > 0) {
      out.push_back(name + ": " + plural(chain.unreadableLines, "line") +
                    " that are not valid records (run kc-audit verify)");
    }
    if (chain.lastCheckpointSignature == "INVALID") {
      out.push_back(name +
                    ": the last checkpoint's signature does not verify with "
                    "pkcs11.audit_key (run kc-audit verify)");
    }
    if (staleAfter > 0 && chain.oldestUnsealedMicros &&
        nowMicros - *chain.oldestUnsealedMicros > staleAfter) {
      out.push_back(name + ": " + plural(chain.unsealed, "record") +
                    " after the last checkpoint, the oldest written " +
                    audit::formatTime(*chain.oldestUnsealedMicros) +
                    ", longer ago than twice audit.checkpoint_interval");
    }
  }
}

// The keywords of a connection string that say where the database is.
const std::set<std::string> kLocationKeywords = {"host",   "hostaddr", "server", "port",
                                                 "dbname", "database", "db"};

std::string describeUri(const std::string& text) {
  try {
    const Poco::URI uri(text);
    std::string out = "host=" + uri.getHost();
    if (uri.getPort() != 0) out += " port=" + std::to_string(uri.getPort());
    std::string path = uri.getPath();
    if (path.starts_with('/')) path.erase(0, 1);
    if (!path.empty()) out += " dbname=" + path;
    return out;
  } catch (const Poco::Exception&) {
    return "(unparsable connection URI)";
  }
}

}  // namespace

std::string databaseLocation(const storage::StoreConfig& config) {
  if (config.backend == storage::StoreBackend::kSqlite) return config.sqlitePath;
  const std::string& text = config.connectionString;
  if (text.starts_with("postgresql://") || text.starts_with("postgres://")) {
    return describeUri(text);
  }
  // libpq separates pairs by blanks, Poco's MySQL form and ODBC by ';'.
  const std::string separators =
      config.backend == storage::StoreBackend::kPostgreSql ? " \t\r\n" : ";";
  std::string out;
  std::size_t at = 0;
  const auto skip = [&](std::string_view what) {
    while (at < text.size() && what.find(text[at]) != std::string_view::npos) ++at;
  };
  while (at < text.size()) {
    skip(separators + " \t");
    const std::size_t keyStart = at;
    while (at < text.size() && text[at] != '=' && separators.find(text[at]) == std::string::npos) {
      ++at;
    }
    const std::string key = toLower(trim(std::string_view(text).substr(keyStart, at - keyStart)));
    if (at >= text.size() || text[at] != '=') continue;
    ++at;
    skip(" \t");
    std::string value;
    if (at < text.size() && (text[at] == '\'' || text[at] == '"' || text[at] == '{')) {
      const char close = text[at] == '{' ? '}' : text[at];
      for (++at; at < text.size() && text[at] != close; ++at) {
        if (text[at] == '\\' && at + 1 < text.size()) ++at;
        value += text[at];
      }
      ++at;
    } else {
      while (at < text.size() && separators.find(text[at]) == std::string::npos) {
        value += text[at++];
      }
      value = trim(value);
    }
    if (kLocationKeywords.contains(key)) out += (out.empty() ? "" : " ") + key + "=" + value;
  }
  return out.empty() ? "(no host or database named)" : out;
}

DeploymentStatus inspectDeployment(const appliance::DaemonConfig& config, std::int64_t nowMicros) {
  DeploymentStatus status;
  status.configFile = config.configFile;
  std::shared_ptr<pkcs11::SessionPool> pool;
  status.token = inspectToken(config, pool);

  status.keys.push_back(
      inspectKey(pool, "current", "pkcs11.wrap_key", config.pkcs11.wrapKey, KeyPurpose::kWrap));
  for (std::size_t i = 0; i < config.pkcs11.previousWrapKeys.size(); ++i) {
    status.keys.push_back(inspectKey(pool, "previous",
                                     "pkcs11.previous_wrap_keys[" + std::to_string(i + 1) + "]",
                                     config.pkcs11.previousWrapKeys[i], KeyPurpose::kWrap));
  }
  std::optional<audit::CheckpointVerifier> verifier;
  if (!config.pkcs11.auditKey.empty()) {
    std::string pem;
    status.keys.push_back(inspectKey(pool, "audit", "pkcs11.audit_key", config.pkcs11.auditKey,
                                     KeyPurpose::kAudit, &pem));
    if (!pem.empty()) {
      if (auto made = audit::CheckpointVerifier::fromPem(pem)) verifier = std::move(*made);
    }
  }
  status.database = inspectDatabase(config, status.keys, pool != nullptr);
  status.audit = inspectAudit(config, verifier ? &*verifier : nullptr);
  findAttention(config, status, nowMicros);
  return status;
}

}  // namespace kc::setup
