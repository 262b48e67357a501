#include "kc/audit/AuditVerifier.h"

#include <algorithm>
#include <charconv>
#include <filesystem>
#include <map>
#include <regex>
#include <set>
#include <string_view>
#include <unordered_map>
#include <unordered_set>

#include "kc/Base64.h"

namespace kc::audit {

namespace {

// The seq in a rotated file's name, audit-<instance>-<YYYYMMDDTHHMMSSZ>-<seq>[-<n>].log; none
// for audit.log, any other name, or seq 0 (the name a file whose end was unreadable is kept
// under).
std::optional<std::uint64_t> rotatedFileLastSeq(const std::string& file) {
  static const std::regex kRotatedName(R"(^audit-.+-\d{8}T\d{6}Z-(\d{1,19})(-\d+)?\.log$)");
  const std::string name = std::filesystem::path(file).filename().string();
  std::smatch match;
  if (!std::regex_match(name, match, kRotatedName)) return std::nullopt;
  std::uint64_t seq = 0;
  const std::string digits = match[1].str();
  const auto [end, error] = std::from_chars(digits.data(), digits.data() + digits.size(), seq);
  if (error != std::errc() || seq == 0) return std::nullopt;
  return seq;
}

std::string where(const ParsedRecord& record) {
  return record.file + ":" + std::to_string(record.line);
}

Finding findingAt(const ParsedRecord& at, Finding::Severity severity, std::string message) {
  return Finding{severity, at.file, at.line, at.record.instance, at.record.seq, std::move(message)};
}

std::string seqRange(std::uint64_t from, std::uint64_t to) {
  return from == to ? "seq " + std::to_string(from)
                    : "seq " + std::to_string(from) + ".." + std::to_string(to);
}

// Whether `checkpoint`'s signature verifies with `key` (its key id not looked at).
bool signatureVerifies(const AuditRecord& checkpoint, const CheckpointVerifier& key) {
  auto signature = decodeBase64(checkpoint.signature);
  const std::string message = checkpointMessage(checkpoint);
  return signature &&
         key.verify({reinterpret_cast<const std::uint8_t*>(message.data()), message.size()},
                    *signature);
}

// Checks one instance's records, already in chain order.
class ChainWalk {
 public:
  ChainWalk(std::vector<const ParsedRecord*> records, const CheckpointVerifier* key,
            std::map<std::pair<std::string, std::size_t>, std::size_t> unreadableBefore,
            std::vector<Finding>& findings)
      : records_(std::move(records)),
        key_(key),
        unreadableBefore_(std::move(unreadableBefore)),
        findings_(findings) {}

