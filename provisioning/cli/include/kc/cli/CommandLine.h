#pragma once
// The command line of the project's tools (kc-setup, kc-audit): what a command takes, parsing
// it, and the --help text that lists it. A command is declared once, as a CommandSpec; its
// parser, its usage and its man page (help2man reads --help) all come from that declaration.
//
// Values are never echoed in errors, so a PIN typed by mistake does not end up in a terminal
// scroll-back or a CI log; flags that look like they carry a PIN are refused outright.

#include <map>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "kc/Result.h"

namespace kc::cli {

struct FlagSpec {
  std::string name;       // "--module"
  std::string valueName;  // "PATH"; empty for a switch such as --if-missing
  std::string help;
  bool repeatable = false;  // may be given more than once; every value is kept, in order
};

// One line of a command's "Exit status:" list.
struct ExitStatus {
  int code;
  std::string meaning;
};

struct CommandSpec {
  std::string group;  // "token", or a one-word command such as "verify"
  std::string name;   // "init"; empty for a one-word command
  std::string summary;
  // Printed by --help below the summary. Lines are joined into paragraphs and re-wrapped; an
  // empty line separates paragraphs, and a line that starts with a space (an example) is
  // printed as it is.
  std::string description;
  std::vector<FlagSpec> flags;
  // What follows the flags, for the usage line ("FILE..."); empty when the command takes no
  // positional arguments (then one is refused, since it is likely a misplaced value).
  std::string operands;
  std::size_t minOperands = 0;
  std::vector<ExitStatus> exitStatuses;  // empty: the tool's list applies
};

// The flags and positional arguments given to one command.
class ParsedFlags {
 public:
  // The value of `flag` (its last one if repeatable); an empty string for a given switch.
  std::optional<std::string> value(std::string_view flag) const;
  // Every value of `flag`, in the order given; empty when it was not given.
  std::vector<std::string> values(std::string_view flag) const;
  bool has(std::string_view flag) const;
  // Sets `flag` to the single value `value`, replacing any before.
  void set(std::string flag, std::string value);
  // Adds one more value of `flag`.
  void add(std::string flag, std::string value);
  const std::vector<std::string>& operands() const { return operands_; }
  void addOperand(std::string operand) { operands_.push_back(std::move(operand)); }

 private:
  std::map<std::string, std::vector<std::string>, std::less<>> values_;
  std::vector<std::string> operands_;
};

// "token init", or "verify" for a one-word command.
std::string commandName(const CommandSpec& spec);

// True when `args` asks for help: -h or --help anywhere before a "--".
bool wantsHelp(std::span<const std::string> args);

// Parses `args` (what follows the command's name) against `spec`. A flag's value follows it
// ("--key URI") or is joined by '=' ("--key=URI"); "--" ends the flags, so every argument after
// it is positional. Refuses unknown flags, a repeated flag that is not repeatable, missing or
// empty values, a value given to a switch, positional arguments the command does not take
// (or fewer than it needs), and any flag that looks like it carries a PIN. Errors are
// INVALID_ARGUMENT naming the flag but never a value.
Result<ParsedFlags> parseFlags(const CommandSpec& spec, std::span<const std::string> args);

// The --help of a command: "Usage: <tool> token init [flags]", the summary and description,
// an "Options:" list with one line per flag (value name and help, wrapped alike), and the
// command's exit statuses if it declares any.
std::string commandUsage(std::string_view tool, const CommandSpec& spec);

}  // namespace kc::cli
