#pragma once
// Runs programs for end-to-end tests: to completion with captured output, or in the
// background (servers) with a handle that stops them.

#include <sys/types.h>

#include <chrono>
#include <map>
#include <optional>
#include <string>
#include <vector>

namespace kc::test {

struct ProcessResult {
  int exitCode = -1;  // exit status, or 128 + signal number when killed by a signal
  std::string out;    // standard output
  std::string err;    // standard error
};

struct ProcessOptions {
  std::map<std::string, std::string> env;  // added to (or replacing in) the current environment
  std::vector<std::string> unsetEnv;       // removed from the environment
  std::optional<std::string> stdinText;    // written to standard input, then closed
  std::string workingDir;                  // empty: the current directory
  std::chrono::seconds timeout{120};       // the child is killed after this
};

// Runs argv[0] (looked up in PATH when it has no slash) and waits for it.
ProcessResult runProcess(const std::vector<std::string>& argv, const ProcessOptions& options = {});

// A program left running in the background; stopped (SIGTERM, then SIGKILL) when destroyed.
// Its standard output and error go to `logPath`. It never outlives the test process: should
// that die first (a crash, an abort, ctest's kill at a timeout), a guard kills the program's
// process group, so no database server or daemon is left running after a failed suite.
class BackgroundProcess {
 public:
  BackgroundProcess(const std::vector<std::string>& argv, const std::string& logPath,
                    const ProcessOptions& options = {});
  ~BackgroundProcess();
  BackgroundProcess(const BackgroundProcess&) = delete;
  BackgroundProcess& operator=(const BackgroundProcess&) = delete;

  pid_t pid() const { return pid_; }
  bool running();
  // Sends `signal` and waits up to `grace` for the exit; SIGKILL after that. Returns the
  // exit code as runProcess reports it.
  int stop(int signal = 15, std::chrono::milliseconds grace = std::chrono::seconds(10));

 private:
  void armOrphanGuard();
  void disarmOrphanGuard();

  pid_t pid_ = -1;
  std::optional<int> exitCode_;
  // A shell in its own process group, blocked reading a pipe whose one writer is guardFd_.
  pid_t guardPid_ = -1;
  int guardFd_ = -1;
};

// The first sanitizer report (AddressSanitizer, LeakSanitizer, UndefinedBehaviorSanitizer,
// ThreadSanitizer) in a child's output, from its first line on; nullopt when there is none.
// In a sanitizer build (KC_SANITIZE) the programs the tests run are instrumented too, and a
// report from one of them is a defect even when the test's own checks pass.
std::optional<std::string> sanitizerReport(const std::string& output);

// A TCP port on 127.0.0.1 that was free a moment ago.
int freeLoopbackPort();

}  // namespace kc::test
