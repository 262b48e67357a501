#pragma once
// What the reference reader's files share and nothing else needs.

#include <optional>
#include <string_view>

#include "kc/SecretBytes.h"
#include "kc/provisioning/BitwardenImport.h"

namespace kc::provisioning {

// A row from its stored texts: `key` empty means NULL (or empty, equally unusable), a date
// empty means NULL. Fills `problem` for the first thing wrong, naming `where` (a table or file),
// the id and the column.
ReferenceUserKeyRow makeReferenceRow(std::string_view where, std::string id, std::string key,
                                     std::string_view creationDate, std::string_view revisionDate,
                                     std::string_view lastAccessDate);

// The JSON file and the SQL databases behind ReferenceDeployment::open.
Result<std::unique_ptr<ReferenceDeployment>> openJsonDeployment(const ReferenceSource& source);
Result<std::unique_ptr<ReferenceDeployment>> openSqlDeployment(const ReferenceSource& source);

inline constexpr std::size_t kMaxReferencePageRows = 10000;

}  // namespace kc::provisioning
