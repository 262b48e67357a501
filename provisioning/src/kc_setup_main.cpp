// kc-setup: the security team's tool to provision the token and the keys the daemon uses.
//
//   kc-setup <group> <command> [flags]      e.g. kc-setup key generate --purpose wrap ...
//
// Exit codes: 0 ok, 1 refused by policy (status: needs attention), 2 usage or token error;
// import-bitwarden also 3 (some users not imported) and 4 (interrupted).

#include <exception>
#include <iostream>
#include <string>
#include <vector>

#include "Commands.h"

int main(int argc, char** argv) {
  try {
    return kc::setup::runKcSetup(std::vector<std::string>(argv + 1, argv + argc));
  } catch (const std::exception& e) {
    std::cerr << "kc-setup: error: internal error: " << e.what() << "\n";
  } catch (...) {
    std::cerr << "kc-setup: error: internal error\n";
  }
  return static_cast<int>(kc::setup::ExitCode::kError);
}
