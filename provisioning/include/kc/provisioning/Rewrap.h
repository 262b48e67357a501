#pragma once
// Rewrapping: moving every stored record that is not sealed by the key ring's current key under
// it, while daemons keep serving from the same store. The engine of `kc-setup rotate rewrap`
// and of bench/rotate_bench.
//
// Guarantees:
// - Never overwrites a concurrent write: each record is replaced with
//   UserKeyStore::replaceIfRevision on the revision it was read at. When that loses
//   (CONFLICT), the record is read again: already under the current key (a PUT sealed it) is
//   counted as skipped; otherwise it is opened and sealed again from the new revision, up to
//   kMaxAttempts times.
// - Keeps the record's revision time: a rewrap changes the ciphertext, not the user's key, so
//   the Bitwarden-visible revision date stays the date the user last changed the key (the
//   revision counter still goes up, which is what the compare-and-swap needs).
// - Resumable by construction: a run only ever looks at records not under the current key,
//   so a run that stopped (crash, kill, `limit`) is finished by running again.
// - Audited: one "key.rewrap" record per record replaced (user, key = the current key's id,
//   detail "from <old id>"), or outcome "conflict"/"error" when it was not; "rewrap.start"
//   and "rewrap.end" around a run. A record is counted rewrapped only after its audit record
//   is durable; an audit failure stops the run (UNAVAILABLE).
// - Plaintext user keys exist only in SecretBytes, between the token's unwrap and wrap.

#include <cstddef>
#include <cstdint>
#include <functional>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include "kc/Result.h"
#include "kc/appliance/KeyRing.h"
#include "kc/audit/AuditLog.h"
#include "kc/storage/UserKeyStore.h"

namespace kc::provisioning {

struct RewrapOptions {
  std::size_t threads = 4;     // workers sharing the token's session pool
  std::size_t pageSize = 256;  // records read per listByWrappingKey call
  // Stop after this many records were handled (rewrapped, skipped or failed); none: all.
  std::optional<std::uint64_t> limit;
  // Count what a run would do, per wrapping key, without a token operation or a write.
  bool dryRun = false;
  // Called (from any worker) with the number of records just handled. May be empty.
  std::function<void(std::uint64_t)> progress;
};

inline constexpr int kMaxRewrapAttempts = 5;

struct RewrapFailure {
  std::string userId;
  std::string wrappingKeyId;  // the key id the record names in the store
  Status status;              // why it stays where it is; never holds key material
};

struct RewrapSummary {
  std::string currentKeyId;
  // Records per wrapping key id not the current one, when the run started.
  std::map<std::string, std::int64_t> pendingByKey;
  std::uint64_t pending = 0;    // their sum
  std::uint64_t unknown = 0;    // of them, under key ids the ring does not hold
  std::uint64_t rewrapped = 0;  // now under the current key by this run
  std::uint64_t skipped = 0;    // rewritten under the current key by someone else meanwhile
  std::uint64_t retried = 0;    // compare-and-swaps lost and tried again
  std::vector<RewrapFailure> failures;
  bool stoppedAtLimit = false;
};

// Rewraps every record of `store` not under `ring.current()` (see above). `audit` may be null
// only when `options.dryRun`. Per-record problems (a record under a key the ring lacks, an
// envelope that fails to open, a token error, too many lost races) go to the summary's
// failures and the run goes on; the result is an error only when the run could not go on: the
// store cannot list records, or the audit log refuses a record.
Result<RewrapSummary> rewrapRecords(const appliance::KeyRing& ring, storage::UserKeyStore& store,
                                    audit::AuditLog* audit, const RewrapOptions& options);

}  // namespace kc::provisioning
