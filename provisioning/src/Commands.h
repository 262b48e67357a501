#pragma once
// kc-setup's commands: each is a spec (its flags and help) and a function that runs it
// and returns the exit code. Shared pieces: the flags several commands take, error
// reporting, and aligned "name: value" output.

#include <iosfwd>
#include <string>
#include <utility>
#include <vector>

#include "CommandLine.h"
#include "kc/Result.h"

namespace kc::setup {

struct Command {
  CommandSpec spec;
  ExitCode (*run)(const ParsedFlags& flags);
};

std::vector<Command> tokenCommands();   // token init, token list
std::vector<Command> keyCommands();     // key generate, key verify, key export
std::vector<Command> devCommands();     // dev-identity, dev-token (one-word commands)
std::vector<Command> rotateCommands();  // rotate begin, promote, rewrap, retire, status
std::vector<Command> statusCommands();  // status (one word)
std::vector<Command> importCommands();  // import-bitwarden (one word)

// Prints "kc-setup: error: <message>" on stderr and returns ExitCode::kError.
ExitCode reportError(const Status& status);

// Prints each pair as "name: value" with the values aligned.
void printRows(std::ostream& out, const std::vector<std::pair<std::string, std::string>>& rows,
               const std::string& indent = "");

// Flags several commands share.
namespace flags {
FlagSpec module();
FlagSpec initArgs();
FlagSpec config();
FlagSpec pinFile();
FlagSpec pinEnv();
}  // namespace flags

}  // namespace kc::setup
