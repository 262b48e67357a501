// The reference Key Connector's connection strings come from an operator's environment and
// hold passwords: every converter must refuse malformed input cleanly and produce well-formed
// output otherwise.

#include <cstdint>
#include <cstdlib>
#include <string>
#include <string_view>

#include "kc/appliance/ConnectionStrings.h"

namespace {

void check(const kc::Result<std::string>& out, std::string_view prefix) {
  if (!out) {
    if (out.status().code() != kc::StatusCode::kInvalidArgument) std::abort();
    return;
  }
  if (out->rfind(prefix, 0) != 0) std::abort();
  for (const char c : *out) {
    if (static_cast<unsigned char>(c) < 0x20) std::abort();  // input control chars are refused
  }
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const std::string_view text(reinterpret_cast<const char*>(data), size);
  check(kc::appliance::libpqFromNpgsql(text), "host=");
  check(kc::appliance::pocoMySqlFromConnectionString(text), "host=");
  check(kc::appliance::odbcFromSqlServer(text), "Driver={ODBC Driver 18 for SQL Server};Server=");
  auto path = kc::appliance::sqlitePathFromConnectionString(text);
  if (path && path->empty()) std::abort();
  return 0;
}
