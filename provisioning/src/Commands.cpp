#include "Commands.h"

#include <algorithm>
#include <iostream>

namespace kc::setup {

ExitCode reportError(const Status& status) {
  std::cerr << "kc-setup: error: " << status.message() << "\n";
  return ExitCode::kError;
}

void printRows(std::ostream& out, const std::vector<std::pair<std::string, std::string>>& rows,
               const std::string& indent) {
  std::size_t width = 0;
  for (const auto& row : rows) width = std::max(width, row.first.size());
  for (const auto& [name, value] : rows) {
    out << indent << name << ":" << std::string(width - name.size() + 1, ' ') << value << "\n";
  }
}

namespace flags {

FlagSpec module() {
  return {"--module", "PATH",
          "PKCS#11 module to load (default: pkcs11.module from --config, else "
          "/usr/lib/softhsm/libsofthsm2.so)"};
}

FlagSpec initArgs() {
  return {"--init-args", "ARGS",
          "string passed in CK_C_INITIALIZE_ARGS.pReserved (NSS softokn); usually not needed"};
}

FlagSpec config() {
  return {"--config", "FILE",
          "the daemon's properties file: pkcs11.* settings fill in flags not given; "
          "KC_PKCS11_* environment variables override it"};
}

FlagSpec pinFile() {
  return {"--pin-file", "FILE",
          "file holding the user PIN, not readable by others (default: pkcs11.pin_file or "
          "pkcs11.pin_env from --config, else environment variable KC_PKCS11_PIN)"};
}

FlagSpec pinEnv() {
  return {"--pin-env", "VAR", "environment variable holding the user PIN"};
}

}  // namespace flags
}  // namespace kc::setup
