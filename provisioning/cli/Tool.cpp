#include "kc/cli/Tool.h"

#include <algorithm>
#include <ostream>

#include "kc/Version.h"

namespace kc::cli {
namespace {

bool isHelp(const std::string& arg) {
  return arg == "--help" || arg == "-h";
}

Selection exitWith(int code) {
  Selection selection;
  selection.exitNow = code;
  return selection;
}

// The command of `tool` named `group` `name`, or nullptr.
const CommandSpec* findCommand(const ToolSpec& tool, std::string_view group,
                               std::string_view name) {
  const auto it =
      std::find_if(tool.commands.begin(), tool.commands.end(),
                   [&](const CommandSpec& c) { return c.group == group && c.name == name; });
  return it == tool.commands.end() ? nullptr : &*it;
}

}  // namespace

int reportUsageError(std::ostream& err, std::string_view tool, const CommandSpec* command,
                     std::string_view message) {
  err << tool << ": error: " << message << " (see " << tool << " "
      << (command == nullptr ? std::string() : commandName(*command) + " ") << "--help)\n";
  return kUsageError;
}

Selection selectCommand(const ToolSpec& tool, std::span<const std::string> args, std::ostream& out,
                        std::ostream& err) {
  const auto fail = [&](const CommandSpec* command, const std::string& message) {
    return exitWith(reportUsageError(err, tool.name, command, message));
  };
  if (args.empty()) return fail(nullptr, "missing command");
  const std::string& group = args[0];
  if (isHelp(group) || group == "help") {
    out << toolUsage(tool);
    return exitWith(0);
  }
  if (group == "--version") {
    out << tool.name << " " << kVersion << "\n";
    return exitWith(0);
  }
  if (group.starts_with("-"))
    return fail(nullptr, "unknown flag " + group.substr(0, group.find('=')));
  const bool known = std::any_of(tool.commands.begin(), tool.commands.end(),
                                 [&](const CommandSpec& c) { return c.group == group; });
  if (!known) return fail(nullptr, "unknown command '" + group + "'");

  const CommandSpec* command = findCommand(tool, group, "");
  std::span<const std::string> rest = args.subspan(1);
  if (command == nullptr) {
    // A group of commands ("token"): the next word names one.
    const CommandSpec groupHelp{.group = group};
    if (args.size() < 2) return fail(&groupHelp, "missing command after '" + group + "'");
    if (isHelp(args[1])) {
      out << toolUsage(tool, group);
      return exitWith(0);
    }
    command = findCommand(tool, group, args[1]);
    if (command == nullptr) {
      return fail(&groupHelp, "unknown command '" + group + " " + args[1] + "'");
    }
    rest = args.subspan(2);
  }
  if (wantsHelp(rest)) {
    out << commandUsage(tool.name, *command);
    return exitWith(0);
  }
  auto flags = parseFlags(*command, rest);
  if (!flags) return fail(command, flags.status().message());
  Selection selection;
  selection.command = static_cast<std::size_t>(command - tool.commands.data());
  selection.flags = std::move(*flags);
  return selection;
}

}  // namespace kc::cli
