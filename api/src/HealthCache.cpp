#include "kc/api/HealthCache.h"

#include <Poco/Logger.h>

#include "kc/api/Metrics.h"

namespace kc::api {

HealthCache::HealthCache(KeyService& keys, std::chrono::milliseconds maxAge, Metrics* metrics)
    : keys_(keys), maxAge_(maxAge), metrics_(metrics) {}

HealthReport HealthCache::report() {
  std::unique_lock lock(mutex_);
  if (last_ && Clock::now() - lastAt_ < maxAge_) return *last_;
  if (checking_) {
    const std::uint64_t awaited = generation_ + 1;
    checked_.wait(lock, [&] { return generation_ >= awaited; });
    return *last_;
  }
  checking_ = true;
  lock.unlock();
  HealthReport fresh;
  try {
    fresh = keys_.checkHealth();
  } catch (...) {
    fresh = HealthReport{};  // unhealthy, with no component to name
  }
  if (metrics_ != nullptr) metrics_->addHealthCheck();
  for (const auto& component : fresh.components) {
    if (!component.healthy) {
      Poco::Logger::get("kc.http").warning("health: " + component.name +
                                           " unhealthy: " + component.detail);
    }
  }
  lock.lock();
  last_ = fresh;
  lastAt_ = Clock::now();
  checking_ = false;
  ++generation_;
  lock.unlock();
  checked_.notify_all();
  return fresh;
}

std::uint64_t HealthCache::checks() const {
  const std::lock_guard lock(mutex_);
  return generation_;
}

}  // namespace kc::api
