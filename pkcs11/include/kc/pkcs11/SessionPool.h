#pragma once
// A fixed set of logged-in sessions on one token, shared by many threads.
//
// N sessions are opened and the user logged in up front. A caller leases a session
// (RAII: the lease returns it), waiting at most `checkoutTimeout` when all are busy.
// `run` adds recovery: when an operation fails because its session or the login was lost
// (closed sessions, device errors, a re-inserted token) the session is discarded, a new
// one opened and logged in with back-off, and the operation retried once.

#include <array>
#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <functional>
#include <memory>
#include <mutex>
#include <optional>
#include <string_view>
#include <vector>

#include "kc/Result.h"
#include "kc/pkcs11/Cryptoki.h"
#include "kc/pkcs11/PinSource.h"

namespace kc::pkcs11 {

class Module;

struct SessionPoolOptions {
  std::size_t size = 4;                             // sessions opened up front
  std::chrono::milliseconds checkoutTimeout{5000};  // longest wait for a free session
  int loginAttempts = 4;                            // per recovery
  std::chrono::milliseconds loginBackoff{50};       // doubled after each failed attempt
  // After the token refuses a PIN, that same PIN is not offered again for this long.
  std::chrono::milliseconds refusedPinRetryAfter{60000};
};

struct SessionPoolStats {
  std::uint64_t leases = 0;      // sessions handed out
  std::uint64_t waits = 0;       // leases that had to wait for a free session
  std::uint64_t timeouts = 0;    // leases that gave up waiting
  std::uint64_t recoveries = 0;  // sessions discarded and reopened after a fault
};

class SessionPool {
 public:
  // Opens `options.size` sessions on `slot` and logs the user in with the PIN from `pin`
  // (the PIN is wiped right after). A wrong PIN is PERMISSION_DENIED.
  static Result<std::shared_ptr<SessionPool>> open(std::shared_ptr<Module> module, CK_SLOT_ID slot,
                                                   PinSource pin, SessionPoolOptions options = {});
  ~SessionPool();
  SessionPool(const SessionPool&) = delete;
  SessionPool& operator=(const SessionPool&) = delete;

  class Lease {
   public:
    Lease(Lease&& other) noexcept;
    Lease& operator=(Lease&&) = delete;
    Lease(const Lease&) = delete;
    ~Lease();
    CK_SESSION_HANDLE handle() const { return handle_; }
    // The session is unusable: it is closed instead of returned, and reopened later.
    void discard() { broken_ = true; }

   private:
    friend class SessionPool;
    Lease(SessionPool* pool, CK_SESSION_HANDLE handle) : pool_(pool), handle_(handle) {}
    SessionPool* pool_;
    CK_SESSION_HANDLE handle_;
    bool broken_ = false;
  };

  // A logged-in session, or TIMEOUT after waiting `checkoutTimeout`, or the error that
  // kept a discarded session from being reopened.
  Result<Lease> lease();

  // Runs `op` on a leased session and maps a failing CK_RV to a Status naming
  // `operation`. A lost session is replaced and `op` runs once more. A session on which
  // `op` failed is closed rather than reused (an operation may still be active on it).
  Status run(std::string_view operation, const std::function<CK_RV(CK_SESSION_HANDLE)>& op);

  CK_FUNCTION_LIST* api() const;
  const std::shared_ptr<Module>& module() const { return module_; }
  CK_SLOT_ID slot() const { return slot_; }
  std::size_t size() const { return options_.size; }
  SessionPoolStats stats() const;

 private:
  SessionPool(std::shared_ptr<Module> module, CK_SLOT_ID slot, PinSource pin,
              SessionPoolOptions options);
  // Opens a session and makes sure the user is logged in, retrying with back-off.
  Result<CK_SESSION_HANDLE> openLoggedInSession();
  Status login(CK_SESSION_HANDLE session);
  // True when `session` is open and the user is logged in on it.
  bool isAlive(CK_SESSION_HANDLE session) const;
  void giveBack(CK_SESSION_HANDLE handle, bool broken);
  void closeQuietly(CK_SESSION_HANDLE session) const;

  std::shared_ptr<Module> module_;
  CK_SLOT_ID slot_;
  PinSource pin_;
  SessionPoolOptions options_;

  mutable std::mutex mutex_;
  std::condition_variable available_;
  // An idle session and the fault count when it was last known to work. After a fault
  // every idle session older than it is checked once before it is leased again, since
  // whatever closed one session (C_CloseAllSessions, a token reset) may have closed all.
  struct IdleSession {
    CK_SESSION_HANDLE handle;  // CK_INVALID_HANDLE: a place to fill with a new session
    std::uint64_t checkedAtFault;
  };
  std::vector<IdleSession> idle_;
  std::uint64_t faults_ = 0;
  SessionPoolStats stats_;
  // The SHA-256 of the last PIN the token refused, and why.
  std::optional<std::array<std::uint8_t, 32>> refusedPin_;
  std::optional<Status> refusedStatus_;
  std::chrono::steady_clock::time_point refusedUntil_{};
};

}  // namespace kc::pkcs11
