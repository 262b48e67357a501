#pragma once
// Poco::Data's connectors (SQLite, PostgreSQL, MySQL, ODBC), registered once per process by
// whoever opens a database first: the store, or a tool reading another application's tables.

#include <string>

namespace kc::storage {

// Registers every connector the store's back-ends use. Thread-safe; later calls do nothing.
void registerDatabaseConnectors();

// The SQLite connection string opening `path` read-only, a URI ("file:<path>?mode=ro", the
// characters a URI gives a meaning to percent-encoded): a mistyped path is never created and
// the file is never written.
std::string readOnlySqliteUri(const std::string& path);

}  // namespace kc::storage
