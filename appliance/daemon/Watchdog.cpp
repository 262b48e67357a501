#include "Watchdog.h"

#include <Poco/Logger.h>

namespace kc::daemon {

void Heartbeat::beat() {
  last_.store(std::chrono::steady_clock::now().time_since_epoch().count(),
              std::memory_order_relaxed);
}

std::chrono::steady_clock::duration Heartbeat::age() const {
  const std::chrono::steady_clock::duration last(last_.load(std::memory_order_relaxed));
  return std::chrono::steady_clock::now().time_since_epoch() - last;
}

Watchdog::Watchdog(const SystemdNotifier& notifier, std::chrono::microseconds timeout,
                   const Heartbeat& heartbeat)
    : notifier_(notifier),
      heartbeat_(heartbeat),
      interval_(timeout / 2),
      thread_([this] { run(); }) {}

Watchdog::~Watchdog() {
  {
    const std::lock_guard lock(mutex_);
    stopped_ = true;
  }
  wake_.notify_all();
  thread_.join();
}

void Watchdog::run() {
  Poco::Logger& logger = Poco::Logger::get("kc.daemon");
  bool silent = false;       // pings withheld: said once, not at every interval
  bool sendFailing = false;  // the socket refuses pings: said once too
  std::unique_lock lock(mutex_);
  while (!wake_.wait_for(lock, interval_, [this] { return stopped_; })) {
    if (heartbeat_.age() > interval_) {
      if (!silent) {
        logger.error(
            "watchdog: the control loop has not turned for " +
            std::to_string(
                std::chrono::duration_cast<std::chrono::milliseconds>(heartbeat_.age()).count()) +
            " ms; keep-alive pings withheld");
      }
      silent = true;
      continue;
    }
    if (silent) logger.warning("watchdog: the control loop turns again; pings resume");
    silent = false;
    Status pinged = notifier_.pingWatchdog();
    if (!pinged.isOk() && !sendFailing) logger.warning("watchdog: " + pinged.message());
    sendFailing = !pinged.isOk();
  }
}

}  // namespace kc::daemon
