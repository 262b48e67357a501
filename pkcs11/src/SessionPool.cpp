#include "kc/pkcs11/SessionPool.h"

#include <openssl/sha.h>

#include <thread>

#include "kc/pkcs11/Module.h"

namespace kc::pkcs11 {
namespace {

// A digest of a PIN the token refused, so that the same PIN is not offered again.
std::array<std::uint8_t, SHA256_DIGEST_LENGTH> pinDigest(const SecretBytes& pin) {
  std::array<std::uint8_t, SHA256_DIGEST_LENGTH> digest{};
  SHA256(pin.data(), pin.size(), digest.data());
  return digest;
}

}  // namespace

SessionPool::SessionPool(std::shared_ptr<Module> module, CK_SLOT_ID slot, PinSource pin,
                         SessionPoolOptions options)
    : module_(std::move(module)), slot_(slot), pin_(std::move(pin)), options_(options) {}

Result<std::shared_ptr<SessionPool>> SessionPool::open(std::shared_ptr<Module> module,
                                                       CK_SLOT_ID slot, PinSource pin,
                                                       SessionPoolOptions options) {
  if (options.size == 0) {
    return Status(StatusCode::kInvalidArgument, "the session pool needs at least one session");
  }
  std::shared_ptr<SessionPool> pool(
      new SessionPool(std::move(module), slot, std::move(pin), options));
  for (std::size_t i = 0; i < options.size; ++i) {
    auto session = pool->openLoggedInSession();
    if (!session) return session.status();
    pool->idle_.push_back({*session, 0});
  }
  return pool;
}

SessionPool::~SessionPool() {
  for (const auto& idle : idle_) closeQuietly(idle.handle);
}

CK_FUNCTION_LIST* SessionPool::api() const {
  return module_->api();
}

void SessionPool::closeQuietly(CK_SESSION_HANDLE session) const {
  if (session != CK_INVALID_HANDLE) api()->C_CloseSession(session);
}

bool SessionPool::isAlive(CK_SESSION_HANDLE session) const {
  CK_SESSION_INFO info{};
  if (api()->C_GetSessionInfo(session, &info) != CKR_OK) return false;
  return info.state == CKS_RW_USER_FUNCTIONS || info.state == CKS_RO_USER_FUNCTIONS;
}

Status SessionPool::login(CK_SESSION_HANDLE session) {
  auto pin = pin_.read();
  if (!pin) return pin.status();
  const auto digest = pinDigest(*pin);
  {
    std::lock_guard lock(mutex_);
    if (refusedPin_ && *refusedPin_ == digest && std::chrono::steady_clock::now() < refusedUntil_) {
      return *refusedStatus_;
    }
  }
  const CK_RV rv = api()->C_Login(session, CKU_USER, pin->data(), pin->size());
  pin->clear();
  if (rv == CKR_OK || rv == CKR_USER_ALREADY_LOGGED_IN) return Status::ok();
  Status error = tokenError("C_Login with the " + pin_.describe(), rv);
  if (error.code() == StatusCode::kPermissionDenied) {
    // Do not keep offering the token a PIN it has refused: each try brings a lockout
    // closer. A corrected PIN file or variable is tried as soon as it differs.
    std::lock_guard lock(mutex_);
    refusedPin_ = digest;
    refusedUntil_ = std::chrono::steady_clock::now() + options_.refusedPinRetryAfter;
    refusedStatus_ =
        Status(error.code(), error.message() + " (the same PIN is not offered again for " +
                                 std::to_string(options_.refusedPinRetryAfter.count()) + " ms)");
  }
  return error;
}

Result<CK_SESSION_HANDLE> SessionPool::openLoggedInSession() {
  auto backoff = options_.loginBackoff;
  Status last(StatusCode::kUnavailable, "no attempt made to open a session");
  for (int attempt = 0; attempt < std::max(1, options_.loginAttempts); ++attempt) {
    if (attempt > 0) {
      std::this_thread::sleep_for(backoff);
      backoff *= 2;
    }
    CK_SESSION_HANDLE session = CK_INVALID_HANDLE;
    const CK_RV rv = api()->C_OpenSession(slot_, CKF_SERIAL_SESSION | CKF_RW_SESSION, nullptr,
                                          nullptr, &session);
    if (rv != CKR_OK) {
      last = tokenError("C_OpenSession on slot " + std::to_string(slot_), rv);
      continue;
    }
    if (isAlive(session)) return session;  // another session already logged the user in
    Status loggedIn = login(session);
    if (loggedIn.isOk()) return session;
    closeQuietly(session);
    // A wrong PIN is final: retrying would only bring the token closer to locking it.
    if (loggedIn.code() != StatusCode::kUnavailable) return loggedIn;
    last = loggedIn;
  }
  return last;
}

Result<SessionPool::Lease> SessionPool::lease() {
  IdleSession idle{};
  bool mustCheck = false;
  {
    std::unique_lock lock(mutex_);
    ++stats_.leases;
    if (idle_.empty()) {
      ++stats_.waits;
      if (!available_.wait_for(lock, options_.checkoutTimeout, [&] { return !idle_.empty(); })) {
        ++stats_.timeouts;
        return Status(StatusCode::kTimeout,
                      "all " + std::to_string(options_.size) + " token sessions stayed busy for " +
                          std::to_string(options_.checkoutTimeout.count()) + " ms");
      }
    }
    idle = idle_.back();
    idle_.pop_back();
    mustCheck = idle.checkedAtFault < faults_;
  }
  if (idle.handle != CK_INVALID_HANDLE && mustCheck && !isAlive(idle.handle)) {
    closeQuietly(idle.handle);
    idle.handle = CK_INVALID_HANDLE;
  }
  if (idle.handle == CK_INVALID_HANDLE) {
    auto fresh = openLoggedInSession();
    if (!fresh) {
      giveBack(CK_INVALID_HANDLE, false);
      return fresh.status();
    }
    idle.handle = *fresh;
  }
  return Lease(this, idle.handle);
}

void SessionPool::giveBack(CK_SESSION_HANDLE handle, bool broken) {
  if (broken) {
    closeQuietly(handle);
    handle = CK_INVALID_HANDLE;
  }
  {
    std::lock_guard lock(mutex_);
    idle_.push_back({handle, faults_});
  }
  available_.notify_one();
}

SessionPool::Lease::Lease(Lease&& other) noexcept
    : pool_(other.pool_), handle_(other.handle_), broken_(other.broken_) {
  other.pool_ = nullptr;
}

SessionPool::Lease::~Lease() {
  if (pool_ != nullptr) pool_->giveBack(handle_, broken_);
}

Status SessionPool::run(std::string_view operation,
                        const std::function<CK_RV(CK_SESSION_HANDLE)>& op) {
  auto lease = this->lease();
  if (!lease)
    return Status(lease.status().code(), std::string(operation) + ": " + lease.status().message());
  CK_RV rv = op(lease->handle());
  if (rv == CKR_OK) return Status::ok();
  // Some tokens report a lost login as an invalid key handle (private objects vanish
  // at logout), so any failure on a session that is no longer logged in counts as lost.
  if (!isSessionLost(rv) && isAlive(lease->handle())) {
    // A failed call may leave an operation active on the session (tokens differ on
    // whether a failed C_Decrypt ends it), so the session is not reused.
    lease->discard();
    return tokenError(operation, rv);
  }

  // The session or the login is gone. Replace this session now, make every idle one be
  // checked before its next use, and retry once on the fresh session.
  {
    std::lock_guard lock(mutex_);
    ++faults_;
    ++stats_.recoveries;
  }
  closeQuietly(lease->handle_);
  lease->handle_ = CK_INVALID_HANDLE;
  auto fresh = openLoggedInSession();
  if (!fresh) {
    return Status(fresh.status().code(), std::string(operation) + " (after " + ckrName(rv) +
                                             "): " + fresh.status().message());
  }
  lease->handle_ = *fresh;
  rv = op(lease->handle());
  if (rv == CKR_OK) return Status::ok();
  lease->discard();
  return tokenError(operation, rv);
}

SessionPoolStats SessionPool::stats() const {
  std::lock_guard lock(mutex_);
  return stats_;
}

}  // namespace kc::pkcs11
