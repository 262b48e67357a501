#pragma once
// HealthCache: the KeyService's health report, computed at most once per `maxAge`. Every
// check touches the token and the database, so an anonymous /health must not cost one each:
// callers within `maxAge` of the last check get its report, and callers that arrive while a
// check runs wait for that one check and share its report (no thundering herd).

#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <mutex>
#include <optional>

#include "kc/api/KeyService.h"

namespace kc::api {

class Metrics;

class HealthCache {
 public:
  static constexpr std::chrono::milliseconds kDefaultMaxAge{1000};

  // `keys` and `metrics` (may be null; counts kc_health_checks_total) must outlive the cache.
  explicit HealthCache(KeyService& keys, std::chrono::milliseconds maxAge = kDefaultMaxAge,
                       Metrics* metrics = nullptr);
  HealthCache(const HealthCache&) = delete;
  HealthCache& operator=(const HealthCache&) = delete;

  // The report of a check at most `maxAge` old, or of the check running now.
  HealthReport report();

  // How many checks the KeyService was asked for since construction.
  std::uint64_t checks() const;

 private:
  using Clock = std::chrono::steady_clock;

  KeyService& keys_;
  const std::chrono::milliseconds maxAge_;
  Metrics* const metrics_;
  mutable std::mutex mutex_;
  std::condition_variable checked_;
  std::optional<HealthReport> last_;  // guarded by mutex_
  Clock::time_point lastAt_;          // guarded by mutex_: when the last check finished
  bool checking_ = false;             // guarded by mutex_: a check runs (outside the lock)
  std::uint64_t generation_ = 0;      // guarded by mutex_: checks finished
};

}  // namespace kc::api