  ChainSummary run() {
    const auto& instance = records_.front()->record.instance;
    ChainSummary summary;
    summary.instance = instance;
    summary.records = records_.size();
    summary.firstSeq = records_.front()->record.seq;
    for (const auto* r : records_) {
      summary.lastSeq = std::max(summary.lastSeq, r->record.seq);
      if (summary.files.empty() || summary.files.back() != r->file)
        summary.files.push_back(r->file);
    }
    for (std::size_t i = 0; i < records_.size(); ++i) hashes_[records_[i]->hash].push_back(i);

    std::uint64_t anchorSeq = 0;
    std::string anchorHash = genesisHash(instance);
    const ParsedRecord* anchor = nullptr;
    std::string anchorPrevHash;  // the accepted record before the anchor
    const ParsedRecord* anchorPrev = nullptr;
    std::optional<std::size_t> lastCheckpoint;  // index of the last valid checkpoint
    bool brokenSinceCheckpoint = false;

    for (std::size_t i = 0; i < records_.size(); ++i) {
      const ParsedRecord& r = *records_[i];
      const std::uint64_t expected = anchorSeq + 1;
      bool accept = true;
      const std::size_t errorsBefore = findings_.size();
      if ((r.record.seq == expected && r.record.prev == anchorHash) ||
          skipped_.count(r.record.prev) != 0) {
        // In place, or follows a record already reported out of place (a consequence of that
        // finding): nothing to report.
      } else if (hashes_[r.hash].size() > 1 && hashes_[r.hash].front() != i) {
        error(r, "duplicate of the record at " + where(*records_[hashes_[r.hash].front()]) +
                     ": inserted copy");
        accept = false;
      } else if (auto later = indexOf(r.record.prev); later && *later > i) {
        const ParsedRecord& predecessor = *records_[*later];
        error(r, "records out of order: seq " + std::to_string(r.record.seq) +
                     " comes before seq " + std::to_string(predecessor.record.seq) + " at " +
                     where(predecessor) + ", which it follows in the chain");
        accept = false;
      } else if (anchor != nullptr && r.record.seq == anchorSeq &&
                 r.record.prev == anchorPrevHash) {
        // The record before this one took this one's place: it was inserted.
        error(*anchor, "inserted record: not part of the chain (the next record, " + where(r) +
                           ", follows " +
                           (anchorPrev ? where(*anchorPrev) : std::string("the chain's start")) +
                           " directly)");
        skipped_.insert(anchor->hash);
        anchorHash = r.hash;
        anchor = &r;
        checkCheckpoint(r, i, lastCheckpoint, brokenSinceCheckpoint, errorsBefore);
        continue;
      } else if (i + 1 < records_.size() && records_[i + 1]->record.seq == expected &&
                 records_[i + 1]->record.prev == anchorHash) {
        error(r, "inserted record: not part of the chain (the next record, " +
                     where(*records_[i + 1]) + ", follows " +
                     (anchor ? where(*anchor) : std::string("the chain's start")) + " directly)");
        accept = false;
      } else if (r.record.seq == expected) {
        if (anchor != nullptr) {
          error(*anchor,
                "record altered: its SHA-256 does not match the \"prev\" of the next "
                "record (" +
                    where(r) + ")");
        } else {
          error(r, "first record of the chain does not start from the genesis value");
        }
      } else if (r.record.prev == anchorHash) {
        error(r, "sequence number altered: expected " + std::to_string(expected) + ", found " +
                     std::to_string(r.record.seq));
        anchorSeq = expected;
        anchorPrevHash = anchorHash;
        anchorPrev = anchor;
        anchorHash = r.hash;
        anchor = &r;
        checkCheckpoint(r, i, lastCheckpoint, brokenSinceCheckpoint, errorsBefore);
        continue;
      } else if (r.record.seq > expected) {
        const std::uint64_t missing = r.record.seq - expected;
        const auto unreadable = unreadableBefore_.find({r.file, r.line});
        const bool explained =
            unreadable != unreadableBefore_.end() && unreadable->second == missing;
        if (!explained) {
          error(r, "records deleted: " + seqRange(expected, r.record.seq - 1) +
                       " missing between " +
                       (anchor ? where(*anchor) : std::string("the chain's start")) + " and " +
                       where(r));
        }
      } else {
        error(r, "sequence goes back: seq " + std::to_string(r.record.seq) + " after seq " +
                     std::to_string(anchorSeq) + " (inserted or reordered record)");
        accept = false;
      }
      if (!accept) {
        skipped_.insert(r.hash);
        brokenSinceCheckpoint = true;
        continue;
      }
      if (r.record.operation == op::kLogOpen &&
          r.record.detail.find(kChainFilesMissing) != std::string::npos) {
        error(r,
              "the chain starts again here: when this run opened the log, every earlier file "
              "of this instance was gone (deleted); restore them to verify the whole chain");
      }
      anchorSeq = r.record.seq;
      anchorPrevHash = anchorHash;
      anchorPrev = anchor;
      anchorHash = r.hash;
      anchor = &r;
      checkCheckpoint(r, i, lastCheckpoint, brokenSinceCheckpoint, errorsBefore);
    }

    summary.lastRecordMicros = records_.back()->record.timeMicros;
    if (lastCheckpoint) {
      summary.sealedAtMicros = records_[*lastCheckpoint]->record.timeMicros;
      summary.tailFromMicros = summary.sealedAtMicros;
      summary.sealedThrough = records_[*lastCheckpoint]->record.seq;
      summary.unsealed = records_.size() - *lastCheckpoint - 1;
      summary.headLine = serialize(records_[*lastCheckpoint]->record);
      for (std::size_t i = *lastCheckpoint + 1; i < records_.size(); ++i) {
        if (records_[i]->record.operation == op::kLogOpen) {
          summary.tailFromMicros = records_[i]->record.timeMicros;
        }
      }
    } else {
      summary.unsealed = records_.size();
    }
    summary.checkpoints = checkpoints_;
    checkChainEnd();
    checkRotatedFileEnds();
    if (summary.unsealed > 0) {
      const ParsedRecord& first = *records_[records_.size() - summary.unsealed];
      std::string text = lastCheckpoint
                             ? std::to_string(summary.unsealed) +
                                   " record(s) after the last checkpoint (" +
                                   where(*records_[*lastCheckpoint]) + ", seq " +
                                   std::to_string(summary.sealedThrough) + ") are not sealed"
                             : "no valid checkpoint: none of the " +
                                   std::to_string(summary.unsealed) + " record(s) is sealed";
      text += "; records cut off after " + where(first) + " could not be detected";
      findings_.push_back(findingAt(first, Finding::Severity::kWarning, std::move(text)));
    }
    return summary;
  }

