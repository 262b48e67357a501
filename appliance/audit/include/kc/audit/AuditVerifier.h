#pragma once
// Reads audit log files (untrusted bytes) and checks them: the hash chain, the sequence
// numbers and the checkpoint signatures of every instance's chain, across rotated files and
// across several instances' logs.
//
// Records are grouped by instance; an instance's files are ordered by the sequence numbers
// in them, and its records walked in that order. Each problem names the file and line:
// an altered record (its hash no longer matches the next record's "prev"), deleted records
// (a gap in "seq"), inserted, duplicated or reordered records, unreadable lines, forged
// checkpoints (signature or key), and records after the last checkpoint (a warning:
// truncation after the last checkpoint cannot be detected, except against a saved head:
// checkHeads()).

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "kc/audit/AuditRecord.h"
#include "kc/audit/CheckpointSigner.h"

namespace kc::audit {

struct LogFile {
  std::string name;      // how findings name the file
  std::string contents;  // the file's bytes
};

struct ParsedRecord {
  AuditRecord record;
  std::string file;
  std::size_t line = 0;  // 1-based line number in `file`
  std::string hash;      // lineHash of the line
};

struct Finding {
  enum class Severity { kError, kWarning };
  Severity severity = Severity::kError;
  std::string file;  // empty when the finding is about a whole chain
  std::size_t line = 0;
  std::string instance;
  std::uint64_t seq = 0;  // 0 when unknown
  std::string message;
  // "ERROR audit.log:17 (instance kc-1, seq 17): message"
  std::string toString() const;
};

struct ChainSummary {
  std::string instance;
  std::size_t records = 0;
  std::uint64_t firstSeq = 0;
  std::uint64_t lastSeq = 0;
  std::size_t checkpoints = 0;      // with a valid signature (or all, when unchecked)
  std::uint64_t sealedThrough = 0;  // seq of the last valid checkpoint, 0 when none
  std::size_t unsealed = 0;         // records after it
  std::int64_t sealedAtMicros = 0;  // time of the last valid checkpoint, 0 when none
  // Where the unsealed tail's time is measured from: the last valid checkpoint, or a later
  // log.open (a restart: the time before it the daemon was down and could seal nothing).
  std::int64_t tailFromMicros = 0;
  std::int64_t lastRecordMicros = 0;
  std::vector<std::string> files;  // in chain order
  // The chain head: the line (exact bytes, no '\n') of the last valid checkpoint; empty when
  // none. What GET /audit/head served when this checkpoint was the daemon's latest.
  std::string headLine;
};

struct VerificationReport {
  std::vector<Finding> findings;
  std::vector<ChainSummary> chains;
  std::vector<ParsedRecord> records;  // every readable record, in file and line order
  bool signaturesChecked = false;
  std::size_t errors() const;
  std::size_t warnings() const;
  bool intact() const { return errors() == 0; }
};

// The readable records of `files`, and a finding for every line that is not one.
VerificationReport readLogs(const std::vector<LogFile>& files);

// readLogs, then checks every chain. `key` null: checkpoint signatures are not checked
// (a warning says so).
VerificationReport verifyLogs(const std::vector<LogFile>& files, const CheckpointVerifier* key);

// What an auditor's verification demands beyond an unbroken chain (kc-audit verify's
// defaults). What the chain cannot prove is an error, not a warning.
struct StrictPolicy {
  // Checkpoint signatures must have been checked (a key was given).
  bool requireSignatures = true;
  // The daemon writes a checkpoint at least this often while records come in; records after
  // the last checkpoint spanning more than interval + margin mean checkpoints went missing
  // (or were cut away with the records after them).
  std::chrono::seconds checkpointInterval{60};
  std::chrono::seconds margin{60};
};

// Adds an error to `report` for each thing `policy` demands that it lacks: signatures not
// checked, a chain without a valid checkpoint, an unsealed tail older than the policy allows.
void applyStrictPolicy(VerificationReport& report, const StrictPolicy& policy);

// HEAD FILE FORMAT. A saved head is a chain head kept outside the server, as Certificate
// Transparency's signed tree heads are: the line of a signed checkpoint exactly as it stands
// in the log (AuditRecord.h), that is the body of GET /audit/head or a line printed by
// `kc-audit head`. A head file holds one or more heads, one per line; each line ends with '\n'
// except perhaps the last, a trailing '\r' is ignored, and empty lines are skipped. Heads of
// several instances, or several heads of one instance, may share a file.
struct SavedHead {
  std::string source;  // "<file>:<line>", how findings name it
  std::string line;    // the checkpoint's line, exact
  AuditRecord record;  // parsed from `line`
};

// The heads in `contents` (a head file named `source`). INVALID_ARGUMENT, naming the line, when
// a line is not a canonical record or not a checkpoint; or when the file holds no head.
Result<std::vector<SavedHead>> parseHeads(std::string_view contents, const std::string& source);

// Adds an error to `report` (of verifyLogs) for each head the files do not extend: a head whose
// signature does not verify with `key` (forged); a head whose instance's record with its seq is
// not byte for byte the head's line (the log was rewritten after the head was saved); a head
// whose seq the files do not reach or hold (the log was cut before it, or files were deleted),
// naming the first missing seq. `key` null: head signatures are not checked (a warning).
void checkHeads(VerificationReport& report, const std::vector<SavedHead>& heads,
                const CheckpointVerifier* key);

}  // namespace kc::audit
