// kc-audit: the auditors' tool. Verifies audit logs (hash chain, sequence, checkpoint
// signatures), filters and exports their records, and renders an HTML report.
// Exit codes: 0 intact / done, 1 verification failed, 2 usage or I/O error.

#include <exception>
#include <iostream>
#include <string>
#include <vector>

#include "AuditTool.h"

int main(int argc, char** argv) {
  try {
    return kc::audit_tool::runKcAudit(std::vector<std::string>(argv + 1, argv + argc));
  } catch (const std::exception& e) {
    std::cerr << "kc-audit: error: " << e.what() << "\n";
  } catch (...) {
    std::cerr << "kc-audit: error: internal error\n";
  }
  return 2;
}
