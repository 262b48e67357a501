#pragma once
// kc-audit, the auditors' tool: its commands (verify, head, show, export, report) and running
// them. Everything but main(), so the tests can reach the commands' specs.

#include <string>
#include <vector>

#include "kc/cli/Tool.h"

namespace kc::audit_tool {

// kc-audit's commands and exit statuses, as its --help lists them.
cli::ToolSpec kcAuditTool();

// Runs kc-audit with `args` (argv without the program name) and returns its exit status:
// 0 intact (or done), 1 verification failed, 2 usage or I/O error.
int runKcAudit(const std::vector<std::string>& args);

}  // namespace kc::audit_tool
