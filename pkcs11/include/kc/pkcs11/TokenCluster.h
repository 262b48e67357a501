#pragma once
// Several tokens that hold the same keys (an HSM cluster's slots: a Luna HA group, nShield load
// sharing, a CloudHSM cluster), used as one.
//
// Each operation runs on the token in rotation with the fewest operations in flight (ties go
// round robin). When a token fails it with UNAVAILABLE (device removed, token not present, a
// session or login that cannot be reopened: see tokenError) the token is taken out of rotation
// and the operation runs once more on another token. Any other failure (a ciphertext that does
// not open, a policy refusal, a busy pool's TIMEOUT) is the operation's, not the token's, and is
// returned as it is. A background thread probes every token out of rotation each
// `probeInterval` with a real round trip of the probe key and puts it back when it answers.
//
// Thread safety: every method may be called from any thread.

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <functional>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "kc/Result.h"
#include "kc/pkcs11/SessionPool.h"

namespace kc::pkcs11 {

// One token of a cluster: how logs, /health and /metrics name it, and its session pool.
struct ClusterToken {
  std::string name;  // the URI that selected it, e.g. "pkcs11:token=hsm-a"
  std::shared_ptr<SessionPool> pool;
};

struct TokenClusterOptions {
  std::chrono::milliseconds probeInterval{200};  // how often a token out of rotation is tried
  // Called when a token leaves rotation (`inRotation` false, `why` the failure) or returns to
  // it; the daemon logs it. Called without a lock held; may be empty.
  std::function<void(const std::string& token, bool inRotation, const std::string& why)> onChange;
};

// What /health and /metrics show of one token.
struct ClusterTokenState {
  std::string name;
  bool inRotation = true;
  std::uint64_t operations = 0;  // operations it answered (successfully or not)
  std::uint64_t failures = 0;    // operations it failed with UNAVAILABLE
  std::uint64_t returns = 0;     // times a probe put it back in rotation
  std::string lastFailure;       // the last such failure, "" when none
};

class TokenCluster {
 public:
  // A cluster of `tokens`, every token in rotation, the probe thread running. With no tokens,
  // every operation is UNAVAILABLE.
  static std::shared_ptr<TokenCluster> create(std::vector<ClusterToken> tokens,
                                              TokenClusterOptions options = {});
  ~TokenCluster();  // stops the probe thread
  TokenCluster(const TokenCluster&) = delete;
  TokenCluster& operator=(const TokenCluster&) = delete;

  std::size_t size() const { return tokens_.size(); }
  const ClusterToken& token(std::size_t index) const { return tokens_[index]->token; }

  // Runs `op(index)` on a token in rotation, and once more on another when that token fails
  // it with UNAVAILABLE (see above). UNAVAILABLE, naming the tokens, when no token is in
  // rotation.
  Status run(const std::function<Status(std::size_t)>& op);

  // The round trip that tells whether the token at an index answers again; until one is set,
  // a token out of rotation is probed by leasing a session. The last one set is used.
  void setProbe(std::function<Status(std::size_t)> probe);

  std::vector<ClusterTokenState> states() const;

 private:
  struct Member {
    explicit Member(ClusterToken t) : token(std::move(t)) {}
    const ClusterToken token;
    std::atomic<bool> inRotation{true};
    std::atomic<int> inFlight{0};
    std::atomic<std::uint64_t> operations{0};
    std::atomic<std::uint64_t> failures{0};
    std::atomic<std::uint64_t> returns{0};
    std::string lastFailure;  // guarded by TokenCluster::mutex_
  };

  TokenCluster(std::vector<ClusterToken> tokens, TokenClusterOptions options);
  // The member in rotation with the fewest operations in flight, other than `excluded`;
  // -1 when there is none.
  int choose(int excluded);
  Status runOn(std::size_t index, const std::function<Status(std::size_t)>& op);
  void takeOut(std::size_t index, const Status& why);
  void probeLoop();
  Status probe(std::size_t index);

  std::vector<std::unique_ptr<Member>> tokens_;
  const TokenClusterOptions options_;
  std::atomic<std::uint64_t> next_{0};  // where the round robin starts

  mutable std::mutex mutex_;
  std::condition_variable wake_;
  bool stopping_ = false;                       // guarded by mutex_
  std::function<Status(std::size_t)> probeOp_;  // guarded by mutex_
  std::thread prober_;
};

}  // namespace kc::pkcs11