 private:
  void error(const ParsedRecord& at, std::string message) {
    findings_.push_back(findingAt(at, Finding::Severity::kError, std::move(message)));
  }

  // How the chain ends. Only audit.log (the live file, or the one a run closed) may hold the
  // chain's last record, unless that record is the checkpoint of a clean stop (another
  // instance's audit.log kept under a rotated name); a chain whose newest file has a rotated
  // name otherwise lost the file that continued it.
  void checkChainEnd() {
    const ParsedRecord& last = *records_.back();
    const bool isCheckpoint = last.record.operation == op::kCheckpoint;
    if (isCheckpoint && hasDetailWord(last.record, kRotationDetail)) {
      // Its successor (audit.log) always begins with a log.open record.
      error(last, "the chain stops at a rotation: the file that continues it (seq " +
                      std::to_string(last.record.seq + 1) +
                      " onwards, named in this checkpoint) is missing — the newest file was "
                      "deleted");
      return;
    }
    // A chain without checkpoints (a log written without an audit key) has no close
    // checkpoints either: its end proves nothing, and the strict policy fails it anyway.
    if (checkpoints_ == 0 || !rotatedFileLastSeq(last.file)) return;
    if (isCheckpoint && hasDetailWord(last.record, kCloseDetail)) return;
    error(last,
          "the chain's newest file has a rotated name but does not end in the rotation "
          "checkpoint that sealed it: it was cut, and the file that continued it "
          "(audit.log) is missing");
  }

  // A rotated file is named after the seq of its last record (audit-<instance>-<time>-<seq>.log,
  // see AuditLog.h): one that ends earlier was cut.
  void checkRotatedFileEnds() {
    std::map<std::string, const ParsedRecord*> lastOf;
    for (const auto* r : records_) {
      auto& slot = lastOf[r->file];
      if (slot == nullptr || r->line > slot->line) slot = r;
    }
    for (const auto& [file, last] : lastOf) {
      const auto named = rotatedFileLastSeq(file);
      if (!named || *named == last->record.seq) continue;
      if (*named > last->record.seq) {
        error(*last, "the file's name says its last record is seq " + std::to_string(*named) +
                         ", but it ends at seq " + std::to_string(last->record.seq) + ": " +
                         seqRange(last->record.seq + 1, *named) + " cut from its end");
      } else {
        error(*last, "the file's name says its last record is seq " + std::to_string(*named) +
                         ", but it goes on to seq " + std::to_string(last->record.seq) +
                         ": renamed or appended to after it was rotated");
      }
    }
  }

