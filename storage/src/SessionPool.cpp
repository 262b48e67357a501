#include "SessionPool.h"

#include <Poco/Data/Statement.h>
#include <Poco/Exception.h>

namespace kc::storage {

using namespace Poco::Data::Keywords;

SessionPool::SessionPool(Opener opener, std::size_t capacity,
                         std::chrono::milliseconds acquireTimeout,
                         std::chrono::milliseconds validateAfterIdle)
    : opener_(std::move(opener)),
      capacity_(capacity == 0 ? 1 : capacity),
      acquireTimeout_(acquireTimeout),
      validateAfterIdle_(validateAfterIdle) {}

SessionPool::~SessionPool() = default;

SessionPool::Lease::~Lease() {
  if (entry_) pool_->release(std::move(entry_), discarded_);
}

SessionPool::Lease& SessionPool::Lease::operator=(Lease&& other) noexcept {
  if (this != &other) {
    if (entry_) pool_->release(std::move(entry_), discarded_);
    pool_ = other.pool_;
    entry_ = std::move(other.entry_);
    discarded_ = other.discarded_;
  }
  return *this;
}

std::optional<SessionPool::Lease> SessionPool::acquire() {
  const auto deadline = std::chrono::steady_clock::now() + acquireTimeout_;
  for (;;) {
    std::unique_ptr<Entry> entry;
    {
      std::unique_lock lock(mutex_);
      if (!available_.wait_until(lock, deadline,
                                 [&] { return !idle_.empty() || open_ < capacity_; })) {
        return std::nullopt;
      }
      if (!idle_.empty()) {
        entry = std::move(idle_.back());
        idle_.pop_back();
      } else {
        ++open_;  // reserve the slot while opening outside the lock
      }
    }
    if (!entry) {
      try {
        entry = std::make_unique<Entry>(Entry{opener_(), std::chrono::steady_clock::now()});
      } catch (...) {
        release(nullptr, true);
        throw;
      }
      return Lease(this, std::move(entry));
    }
    if (std::chrono::steady_clock::now() - entry->lastUsed < validateAfterIdle_ ||
        answers(entry->session)) {
      return Lease(this, std::move(entry));
    }
    release(std::move(entry), true);  // dead after idling: drop it and try again
  }
}

void SessionPool::discardIdle() {
  std::vector<std::unique_ptr<Entry>> dead;
  {
    std::lock_guard lock(mutex_);
    dead.swap(idle_);
    open_ -= dead.size();
  }
  available_.notify_all();
  // `dead` closes its sessions here, outside the lock.
}

bool SessionPool::answers(Poco::Data::Session& session) {
  try {
    int one = 0;
    session << "SELECT 1", into(one), now;
    return one == 1;
  } catch (...) {
    return false;
  }
}

void SessionPool::release(std::unique_ptr<Entry> entry, bool discard) {
  {
    std::lock_guard lock(mutex_);
    if (discard) {
      --open_;
    } else {
      entry->lastUsed = std::chrono::steady_clock::now();
      idle_.push_back(std::move(entry));
    }
  }
  available_.notify_one();
  // A discarded entry closes its session here, outside the lock.
}

}  // namespace kc::storage
