#include "SystemdNotify.h"

#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include <cerrno>
#include <charconv>
#include <cstddef>
#include <cstdlib>
#include <cstring>
#include <system_error>

#include "kc/FileDescriptor.h"

namespace kc::daemon {
namespace {

// A STATUS= value is one line: a newline would start another assignment.
std::string oneLine(std::string_view text) {
  std::string line(text);
  for (char& c : line) {
    if (c == '\n' || c == '\r') c = ' ';
  }
  return line;
}

template <typename Number>
std::optional<Number> parseNumber(const char* text) {
  if (text == nullptr || *text == '\0') return std::nullopt;
  const char* end = text + std::strlen(text);
  Number value{};
  auto [stop, error] = std::from_chars(text, end, value);
  if (error != std::errc() || stop != end) return std::nullopt;
  return value;
}

}  // namespace

SystemdNotifier SystemdNotifier::fromEnvironment() {
  // Safe: the only writer of our environment (PinSource::moveOutOfEnvironment) runs before
  // any other thread starts.
  const char* address = std::getenv("NOTIFY_SOCKET");  // NOLINT(concurrency-mt-unsafe)
  return SystemdNotifier(address == nullptr ? "" : address);
}

Status SystemdNotifier::ready(std::string_view status) const {
  return send("READY=1\nSTATUS=" + oneLine(status) + "\nMAINPID=" + std::to_string(::getpid()));
}

Status SystemdNotifier::reloading(std::string_view status) const {
  // MONOTONIC_USEC is what systemd 253's Type=notify-reload asks for beside RELOADING=1;
  // older managers ignore it.
  timespec now{};
  ::clock_gettime(CLOCK_MONOTONIC, &now);
  const auto usec = static_cast<long long>(now.tv_sec) * 1000000 + now.tv_nsec / 1000;
  return send("RELOADING=1\nSTATUS=" + oneLine(status) +
              "\nMONOTONIC_USEC=" + std::to_string(usec));
}

Status SystemdNotifier::stopping(std::string_view status) const {
  return send("STOPPING=1\nSTATUS=" + oneLine(status));
}

Status SystemdNotifier::status(std::string_view status) const {
  return send("STATUS=" + oneLine(status));
}

Status SystemdNotifier::pingWatchdog() const {
  return send("WATCHDOG=1");
}

Status SystemdNotifier::send(std::string_view assignments) const {
  if (!enabled()) return Status::ok();
  const auto fail = [this](const std::string& why) {
    return Status(StatusCode::kUnavailable, "NOTIFY_SOCKET (" + address_ + "): " + why);
  };

  sockaddr_un peer{};
  peer.sun_family = AF_UNIX;
  const bool abstract = address_.front() == '@';
  if (!abstract && address_.front() != '/') {
    return fail("neither an absolute path nor an @abstract socket name");
  }
  if (address_.size() >= sizeof(peer.sun_path)) return fail("the socket name is too long");
  std::memcpy(peer.sun_path, address_.data(), address_.size());
  // An abstract name is the bytes after a leading NUL, exactly as long as the address says.
  if (abstract) peer.sun_path[0] = '\0';
  const auto length = static_cast<socklen_t>(offsetof(sockaddr_un, sun_path) + address_.size() +
                                             (abstract ? 0 : 1));

  const FileDescriptor socket(::socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0));
  if (socket.get() < 0) return fail("socket: " + std::generic_category().message(errno));
  const ssize_t sent = ::sendto(socket.get(), assignments.data(), assignments.size(), MSG_NOSIGNAL,
                                reinterpret_cast<const sockaddr*>(&peer), length);
  if (sent < 0) return fail("sendto: " + std::generic_category().message(errno));
  if (static_cast<std::size_t>(sent) != assignments.size()) return fail("short datagram");
  return Status::ok();
}

std::optional<std::chrono::microseconds> watchdogTimeout(const char* watchdogUsec,
                                                         const char* watchdogPid, pid_t self) {
  const auto usec = parseNumber<std::uint64_t>(watchdogUsec);
  if (!usec || *usec == 0) return std::nullopt;
  if (watchdogPid != nullptr) {
    const auto pid = parseNumber<pid_t>(watchdogPid);
    if (!pid || *pid != self) return std::nullopt;
  }
  return std::chrono::microseconds(static_cast<std::chrono::microseconds::rep>(*usec));
}

std::optional<std::chrono::microseconds> watchdogTimeoutFromEnvironment() {
  // Safe: the only writer of our environment (PinSource::moveOutOfEnvironment) runs before
  // any other thread starts.
  return watchdogTimeout(std::getenv("WATCHDOG_USEC"),  // NOLINT(concurrency-mt-unsafe)
                         std::getenv("WATCHDOG_PID"),   // NOLINT(concurrency-mt-unsafe)
                         ::getpid());
}

}  // namespace kc::daemon
