#pragma once
// Versioned schema migrations. The applied versions are rows of kc_schema_version; pending ones
// run at start-up under a database-wide lock, so two instances starting together apply each
// migration once.

#include <Poco/Data/Session.h>

#include "Dialect.h"
#include "kc/Result.h"

namespace kc::storage {

// Brings the schema to the newest version this build knows. kConflict if the database already
// has a newer one. Throws Poco::Exception on a database error (the caller maps it).
Status migrateSchema(Poco::Data::Session& session, const Dialect& dialect);

}  // namespace kc::storage
