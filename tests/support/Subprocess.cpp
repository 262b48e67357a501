#include "support/Subprocess.h"

#include <arpa/inet.h>
#include <fcntl.h>
#include <gtest/gtest.h>
#include <netinet/in.h>
#include <poll.h>
#include <signal.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <array>
#include <cerrno>
#include <cstring>
#include <stdexcept>
#include <string_view>
#include <thread>

#include "support/SecretLedger.h"

extern char** environ;

namespace kc::test {
namespace {

std::vector<std::string> buildEnvironment(const ProcessOptions& options) {
  std::map<std::string, std::string> env;
  for (char** entry = environ; *entry != nullptr; ++entry) {
    std::string text(*entry);
    const auto eq = text.find('=');
    if (eq != std::string::npos) env[text.substr(0, eq)] = text.substr(eq + 1);
  }
  for (const auto& name : options.unsetEnv) env.erase(name);
  for (const auto& [name, value] : options.env) env[name] = value;
  std::vector<std::string> out;
  out.reserve(env.size());
  for (const auto& [name, value] : env) out.push_back(name + "=" + value);
  return out;
}

std::vector<char*> cStrings(std::vector<std::string>& strings) {
  std::vector<char*> out;
  for (auto& s : strings) out.push_back(s.data());
  out.push_back(nullptr);
  return out;
}

int decodeWaitStatus(int status) {
  if (WIFEXITED(status)) return WEXITSTATUS(status);
  if (WIFSIGNALED(status)) return 128 + WTERMSIG(status);
  return -1;
}

// Forks and execs; the child's fds 0/1/2 become the given descriptors (-1: /dev/null).
pid_t spawn(const std::vector<std::string>& argv, const ProcessOptions& options, int in, int out,
            int err, const std::vector<int>& closeInChild) {
  if (argv.empty()) throw std::invalid_argument("runProcess: empty argv");
  auto args = argv;
  auto envStrings = buildEnvironment(options);
  auto cArgs = cStrings(args);
  auto cEnv = cStrings(envStrings);
  const pid_t pid = fork();
  if (pid < 0) throw std::runtime_error(std::string("fork: ") + std::strerror(errno));
  if (pid == 0) {
    setpgid(0, 0);
    const int devNull = open("/dev/null", O_RDWR);
    dup2(in >= 0 ? in : devNull, 0);
    dup2(out >= 0 ? out : devNull, 1);
    dup2(err >= 0 ? err : devNull, 2);
    for (int fd : closeInChild) close(fd);
    if (!options.workingDir.empty() && chdir(options.workingDir.c_str()) != 0) _exit(126);
    environ = cEnv.data();
    execvp(cArgs[0], cArgs.data());
    _exit(127);
  }
  return pid;
}

}  // namespace

ProcessResult runProcess(const std::vector<std::string>& argv, const ProcessOptions& options) {
  int inPipe[2], outPipe[2], errPipe[2];
  if (pipe2(inPipe, O_CLOEXEC) || pipe2(outPipe, O_CLOEXEC) || pipe2(errPipe, O_CLOEXEC)) {
    throw std::runtime_error("pipe2 failed");
  }
  const pid_t pid = spawn(argv, options, inPipe[0], outPipe[1], errPipe[1], {});
  close(inPipe[0]);
  close(outPipe[1]);
  close(errPipe[1]);

  std::string input = options.stdinText.value_or("");
  std::size_t written = 0;
  if (input.empty()) {
    close(inPipe[1]);
    inPipe[1] = -1;
  } else {
    fcntl(inPipe[1], F_SETFL, O_NONBLOCK);
  }
  ProcessResult result;
  const auto deadline = std::chrono::steady_clock::now() + options.timeout;
  bool outOpen = true, errOpen = true, killed = false;
  while (outOpen || errOpen) {
    pollfd fds[3] = {{outPipe[0], POLLIN, 0}, {errPipe[0], POLLIN, 0}, {inPipe[1], POLLOUT, 0}};
    if (!outOpen) fds[0].fd = -1;
    if (!errOpen) fds[1].fd = -1;
    if (std::chrono::steady_clock::now() > deadline && !killed) {
      kill(-pid, SIGKILL);
      killed = true;
    }
    if (poll(fds, 3, 200) < 0 && errno != EINTR) break;
    char buffer[65536];
    for (int i = 0; i < 2; ++i) {
      if (fds[i].fd >= 0 && (fds[i].revents & (POLLIN | POLLHUP | POLLERR))) {
        const ssize_t n = read(fds[i].fd, buffer, sizeof buffer);
        if (n > 0) {
          (i == 0 ? result.out : result.err).append(buffer, static_cast<std::size_t>(n));
        } else if (n == 0 || errno != EINTR) {
          (i == 0 ? outOpen : errOpen) = false;
        }
      }
    }
    if (inPipe[1] >= 0 && (fds[2].revents & (POLLOUT | POLLERR | POLLHUP))) {
      const ssize_t n = write(inPipe[1], input.data() + written, input.size() - written);
      if (n > 0) written += static_cast<std::size_t>(n);
      if (n < 0 || written == input.size()) {
        close(inPipe[1]);
        inPipe[1] = -1;
      }
    }
  }
  if (inPipe[1] >= 0) close(inPipe[1]);
  close(outPipe[0]);
  close(errPipe[0]);
  int status = 0;
  waitpid(pid, &status, 0);
  result.exitCode = decodeWaitStatus(status);
  keepOutput(argv.front(), result.out + result.err);
  if (auto report = sanitizerReport(result.err)) {
    ADD_FAILURE() << argv.front() << " reported a sanitizer error:\n" << *report;
  }
  return result;
}

BackgroundProcess::BackgroundProcess(const std::vector<std::string>& argv,
                                     const std::string& logPath, const ProcessOptions& options) {
  const int log = open(logPath.c_str(), O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0600);
  if (log < 0) throw std::runtime_error("cannot open " + logPath);
  pid_ = spawn(argv, options, -1, log, log, {});
  close(log);
  // The child makes itself a group leader too; doing it here as well closes the window in
  // which the guard could find no such group.
  setpgid(pid_, pid_);
  armOrphanGuard();
}

BackgroundProcess::~BackgroundProcess() {
  stop(SIGTERM, std::chrono::seconds(10));
  disarmOrphanGuard();
}

// The pipe's write end is close-on-exec and held by this process alone, so the guard's read
// ends only when this process is gone (or disarmOrphanGuard kills the guard first).
void BackgroundProcess::armOrphanGuard() {
  int fds[2];
  if (pipe2(fds, O_CLOEXEC) != 0) {
    throw std::runtime_error(std::string("pipe2: ") + std::strerror(errno));
  }
  guardPid_ =
      spawn({"/bin/sh", "-c", "read -r line; kill -KILL -" + std::to_string(pid_) + " 2>/dev/null",
             "kc-orphan-guard"},
            {}, fds[0], -1, -1, {});
  close(fds[0]);
  guardFd_ = fds[1];
}

// Called once the program is reaped: its process-group id may be reused from then on.
void BackgroundProcess::disarmOrphanGuard() {
  if (guardPid_ <= 0) return;
  kill(guardPid_, SIGKILL);
  waitpid(guardPid_, nullptr, 0);
  close(guardFd_);
  guardPid_ = -1;
  guardFd_ = -1;
}

bool BackgroundProcess::running() {
  if (exitCode_) return false;
  int status = 0;
  const pid_t r = waitpid(pid_, &status, WNOHANG);
  if (r == pid_) {
    exitCode_ = decodeWaitStatus(status);
    disarmOrphanGuard();
    return false;
  }
  return r == 0;
}

int BackgroundProcess::stop(int signal, std::chrono::milliseconds grace) {
  if (pid_ <= 0) return -1;
  if (!running()) return *exitCode_;
  kill(pid_, signal);
  const auto deadline = std::chrono::steady_clock::now() + grace;
  while (std::chrono::steady_clock::now() < deadline) {
    if (!running()) return *exitCode_;
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
  kill(-pid_, SIGKILL);
  kill(pid_, SIGKILL);
  int status = 0;
  waitpid(pid_, &status, 0);
  exitCode_ = decodeWaitStatus(status);
  disarmOrphanGuard();
  return *exitCode_;
}

int freeLoopbackPort() {
  const int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (fd < 0) throw std::runtime_error("socket failed");
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  addr.sin_port = 0;
  if (bind(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr) != 0) {
    close(fd);
    throw std::runtime_error("bind failed");
  }
  socklen_t len = sizeof addr;
  getsockname(fd, reinterpret_cast<sockaddr*>(&addr), &len);
  close(fd);
  return ntohs(addr.sin_port);
}

std::optional<std::string> sanitizerReport(const std::string& output) {
  constexpr std::array<std::string_view, 5> kMarkers = {
      "ERROR: AddressSanitizer", "ERROR: LeakSanitizer", "WARNING: ThreadSanitizer",
      "ERROR: ThreadSanitizer", ": runtime error: "};
  std::size_t first = std::string::npos;
  for (const auto marker : kMarkers) first = std::min(first, output.find(marker));
  if (first == std::string::npos) return std::nullopt;
  const std::size_t lineStart = output.rfind('\n', first);
  return output.substr(lineStart == std::string::npos ? 0 : lineStart + 1, 8192);
}

}  // namespace kc::test
