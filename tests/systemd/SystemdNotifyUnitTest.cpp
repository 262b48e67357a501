// The daemon's systemd notification pieces on their own: the datagram SystemdNotifier sends to
// a path or an abstract socket, how WATCHDOG_USEC and WATCHDOG_PID are read, and the Watchdog
// that pings only while its heartbeat is fresh and never after it is destroyed.

#include <gtest/gtest.h>
#include <poll.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include <cstddef>
#include <cstring>
#include <optional>
#include <random>
#include <stdexcept>
#include <thread>

#include "SystemdNotify.h"
#include "Watchdog.h"
#include "support/TempDir.h"

namespace kc::daemon {
namespace {

using std::chrono::milliseconds;

// A bound unix datagram socket, as systemd's manager holds one.
class Receiver {
 public:
  explicit Receiver(std::string address) : address_(std::move(address)) {
    fd_ = ::socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0);
    sockaddr_un local{};
    local.sun_family = AF_UNIX;
    std::memcpy(local.sun_path, address_.data(), address_.size());
    const bool abstract = address_.front() == '@';
    if (abstract) local.sun_path[0] = '\0';
    const auto length = static_cast<socklen_t>(offsetof(sockaddr_un, sun_path) + address_.size() +
                                               (abstract ? 0 : 1));
    if (fd_ < 0 || ::bind(fd_, reinterpret_cast<const sockaddr*>(&local), length) != 0) {
      throw std::runtime_error("bind " + address_ + ": " + std::strerror(errno));
    }
  }
  ~Receiver() { ::close(fd_); }
  Receiver(const Receiver&) = delete;
  Receiver& operator=(const Receiver&) = delete;

  const std::string& address() const { return address_; }

  std::optional<std::string> receive(milliseconds timeout) {
    pollfd ready{.fd = fd_, .events = POLLIN, .revents = 0};
    if (::poll(&ready, 1, static_cast<int>(timeout.count())) <= 0) return std::nullopt;
    char buffer[4096];
    const ssize_t size = ::recv(fd_, buffer, sizeof(buffer), 0);
    if (size < 0) return std::nullopt;
    return std::string(buffer, static_cast<std::size_t>(size));
  }

  // How many messages arrive within `window`.
  int countWithin(milliseconds window) {
    const auto deadline = std::chrono::steady_clock::now() + window;
    int count = 0;
    while (true) {
      const auto left =
          std::chrono::duration_cast<milliseconds>(deadline - std::chrono::steady_clock::now());
      if (left.count() <= 0) return count;
      if (receive(left)) ++count;
    }
  }

