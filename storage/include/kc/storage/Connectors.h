#pragma once
// Poco::Data's connectors (SQLite, PostgreSQL, MySQL, ODBC), registered once per process by
// whoever opens a database first: the store, or a tool reading another application's tables.

namespace kc::storage {

// Registers every connector the store's back-ends use. Thread-safe; later calls do nothing.
void registerDatabaseConnectors();

}  // namespace kc::storage
