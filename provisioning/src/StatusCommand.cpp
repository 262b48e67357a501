// kc-setup status: one screen on a deployment's health for the operator, or one JSON object
// for monitoring. Read-only: it logs in to the token and reads the database and the audit
// log, and changes none of them (the database is not even migrated).

#include <Poco/JSON/Array.h>
#include <Poco/JSON/Object.h>

#include <iomanip>
#include <iostream>
#include <sstream>

#include "Commands.h"
#include "DeploymentStatus.h"
#include "kc/audit/AuditRecord.h"

namespace kc::setup {
namespace {

using Rows = std::vector<std::pair<std::string, std::string>>;

std::string orUnknown(const std::optional<std::uint64_t>& value) {
  return value ? std::to_string(*value) : "unknown";
}

// Free sessions: the maximum less those open, "unlimited", or "unknown".
std::string freeSessions(const TokenStatus& token) {
  if (token.maxSessions && *token.maxSessions == 0) return "unlimited";
  if (!token.maxSessions || !token.sessions) return "unknown";
  return std::to_string(*token.maxSessions - std::min(*token.sessions, *token.maxSessions));
}

std::string bytesText(std::uint64_t bytes) {
  static constexpr const char* kUnits[] = {"B", "KiB", "MiB", "GiB", "TiB"};
  double value = static_cast<double>(bytes);
  std::size_t unit = 0;
  while (value >= 1024 && unit + 1 < std::size(kUnits)) {
    value /= 1024;
    ++unit;
  }
  std::ostringstream out;
  out << std::fixed << std::setprecision(unit == 0 ? 0 : 1) << value << " " << kUnits[unit];
  return out.str();
}

std::string roleText(const RecordCount& records) {
  if (records.role == "unknown") return "UNKNOWN key: records no configured key can open";
  if (records.role == "unidentified") return "not identified: the token is not reachable";
  return records.role;
}

void printToken(std::ostream& out, const TokenStatus& token) {
  out << "token\n";
  Rows rows = {{"module", token.module}};
  if (token.found) {
    rows.insert(rows.end(), {{"label", token.label},
                             {"serial", token.serial},
                             {"manufacturer", token.manufacturer},
                             {"model", token.model},
                             {"sessions open", orUnknown(token.sessions)},
                             {"sessions free", freeSessions(token)}});
  }
  rows.emplace_back("login", token.loggedIn ? "ok" : "FAILED: " + token.error);
  printRows(out, rows, "  ");
}

void printKeys(std::ostream& out, const std::vector<KeyStatus>& keys) {
  out << "keys\n";
  for (const auto& key : keys) {
    out << "  " << key.role << " (" << key.setting << ")\n";
    Rows rows;
    if (key.found) {
      rows = {{"label", key.label},
              {"id", key.id},
              {"bits", std::to_string(key.bits)},
              {"fingerprint", key.fingerprint}};
      std::string verdict = "compliant with the " + key.purpose + " key policy";
      if (!key.violations.empty()) verdict = "BREAKS the " + key.purpose + " key policy";
      rows.emplace_back("policy", verdict);
      for (const auto& violation : key.violations) rows.emplace_back("violation", violation);
      for (const auto& warning : key.warnings) rows.emplace_back("warning", warning);
    }
    if (!key.error.empty()) rows.emplace_back("error", key.error);
    printRows(out, rows, "    ");
  }
}

void printDatabase(std::ostream& out, const DatabaseStatus& database) {
  out << "database\n";
  Rows rows = {{"backend", database.backend}, {"location", database.location}};
  if (!database.reachable) {
    rows.emplace_back("reachable", "NO: " + database.error);
    printRows(out, rows, "  ");
    return;
  }
  rows.emplace_back("reachable", "yes");
  std::string schema = "version " + std::to_string(database.schemaVersion);
  if (database.schemaVersion < database.latestSchemaVersion) {
    schema += ", OLDER than version " + std::to_string(database.latestSchemaVersion) +
              " of this build (left unmigrated)";
  } else if (database.schemaVersion > database.latestSchemaVersion) {
    schema +=
        ", NEWER than version " + std::to_string(database.latestSchemaVersion) + " of this build";
  } else {
    schema += " (current)";
  }
  rows.emplace_back("schema", schema);
  std::int64_t total = 0;
  for (const auto& records : database.records) total += records.count;
  rows.emplace_back("records", std::to_string(total));
  printRows(out, rows, "  ");
  Rows perKey;
  for (const auto& records : database.records) {
    perKey.emplace_back(records.keyId,
                        std::to_string(records.count) + " (" + roleText(records) + ")");
  }
  printRows(out, perKey, "    ");
}

void printAudit(std::ostream& out, const AuditStatus& audit) {
  out << "audit\n";
  printRows(out,
            {{"directory", audit.directory.string()},
             {"disk free", audit.diskFreeBytes ? bytesText(*audit.diskFreeBytes) : "unknown"},
             {"checkpoint interval", std::to_string(audit.checkpointInterval.count()) + " s"}},
            "  ");
  for (const auto& chain : audit.chains) {
    out << "  " << chain.name << " chain (" << chain.file.string() << ")\n";
    if (!chain.present) {
      printRows(out, {{"log", chain.name == "daemon" ? "MISSING" : "none"}}, "    ");
      continue;
    }
    Rows rows = {{"size", bytesText(chain.sizeBytes)}, {"records", std::to_string(chain.records)}};
    if (!chain.error.empty()) rows.emplace_back("error", chain.error);
    if (chain.unreadableLines > 0) {
      rows.emplace_back("unreadable lines", std::to_string(chain.unreadableLines));
    }
    if (chain.lastRecordMicros) {
      rows.emplace_back("last record", audit::formatTime(*chain.lastRecordMicros));
    }
    if (chain.lastCheckpointSeq) {
      std::string signature = chain.lastCheckpointSigned
                                  ? "signed, signature " + chain.lastCheckpointSignature
                                  : "UNSIGNED";
      rows.emplace_back("last checkpoint",
                        "seq " + std::to_string(*chain.lastCheckpointSeq) + " at " +
                            audit::formatTime(*chain.lastCheckpointMicros) + ", " + signature);
    } else {
      rows.emplace_back("last checkpoint", "none");
    }
    std::string unsealed = std::to_string(chain.unsealed);
    if (chain.oldestUnsealedMicros) {
      unsealed += " (oldest " + audit::formatTime(*chain.oldestUnsealedMicros) + ")";
    }
    rows.emplace_back("unsealed records", unsealed);
    printRows(out, rows, "    ");
  }
}

void printStatus(std::ostream& out, const DeploymentStatus& status) {
  out << "status: "
      << (status.attention.empty()
              ? "healthy"
              : "NEEDS ATTENTION (" + std::to_string(status.attention.size()) + ")")
      << "\n";
  out << "config: " << (status.configFile.empty() ? "(none)" : status.configFile.string())
      << "\n\n";
  printToken(out, status.token);
  out << "\n";
  printKeys(out, status.keys);
  out << "\n";
  printDatabase(out, status.database);
  out << "\n";
  printAudit(out, status.audit);
  if (!status.attention.empty()) {
    out << "\nattention\n";
    for (const auto& item : status.attention) out << "  - " << item << "\n";
  }
}

using Poco::JSON::Array;
using Poco::JSON::Object;

Object::Ptr newObject() {
  return new Object(Poco::JSON_PRESERVE_KEY_ORDER);
}

template <typename T>
void setOptional(Object& object, const std::string& name, const std::optional<T>& value) {
  if (value) {
    object.set(name, *value);
  } else {
    object.set(name, Poco::Dynamic::Var());
  }
}

void setTime(Object& object, const std::string& name, const std::optional<std::int64_t>& micros) {
  if (micros) {
    object.set(name, audit::formatTime(*micros));
  } else {
    object.set(name, Poco::Dynamic::Var());
  }
}

Array::Ptr stringArray(const std::vector<std::string>& items) {
  Array::Ptr array = new Array;
  for (const auto& item : items) array->add(item);
  return array;
}

Object::Ptr statusJson(const DeploymentStatus& status) {
  Object::Ptr root = newObject();
  root->set("healthy", status.attention.empty());
  root->set("attention", stringArray(status.attention));
  root->set("config", status.configFile.string());

  const auto& t = status.token;
  Object::Ptr token = newObject();
  token->set("module", t.module);
  token->set("found", t.found);
  token->set("label", t.label);
  token->set("serial", t.serial);
  token->set("manufacturer", t.manufacturer);
  token->set("model", t.model);
  setOptional(*token, "sessionsOpen", t.sessions);
  setOptional(*token, "sessionsMax", t.maxSessions);
  token->set("sessionsFree", freeSessions(t));
  token->set("loggedIn", t.loggedIn);
  token->set("error", t.error);
  root->set("token", token);

  Array::Ptr keys = new Array;
  for (const auto& k : status.keys) {
    Object::Ptr key = newObject();
    key->set("role", k.role);
    key->set("setting", k.setting);
    key->set("purpose", k.purpose);
    key->set("found", k.found);
    key->set("label", k.label);
    key->set("id", k.id);
    key->set("bits", k.bits);
    key->set("fingerprint", k.fingerprint);
    key->set("compliant", k.found && k.violations.empty() && k.error.empty());
    key->set("violations", stringArray(k.violations));
    key->set("warnings", stringArray(k.warnings));
    key->set("error", k.error);
    keys->add(key);
  }
  root->set("keys", keys);

  const auto& d = status.database;
  Object::Ptr database = newObject();
  database->set("backend", d.backend);
  database->set("location", d.location);
  database->set("reachable", d.reachable);
  database->set("error", d.error);
  database->set("schemaVersion", d.schemaVersion);
  database->set("latestSchemaVersion", d.latestSchemaVersion);
  Array::Ptr records = new Array;
  std::int64_t total = 0;
  for (const auto& r : d.records) {
    Object::Ptr entry = newObject();
    entry->set("keyId", r.keyId);
    entry->set("count", r.count);
    entry->set("role", r.role);
    records->add(entry);
    total += r.count;
  }
  database->set("records", records);
  database->set("totalRecords", total);
  root->set("database", database);

  const auto& a = status.audit;
  Object::Ptr audit = newObject();
  audit->set("directory", a.directory.string());
  setOptional(*audit, "diskFreeBytes", a.diskFreeBytes);
  audit->set("checkpointIntervalSeconds", static_cast<std::int64_t>(a.checkpointInterval.count()));
  Array::Ptr chains = new Array;
  for (const auto& c : a.chains) {
    Object::Ptr chain = newObject();
    chain->set("name", c.name);
    chain->set("file", c.file.string());
    chain->set("present", c.present);
    chain->set("error", c.error);
    chain->set("sizeBytes", c.sizeBytes);
    chain->set("records", static_cast<std::uint64_t>(c.records));
    chain->set("unreadableLines", static_cast<std::uint64_t>(c.unreadableLines));
    setTime(*chain, "lastRecordTime", c.lastRecordMicros);
    if (c.lastCheckpointSeq) {
      Object::Ptr checkpoint = newObject();
      checkpoint->set("seq", *c.lastCheckpointSeq);
      setTime(*checkpoint, "time", c.lastCheckpointMicros);
      checkpoint->set("signed", c.lastCheckpointSigned);
      checkpoint->set("signature", c.lastCheckpointSignature);
      chain->set("lastCheckpoint", checkpoint);
    } else {
      chain->set("lastCheckpoint", Poco::Dynamic::Var());
    }
    chain->set("unsealedRecords", static_cast<std::uint64_t>(c.unsealed));
    setTime(*chain, "oldestUnsealedTime", c.oldestUnsealedMicros);
    chains->add(chain);
  }
  audit->set("chains", chains);
  root->set("audit", audit);
  return root;
}

ExitCode runStatus(const cli::ParsedFlags& flags) {
  std::optional<std::filesystem::path> file;
  if (auto path = flags.value("--config")) file = *path;
  auto config = appliance::loadDaemonConfig(file, appliance::processEnvironment());
  if (!config) return reportError(config.status());
  const DeploymentStatus status = inspectDeployment(*config, audit::nowMicros());
  if (flags.has("--json")) {
    statusJson(status)->stringify(std::cout);
    std::cout << "\n";
  } else {
    printStatus(std::cout, status);
  }
  return status.attention.empty() ? ExitCode::kOk : ExitCode::kAttention;
}

}  // namespace

std::vector<Command> statusCommands() {
  Command status{
      {"status",
       "",
       "Report the deployment's health: token, keys, database and audit log.",
       "Reads the daemon's configuration as the daemon does and reports, section by section:\n"
       "the token (label, serial, manufacturer, model, sessions) and the login; every\n"
       "configured key (pkcs11.wrap_key, pkcs11.previous_wrap_keys, pkcs11.audit_key) with its\n"
       "fingerprint and policy verdict; the database (reachable, schema version, records per\n"
       "wrapping key); the audit log (last record, last checkpoint, unsealed records, disk\n"
       "free). A section that cannot be reached is reported and the others still are.\n"
       "Read-only: the database schema is never migrated. No PIN, password or connection\n"
       "string is printed.",
       {{"--config", "FILE",
         "the daemon's properties file; KC_* environment variables override it as for the "
         "daemon"},
        {"--json", "", "print one JSON object with the same facts, for monitoring"}},
       "",
       0,
       {{0, "everything is healthy"},
        {1,
         "something needs attention (a token, key or database that cannot be reached, a key "
         "that breaks its policy, records sealed by a key that is not configured, a schema "
         "older or newer than this build's, a missing audit log, an unsealed tail older than "
         "twice audit.checkpoint_interval, less than 64 MiB free)"},
        {2, "a usage or configuration error"}}},
      runStatus};
  return {std::move(status)};
}

}  // namespace kc::setup
