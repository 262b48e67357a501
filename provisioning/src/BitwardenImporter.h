#pragma once
// The engine of `kc-setup import-bitwarden`: moves every user key of a reference Key Connector
// deployment under our wrapping key, one user at a time, and says what became of each.
//
// Per user, in this order (nothing is written before the key is proven to round-trip):
//   1. the row must be readable (BitwardenImport.h's `problem`), its Id a GUID (any case), and
//      no other row of the source may be the same user in another case (both are then reported
//      as conflicting and neither is imported: which one is right is the operator's call);
//   2. its Key column is decrypted with the reference's AES key (failure: reported, skipped);
//   3. when our store already holds the user, our record is opened on the token and compared
//      with the source in constant time: equal is "already present" (nothing written),
//      different (or a record that does not open) is "conflicting", left untouched unless
//      `overwrite`;
//   4. the key is sealed under the current wrapping key and the envelope opened again on the
//      token and compared with the source; only a verified envelope is written, with the
//      source's creation, revision and last-access dates (a NULL RevisionDate becomes the
//      CreationDate) — an insert, or with `overwrite` a replacement (which keeps our creation
//      and last-access times);
//   5. the stored record is read back and must hold exactly the verified envelope, wrapping-key
//      id and dates; otherwise the user is reported as failed, the record left for the operator
//      to inspect (a re-run with --overwrite replaces it).
// Idempotent: a second run finds every user already present and writes nothing, so an import
// interrupted anywhere (Ctrl-C, a crash, a lost connection) is resumed by running it again.
//
// Audit (kc-setup's own chain, ToolAudit.h): "import.start" naming source, key and options
// (never a secret); per user the token operations ("token.wrap"/"token.unwrap", made durable
// before the record they produced is written) and one "import.user" record whose outcome is
// imported/already_present/conflict/failed; "import.end" with the counts. When the audit log
// cannot be written the run stops (fail closed): no user is written unaudited.

#include <atomic>
#include <cstddef>
#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "kc/Result.h"
#include "kc/appliance/KeyRing.h"
#include "kc/audit/AuditLog.h"
#include "kc/provisioning/BitwardenImport.h"
#include "kc/storage/UserKeyStore.h"

namespace kc::setup {

struct ImportOptions {
  bool dryRun = false;     // decrypt, classify, seal and verify; write nothing to the store
  bool overwrite = false;  // replace conflicting records instead of reporting them
  std::size_t threads = 4;
  std::size_t pageSize = 500;  // rows read from the source at a time
  // Set (by a signal handler) to stop: users in flight finish, no new one starts.
  const std::atomic<bool>* stop = nullptr;
  // Called with how many users just finished (for a progress bar); may be empty. Called from
  // worker threads: must be thread-safe.
  std::function<void(std::uint64_t)> onProgress;
  // Called once the source has been counted, before any user is imported; may be empty.
  std::function<void(std::uint64_t)> onTotal;
};

enum class UserOutcome { kImported, kAlreadyPresent, kConflict, kFailed };

// A user that was not imported, and why (never key bytes).
struct UserProblem {
  std::string userId;  // canonical when it parses; else the stored id, made printable
  std::string reason;
};

struct ImportSummary {
  std::uint64_t sourceUsers = 0;  // rows in the source
  std::uint64_t imported = 0;     // written and verified (dry run: would be)
  std::uint64_t replaced = 0;     // of `imported`: conflicts replaced under --overwrite
  std::uint64_t alreadyPresent = 0;
  std::vector<UserProblem> conflicts;
  std::vector<UserProblem> failures;
  bool interrupted = false;  // stopped before every row was handled
  std::uint64_t handled() const {
    return imported + alreadyPresent + conflicts.size() + failures.size();
  }
};

// What the import reads from and writes to; all must outlive the run.
struct ImportContext {
  provisioning::ReferenceDeployment& source;
  const SecretBytes& referenceAesKey;  // openSymmetricKey's result
  const appliance::KeyRing& ring;
  storage::UserKeyStore& store;
  audit::AuditLog& audit;
  std::string description;  // for import.start: "SQLite database ... with PKCS#12 file ..."
};

// Runs the import. The summary when the run went through (users may still have failed or
// conflicted; see ImportSummary) or was interrupted by `options.stop`. An error when the source
// could not be read, the audit log could not be written, or the store or token failed in a way
// that stops every user (the summary so far is then in `partial`, when given).
Result<ImportSummary> importUsers(ImportContext& context, const ImportOptions& options,
                                  ImportSummary* partial = nullptr);

}  // namespace kc::setup
