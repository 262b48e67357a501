// Fuzzes kc-audit's reader and verifier with arbitrary bytes as a log file: parsing must
// never crash, every record it accepts must serialise back to the exact line it came from,
// and verification must terminate with findings, never an exception.

#include <cstdint>
#include <cstdlib>
#include <string>

#include "kc/audit/AuditRecord.h"
#include "kc/audit/AuditVerifier.h"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const std::string bytes(reinterpret_cast<const char*>(data), size);
  const std::string_view firstLine = std::string_view(bytes).substr(0, bytes.find('\n'));
  auto record = kc::audit::parseRecord(firstLine);
  if (record && kc::audit::serialize(*record) != firstLine) std::abort();

  const auto report = kc::audit::verifyLogs({{"fuzz.log", bytes}}, nullptr);
  for (const auto& parsed : report.records) {
    if (parsed.line == 0 || parsed.hash.size() != 64) std::abort();
  }
  for (const auto& finding : report.findings) (void)finding.toString();
  return 0;
}
