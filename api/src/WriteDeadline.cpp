#include "WriteDeadline.h"

#include <Poco/Net/StreamSocket.h>
#include <sys/socket.h>

#include <condition_variable>
#include <map>
#include <mutex>
#include <set>
#include <thread>

#include "ConnectionSocket.h"
#include "kc/ThreadName.h"

namespace kc::api {
namespace {

using Clock = std::chrono::steady_clock;

// The armed deadlines and the thread that enforces them. A socket is shut down only while
// its deadline is armed, under the lock its disarming takes, so the thread never touches a
// descriptor the connection has closed (and the system may have reused).
class DeadlineWatch {
 public:
  static DeadlineWatch& instance() {
    static DeadlineWatch watch;
    return watch;
  }

  std::uint64_t arm(int fd, Clock::time_point deadline) {
    const std::lock_guard lock(mutex_);
    if (!thread_.joinable())
      thread_ = std::thread([this] {
        nameThisThread("kc-write-limit");
        run();
      });
    const std::uint64_t ticket = ++lastTicket_;
    armed_.emplace(ticket, Entry{fd, deadline});
    // Every answer arms one: the thread is woken only when it would sleep past this deadline
    // (nothing armed, or an earlier timeout), not once per answer.
    if (deadline < looksBy_) changed_.notify_one();
    return ticket;
  }

  void disarm(std::uint64_t ticket) {
    const std::lock_guard lock(mutex_);
    armed_.erase(ticket);
    expired_.erase(ticket);
  }

  bool expired(std::uint64_t ticket) const {
    const std::lock_guard lock(mutex_);
    return expired_.contains(ticket);
  }

  ~DeadlineWatch() {
    {
      const std::lock_guard lock(mutex_);
      stopping_ = true;
    }
    changed_.notify_one();
    if (thread_.joinable()) thread_.join();
  }

 private:
  struct Entry {
    int fd;
    Clock::time_point deadline;
  };

  DeadlineWatch() = default;

  void run() {
    std::unique_lock lock(mutex_);
    while (!stopping_) {
      Clock::time_point next = Clock::time_point::max();
      const auto now = Clock::now();
      for (auto it = armed_.begin(); it != armed_.end();) {
        if (it->second.deadline <= now) {
          ::shutdown(it->second.fd, SHUT_RDWR);
          expired_.insert(it->first);
          it = armed_.erase(it);
        } else {
          next = std::min(next, it->second.deadline);
          ++it;
        }
      }
      looksBy_ = next;
      if (next == Clock::time_point::max()) {
        changed_.wait(lock);
      } else {
        changed_.wait_until(lock, next);
      }
    }
  }

  mutable std::mutex mutex_;
  std::condition_variable changed_;
  std::map<std::uint64_t, Entry> armed_;  // guarded by mutex_
  std::set<std::uint64_t> expired_;       // guarded by mutex_: shut down, not yet disarmed
  std::uint64_t lastTicket_ = 0;          // guarded by mutex_
  // guarded by mutex_: when the thread next looks at armed_ unprompted (min() until it first
  // waits: it looks at armed_ when it starts)
  Clock::time_point looksBy_ = Clock::time_point::min();
  bool stopping_ = false;  // guarded by mutex_
  std::thread thread_;     // started by the first arm(), under mutex_
};

}  // namespace

WriteDeadline::WriteDeadline(Poco::Net::HTTPServerRequest& request, std::chrono::seconds timeout) {
  auto* socket = connectionOf(request);
  if (socket == nullptr) return;
  const int fd = socket->impl()->sockfd();
  if (fd < 0) return;
  ticket_ = DeadlineWatch::instance().arm(fd, Clock::now() + timeout);
}

WriteDeadline::~WriteDeadline() {
  if (ticket_ != 0) DeadlineWatch::instance().disarm(ticket_);
}

bool WriteDeadline::expired() const {
  return ticket_ != 0 && DeadlineWatch::instance().expired(ticket_);
}

}  // namespace kc::api
