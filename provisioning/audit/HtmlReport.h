#pragma once
// kc-audit's HTML report: one self-contained page (inline CSS, inline SVG, no script, no
// external resource) for an auditor. Sections carry stable ids: verdict, activity,
// outcomes, top-users, refusals, integrity-failures, checkpoints.

#include <string>

#include "kc/audit/AuditVerifier.h"

namespace kc::audit {

// `report` comes from verifyLogs over `sources` (the file names, in the order given).
std::string renderHtmlReport(const VerificationReport& report,
                             const std::vector<std::string>& sources);

}  // namespace kc::audit
