// keyconnectord under systemd's notification protocol, without systemd: the test binds the
// unix datagram socket a Type=notify unit's manager would, starts the real daemon with
// NOTIFY_SOCKET (and WATCHDOG_USEC / WATCHDOG_PID) pointing at it, and reads what arrives.
// Also --version and --help, which help2man turns into the man page.

#include <gtest/gtest.h>
#include <poll.h>
#include <signal.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include <cstddef>
#include <cstring>
#include <random>
#include <stdexcept>

#include "DaemonFixture.h"
#include "kc/Version.h"

namespace kc::test {
namespace {

using std::chrono::milliseconds;
using std::chrono::seconds;

// The manager's end: a bound unix datagram socket, at a path or (name starting with '@') in
// the abstract namespace, that collects every notification message.
class NotifySocket {
 public:
  // `address` as NOTIFY_SOCKET spells it.
  explicit NotifySocket(std::string address) : address_(std::move(address)) {
    fd_ = ::socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0);
    if (fd_ < 0) throw std::runtime_error("socket: " + std::string(std::strerror(errno)));
    sockaddr_un local{};
    local.sun_family = AF_UNIX;
    if (address_.size() >= sizeof(local.sun_path)) throw std::runtime_error("name too long");
    std::memcpy(local.sun_path, address_.data(), address_.size());
    const bool abstract = address_.front() == '@';
    if (abstract) local.sun_path[0] = '\0';
    const auto length = static_cast<socklen_t>(offsetof(sockaddr_un, sun_path) + address_.size() +
                                               (abstract ? 0 : 1));
    if (::bind(fd_, reinterpret_cast<const sockaddr*>(&local), length) != 0) {
      ::close(fd_);
      throw std::runtime_error("bind " + address_ + ": " + std::strerror(errno));
    }
  }
  ~NotifySocket() { ::close(fd_); }
  NotifySocket(const NotifySocket&) = delete;
  NotifySocket& operator=(const NotifySocket&) = delete;

  const std::string& address() const { return address_; }

  // Waits up to `timeout` for a message containing the line `line` ("READY=1"); every message
  // read on the way is kept in messages(). True when one arrived.
  bool waitFor(const std::string& line, milliseconds timeout) {
    const auto deadline = std::chrono::steady_clock::now() + timeout;
    while (true) {
      const auto left =
          std::chrono::duration_cast<milliseconds>(deadline - std::chrono::steady_clock::now());
      if (left.count() <= 0) return false;
      auto message = receive(left);
      if (message && hasLine(*message, line)) return true;
    }
  }

  // Reads every message arriving within `window`.
  void collect(milliseconds window) {
    const auto deadline = std::chrono::steady_clock::now() + window;
    while (true) {
      const auto left =
          std::chrono::duration_cast<milliseconds>(deadline - std::chrono::steady_clock::now());
      if (left.count() <= 0) return;
      receive(left);
    }
  }

  const std::vector<std::string>& messages() const { return messages_; }

  // How many messages so far contain `line`.
  std::size_t count(const std::string& line) const {
    std::size_t n = 0;
    for (const auto& message : messages_) n += hasLine(message, line) ? 1 : 0;
    return n;
  }
  // The index of the first message from `from` on that contains `line`, or -1.
  long indexOf(const std::string& line, std::size_t from = 0) const {
    for (std::size_t i = from; i < messages_.size(); ++i) {
      if (hasLine(messages_[i], line)) return static_cast<long>(i);
    }
    return -1;
  }
  std::string transcript() const {
    std::string out;
    for (const auto& message : messages_) out += "[" + message + "]\n";
    return out;
  }

  static bool hasLine(const std::string& message, const std::string& line) {
    std::size_t start = 0;
    while (start <= message.size()) {
      std::size_t end = message.find('\n', start);
      if (end == std::string::npos) end = message.size();
      if (message.compare(start, end - start, line) == 0) return true;
      start = end + 1;
    }
    return false;
  }

 private:
  std::optional<std::string> receive(milliseconds timeout) {
    pollfd ready{.fd = fd_, .events = POLLIN, .revents = 0};
    if (::poll(&ready, 1, static_cast<int>(timeout.count())) <= 0) return std::nullopt;
    char buffer[4096];
    const ssize_t size = ::recv(fd_, buffer, sizeof(buffer), 0);
    if (size < 0) return std::nullopt;
    messages_.emplace_back(buffer, static_cast<std::size_t>(size));
    return messages_.back();
  }

