#pragma once
// Bounds the audit work a flood of refused requests can cause: the first `perClient`
// refusals of each client in each interval are recorded one by one, the rest only counted,
// and each client's count becomes one summary record (kc::audit::op::kKeyRefusedSummary)
// when the interval ends. So a client sending bad tokens costs at most perClient + 1
// records per interval, and no fsync at all beyond them. A cap on the refusals recorded one
// by one across all clients (`total`) bounds a flood from many addresses the same way: once
// it is reached in an interval, every client's further refusals are only counted.
//
// Intervals are fixed windows: one starts at the first refusal after the last one ended and
// lasts `interval`. The limiter only counts and decides; its owner writes the records (see
// AuditedKeyService). Times are passed in (microseconds since the Unix epoch), so tests
// need no clock. Thread-safe.

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <limits>
#include <map>
#include <mutex>
#include <string>
#include <vector>

namespace kc::appliance {

// The refusals of one client beyond the limit in one interval.
struct RefusalSummary {
  std::string client;
  std::uint64_t count = 0;
  std::int64_t firstMicros = 0;  // the first and last summarised refusal
  std::int64_t lastMicros = 0;
  std::map<unsigned, std::uint64_t> statuses;  // HTTP status -> refusals
  // "count=3 first=<time> last=<time> statuses=401:2,403:1" (AuditRecord.h).
  std::string detail() const;
  // Whether every refusal was a 401 or 403 (the summary's outcome is then "denied").
  bool allDenied() const;
};

class RefusalLimiter {
 public:
  // Clients beyond `maxClients` in one interval share one count under kOverflowClient, so
  // memory stays bounded when the flood comes from many addresses.
  static constexpr std::string_view kOverflowClient = "*";
  static constexpr std::size_t kMaxClients = 4096;

  // `total`: refusals recorded one by one per interval across all clients.
  RefusalLimiter(std::size_t perClient, std::chrono::microseconds interval,
                 std::size_t maxClients = kMaxClients,
                 std::size_t total = std::numeric_limits<std::size_t>::max());

  // Counts one refusal of `client`; true when it is to be recorded on its own, false when
  // it is summarised instead. A refusal after the current interval ended starts a new one:
  // call takeEnded() first so the old interval's summaries are not mixed into the new one.
  bool admit(const std::string& client, unsigned httpStatus, std::int64_t nowMicros);

  // The summaries of the interval when it ended by `nowMicros` (and starts afresh), else
  // none.
  std::vector<RefusalSummary> takeEnded(std::int64_t nowMicros);
  // The summaries of the current interval, ended or not (at shutdown).
  std::vector<RefusalSummary> takeAll();

  // Refusals summarised (not recorded on their own) since construction.
  std::uint64_t summarised() const;
  std::chrono::microseconds interval() const { return interval_; }

 private:
  struct Client {
    std::size_t admitted = 0;
    RefusalSummary beyond;
  };
  std::vector<RefusalSummary> takeLocked();

  const std::size_t perClient_;
  const std::chrono::microseconds interval_;
  const std::size_t maxClients_;
  const std::size_t total_;
  mutable std::mutex mutex_;
  std::size_t admitted_ = 0;    // GUARDED_BY(mutex_): recorded one by one this interval
  bool open_ = false;           // GUARDED_BY(mutex_): an interval is running
  std::int64_t windowEnd_ = 0;  // GUARDED_BY(mutex_)
  std::map<std::string, Client, std::less<>> clients_;  // GUARDED_BY(mutex_)
  std::uint64_t summarised_ = 0;                        // GUARDED_BY(mutex_)
};

}  // namespace kc::appliance
