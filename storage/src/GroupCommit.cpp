#include "GroupCommit.h"

#include <Poco/Data/Statement.h>

#include <algorithm>
#include <optional>
#include <stdexcept>
#include <string>
#include <vector>

namespace kc::storage {

using namespace Poco::Data::Keywords;
using Poco::Data::Session;

GroupCommit::GroupCommit(SessionPool& pool, Failures failures, std::size_t maxBatch)
    : pool_(pool), failures_(std::move(failures)), maxBatch_(std::max<std::size_t>(maxBatch, 1)) {}

Status GroupCommit::run(std::string_view operation, const Write& write) {
  Pending mine{.operation = operation, .write = &write, .result = Status::ok()};
  std::unique_lock lock(mutex_);
  queue_.push_back(&mine);
  while (!mine.done) {
    if (leading_) {
      finished_.wait(lock);
      continue;
    }
    // Lead: take what is queued (mine is among it unless more than a batch is ahead of it).
    leading_ = true;
    const auto count = std::min(queue_.size(), maxBatch_);
    std::vector<Pending*> batch(queue_.begin(),
                                queue_.begin() + static_cast<std::ptrdiff_t>(count));
    queue_.erase(queue_.begin(), queue_.begin() + static_cast<std::ptrdiff_t>(count));
    lock.unlock();
    try {
      execute(batch);
    } catch (...) {
      // Only wording a failure can throw here (out of memory): the batch did not commit, and
      // leadership must pass on whatever happens.
      for (Pending* pending : batch) {
        pending->result =
            Status{StatusCode::kInternal,
                   std::string(pending->operation) + ": the write batch failed unexpectedly"};
      }
    }
    lock.lock();
    for (Pending* pending : batch) pending->done = true;
    leading_ = false;
    // Wakes the batch's writers, and a queued one to lead the next batch.
    finished_.notify_all();
  }
  return std::move(mine.result);
}

void GroupCommit::execute(std::span<Pending* const> batch) {
  std::optional<SessionPool::Lease> lease;
  try {
    lease = pool_.acquire();
  } catch (const std::exception& error) {
    for (Pending* pending : batch) pending->result = failures_.connect(pending->operation, error);
    return;
  }
  if (!lease) {
    for (Pending* pending : batch) pending->result = failures_.noSession(pending->operation);
    return;
  }
  bool reusable = false;
  try {
    reusable = transact(lease->session(), batch);
  } catch (...) {
    lease->discard();  // its transaction may still be open
    throw;
  }
  if (!reusable) lease->discard();
}

bool GroupCommit::transact(Session& session, std::span<Pending* const> batch) {
  try {
    // IMMEDIATE: the write lock now, so no statement of the batch meets a busy database.
    session << "BEGIN IMMEDIATE", now;
  } catch (const std::exception& error) {
    failAll(batch, error);
    return false;
  }
  for (Pending* pending : batch) {
    const std::exception_ptr broken = executeOne(session, *pending);
    if (!broken) continue;
    rollBack(session);
    try {
      std::rethrow_exception(broken);
    } catch (const std::exception& error) {
      failAll(batch, error);
    }
    return false;
  }
  try {
    session << "COMMIT", now;
  } catch (const std::exception& error) {
    // SQLite may or may not have rolled back already; either way nothing of the batch stays.
    rollBack(session);
    failAll(batch, error);
    return false;
  }
  return true;
}

void GroupCommit::rollBack(Session& session) noexcept {
  try {
    session << "ROLLBACK", now;
  } catch (...) {
    // Already rolled back, or broken: the caller discards the session, and SQLite ends any
    // transaction when it closes.
  }
}

std::exception_ptr GroupCommit::executeOne(Session& session, Pending& pending) {
  try {
    session << "SAVEPOINT kc_write", now;
  } catch (const std::exception&) {
    return std::current_exception();
  }
  try {
    pending.result = (*pending.write)(session);
  } catch (const std::exception& error) {
    pending.result = failures_.statement(pending.operation, error);
  } catch (...) {
    pending.result = failures_.statement(
        pending.operation, std::runtime_error("an exception that is not a std::exception"));
  }
  try {
    if (!pending.result.isOk()) session << "ROLLBACK TO kc_write", now;
    session << "RELEASE kc_write", now;
  } catch (const std::exception&) {
    return std::current_exception();
  }
  return nullptr;
}

void GroupCommit::failAll(std::span<Pending* const> batch, const std::exception& error) {
  for (Pending* pending : batch) {
    if (pending->result.isOk()) pending->result = failures_.statement(pending->operation, error);
  }
}

}  // namespace kc::storage
