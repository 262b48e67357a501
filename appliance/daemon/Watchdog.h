#pragma once
// systemd's watchdog (WatchdogSec=): keep-alive pings that prove the daemon's control loop —
// the loop that takes SIGTERM and SIGHUP and runs reloads — still turns, not merely that a
// timer thread exists. The loop calls Heartbeat::beat() each time round; the watchdog thread
// pings every half timeout, but only while the last beat is younger than half the timeout.
// A loop wedged for longer (a reload stuck on an unresponsive token, a deadlock) stops the
// pings, and systemd kills and restarts the service one timeout after the last one.
//
// The HTTP acceptor is Poco's thread and offers no such probe; a wedged acceptor under a live
// control loop is for /health monitoring to see.

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <mutex>
#include <thread>

#include "SystemdNotify.h"

namespace kc::daemon {

// When a loop last showed it was alive. Lock-free: beat() and age() from any thread.
class Heartbeat {
 public:
  Heartbeat() { beat(); }
  void beat();
  std::chrono::steady_clock::duration age() const;

 private:
  std::atomic<std::chrono::steady_clock::rep> last_{0};
};

class Watchdog {
 public:
  // Starts the pinging thread for a manager timeout of `timeout` (WATCHDOG_USEC).
  // `notifier` and `heartbeat` must outlive the watchdog.
  Watchdog(const SystemdNotifier& notifier, std::chrono::microseconds timeout,
           const Heartbeat& heartbeat);
  // Stops the thread and waits for it: no ping is sent after the destructor returns.
  ~Watchdog();
  Watchdog(const Watchdog&) = delete;
  Watchdog& operator=(const Watchdog&) = delete;

  // How often the watched loop must beat for the pings to continue: half the ping interval.
  std::chrono::microseconds beatInterval() const { return interval_ / 2; }

 private:
  void run();

  const SystemdNotifier& notifier_;
  const Heartbeat& heartbeat_;
  const std::chrono::microseconds
      interval_;  // half the manager's timeout, as sd_watchdog_enabled(3) advises
  std::mutex mutex_;
  std::condition_variable wake_;
  bool stopped_ = false;  // GUARDED_BY(mutex_)
  std::thread thread_;    // last: starts after every member it reads is initialised
};

}  // namespace kc::daemon
