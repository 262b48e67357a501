#pragma once
// UserKeyStore: where user-key envelopes live. It stores ciphertext only and never sees a
// plaintext key or a token. Every method is safe to call from many threads at once, never
// throws, and reports failures as a Status:
//   kInvalidArgument  malformed envelope or wrapping-key id (nothing was done)
//   kNotFound         no record for the user
//   kAlreadyExists    insert lost to an existing record
//   kConflict         compare-and-swap saw another revision; schema newer than this build
//   kUnavailable      the database cannot be reached now; retrying later may succeed
//   kTimeout          SQLite stayed locked by another connection beyond the busy timeout
//   kInternal         anything else, such as a row whose user id is not canonical (only an edit
//                     outside the store makes one); the message names the operation, never a
//                     secret
// User ids are kc::UserId, which only parsing makes, so the store needs no check of its own.

#include <cstddef>
#include <cstdint>
#include <map>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "kc/Result.h"
#include "kc/UserId.h"
#include "kc/storage/StoreConfig.h"
#include "kc/storage/UserKeyRecord.h"

namespace kc::storage {

class UserKeyStore {
 public:
  virtual ~UserKeyStore() = default;

  // The record of `userId`, or kNotFound. Its last-access time includes accesses recorded but
  // not yet flushed.
  virtual Result<UserKeyRecord> get(const UserId& userId) = 0;

  // Creates the record with revision 1. kAlreadyExists if the user has one: of two concurrent
  // inserts for one user exactly one returns OK.
  virtual Status insert(const UserKeyWrite& write) = 0;

  // Creates all records in one transaction: all are written or none. kAlreadyExists if any
  // user already has a record. For imports and bulk loads.
  virtual Status insertMany(std::span<const UserKeyWrite> writes) = 0;

  // Creates the record (revision 1) or replaces its envelope and wrapping key (revision + 1,
  // new revision time, creation and last-access times kept): the PUT semantics.
  virtual Status upsert(const UserKeyWrite& write) = 0;

  // Replaces the envelope and wrapping key only if the stored revision is `expectedRevision`
  // (then revision + 1); kConflict if it is another, kNotFound if there is no record. A key
  // rotation uses it so that it never overwrites a concurrent PUT.
  virtual Status replaceIfRevision(const UserKeyWrite& write, std::int64_t expectedRevision) = 0;

  // Notes that the user's key was read at `when`. Coalesced in memory and written in batches
  // (see StoreConfig::accessFlushInterval): a crash loses at most the accesses of the last
  // interval. A time earlier than the stored one is ignored.
  virtual Status recordAccess(const UserId& userId, Timestamp when) = 0;

  // Writes every pending last-access time now. Also done at destruction.
  virtual Status flushAccessTimes() = 0;

  // Up to `limit` records sealed by `wrappingKeyId` whose user id sorts after `afterUserId`
  // (std::nullopt: from the start), in ascending user-id order. Pass the last id of a page to
  // get the next: the order is stable under concurrent writes, and a record that exists for the
  // whole walk is returned exactly once.
  virtual Result<std::vector<UserKeyRecord>> listByWrappingKey(
      std::string_view wrappingKeyId, const std::optional<UserId>& afterUserId,
      std::size_t limit) = 0;

  // How many records `wrappingKeyId` sealed.
  virtual Result<std::int64_t> countByWrappingKey(std::string_view wrappingKeyId) = 0;

  // Record counts for every wrapping key in use.
  virtual Result<std::map<std::string, std::int64_t>> countPerWrappingKey() = 0;

  // OK when the database answers a trivial query now.
  virtual Status ping() = 0;

  // "sqlite", "postgresql", "mysql", "odbc/sqlserver", ...: for logs and health details.
  virtual std::string_view backendName() const = 0;
};

// Opens the store `config` describes, applying pending schema migrations under a lock (two
// instances starting together are safe). Refuses (kConflict) a schema newer than this build
// knows. kUnavailable if the database cannot be reached; kInvalidArgument for a bad config.
Result<std::unique_ptr<UserKeyStore>> openUserKeyStore(const StoreConfig& config);

// The newest schema version this build knows.
int latestSchemaVersion();

}  // namespace kc::storage
