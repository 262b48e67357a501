#include "kc/appliance/RefusalLimiter.h"

#include "kc/audit/AuditRecord.h"

namespace kc::appliance {

std::string RefusalSummary::detail() const {
  std::string out = "count=" + std::to_string(count) + " first=" + audit::formatTime(firstMicros) +
                    " last=" + audit::formatTime(lastMicros) + " statuses=";
  bool firstStatus = true;
  for (const auto& [status, n] : statuses) {
    if (!firstStatus) out += ',';
    firstStatus = false;
    out += std::to_string(status) + ":" + std::to_string(n);
  }
  return out;
}

bool RefusalSummary::allDenied() const {
  for (const auto& [status, n] : statuses) {
    if (status != 401 && status != 403) return false;
  }
  return true;
}

RefusalLimiter::RefusalLimiter(std::size_t perClient, std::chrono::microseconds interval,
                               std::size_t maxClients, std::size_t total)
    : perClient_(perClient), interval_(interval), maxClients_(maxClients), total_(total) {}

bool RefusalLimiter::admit(const std::string& client, unsigned httpStatus, std::int64_t nowMicros) {
  std::lock_guard lock(mutex_);
  if (!open_ || nowMicros >= windowEnd_) {
    // A new interval. Counts of an ended one that nobody took are dropped into it rather than
    // lost: they are still summarised, only later.
    open_ = true;
    windowEnd_ = nowMicros + interval_.count();
    for (auto& [name, state] : clients_) state.admitted = 0;
    admitted_ = 0;
  }
  auto it = clients_.find(client);
  if (it == clients_.end()) {
    const bool full = clients_.size() >= maxClients_;
    it = clients_.try_emplace(full ? std::string(kOverflowClient) : client).first;
  }
  Client& state = it->second;
  if (state.admitted < perClient_ && admitted_ < total_) {
    ++state.admitted;
    ++admitted_;
    return true;
  }
  RefusalSummary& beyond = state.beyond;
  if (beyond.count == 0) {
    beyond.client = it->first;
    beyond.firstMicros = nowMicros;
  }
  ++beyond.count;
  beyond.lastMicros = nowMicros;
  ++beyond.statuses[httpStatus];
  ++summarised_;
  return false;
}

std::vector<RefusalSummary> RefusalLimiter::takeEnded(std::int64_t nowMicros) {
  std::lock_guard lock(mutex_);
  if (!open_ || nowMicros < windowEnd_) return {};
  open_ = false;
  return takeLocked();
}

std::vector<RefusalSummary> RefusalLimiter::takeAll() {
  std::lock_guard lock(mutex_);
  open_ = false;
  return takeLocked();
}

std::vector<RefusalSummary> RefusalLimiter::takeLocked() {
  std::vector<RefusalSummary> out;
  for (auto& [name, state] : clients_) {
    if (state.beyond.count > 0) out.push_back(std::move(state.beyond));
  }
  clients_.clear();
  return out;
}

std::uint64_t RefusalLimiter::summarised() const {
  std::lock_guard lock(mutex_);
  return summarised_;
}

}  // namespace kc::appliance
