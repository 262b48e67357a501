#pragma once
// One audit record and its canonical serialisation: the exact bytes of a line in the log.
//
// FORMAT (version 2; version 1 still reads), so an auditor can re-implement verification
// without this code:
//
// A log file is UTF-8 text, one record per line, each line ended by '\n'. A line is a JSON
// object with exactly these members, in this order, with no whitespace:
//
//   {"v":2,"seq":<n>,"time":"<t>","instance":"<s>","op":"<s>","outcome":"<s>",
//    "status":<n>,"user":"<s>","key":"<s>","request":"<s>","client_request":"<s>",
//    "client":"<s>","duration_us":<n>,"detail":"<s>","sig":"<s>","prev":"<64 hex>"}
//
// A version 1 line (written before "client_request" existed) is the same without the
// "client_request" member, with "v":1; both are canonical, and one chain may hold both (a
// log continued by a newer daemon). "request" is the id the daemon generated for the request
// (unique, never taken from the client); "client_request" is the client's own X-Request-Id
// as received (clipped to 128 bytes, every byte outside [A-Za-z0-9._:/+=@-] replaced by
// '_'), empty when none was sent. It is for correlation only: nothing keys on it.
//
// - numbers are unsigned decimal without leading zeros ("0" for zero);
// - strings escape '"' as \", '\' as \\, and every byte below 0x20 as \u00xx (lower-case
//   hex); every other byte (including '/' and UTF-8 sequences) is written as is;
// - "time" is UTC with microseconds: YYYY-MM-DDTHH:MM:SS.ffffffZ;
// - "seq" counts the records of one instance's chain from 1, without gaps;
// - "prev" is the lower-case hex SHA-256 of the previous record's line (its exact bytes
//   without the '\n'); for seq 1 it is SHA-256 of the ASCII text
//   "kc-audit-genesis:" followed by the instance id (the genesis value);
// - "sig" is empty except in checkpoints ("op":"checkpoint"): there it is the base64
//   RSASSA-PKCS1-v1_5 SHA-256 signature, by the audit key, of the checkpoint's own line
//   with "sig":"" (that is: the canonical line with an empty signature). A checkpoint's
//   "key" is the "sha256:<hex>" fingerprint of the audit public key (SHA-256 of its DER
//   SubjectPublicKeyInfo) and its "detail" says why it was written (interval, rotation,
//   close, manual). Since "prev" is the hash of the record before, a valid checkpoint seals
//   the whole chain up to it, its sequence number and its time.
//
// The chain head is the line of the latest valid checkpoint, exactly; the daemon serves it at
// GET /audit/head. A saved head file holds one or more such lines, one per line (the last '\n'
// optional, empty lines skipped): an auditor keeps them outside the server and runs
// `kc-audit verify --head FILE` (AuditVerifier.h, parseHeads and checkHeads).
//
// Files. The live file is audit.log. A file rotated away ends in a "rotation" checkpoint and
// is renamed audit-<instance>-<YYYYMMDDTHHMMSSZ>-<seq>.log (a "-<n>" before ".log" when the
// name was taken), <seq> being the seq of its last record, that checkpoint; its successor,
// audit.log, begins with a "log.open" record. A run that stops cleanly ends audit.log in a
// "close" checkpoint (always, even right after another checkpoint), and the next run continues
// it with a "log.open" record. So a verifier can tell a cut from a stop: a rotated file that
// does not end at the seq its name says was cut, and a chain whose newest file has a rotated
// name lost its successor unless it ends in a "close" checkpoint. The "detail" of a rotation or
// close checkpoint is the word, then ';' and free text.
//
// A line that is not exactly the canonical serialisation of the record it parses to is
// not a valid record (so no two byte strings carry the same record).
//
// Records never carry key material, tokens or PINs: only ids, outcomes and times.

#include <array>
#include <cstdint>
#include <span>
#include <string>
#include <string_view>

#include "kc/Result.h"