 private:
  std::string address_;
  int fd_ = -1;
};

std::string abstractName() {
  std::random_device device;
  return "@kc-notify-unit-" + std::to_string(::getpid()) + "-" + std::to_string(device());
}

TEST(SystemdNotifier, SendsOneDatagramToASocketPath) {
  test::TempDir dir("kc-notify-unit");
  Receiver receiver((dir.path() / "notify").string());
  const SystemdNotifier notifier(receiver.address());
  ASSERT_TRUE(notifier.ready("listening on http://127.0.0.1:1").isOk());
  EXPECT_EQ(
      receiver.receive(milliseconds(1000)),
      "READY=1\nSTATUS=listening on http://127.0.0.1:1\nMAINPID=" + std::to_string(::getpid()));
}

TEST(SystemdNotifier, SendsToAnAbstractSocketWhenTheNameStartsWithAt) {
  Receiver receiver(abstractName());
  const SystemdNotifier notifier(receiver.address());
  ASSERT_TRUE(notifier.pingWatchdog().isOk());
  EXPECT_EQ(receiver.receive(milliseconds(1000)), "WATCHDOG=1");
}

TEST(SystemdNotifier, KeepsAStatusOnOneLine) {
  Receiver receiver(abstractName());
  const SystemdNotifier notifier(receiver.address());
  ASSERT_TRUE(notifier.stopping("two\nlines").isOk());
  EXPECT_EQ(receiver.receive(milliseconds(1000)), "STOPPING=1\nSTATUS=two lines");
}

TEST(SystemdNotifier, DoesNothingWithoutASocket) {
  const SystemdNotifier notifier("");
  EXPECT_FALSE(notifier.enabled());
  EXPECT_TRUE(notifier.ready("up").isOk());
}

TEST(SystemdNotifier, RefusesARelativeOrOverlongAddress) {
  EXPECT_EQ(SystemdNotifier("notify").ready("up").code(), StatusCode::kUnavailable);
  EXPECT_EQ(SystemdNotifier("/" + std::string(200, 'x')).ready("up").code(),
            StatusCode::kUnavailable);
}

TEST(SystemdNotifier, ReportsASocketNobodyListensOn) {
  test::TempDir dir("kc-notify-unit");
  const Status sent = SystemdNotifier((dir.path() / "absent").string()).ready("up");
  EXPECT_FALSE(sent.isOk());
  EXPECT_NE(sent.message().find("NOTIFY_SOCKET"), std::string::npos) << sent.message();
}

TEST(WatchdogTimeout, IsWatchdogUsecWhenThePidIsOursOrUnset) {
  EXPECT_EQ(watchdogTimeout("200000", nullptr, 42), std::chrono::microseconds(200000));
  EXPECT_EQ(watchdogTimeout("200000", "42", 42), std::chrono::microseconds(200000));
}

TEST(WatchdogTimeout, IsNoneForAnotherPidOrAMalformedValue) {
  EXPECT_EQ(watchdogTimeout("200000", "41", 42), std::nullopt);
  EXPECT_EQ(watchdogTimeout("200000", "42x", 42), std::nullopt);
  EXPECT_EQ(watchdogTimeout(nullptr, "42", 42), std::nullopt);
  EXPECT_EQ(watchdogTimeout("0", nullptr, 42), std::nullopt);
  EXPECT_EQ(watchdogTimeout("-5", nullptr, 42), std::nullopt);
  EXPECT_EQ(watchdogTimeout("2e5", nullptr, 42), std::nullopt);
}

TEST(Watchdog, PingsAtHalfTheTimeoutWhileTheHeartbeatIsFresh) {
  Receiver receiver(abstractName());
  const SystemdNotifier notifier(receiver.address());
  Heartbeat heartbeat;
  std::atomic<bool> beating{true};
  std::thread loop([&] {
    while (beating) {
      heartbeat.beat();
      std::this_thread::sleep_for(milliseconds(10));
    }
  });
  {
    const Watchdog watchdog(notifier, std::chrono::microseconds(100000), heartbeat);
    EXPECT_GE(receiver.countWithin(milliseconds(500)), 6);  // one every 50 ms: about ten
  }
  beating = false;
  loop.join();
}

TEST(Watchdog, WithholdsPingsWhileTheLoopIsStuck) {
  Receiver receiver(abstractName());
  const SystemdNotifier notifier(receiver.address());
  const Heartbeat heartbeat;  // beats once, at construction, then never again
  const Watchdog watchdog(notifier, std::chrono::microseconds(100000), heartbeat);
  receiver.countWithin(milliseconds(150));  // the beat at construction may earn a ping or two
  EXPECT_EQ(receiver.countWithin(milliseconds(400)), 0);
}

TEST(Watchdog, SendsNothingOnceDestroyed) {
  Receiver receiver(abstractName());
  const SystemdNotifier notifier(receiver.address());
  Heartbeat heartbeat;
  { const Watchdog watchdog(notifier, std::chrono::microseconds(20000), heartbeat); }
  receiver.countWithin(milliseconds(20));  // whatever was sent before the destructor returned
  heartbeat.beat();
  EXPECT_EQ(receiver.countWithin(milliseconds(200)), 0);
}

}  // namespace
}  // namespace kc::daemon