  // "<word>" alone (as version 1 logs wrote it) or "<word>; ...".
  static bool hasDetailWord(const AuditRecord& record, std::string_view word) {
    return record.detail.starts_with(word) &&
           (record.detail.size() == word.size() || record.detail[word.size()] == ';');
  }

  std::optional<std::size_t> indexOf(const std::string& hash) const {
    const auto found = hashes_.find(hash);
    if (found == hashes_.end()) return std::nullopt;
    return found->second.front();
  }

  void checkCheckpoint(const ParsedRecord& r, std::size_t index,
                       std::optional<std::size_t>& lastCheckpoint, bool& brokenSinceCheckpoint,
                       std::size_t errorsBefore) {
    if (findings_.size() != errorsBefore) brokenSinceCheckpoint = true;
    if (r.record.operation != op::kCheckpoint) {
      if (!r.record.signature.empty()) error(r, "a signature on a record that is not a checkpoint");
      return;
    }
    bool valid = true;
    if (key_ != nullptr) {
      if (r.record.keyId != key_->keyId()) {
        error(r, "checkpoint names key " + r.record.keyId + ", not the audit key " + key_->keyId() +
                     ": forged checkpoint");
        valid = false;
      } else {
        if (!signatureVerifies(r.record, *key_)) {
          error(r,
                "checkpoint signature does not verify with the audit public key: forged or "
                "altered checkpoint");
          valid = false;
        }
      }
    }
    if (valid) {
      ++checkpoints_;
      lastCheckpoint = index;
    }
    brokenSinceCheckpoint = false;
  }