namespace kc::audit {

// The version serialize() writes for a record whose `version` is not 1.
inline constexpr unsigned kRecordVersion = 2;

// Operation names ("op").
namespace op {
inline constexpr std::string_view kKeyRelease = "key.release";
// Written and synced before a release's store read and unwrap, with "outcome":"pending", the
// request's ids, user and client, "key" empty: the daemon sends a key only once this record is
// durable. The records of the same "request" that follow (token.unwrap, then key.release,
// key.refused or integrity.failure) say what happened; they are synced after the answer, so
// an intent with no outcome after it (a crash in between) means the key may have been sent.
inline constexpr std::string_view kKeyReleaseIntent = "key.release.intent";
inline constexpr std::string_view kKeyDeposit = "key.deposit";
inline constexpr std::string_view kKeyReplace = "key.replace";
inline constexpr std::string_view kKeyRefused = "key.refused";
// Refusals of one client beyond audit.refusals_per_client in one audit.refusal_interval_s,
// counted in one record per client and interval instead of one each: "client" names it,
// "time" is when the summary was written, and "detail" reads
// "count=<n> first=<time> last=<time> statuses=<http>:<n>[,<http>:<n>...]" (times as in
// "time", statuses ascending). "status" is 0; "outcome" is "denied" when every summarised
// refusal was a 401 or 403, else "rejected".
inline constexpr std::string_view kKeyRefusedSummary = "key.refused.summary";
inline constexpr std::string_view kIntegrityFailure = "integrity.failure";
inline constexpr std::string_view kTokenUnwrap = "token.unwrap";
inline constexpr std::string_view kTokenWrap = "token.wrap";
inline constexpr std::string_view kTokenSign = "token.sign";
inline constexpr std::string_view kCheckpoint = "checkpoint";
inline constexpr std::string_view kLogOpen = "log.open";              // the log (re)opened
inline constexpr std::string_view kLogRecovery = "log.recovery";      // after a write failure
inline constexpr std::string_view kKeyringReload = "keyring.reload";  // the wrapping keys changed
// kc-setup rotate (provisioning/src/RotateCommands.cpp): a rotation's steps.
inline constexpr std::string_view kRotateBegin = "rotate.begin";      // new key made known
inline constexpr std::string_view kRotatePromote = "rotate.promote";  // new key made current
inline constexpr std::string_view kRewrapStart = "rewrap.start";      // a rewrap run started
// Before a record is opened on the token for a rewrap, with "outcome":"pending", its user and
// "detail" "from <old key id>": durable before the unwrap, so a crash between the token's work
// and the key.rewrap record that follows still leaves the operation in the log.
inline constexpr std::string_view kKeyRewrapIntent = "key.rewrap.intent";
inline constexpr std::string_view kKeyRewrap = "key.rewrap";    // one record: old key -> current
inline constexpr std::string_view kRewrapEnd = "rewrap.end";    // a rewrap run ended (its counts)
inline constexpr std::string_view kKeyRetire = "key.retire";    // removed from the configuration
inline constexpr std::string_view kKeyDestroy = "key.destroy";  // destroyed on the token
// kc-setup import-bitwarden: a run's start (source, key, options), one record per user (outcome
// below), and its end (the counts).
inline constexpr std::string_view kImportStart = "import.start";
inline constexpr std::string_view kImportUser = "import.user";
inline constexpr std::string_view kImportEnd = "import.end";
}  // namespace op

// The detail of a checkpoint that seals a file rotated away starts with this word; the rest
// names the file it is kept as and the seq its successor (audit.log) starts at.
inline constexpr std::string_view kRotationDetail = "rotation";
// The detail of the checkpoint a run writes as it stops starts with this word: the file stays
// audit.log and the next run continues it.
inline constexpr std::string_view kCloseDetail = "close";
// In a log.open record's detail when the instance id was kept in the directory (so this
// instance wrote there before) but none of its audit files was left: the chain starts again at
// seq 1, and says that its earlier files were removed. A verifier reports it as an error.
inline constexpr std::string_view kChainFilesMissing = "earlier files of this chain are missing";

// Outcome names ("outcome").
namespace outcome {
inline constexpr std::string_view kOk = "ok";
inline constexpr std::string_view kDenied = "denied";        // 401/403
inline constexpr std::string_view kNotFound = "not_found";   // 404
inline constexpr std::string_view kRejected = "rejected";    // 400: bad request, key exists
inline constexpr std::string_view kIntegrity = "integrity";  // ciphertext failed to open
inline constexpr std::string_view kError = "error";          // token or store fault
// key.rewrap: lost a compare-and-swap to a write. import.user: the user's key is stored with
// another value (left untouched).
inline constexpr std::string_view kConflict = "conflict";
// import.user only: the user's key is already stored with the same value; or not imported
// (the detail says why).
inline constexpr std::string_view kAlreadyPresent = "already_present";
inline constexpr std::string_view kFailed = "failed";
// key.release.intent only: its outcome follows in a later record of the same request.
inline constexpr std::string_view kPending = "pending";
}  // namespace outcome

struct AuditRecord {
  // Filled in by the caller.
  std::string operation;             // "op", one of kc::audit::op
  std::string outcome;               // one of kc::audit::outcome
  unsigned httpStatus = 0;           // "status": the HTTP status answered, 0 when none
  std::string userId;                // "user"
  std::string keyId;                 // "key": wrapping-key id (CKA_ID hex); audit key fingerprint
  std::string requestId;             // "request": the daemon's id of the request
  std::string clientRequestId;       // "client_request" (v2): the client's X-Request-Id
  std::string clientAddress;         // "client"
  std::uint64_t durationMicros = 0;  // "duration_us"
  std::string detail;                // short, non-secret reason
  // Filled in by the log (a caller's value of timeMicros is kept when not 0).
  std::int64_t timeMicros = 0;  // "time", microseconds since the Unix epoch, UTC
  std::uint64_t seq = 0;
  std::string instance;
  std::string signature;  // "sig", base64; checkpoints only
  std::string prev;       // 64 lower-case hex digits
  // "v": 1 only for a record parsed from a version 1 line (serialised without
  // "client_request", which must then be empty); records written now are kRecordVersion.
  unsigned version = kRecordVersion;

  bool operator==(const AuditRecord&) const = default;
};

using Sha256 = std::array<std::uint8_t, 32>;

// The canonical line (without '\n').
std::string serialize(const AuditRecord& record);

// Parses one line (without '\n'). INVALID_ARGUMENT, naming the problem, when the line is not
// the canonical serialisation of a record. Never throws.
Result<AuditRecord> parseRecord(std::string_view line);

Sha256 sha256(std::span<const std::uint8_t> bytes);
Sha256 sha256(std::string_view text);
// The "prev" value for `line`, the record that comes after it.
std::string lineHash(std::string_view line);
// The "prev" value of an instance's first record.
std::string genesisHash(std::string_view instance);

// The bytes a checkpoint's signature covers: its line with "sig" empty.
std::string checkpointMessage(AuditRecord checkpoint);

// "2026-11-25T15:21:44.123456Z"; parseTime accepts exactly that form.
std::string formatTime(std::int64_t micros);
Result<std::int64_t> parseTime(std::string_view text);
std::int64_t nowMicros();

// Replaces bytes that are not valid UTF-8 with '?', so any caller-supplied text can be
// serialised and parsed back.
std::string sanitizeUtf8(std::string_view text);

}  // namespace kc::audit
