#include "Commands.h"

#include <algorithm>
#include <iostream>

namespace kc::setup {
namespace {

std::vector<Command> allCommands() {
  auto commands = tokenCommands();
  for (auto& command : keyCommands()) commands.push_back(std::move(command));
  for (auto& command : rotateCommands()) commands.push_back(std::move(command));
  for (auto& command : devCommands()) commands.push_back(std::move(command));
  for (auto& command : statusCommands()) commands.push_back(std::move(command));
  for (auto& command : importCommands()) commands.push_back(std::move(command));
  return commands;
}

cli::ToolSpec toolSpec(const std::vector<Command>& commands) {
  cli::ToolSpec tool{
      .name = "kc-setup",
      .summary = "Provisions the PKCS#11 token and the keys of the HSM Key Connector.",
      .description = "PINs come from files or environment variables, never from the command line.",
      .exitStatuses = {{0, "ok"},
                       {1, "refused by policy (key verify), or needs attention (status)"},
                       {2, "usage or token error"},
                       {3, "import-bitwarden: some users not imported (each is listed)"},
                       {4, "import-bitwarden: interrupted; run it again to finish"}}};
  for (const auto& command : commands) tool.commands.push_back(command.spec);
  return tool;
}

}  // namespace

cli::ToolSpec kcSetupTool() {
  return toolSpec(allCommands());
}

int runKcSetup(const std::vector<std::string>& args) {
  const auto commands = allCommands();
  const auto selection = cli::selectCommand(toolSpec(commands), args, std::cout, std::cerr);
  if (selection.exitNow) return *selection.exitNow;
  return static_cast<int>(commands[selection.command].run(selection.flags));
}

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

cli::FlagSpec module() {
  return {"--module", "PATH",
          "PKCS#11 module to load (default: pkcs11.module from --config, else "
          "/usr/lib/softhsm/libsofthsm2.so)"};
}

cli::FlagSpec initArgs() {
  return {"--init-args", "ARGS",
          "string passed in CK_C_INITIALIZE_ARGS.pReserved (NSS softokn); usually not needed"};
}

cli::FlagSpec config() {
  return {"--config", "FILE",
          "the daemon's properties file: pkcs11.* settings fill in flags not given; "
          "KC_PKCS11_* environment variables override it"};
}

cli::FlagSpec pinFile() {
  return {"--pin-file", "FILE",
          "file holding the user PIN, not readable by others (default: pkcs11.pin_file or "
          "pkcs11.pin_env from --config, else environment variable KC_PKCS11_PIN)"};
}

cli::FlagSpec pinEnv() {
  return {"--pin-env", "VAR", "environment variable holding the user PIN"};
}

}  // namespace flags
}  // namespace kc::setup
