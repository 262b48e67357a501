#pragma once
// kc-setup's commands: each is a spec (its flags and help) and a function that runs it
// and returns the exit code. Shared pieces: the flags several commands take, error
// reporting, and aligned "name: value" output.

#include <iosfwd>
#include <string>
#include <utility>
#include <vector>

#include "kc/Result.h"
#include "kc/cli/CommandLine.h"
#include "kc/cli/Tool.h"

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

struct Command {
  cli::CommandSpec spec;
  ExitCode (*run)(const cli::ParsedFlags& flags);
};

std::vector<Command> tokenCommands();   // token init, token list
std::vector<Command> keyCommands();     // key generate, key verify, key export
std::vector<Command> devCommands();     // dev-identity, dev-token (one-word commands)
std::vector<Command> rotateCommands();  // rotate begin, promote, rewrap, retire, status
std::vector<Command> statusCommands();  // status (one word)
std::vector<Command> importCommands();  // import-bitwarden (one word)

// kc-setup's commands and exit statuses, as its --help lists them.
cli::ToolSpec kcSetupTool();

// Runs kc-setup with `args` (argv without the program name) and returns its exit code.
int runKcSetup(const std::vector<std::string>& args);

// Prints "kc-setup: error: <message>" on stderr and returns ExitCode::kError.
ExitCode reportError(const Status& status);

// Prints each pair as "name: value" with the values aligned.
void printRows(std::ostream& out, const std::vector<std::pair<std::string, std::string>>& rows,
               const std::string& indent = "");

// Flags several commands share.
namespace flags {
cli::FlagSpec module();
cli::FlagSpec initArgs();
cli::FlagSpec config();
cli::FlagSpec pinFile();
cli::FlagSpec pinEnv();
}  // namespace flags

}  // namespace kc::setup
