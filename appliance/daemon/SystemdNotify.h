#pragma once
// systemd's service notification protocol (sd_notify(3)) without libsystemd: each message is
// one datagram of newline-separated VARIABLE=value assignments sent to the unix socket named
// by $NOTIFY_SOCKET — a file path, or an abstract-namespace name when it starts with '@'.
// Without $NOTIFY_SOCKET (not started by systemd as Type=notify) every call does nothing.

#include <sys/types.h>

#include <chrono>
#include <optional>
#include <string>
#include <string_view>

#include "kc/Result.h"

namespace kc::daemon {

class SystemdNotifier {
 public:
  // `socketAddress` as $NOTIFY_SOCKET spells it; empty disables the notifier.
  explicit SystemdNotifier(std::string socketAddress) : address_(std::move(socketAddress)) {}
  // The notifier of $NOTIFY_SOCKET.
  static SystemdNotifier fromEnvironment();

  bool enabled() const { return !address_.empty(); }

  // The service is up: READY=1, its STATUS= line and MAINPID=<this process>.
  Status ready(std::string_view status) const;
  // A reload begins (RELOADING=1); ready() ends it.
  Status reloading(std::string_view status) const;
  // Shutdown begins (STOPPING=1).
  Status stopping(std::string_view status) const;
  // Only the one-line status `systemctl status` shows (STATUS=).
  Status status(std::string_view status) const;
  // The watchdog keep-alive (WATCHDOG=1).
  Status pingWatchdog() const;

  // Sends `assignments` ("READY=1\nSTATUS=...") as one datagram. OK when the notifier is
  // disabled; on failure the error names $NOTIFY_SOCKET and the reason, and nothing was sent.
  Status send(std::string_view assignments) const;

 private:
  std::string address_;
};

// The watchdog timeout systemd asks this process to honour: $WATCHDOG_USEC when it is a
// positive number of microseconds and $WATCHDOG_PID is unset or names `self`; nullopt
// otherwise (no watchdog, or one meant for another process).
std::optional<std::chrono::microseconds> watchdogTimeout(const char* watchdogUsec,
                                                         const char* watchdogPid, pid_t self);
// watchdogTimeout() of this process's environment.
std::optional<std::chrono::microseconds> watchdogTimeoutFromEnvironment();

}  // namespace kc::daemon
