#pragma once
// What kc-setup status reports: the facts of a deployment, gathered read-only through the
// daemon's own configuration (token, keys, database, audit log). Each section is gathered on
// its own, so an unreachable token or database is a finding in its section, never the end of
// the report. Nothing secret is kept here: no PIN, no password, no connection string.

#include <chrono>
#include <cstdint>
#include <filesystem>
#include <optional>
#include <string>
#include <vector>

#include "kc/appliance/Config.h"

namespace kc::setup {

struct TokenStatus {
  std::string module;  // pkcs11.module
  std::string error;   // empty when the token was found and the user logged in
  bool found = false;  // the module loaded and the configured token is present
  std::string label, serial, manufacturer, model;
  std::optional<std::uint64_t> sessions;     // open sessions, as the token reports them
  std::optional<std::uint64_t> maxSessions;  // 0: no limit
  bool loggedIn = false;
};

struct KeyStatus {
  std::string role;     // "current", "previous", "audit"
  std::string setting;  // "pkcs11.wrap_key", "pkcs11.previous_wrap_keys[2]", "pkcs11.audit_key"
  std::string purpose;  // "wrap" or "audit"
  std::string error;    // why the key could not be examined ("not found ..."); empty otherwise
  bool found = false;
  std::string label, id, fingerprint;
  unsigned bits = 0;
  std::vector<std::string> violations, warnings;  // of the purpose's policy
};

struct RecordCount {
  std::string keyId;  // the CKA_ID hex the records name
  std::int64_t count = 0;
  std::string role;  // "current", "previous", "unknown", or "unidentified" (token unreachable)
};

struct DatabaseStatus {
  std::string backend;   // "sqlite", "postgresql", ...
  std::string location;  // the SQLite file, or host/port/database: no user, no password
  std::string error;     // empty when the database answered
  bool reachable = false;
  int schemaVersion = 0;
  int latestSchemaVersion = 0;  // the newest this build knows
  std::vector<RecordCount> records;
};

struct ChainStatus {
  std::string name;  // "daemon" or "kc-setup"
  std::filesystem::path file;
  bool present = false;
  std::string error;  // an unreadable file
  std::uint64_t sizeBytes = 0;
  std::size_t records = 0;
  std::size_t unreadableLines = 0;
  std::optional<std::int64_t> lastRecordMicros;
  std::optional<std::uint64_t> lastCheckpointSeq;
  std::optional<std::int64_t> lastCheckpointMicros;
  bool lastCheckpointSigned = false;
  // "valid", "INVALID", or "unchecked" (no audit key to check it with)
  std::string lastCheckpointSignature;
  std::size_t unsealed = 0;  // records after the last checkpoint
  std::optional<std::int64_t> oldestUnsealedMicros;
};

struct AuditStatus {
  std::filesystem::path directory;
  std::optional<std::uint64_t> diskFreeBytes;  // empty when the directory cannot be examined
  std::chrono::seconds checkpointInterval{0};
  std::vector<ChainStatus> chains;
};

struct DeploymentStatus {
  std::filesystem::path configFile;
  TokenStatus token;
  std::vector<KeyStatus> keys;
  DatabaseStatus database;
  AuditStatus audit;
  // What needs the operator's attention, one sentence each; empty when all is healthy.
  std::vector<std::string> attention;
};

// Gathers every section for `config`, `nowMicros` being the time stale tails are measured
// against. Never fails: what cannot be reached is reported in its section and in `attention`.
DeploymentStatus inspectDeployment(const appliance::DaemonConfig& config, std::int64_t nowMicros);

// "host=db.example port=5432 dbname=kc" from a connection string: only the keywords naming
// where the database is (host, server, port, dbname, database, db), never a user or password.
std::string databaseLocation(const storage::StoreConfig& config);

}  // namespace kc::setup
