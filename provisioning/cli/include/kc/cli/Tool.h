#pragma once
// A tool made of commands ("kc-setup token init", "kc-audit verify"): choosing the command
// from argv, the tool's own --help and --version, and usage errors, the same in every tool:
//
//   <tool>: error: <message> (see <tool> <command> --help)        exit status 2
//
// The tool's --help lists its commands with their summaries, from the same CommandSpecs the
// parser uses, in a layout help2man turns into a man page.

#include <iosfwd>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "kc/cli/CommandLine.h"

namespace kc::cli {

// The exit status of every usage error, in every tool.
inline constexpr int kUsageError = 2;

struct ToolSpec {
  std::string name;         // "kc-audit"
  std::string summary;      // one sentence, under the usage lines of the tool's --help
  std::string description;  // more paragraphs (as in CommandSpec::description); may be empty
  std::vector<CommandSpec> commands;
  std::vector<ExitStatus> exitStatuses;
};

// What a command line asked for: a command to run (its index in ToolSpec::commands and its
// parsed flags), or nothing more to do, with the exit status (help and --version printed,
// or a usage error reported).
struct Selection {
  std::optional<int> exitNow;
  std::size_t command = 0;
  ParsedFlags flags;
};

// Reads `args` (argv without the program name): "--help", "--version", "<group> --help",
// "<command> [flags] [operands]". Prints help and the version ("kc-audit 1.2.0") on `out`,
// usage errors on `err`.
Selection selectCommand(const ToolSpec& tool, std::span<const std::string> args, std::ostream& out,
                        std::ostream& err);

// The tool's --help: usage lines, summary, the commands with their summaries, the tool's
// flags, and its exit statuses. With `group`, only that group's commands.
std::string toolUsage(const ToolSpec& tool, std::string_view group = {});

// Prints "<tool>: error: <message> (see <tool> <command> --help)" on `err` (the tool's --help
// without a command) and returns kUsageError.
int reportUsageError(std::ostream& err, std::string_view tool, const CommandSpec* command,
                     std::string_view message);

}  // namespace kc::cli
