#include "BitwardenImporter.h"

#include <algorithm>
#include <chrono>
#include <mutex>
#include <thread>
#include <unordered_map>

#include "kc/UserId.h"
#include "kc/appliance/UserKeyService.h"

namespace kc::setup {
namespace {

namespace op = audit::op;
namespace outcome = audit::outcome;
using provisioning::ReferenceUserKeyRow;

// Token and store faults stop the whole run: they would fail every following user too, and
// the operator must fix them first. Everything else concerns one user.
bool stopsTheRun(const Status& status) {
  switch (status.code()) {
    case StatusCode::kUnavailable:
    case StatusCode::kTimeout:
    case StatusCode::kTokenError:
    case StatusCode::kPermissionDenied:
    case StatusCode::kInternal:
      return true;
    default:
      return false;
  }
}

// A stored id as it may be shown: printable ASCII, at most 40 characters.
std::string printableId(std::string_view id) {
  std::string out;
  for (const char c : id.substr(0, 40)) {
    const auto byte = static_cast<unsigned char>(c);
    out += byte >= 0x20 && byte < 0x7F ? c : '?';
  }
  if (id.size() > 40) out += "...";
  return out.empty() ? "(empty id)" : out;
}

std::uint64_t microsSince(std::chrono::steady_clock::time_point start) {
  return static_cast<std::uint64_t>(std::chrono::duration_cast<std::chrono::microseconds>(
                                        std::chrono::steady_clock::now() - start)
                                        .count());
}

// What became of one row.
struct RowResult {
  UserOutcome outcome = UserOutcome::kFailed;
  bool replaced = false;
  std::string userId;  // for the summary
  std::string reason;  // conflicts and failures
  Status fatal;        // not OK: the run stops
};

class Run {
 public:
  Run(ImportContext& context, const ImportOptions& options) : context_(context), options_(options) {
    requestId_ = "import-" + std::to_string(audit::nowMicros());
  }

  Result<ImportSummary> execute(ImportSummary* partial);

 private:
  Status countSource();
  RowResult importRow(const ReferenceUserKeyRow& row, std::vector<audit::AuditRecord>& records);
  Status processPage(const std::vector<ReferenceUserKeyRow>& page);
  Status appendRecords(const std::vector<audit::AuditRecord>& records);
  bool stopRequested() const {
    return options_.stop != nullptr && options_.stop->load(std::memory_order_relaxed);
  }

  // A token operation's record, as the daemon writes it.
  audit::AuditRecord tokenRecord(std::string_view operation, const UserId& user,
                                 const std::string& keyId, const Status& result,
                                 std::chrono::steady_clock::time_point start) const;
  audit::AuditRecord runRecord(std::string_view operation, std::string_view detail) const;

  ImportContext& context_;
  const ImportOptions& options_;
  std::string requestId_;
  // Canonical ids of the source held by more than one row (the same user in different case).
  std::unordered_map<std::string, std::uint32_t> rowsPerUser_;

