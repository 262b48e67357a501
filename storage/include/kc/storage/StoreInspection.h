#pragma once
// A read-only look at a user-key store, for an operator's status report (kc-setup status).
// Unlike openUserKeyStore it never migrates the schema, never creates a table or a SQLite
// file and writes nothing: a newer tool pointed at a database that older daemons still serve
// must not change it under them. SQLite is opened read-only; MySQL/MariaDB and PostgreSQL
// sessions are set read-only before the first query, so the server refuses any write too.

#include <cstdint>
#include <map>
#include <string>

#include "kc/Result.h"
#include "kc/storage/StoreConfig.h"

namespace kc::storage {

struct StoreInspection {
  std::string backend;    // as UserKeyStore::backendName(): "sqlite", "postgresql", ...
  int schemaVersion = 0;  // the newest applied migration; 0 for a database never migrated
  // Record counts by wrapping-key id; empty when there is no user-key table (version 0).
  std::map<std::string, std::int64_t> recordsPerWrappingKey;
};

// What the database `config` describes holds, read in one session. kNotFound when the SQLite
// file does not exist (it is not created); kUnavailable when the database cannot be reached or
// a query fails (the message names the back-end, never the connection string or its
// password); kInvalidArgument for a bad config. A schema newer than latestSchemaVersion() is
// reported as found, not refused.
Result<StoreInspection> inspectUserKeyStore(const StoreConfig& config);

}  // namespace kc::storage
