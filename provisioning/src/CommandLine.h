#pragma once
// The command line of kc-setup: which flags a command takes, parsing them, and the usage
// text that lists them. Values are never echoed in errors, so a PIN typed by mistake does
// not end up in a terminal scroll-back or a CI log.

#include <map>
#include <optional>
#include <set>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "kc/Result.h"

namespace kc::setup {

// kc-setup's exit codes.
enum class ExitCode : int {
  kOk = 0,
  kRefusedByPolicy = 1,  // a key breaks the security policy
  kAttention = 1,        // status: something needs the operator's attention
  kError = 2,            // a usage error or a token error
  kIncomplete = 3,       // import-bitwarden: some users conflict or failed (each listed)
  kInterrupted = 4,      // import-bitwarden: stopped by a signal; run again to finish
};

struct FlagSpec {
  std::string name;       // "--module"
  std::string valueName;  // "PATH"; empty for a switch such as --if-missing
  std::string help;
};

struct CommandSpec {
  std::string group;  // "token"
  std::string name;   // "init"
  std::string summary;
  std::string description;  // paragraph printed by --help below the usage line
  std::vector<FlagSpec> flags;
};

// The flags given to one command.
class ParsedFlags {
 public:
  std::optional<std::string> value(std::string_view flag) const;
  bool has(std::string_view flag) const;
  void set(std::string flag, std::string value);

 private:
  std::map<std::string, std::string, std::less<>> values_;  // a switch has an empty value
};

// True when `args` asks for help (-h or --help anywhere).
bool wantsHelp(std::span<const std::string> args);

// Parses `args` (what follows "kc-setup <group> <command>") against `spec`. Refuses
// unknown flags, repeated flags, missing values, positional arguments and any flag that
// looks like it carries a PIN. Errors are INVALID_ARGUMENT naming the flag.
Result<ParsedFlags> parseFlags(const CommandSpec& spec, std::span<const std::string> args);

// "kc-setup token init [flags]" and one line per flag.
std::string commandUsage(const CommandSpec& spec);

}  // namespace kc::setup