  std::string address_;
  int fd_ = -1;
  std::vector<std::string> messages_;
};

std::string uniqueName() {
  std::random_device device;
  return "kc-notify-" + std::to_string(::getpid()) + "-" + std::to_string(device());
}

// Starts the daemon through a shell that exports its own pid as WATCHDOG_PID and execs the
// daemon, as systemd sets WATCHDOG_PID to the main process's pid.
const std::vector<std::string> kWithOwnWatchdogPid = {"/bin/sh", "-c",
                                                      "export WATCHDOG_PID=$$; exec \"$0\" \"$@\""};

class SystemdNotify : public ::testing::Test {
 protected:
  TempDir dir_{"kc-e2e-notify"};
  NotifySocket socket_{(dir_.path() / "notify").string()};

  DaemonOptions notifying(std::map<std::string, std::string> env = {}) {
    DaemonOptions options;
    options.waitUntilReady = false;
    options.env = std::move(env);
    options.env["NOTIFY_SOCKET"] = socket_.address();
    return options;
  }
};

TEST_F(SystemdNotify, SendsReadyOnlyOnceTheStartUpChecksPassedAndTheListenerAnswers) {
  Daemon daemon(notifying());
  ASSERT_TRUE(socket_.waitFor("READY=1", seconds(30))) << socket_.transcript() << daemon.log();
  // Readiness means the service answers now, not in a moment.
  const auto health = daemon.get("/health");
  EXPECT_EQ(health.status, 200) << health.body;
  EXPECT_EQ(health.body, "Healthy");
  const std::string& ready = socket_.messages()[socket_.indexOf("READY=1")];
  EXPECT_TRUE(NotifySocket::hasLine(ready, "MAINPID=" + std::to_string(daemon.pid()))) << ready;
  EXPECT_NE(ready.find("STATUS=listening on http://127.0.0.1:" + std::to_string(daemon.port())),
            std::string::npos)
      << ready;
  EXPECT_EQ(socket_.count("READY=1"), 1U) << socket_.transcript();
}

TEST_F(SystemdNotify, NeverSendsReadyWhenAStartUpCheckFails) {
  writeFile(dir_.path() / "wrong.pin", "0000wrong\n");
  DaemonOptions options = notifying();
  options.config["pkcs11.pin_file"] = (dir_.path() / "wrong.pin").string();
  Daemon daemon(std::move(options));
  const auto code = daemon.waitForExit(seconds(30));
  ASSERT_TRUE(code.has_value()) << daemon.log();
  EXPECT_NE(*code, 0);
  socket_.collect(milliseconds(200));
  EXPECT_EQ(socket_.count("READY=1"), 0U) << socket_.transcript();
  // The reason, for `systemctl status`.
  ASSERT_EQ(socket_.messages().size(), 1U) << socket_.transcript();
  EXPECT_EQ(socket_.messages()[0].rfind("STATUS=failed to start: ", 0), 0U) << socket_.transcript();
  EXPECT_NE(socket_.messages()[0].find("pkcs11.pin_file"), std::string::npos)
      << socket_.transcript();
}

TEST_F(SystemdNotify, PingsTheWatchdogRepeatedlyAtHalfItsTimeout) {
  DaemonOptions options = notifying({{"WATCHDOG_USEC", "200000"}});
  options.launcher = kWithOwnWatchdogPid;
  Daemon daemon(std::move(options));
  ASSERT_TRUE(socket_.waitFor("READY=1", seconds(30))) << socket_.transcript() << daemon.log();
  const std::size_t before = socket_.count("WATCHDOG=1");
  socket_.collect(milliseconds(1000));
  // One ping every 100 ms: about ten in a second; a loaded machine may lose a few.
  EXPECT_GE(socket_.count("WATCHDOG=1") - before, 5U) << socket_.transcript();
  EXPECT_EQ(daemon.stop(SIGTERM), 0) << daemon.log();
}

TEST_F(SystemdNotify, LeavesTheWatchdogAloneWhenItIsMeantForAnotherProcess) {
  DaemonOptions options = notifying({{"WATCHDOG_USEC", "200000"}, {"WATCHDOG_PID", "1"}});
  Daemon daemon(std::move(options));
  ASSERT_TRUE(socket_.waitFor("READY=1", seconds(30))) << socket_.transcript() << daemon.log();
  socket_.collect(milliseconds(600));
  EXPECT_EQ(socket_.count("WATCHDOG=1"), 0U) << socket_.transcript();
}

TEST_F(SystemdNotify, ReportsReloadingThenReadyAroundSighup) {
  Daemon daemon(notifying());
  ASSERT_TRUE(socket_.waitFor("READY=1", seconds(30))) << socket_.transcript() << daemon.log();
  const std::size_t afterStart = socket_.messages().size();
  daemon.sendSignal(SIGHUP);
  ASSERT_TRUE(socket_.waitFor("READY=1", seconds(30))) << socket_.transcript() << daemon.log();
  const long reloading = socket_.indexOf("RELOADING=1", afterStart);
  const long ready = socket_.indexOf("READY=1", afterStart);
  ASSERT_GE(reloading, 0) << socket_.transcript();
  EXPECT_LT(reloading, ready) << socket_.transcript();
  EXPECT_EQ(daemon.get("/health").status, 200);
}

TEST_F(SystemdNotify, StatusSaysWhichPartOfAReloadFailed) {
  makeSelfSignedCertificate(dir_.path(), "kc-notify-first");
  DaemonOptions options = notifying();
  options.config = {{"tls.certificate", (dir_ / "cert.pem").string()},
                    {"tls.private_key", (dir_ / "key.pem").string()}};
  Daemon daemon(options);
  ASSERT_TRUE(socket_.waitFor("READY=1", seconds(30))) << socket_.transcript() << daemon.log();
  const std::size_t afterStart = socket_.messages().size();
  std::filesystem::create_directories(dir_ / "other");
  makeSelfSignedCertificate(dir_ / "other", "kc-notify-other");
  writeFile(dir_ / "key.pem", readFile(dir_ / "other" / "key.pem"));  // not the certificate's
  daemon.sendSignal(SIGHUP);
  ASSERT_TRUE(socket_.waitFor("READY=1", seconds(30))) << socket_.transcript() << daemon.log();
  const long ready = socket_.indexOf("READY=1", afterStart);
  ASSERT_GE(ready, 0);
  const std::string& message = socket_.messages()[static_cast<std::size_t>(ready)];
  EXPECT_NE(message.find("the last reload failed for: the TLS certificate"), std::string::npos)
      << socket_.transcript();
}

TEST_F(SystemdNotify, ReportsStoppingWhenSigtermStartsTheDrain) {
  Daemon daemon(notifying());
  ASSERT_TRUE(socket_.waitFor("READY=1", seconds(30))) << socket_.transcript() << daemon.log();
  daemon.sendSignal(SIGTERM);
  EXPECT_TRUE(socket_.waitFor("STOPPING=1", seconds(20))) << socket_.transcript();
  EXPECT_EQ(daemon.waitForExit(seconds(20)).value_or(-1), 0) << daemon.log();
}

TEST(SystemdNotifyAbstract, SendsReadyToAnAbstractNamespaceSocket) {
  NotifySocket socket("@" + uniqueName());
  DaemonOptions options;
  options.waitUntilReady = false;
  options.env["NOTIFY_SOCKET"] = socket.address();
  Daemon daemon(std::move(options));
  ASSERT_TRUE(socket.waitFor("READY=1", seconds(30))) << socket.transcript() << daemon.log();
  EXPECT_EQ(daemon.get("/health").status, 200);
}

TEST(SystemdNotifyAbsent, ServesAsBeforeWithoutANotifySocket) {
  Daemon daemon;  // NOTIFY_SOCKET unset: waits for /alive as every other test does
  EXPECT_EQ(daemon.get("/health").status, 200);
  EXPECT_EQ(daemon.stop(SIGTERM), 0) << daemon.log();
}

TEST(DaemonCommandLine, VersionPrintsTheProjectVersion) {
  const auto result = runProcess({KC_DAEMON_PATH, "--version"});
  EXPECT_EQ(result.exitCode, 0) << result.err;
  EXPECT_EQ(result.out, "keyconnectord " + std::string(kVersion) + "\n");
}

TEST(DaemonCommandLine, HelpNamesEveryOptionAndExitsZero) {
  const auto result = runProcess({KC_DAEMON_PATH, "--help"});
  EXPECT_EQ(result.exitCode, 0) << result.err;
  for (const char* option : {"--config", "--check", "--help", "--version", "READY=1"}) {
    EXPECT_NE(result.out.find(option), std::string::npos) << option << "\n" << result.out;
  }
}

}  // namespace
}  // namespace kc::test
