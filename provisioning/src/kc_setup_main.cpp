// kc-setup: the security team's tool to provision the token and the keys the daemon uses.
//
//   kc-setup <group> <command> [flags]      e.g. kc-setup key generate --purpose wrap ...
//
// Exit codes: 0 ok, 1 refused by policy (status: needs attention), 2 usage or token error;
// import-bitwarden also 3 (some users not imported) and 4 (interrupted).

#include <algorithm>
#include <exception>
#include <iostream>
#include <span>
#include <string>
#include <vector>

#include "Commands.h"

namespace {

using kc::setup::Command;
using kc::setup::ExitCode;

constexpr std::string_view kGroups[] = {"token",     "key",    "rotate",          "dev-identity",
                                        "dev-token", "status", "import-bitwarden"};

std::vector<Command> allCommands() {
  auto commands = kc::setup::tokenCommands();
  for (auto& command : kc::setup::keyCommands()) commands.push_back(std::move(command));
  for (auto& command : kc::setup::rotateCommands()) commands.push_back(std::move(command));
  for (auto& command : kc::setup::devCommands()) commands.push_back(std::move(command));
  for (auto& command : kc::setup::statusCommands()) commands.push_back(std::move(command));
  for (auto& command : kc::setup::importCommands()) commands.push_back(std::move(command));
  return commands;
}

void printToolUsage(std::ostream& out, const std::vector<Command>& commands,
                    std::string_view group = {}) {
  out << "usage: kc-setup " << (group.empty() ? "<group>" : group) << " <command> [flags]\n\n";
  if (group.empty()) {
    out << "Provisions the PKCS#11 token and the keys of the HSM Key Connector.\n\n";
  }
  out << "commands:\n";
  std::size_t width = 0;
  for (const auto& command : commands) {
    width = std::max(width, command.spec.group.size() + command.spec.name.size() + 1);
  }
  for (const auto& command : commands) {
    if (!group.empty() && command.spec.group != group) continue;
    const std::string name = command.spec.name.empty()
                                 ? command.spec.group
                                 : command.spec.group + " " + command.spec.name;
    out << "  " << name << std::string(width - name.size() + 2, ' ') << command.spec.summary
        << "\n";
  }
  out << "\nRun 'kc-setup <group> <command> --help' for a command's flags.\n"
         "PINs come from files or environment variables, never from the command line.\n"
         "Exit codes: 0 ok, 1 refused by policy (status: needs attention), 2 usage or token "
         "error\n(import-bitwarden also: 3 some users not imported, 4 interrupted).\n";
}

int usageError(const std::string& message) {
  std::cerr << "kc-setup: error: " << message << "\n";
  return static_cast<int>(ExitCode::kError);
}

int runCommand(const Command& command, std::span<const std::string> rest) {
  if (kc::setup::wantsHelp(rest)) {
    std::cout << kc::setup::commandUsage(command.spec);
    return static_cast<int>(ExitCode::kOk);
  }
  auto flags = kc::setup::parseFlags(command.spec, rest);
  if (!flags) return static_cast<int>(kc::setup::reportError(flags.status()));
  return static_cast<int>(command.run(*flags));
}

int run(const std::vector<std::string>& args) {
  const auto commands = allCommands();
  if (args.empty()) return usageError("missing command (see kc-setup --help)");
  const std::string& group = args[0];
  if (group == "--help" || group == "-h" || group == "help") {
    printToolUsage(std::cout, commands);
    return static_cast<int>(ExitCode::kOk);
  }
  if (std::find(std::begin(kGroups), std::end(kGroups), group) == std::end(kGroups)) {
    return usageError(group.starts_with("-")
                          ? "unknown flag " + group.substr(0, group.find('=')) +
                                " (see kc-setup --help)"
                          : "unknown command '" + group + "' (see kc-setup --help)");
  }
  const auto single = std::find_if(commands.begin(), commands.end(), [&](const Command& c) {
    return c.spec.group == group && c.spec.name.empty();
  });
  if (single != commands.end()) return runCommand(*single, {args.begin() + 1, args.end()});
  if (args.size() < 2 || args[1] == "--help" || args[1] == "-h") {
    if (args.size() < 2) {
      return usageError("missing command after '" + group + "' (see kc-setup " + group +
                        " --help)");
    }
    printToolUsage(std::cout, commands, group);
    return static_cast<int>(ExitCode::kOk);
  }
  const std::string& name = args[1];
  const auto command = std::find_if(commands.begin(), commands.end(), [&](const Command& c) {
    return c.spec.group == group && c.spec.name == name;
  });
  if (command == commands.end()) {
    return usageError("unknown command '" + group + " " + name + "' (see kc-setup " + group +
                      " --help)");
  }
  return runCommand(*command, {args.begin() + 2, args.end()});
}

}  // namespace

int main(int argc, char** argv) {
  try {
    return run(std::vector<std::string>(argv + 1, argv + argc));
  } catch (const std::exception& e) {
    std::cerr << "kc-setup: error: internal error: " << e.what() << "\n";
  } catch (...) {
    std::cerr << "kc-setup: error: internal error\n";
  }
  return static_cast<int>(ExitCode::kError);
}
