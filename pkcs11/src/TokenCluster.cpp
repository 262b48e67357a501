#include "kc/pkcs11/TokenCluster.h"

#include <limits>

#include "kc/ThreadName.h"

namespace kc::pkcs11 {

std::shared_ptr<TokenCluster> TokenCluster::create(std::vector<ClusterToken> tokens,
                                                   TokenClusterOptions options) {
  std::shared_ptr<TokenCluster> cluster(new TokenCluster(std::move(tokens), std::move(options)));
  cluster->prober_ = std::thread([raw = cluster.get()] {
    nameThisThread("kc-token-probe");
    raw->probeLoop();
  });
  return cluster;
}

TokenCluster::TokenCluster(std::vector<ClusterToken> tokens, TokenClusterOptions options)
    : options_(std::move(options)) {
  for (auto& token : tokens) tokens_.push_back(std::make_unique<Member>(std::move(token)));
}

TokenCluster::~TokenCluster() {
  {
    std::lock_guard lock(mutex_);
    stopping_ = true;
  }
  wake_.notify_all();
  if (prober_.joinable()) prober_.join();
}

int TokenCluster::choose(int excluded) {
  const std::size_t count = tokens_.size();
  if (count == 0) return -1;
  const std::size_t start = next_.fetch_add(1, std::memory_order_relaxed) % count;
  int best = -1;
  int bestInFlight = std::numeric_limits<int>::max();
  for (std::size_t step = 0; step < count; ++step) {
    const std::size_t index = (start + step) % count;
    const Member& member = *tokens_[index];
    if (static_cast<int>(index) == excluded || !member.inRotation.load()) continue;
    const int inFlight = member.inFlight.load(std::memory_order_relaxed);
    if (inFlight < bestInFlight) {
      best = static_cast<int>(index);
      bestInFlight = inFlight;
    }
  }
  return best;
}

Status TokenCluster::runOn(std::size_t index, const std::function<Status(std::size_t)>& op) {
  Member& member = *tokens_[index];
  member.inFlight.fetch_add(1, std::memory_order_relaxed);
  Status status = op(index);
  member.inFlight.fetch_sub(1, std::memory_order_relaxed);
  member.operations.fetch_add(1, std::memory_order_relaxed);
  if (status.code() == StatusCode::kUnavailable) takeOut(index, status);
  return status;
}

Status TokenCluster::run(const std::function<Status(std::size_t)>& op) {
  const int first = choose(-1);
  if (first < 0) {
    std::string names;
    for (const auto& member : tokens_) names += (names.empty() ? "" : ", ") + member->token.name;
    return Status(StatusCode::kUnavailable,
                  "no token of the cluster is in rotation (" + names + "); retried every " +
                      std::to_string(options_.probeInterval.count()) + " ms");
  }
  Status status = runOn(static_cast<std::size_t>(first), op);
  if (status.code() != StatusCode::kUnavailable) return status;
  const int second = choose(first);
  if (second < 0) return status;
  return runOn(static_cast<std::size_t>(second), op);
}

void TokenCluster::takeOut(std::size_t index, const Status& why) {
  Member& member = *tokens_[index];
  member.failures.fetch_add(1, std::memory_order_relaxed);
  {
    std::lock_guard lock(mutex_);
    member.lastFailure = why.toString();
  }
  if (member.inRotation.exchange(false)) {
    if (options_.onChange) options_.onChange(member.token.name, false, why.toString());
    wake_.notify_all();
  }
}

void TokenCluster::setProbe(std::function<Status(std::size_t)> probe) {
  std::lock_guard lock(mutex_);
  probeOp_ = std::move(probe);
}

Status TokenCluster::probe(std::size_t index) {
  std::function<Status(std::size_t)> op;
  {
    std::lock_guard lock(mutex_);
    op = probeOp_;
  }
  if (op) return op(index);
  auto lease = tokens_[index]->token.pool->lease();
  return lease.isOk() ? Status::ok() : lease.status();
}

void TokenCluster::probeLoop() {
  std::unique_lock lock(mutex_);
  while (!stopping_) {
    wake_.wait_for(lock, options_.probeInterval);
    if (stopping_) break;
    lock.unlock();
    for (std::size_t index = 0; index < tokens_.size(); ++index) {
      Member& member = *tokens_[index];
      if (member.inRotation.load()) continue;
      const Status answered = probe(index);
      if (!answered.isOk()) {
        std::lock_guard failureLock(mutex_);
        member.lastFailure = answered.toString();
        continue;
      }
      member.returns.fetch_add(1, std::memory_order_relaxed);
      member.inRotation.store(true);
      if (options_.onChange)
        options_.onChange(member.token.name, true, "a probe round trip answered");
    }
    lock.lock();
  }
}

std::vector<ClusterTokenState> TokenCluster::states() const {
  std::vector<ClusterTokenState> out;
  std::lock_guard lock(mutex_);
  for (const auto& member : tokens_) {
    out.push_back({.name = member->token.name,
                   .inRotation = member->inRotation.load(),
                   .operations = member->operations.load(),
                   .failures = member->failures.load(),
                   .returns = member->returns.load(),
                   .lastFailure = member->lastFailure});
  }
  return out;
}

}  // namespace kc::pkcs11