  std::mutex mutex_;
  ImportSummary summary_;  // GUARDED_BY(mutex_) while workers run
  Status fatal_;           // GUARDED_BY(mutex_)
  std::atomic<bool> failed_{false};
};

audit::AuditRecord Run::tokenRecord(std::string_view operation, const UserId& user,
                                    const std::string& keyId, const Status& result,
                                    std::chrono::steady_clock::time_point start) const {
  audit::AuditRecord record;
  record.operation = std::string(operation);
  record.outcome = result.isOk()                             ? outcome::kOk
                   : result.code() == StatusCode::kIntegrity ? outcome::kIntegrity
                                                             : outcome::kError;
  record.userId = user.str();
  record.keyId = keyId;
  record.requestId = requestId_;
  record.durationMicros = microsSince(start);
  if (!result.isOk()) record.detail = std::string(statusCodeName(result.code()));
  return record;
}

audit::AuditRecord Run::runRecord(std::string_view operation, std::string_view detail) const {
  audit::AuditRecord record;
  record.operation = std::string(operation);
  record.outcome = outcome::kOk;
  record.keyId = context_.ring.current().idHex();
  record.requestId = requestId_;
  record.detail = audit::sanitizeUtf8(detail);
  return record;
}

Status Run::appendRecords(const std::vector<audit::AuditRecord>& records) {
  if (records.empty()) return Status::ok();
  Status written = context_.audit.appendAll(records);
  if (!written.isOk()) {
    return {written.code(), "the audit log cannot be written (" + written.message() +
                                "); the import stops so that no user is written unaudited"};
  }
  return Status::ok();
}

Status Run::countSource() {
  std::string after;
  for (;;) {
    auto page = context_.source.readUserKeys(after, options_.pageSize);
    if (!page) return page.status();
    if (page->empty()) return Status::ok();
    after = page->back().id;
    for (const auto& row : *page) {
      ++summary_.sourceUsers;
      if (auto id = UserId::parse(row.id)) ++rowsPerUser_[id->str()];
    }
  }
}

RowResult Run::importRow(const ReferenceUserKeyRow& row, std::vector<audit::AuditRecord>& records) {
  RowResult result;
  result.userId = printableId(row.id);
  const auto fail = [&](std::string reason) {
    result.outcome = UserOutcome::kFailed;
    result.reason = std::move(reason);
    return std::move(result);
  };
  const auto conflict = [&](std::string reason) {
    result.outcome = UserOutcome::kConflict;
    result.reason = std::move(reason);
    return std::move(result);
  };
  const auto fatal = [&](const std::string& what, const Status& status) {
    result.fatal =
        Status(status.code(), "user " + result.userId + ": " + what + ": " + status.message());
    return std::move(result);
  };

  if (!row.problem.isOk()) return fail(row.problem.toString());
  auto parsed = UserId::parse(row.id);
  if (!parsed) return fail(parsed.status().toString());
  const UserId user = std::move(*parsed);
  result.userId = user.str();
  const auto counted = rowsPerUser_.find(user.str());
  if (const auto rows = counted == rowsPerUser_.end() ? 1 : counted->second; rows > 1) {
    return conflict("the source holds " + std::to_string(rows) +
                    " rows for this user, its id spelt in different case; none is imported "
                    "(delete the wrong ones from the source and run again)");
  }

  auto key = provisioning::decryptReferenceUserKey(context_.referenceAesKey, row.key);
  if (!key) return fail("its Key does not decrypt: " + key.status().toString());
  using appliance::UserKeyService;
  if (key->size() < UserKeyService::kMinUserKeyBytes ||
      key->size() > UserKeyService::kMaxUserKeyBytes) {
    return fail("its key is " + std::to_string(key->size()) + " bytes; a user key is " +
                std::to_string(UserKeyService::kMinUserKeyBytes) + ".." +
                std::to_string(UserKeyService::kMaxUserKeyBytes) + " bytes");
  }

  // 3. Already ours?
  bool replacing = false;
  auto existing = context_.store.get(user);
  if (existing) {
    const auto start = std::chrono::steady_clock::now();
    auto ours = context_.ring.open(user, existing->envelope);
    records.push_back(
        tokenRecord(op::kTokenUnwrap, user, existing->wrappingKeyId, ours.status(), start));
    if (!ours && stopsTheRun(ours.status())) return fatal("opening our record", ours.status());
    if (ours && *ours == *key) {
      result.outcome = UserOutcome::kAlreadyPresent;
      return result;
    }
    if (!options_.overwrite) {
      return conflict(ours ? "present in our store with another key; left untouched (run with "
                             "--overwrite to replace it with the source's)"
                           : "present in our store, but our record does not open (" +
                                 ours.status().toString() +
                                 "); left untouched (run with --overwrite to replace it)");
    }
    replacing = true;
  } else if (existing.status().code() != StatusCode::kNotFound) {
    return fatal("reading our store", existing.status());
  }

  // 4. Seal, and prove the envelope opens to the same key before writing it.
  const pkcs11::RsaKeyPair& wrappingKey = context_.ring.current();
  auto start = std::chrono::steady_clock::now();
  auto envelope = context_.ring.seal(user, *key);
  records.push_back(
      tokenRecord(op::kTokenWrap, user, wrappingKey.idHex(), envelope.status(), start));
  if (!envelope) {
    if (stopsTheRun(envelope.status())) return fatal("sealing", envelope.status());
    return fail("cannot be sealed: " + envelope.status().toString());
  }
  start = std::chrono::steady_clock::now();
  auto reopened = context_.ring.open(user, *envelope);
  records.push_back(
      tokenRecord(op::kTokenUnwrap, user, wrappingKey.idHex(), reopened.status(), start));
  if (!reopened) {
    if (stopsTheRun(reopened.status())) return fatal("verifying", reopened.status());
    return fail("the sealed key does not open again (" + reopened.status().toString() +
                "); nothing written");
  }
  if (!(*reopened == *key)) {
    return fail("the sealed key opens to other bytes; nothing written");
  }
  if (options_.dryRun) {
    result.outcome = UserOutcome::kImported;
    result.replaced = replacing;
    return result;
  }

  // The token operations are durable before the record they made is written.
  if (Status written = appendRecords(records); !written.isOk()) {
    records.clear();
    result.fatal = written;
    return result;
  }
  records.clear();

  const storage::Timestamp created = *row.creationDate;
  const storage::Timestamp revised = row.revisionDate.value_or(created);
  const storage::UserKeyWrite write{.userId = user,
                                    .envelope = *envelope,
                                    .wrappingKeyId = wrappingKey.idHex(),
                                    .creationTime = created,
                                    .revisionTime = revised,
                                    .lastAccessTime = row.lastAccessDate};
  const Status stored = replacing ? context_.store.upsert(write) : context_.store.insert(write);
  if (stored.code() == StatusCode::kAlreadyExists) {
    return conflict(
        "a record for this user appeared in our store during the import (a client "
        "deposited one); left untouched: run again to compare it");
  }
  if (!stored.isOk()) {
    if (stopsTheRun(stored)) return fatal("writing our store", stored);
    return fail("cannot be stored: " + stored.toString());
  }

  // 5. What the daemon will read must be exactly what was verified.
  auto readBack = context_.store.get(user);
  if (!readBack) {
    if (stopsTheRun(readBack.status())) return fatal("reading back", readBack.status());
    return fail("written, but cannot be read back (" + readBack.status().toString() +
                "); check our store, then run again with --overwrite");
  }
  const bool datesKept = readBack->revisionTime == revised &&
                         (replacing || (readBack->creationTime == created &&
                                        readBack->lastAccessTime == row.lastAccessDate));
  if (readBack->envelope != *envelope || readBack->wrappingKeyId != wrappingKey.idHex() ||
      !datesKept) {
    return fail(
        "the record read back differs from the one written and verified (another writer, or a "
        "database fault); it is left in place: check it, then run again with --overwrite");
  }
  result.outcome = UserOutcome::kImported;
  result.replaced = replacing;
  return result;
}

Status Run::processPage(const std::vector<ReferenceUserKeyRow>& page) {
  std::atomic<std::size_t> next{0};
  const auto work = [&] {
    for (;;) {
      if (stopRequested() || failed_.load()) return;
      const std::size_t index = next.fetch_add(1);
      if (index >= page.size()) return;
      const ReferenceUserKeyRow& row = page[index];
      std::vector<audit::AuditRecord> records;
      RowResult result = importRow(row, records);
      if (result.fatal.isOk()) {
        audit::AuditRecord record = runRecord(op::kImportUser, "");
        record.userId = UserId::parse(row.id) ? result.userId : "";
        switch (result.outcome) {
          case UserOutcome::kImported:
            record.outcome = outcome::kOk;
            record.detail = std::string(options_.dryRun ? "dry run: would be " : "") +
                            (result.replaced ? "replaced" : "imported");
            break;
          case UserOutcome::kAlreadyPresent:
            record.outcome = outcome::kAlreadyPresent;
            break;
          case UserOutcome::kConflict:
            record.outcome = outcome::kConflict;
            record.detail = audit::sanitizeUtf8(result.reason);
            break;
          case UserOutcome::kFailed:
            record.outcome = outcome::kFailed;
            record.detail = audit::sanitizeUtf8(
                (record.userId.empty() ? "row " + result.userId + ": " : "") + result.reason);
            break;
        }
        records.push_back(std::move(record));
        result.fatal = appendRecords(records);
      } else {
        (void)appendRecords(records);  // what the token did before the fault
      }
      std::lock_guard lock(mutex_);
      if (!result.fatal.isOk()) {
        if (fatal_.isOk()) fatal_ = result.fatal;
        failed_ = true;
        return;
      }
      switch (result.outcome) {
        case UserOutcome::kImported:
          ++summary_.imported;
          if (result.replaced) ++summary_.replaced;
          break;
        case UserOutcome::kAlreadyPresent:
          ++summary_.alreadyPresent;
          break;
        case UserOutcome::kConflict:
          summary_.conflicts.push_back({result.userId, result.reason});
          break;
        case UserOutcome::kFailed:
          summary_.failures.push_back({result.userId, result.reason});
          break;
      }
      if (options_.onProgress) options_.onProgress(1);
    }
  };
  const std::size_t threads = std::clamp<std::size_t>(options_.threads, 1, page.size());
  std::vector<std::thread> workers;
  workers.reserve(threads - 1);
  for (std::size_t i = 1; i < threads; ++i) workers.emplace_back(work);
  work();
  for (auto& worker : workers) worker.join();
  std::lock_guard lock(mutex_);
  return fatal_;
}

Result<ImportSummary> Run::execute(ImportSummary* partial) {
  const auto finish = [&](Status status) -> Result<ImportSummary> {
    std::sort(summary_.conflicts.begin(), summary_.conflicts.end(),
              [](const auto& a, const auto& b) { return a.userId < b.userId; });
    std::sort(summary_.failures.begin(), summary_.failures.end(),
              [](const auto& a, const auto& b) { return a.userId < b.userId; });
    summary_.interrupted = summary_.handled() < summary_.sourceUsers;
    audit::AuditRecord end =
        runRecord(op::kImportEnd,
                  "imported=" + std::to_string(summary_.imported) +
                      " replaced=" + std::to_string(summary_.replaced) +
                      " already_present=" + std::to_string(summary_.alreadyPresent) +
                      " conflicts=" + std::to_string(summary_.conflicts.size()) +
                      " failed=" + std::to_string(summary_.failures.size()) + " of " +
                      std::to_string(summary_.sourceUsers) + (options_.dryRun ? " dry_run" : "") +
                      (status.isOk() ? (summary_.interrupted ? " interrupted" : "")
                                     : " stopped: " + std::string(statusCodeName(status.code()))));
    if (!status.isOk()) end.outcome = outcome::kError;
    const Status ended = context_.audit.append(std::move(end));
    if (status.isOk()) status = ended;
    if (partial != nullptr) *partial = summary_;
    if (!status.isOk()) return status;
    return summary_;
  };

  KC_RETURN_IF_ERROR(countSource());
  if (options_.onTotal) options_.onTotal(summary_.sourceUsers);
  KC_RETURN_IF_ERROR(appendRecords({runRecord(
      op::kImportStart, "from " + context_.description + (options_.dryRun ? "; dry run" : "") +
                            (options_.overwrite ? "; overwrite" : "") + "; " +
                            std::to_string(summary_.sourceUsers) + " users")}));

  std::string after;
  while (!stopRequested()) {
    auto page = context_.source.readUserKeys(after, options_.pageSize);
    if (!page) return finish(page.status());
    if (page->empty()) break;
    after = page->back().id;
    if (Status done = processPage(*page); !done.isOk()) return finish(done);
  }
  return finish(Status::ok());
}

}  // namespace

Result<ImportSummary> importUsers(ImportContext& context, const ImportOptions& options,
                                  ImportSummary* partial) {
  Run run(context, options);
  return run.execute(partial);
}

}  // namespace kc::setup
