#pragma once
// A fixed-capacity pool of Poco::Data sessions. A caller leases one session for one operation;
// a session that failed in a way that may have broken it is discarded instead of returned, and
// one that sat idle for a while is pinged before it is handed out, so a database restart costs
// no request once the database is back.

#include <Poco/Data/Session.h>

#include <chrono>
#include <condition_variable>
#include <cstddef>
#include <functional>
#include <memory>
#include <mutex>
#include <optional>
#include <vector>

namespace kc::storage {

class SessionPool {
 public:
  // Opens and prepares one session; throws Poco::Exception when it cannot.
  using Opener = std::function<Poco::Data::Session()>;

  SessionPool(Opener opener, std::size_t capacity, std::chrono::milliseconds acquireTimeout,
              std::chrono::milliseconds validateAfterIdle);
  ~SessionPool();
  SessionPool(const SessionPool&) = delete;
  SessionPool& operator=(const SessionPool&) = delete;

  struct Entry {
    Poco::Data::Session session;
    std::chrono::steady_clock::time_point lastUsed;
  };

  // Exclusive use of one session; returns it to the pool when destroyed unless discarded.
  class Lease {
   public:
    Lease(SessionPool* pool, std::unique_ptr<Entry> entry)
        : pool_(pool), entry_(std::move(entry)) {}
    Lease(Lease&& other) noexcept = default;
    Lease& operator=(Lease&& other) noexcept;
    Lease(const Lease&) = delete;
    Lease& operator=(const Lease&) = delete;
    ~Lease();

    Poco::Data::Session& session() { return entry_->session; }
    // The session is broken or suspect: close it instead of pooling it.
    void discard() { discarded_ = true; }

   private:
    SessionPool* pool_;
    std::unique_ptr<Entry> entry_;
    bool discarded_ = false;
  };

  // A session, or empty when none became free within the acquire timeout. Throws
  // Poco::Exception when a new session had to be opened and could not be.
  std::optional<Lease> acquire();

  // Closes every idle session (after a connection failure they are most likely dead too).
  void discardIdle();

  // True when `session` answers a trivial query.
  static bool answers(Poco::Data::Session& session);

 private:
  void release(std::unique_ptr<Entry> entry, bool discard);

  Opener opener_;
  const std::size_t capacity_;
  const std::chrono::milliseconds acquireTimeout_;
  const std::chrono::milliseconds validateAfterIdle_;
  std::mutex mutex_;
  std::condition_variable available_;
  std::vector<std::unique_ptr<Entry>> idle_;
  std::size_t open_ = 0;  // idle plus leased
};

}  // namespace kc::storage