  std::vector<const ParsedRecord*> records_;
  const CheckpointVerifier* key_;
  std::map<std::pair<std::string, std::size_t>, std::size_t> unreadableBefore_;
  std::vector<Finding>& findings_;
  std::unordered_map<std::string, std::vector<std::size_t>> hashes_;
  std::unordered_set<std::string> skipped_;
  std::size_t checkpoints_ = 0;
};

}  // namespace

std::string Finding::toString() const {
  std::string out = severity == Severity::kError ? "ERROR " : "WARNING ";
  if (!file.empty()) {
    out += file;
    if (line != 0) out += ":" + std::to_string(line);
    out += " ";
  }
  if (!instance.empty() || seq != 0) {
    out += "(";
    if (!instance.empty()) out += "instance " + instance;
    if (seq != 0) out += (instance.empty() ? "" : ", ") + std::string("seq ") + std::to_string(seq);
    out += ") ";
  }
  out += message;
  return out;
}

std::size_t VerificationReport::errors() const {
  return static_cast<std::size_t>(
      std::count_if(findings.begin(), findings.end(),
                    [](const auto& f) { return f.severity == Finding::Severity::kError; }));
}

std::size_t VerificationReport::warnings() const {
  return findings.size() - errors();
}

namespace {

// Per file: how many unreadable lines came right before each readable line.
using UnreadableIndex = std::map<std::pair<std::string, std::size_t>, std::size_t>;

VerificationReport read(const std::vector<LogFile>& files, UnreadableIndex& unreadableBefore) {
  VerificationReport report;
  for (const auto& file : files) {
    std::string_view rest = file.contents;
    std::size_t lineNumber = 0;
    std::size_t unreadable = 0;
    while (!rest.empty()) {
      ++lineNumber;
      const std::size_t end = rest.find('\n');
      const std::string_view line = rest.substr(0, end);
      const bool complete = end != std::string_view::npos;
      rest = complete ? rest.substr(end + 1) : std::string_view{};
      if (!complete) {
        report.findings.push_back({Finding::Severity::kWarning, file.name, lineNumber, "", 0,
                                   "partial last line (no newline): a write was cut short; "
                                   "it was never confirmed and is ignored"});
        break;
      }
      auto record = parseRecord(line);
      if (!record) {
        report.findings.push_back(
            {Finding::Severity::kError, file.name, lineNumber, "", 0,
             "not a valid audit record (altered): " + record.status().message()});
        ++unreadable;
        continue;
      }
      if (unreadable > 0) unreadableBefore[{file.name, lineNumber}] = unreadable;
      unreadable = 0;
      report.records.push_back({std::move(*record), file.name, lineNumber, lineHash(line)});
    }
  }
  return report;
}

}  // namespace

VerificationReport readLogs(const std::vector<LogFile>& files) {
  UnreadableIndex unused;
  return read(files, unused);
}

VerificationReport verifyLogs(const std::vector<LogFile>& files, const CheckpointVerifier* key) {
  UnreadableIndex unreadableBefore;
  VerificationReport report = read(files, unreadableBefore);
  report.signaturesChecked = key != nullptr;

  // Group by instance; order an instance's files by the smallest seq in them.
  std::map<std::string, std::vector<const ParsedRecord*>> byInstance;
  for (const auto& r : report.records) byInstance[r.record.instance].push_back(&r);
  for (auto& [instance, records] : byInstance) {
    std::map<std::string, std::uint64_t> firstSeq;
    for (const auto* r : records) {
      auto [it, inserted] = firstSeq.emplace(r->file, r->record.seq);
      if (!inserted) it->second = std::min(it->second, r->record.seq);
    }
    std::map<std::string, std::size_t> fileOrder;
    for (std::size_t i = 0; i < files.size(); ++i) fileOrder.emplace(files[i].name, i);
    std::stable_sort(records.begin(), records.end(), [&](const auto* a, const auto* b) {
      if (a->file == b->file) return a->line < b->line;
      const auto sa = firstSeq[a->file], sb = firstSeq[b->file];
      if (sa != sb) return sa < sb;
      return fileOrder[a->file] < fileOrder[b->file];
    });
    ChainWalk walk(records, key, unreadableBefore, report.findings);
    report.chains.push_back(walk.run());
  }
  if (key == nullptr && !report.records.empty()) {
    report.findings.push_back({Finding::Severity::kWarning, "", 0, "", 0,
                               "checkpoint signatures were not checked (no --public-key): "
                               "a forged checkpoint would go unnoticed"});
  }
  std::stable_sort(report.findings.begin(), report.findings.end(),
                   [](const Finding& a, const Finding& b) {
                     if (a.severity != b.severity) return a.severity == Finding::Severity::kError;
                     return false;
                   });
  return report;
}

void applyStrictPolicy(VerificationReport& report, const StrictPolicy& policy) {
  const auto chainError = [&](const ChainSummary& chain, std::string message) {
    report.findings.push_back(Finding{Finding::Severity::kError, "", 0, chain.instance,
                                      chain.lastSeq, std::move(message)});
  };
  if (policy.requireSignatures && !report.signaturesChecked) {
    report.findings.push_back(Finding{Finding::Severity::kError, "", 0, "", 0,
                                      "checkpoint signatures were not checked (no public key): "
                                      "a rewritten log cannot be told from the original"});
  }
  const auto allowed = std::chrono::duration_cast<std::chrono::microseconds>(
                           policy.checkpointInterval + policy.margin)
                           .count();
  for (const auto& chain : report.chains) {
    if (chain.sealedThrough == 0) {
      chainError(chain,
                 "no valid checkpoint: nothing in this chain is sealed, so records cut off "
                 "its end or a rewritten chain cannot be detected");
      continue;
    }
    const auto span = chain.lastRecordMicros - chain.tailFromMicros;
    if (chain.unsealed > 0 && span > allowed) {
      chainError(chain, std::to_string(chain.unsealed) +
                            " record(s) after the last checkpoint (seq " +
                            std::to_string(chain.sealedThrough) + ") span " +
                            std::to_string(span / 1'000'000) +
                            " s, more than the checkpoint interval and margin (" +
                            std::to_string(allowed / 1'000'000) +
                            " s) allow: checkpoints are missing from the tail");
    }
  }
}

Result<std::vector<SavedHead>> parseHeads(std::string_view contents, const std::string& source) {
  std::vector<SavedHead> heads;
  std::size_t lineNumber = 0;
  while (!contents.empty()) {
    ++lineNumber;
    const std::size_t end = contents.find('\n');
    std::string_view line = contents.substr(0, end);
    contents = end == std::string_view::npos ? std::string_view{} : contents.substr(end + 1);
    if (!line.empty() && line.back() == '\r') line.remove_suffix(1);
    if (line.empty()) continue;
    const std::string where = source + ":" + std::to_string(lineNumber);
    auto record = parseRecord(line);
    if (!record) {
      return Status(StatusCode::kInvalidArgument,
                    where + ": not a saved head (a checkpoint line): " + record.status().message());
    }
    if (record->operation != op::kCheckpoint) {
      return Status(
          StatusCode::kInvalidArgument,
          where + ": not a saved head: a \"" + record->operation + "\" record, not a checkpoint");
    }
    heads.push_back({where, std::string(line), std::move(*record)});
  }
  if (heads.empty()) return Status(StatusCode::kInvalidArgument, source + ": holds no head");
  return heads;
}

void checkHeads(VerificationReport& report, const std::vector<SavedHead>& heads,
                const CheckpointVerifier* key) {
  if (key == nullptr && !heads.empty()) {
    report.findings.push_back({Finding::Severity::kWarning, "", 0, "", 0,
                               "saved heads' signatures were not checked (no --public-key): a "
                               "forged head would go unnoticed"});
  }
  for (const auto& head : heads) {
    const AuditRecord& saved = head.record;
    const auto error = [&](std::string file, std::size_t line, std::uint64_t seq,
                           std::string message) {
      report.findings.push_back({Finding::Severity::kError, std::move(file), line, saved.instance,
                                 seq, std::move(message)});
    };
    // Findings located at the head file name it already; those at a log record name it here.
    const std::string headOf =
        "(seq " + std::to_string(saved.seq) + ", " + formatTime(saved.timeMicros) + ")";
    const std::string named = "saved head " + headOf;
    const std::string namedAt = "saved head " + head.source + " " + headOf;
    if (key != nullptr) {
      if (saved.keyId != key->keyId() || !signatureVerifies(saved, *key)) {
        error(head.source, 0, saved.seq,
              named + ": its signature does not verify with the audit public key: forged head");
        continue;
      }
    }
    const std::string expected = lineHash(head.line);
    std::set<std::uint64_t> present;
    const ParsedRecord* sameSeq = nullptr;
    bool found = false;
    for (const auto& r : report.records) {
      if (r.record.instance != saved.instance) continue;
      present.insert(r.record.seq);
      if (r.record.seq != saved.seq) continue;
      if (r.hash == expected) found = true;
      if (sameSeq == nullptr) sameSeq = &r;
    }
    if (found) continue;
    if (sameSeq != nullptr) {
      error(sameSeq->file, sameSeq->line, saved.seq,
            "rewritten after the " + namedAt + ": the record with seq " +
                std::to_string(saved.seq) + " is not the checkpoint the head saved");
      continue;
    }
    std::uint64_t firstMissing = 1;
    while (present.contains(firstMissing)) ++firstMissing;
    std::uint64_t lastMissing = firstMissing;
    while (lastMissing < saved.seq && !present.contains(lastMissing + 1)) ++lastMissing;
    const bool cut = present.empty() || *present.rbegin() < saved.seq;
    error(head.source, 0, firstMissing,
          std::string(cut ? "the log was cut before the " : "records missing up to the ") + named +
              ": first missing seq " + std::to_string(firstMissing) + " (" +
              seqRange(firstMissing, lastMissing) + " not in the files)");
  }
  std::stable_sort(
      report.findings.begin(), report.findings.end(), [](const Finding& a, const Finding& b) {
        return a.severity == Finding::Severity::kError && b.severity != Finding::Severity::kError;
      });
}

}  // namespace kc::audit
