#pragma once
// The reference Key Connector's keyConnectorSettings__* environment variables, translated
// into our keys as the reference layer of the configuration (see ConfigReader.h), so an
// existing deployment's environment file keeps working.

#include "ConfigReader.h"
#include "kc/storage/StoreConfig.h"

namespace kc::appliance::config {

// Adds what the reference's variables (ReferenceVariables.h) say about the web vault, the
// identity server, the database provider and the PKCS#11 module, token, key and PIN. A variable
// that cannot carry over is recorded as the deferred error of the key it would set, so it stops
// start-up only when that key is read (and a KC_ override of the key lifts it).
// INVALID_ARGUMENT, naming the variable and what to do instead, for a setting of the reference
// with no counterpart here (transferTo), a misspelt or doubly-spelt variable.
Status addReferenceSettings(Sources& sources);

// Adds the reference's connection string for `provider`, converted to our back-end's form
// (database.sqlite_path for SQLite, else database.connection_string). Called once the
// provider is known; nothing when the reference layer was not added (addReferenceSettings).
void addReferenceConnection(Sources& sources, storage::StoreBackend provider,
                            storage::OdbcDialect dialect);

}  // namespace kc::appliance::config
