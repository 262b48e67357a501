// kc-audit's commands: verify audit logs (hash chain, sequence, checkpoint signatures),
// filter and export their records, and render an HTML report.

#include "AuditTool.h"

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <fstream>
#include <iostream>
#include <iterator>
#include <map>
#include <optional>
#include <set>
#include <sstream>
#include <string>
#include <string_view>
#include <vector>

#include "HtmlReport.h"
#include "kc/audit/AuditVerifier.h"

namespace kc::audit_tool {
namespace {

using namespace kc::audit;
using cli::CommandSpec;
using cli::ExitStatus;
using cli::FlagSpec;
using cli::ParsedFlags;
using cli::ToolSpec;

constexpr int kExitOk = 0;
constexpr int kExitFailed = 1;
constexpr int kExitError = 2;  // usage (kc::cli::kUsageError) or I/O error

// A usage error found after parsing (a value of the wrong form); reported like the parser's.
struct UsageError {
  std::string message;
};

struct Filters {
  std::optional<std::string> user;
  std::vector<std::string> operations;
  std::vector<std::string> outcomes;
  std::optional<std::int64_t> since;
  std::optional<std::int64_t> until;

  bool matches(const AuditRecord& r) const {
    if (user && r.userId != *user) return false;
    if (!operations.empty() &&
        std::find(operations.begin(), operations.end(), r.operation) == operations.end())
      return false;
    if (!outcomes.empty() &&
        std::find(outcomes.begin(), outcomes.end(), r.outcome) == outcomes.end())
      return false;
    if (since && r.timeMicros < *since) return false;
    if (until && r.timeMicros >= *until) return false;
    return true;
  }
};

std::optional<std::int64_t> timeFlag(const ParsedFlags& flags, const std::string& name) {
  auto text = flags.value(name);
  if (!text) return std::nullopt;
  if (text->size() == 10) *text += "T00:00:00Z";
  if (text->size() == 20 && text->back() == 'Z') *text = text->substr(0, 19) + ".000000Z";
  auto micros = parseTime(*text);
  if (!micros) throw UsageError{name + ": not a UTC time such as 2026-11-25T15:00:00Z"};
  return *micros;
}

Filters filtersOf(const ParsedFlags& flags) {
  return {flags.value("--user"), flags.values("--operation"), flags.values("--outcome"),
          timeFlag(flags, "--since"), timeFlag(flags, "--until")};
}

struct IoError {
  std::string message;
};

std::string readFileOrThrow(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) throw IoError{"cannot read " + path};
  std::string contents((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  if (in.bad()) throw IoError{"cannot read " + path};
  return contents;
}

std::vector<LogFile> readLogFiles(const std::vector<std::string>& paths) {
  std::vector<LogFile> files;
  files.reserve(paths.size());
  for (const auto& path : paths) files.push_back({path, readFileOrThrow(path)});
  return files;
}

std::optional<CheckpointVerifier> loadKey(const ParsedFlags& flags) {
  const auto path = flags.value("--public-key");
  if (!path) return std::nullopt;
  auto key = CheckpointVerifier::fromPem(readFileOrThrow(*path));
  if (!key) throw IoError{*path + ": " + key.status().message()};
  return *key;
}

void printSummary(const VerificationReport& report, std::ostream& out) {
  for (const auto& f : report.findings) out << f.toString() << "\n";
  for (const auto& c : report.chains) {
    out << "instance " << c.instance << ": " << c.records << " record(s), seq " << c.firstSeq
        << ".." << c.lastSeq << ", " << c.checkpoints << " checkpoint(s)"
        << (report.signaturesChecked ? " verified" : " (signatures not checked)")
        << ", sealed through seq " << c.sealedThrough << ", " << c.unsealed << " unsealed; files:";
    for (const auto& file : c.files) out << " " << file;
    out << "\n";
  }
  out << (report.intact() ? "INTACT" : "FAILED") << ": " << report.errors() << " error(s), "
      << report.warnings() << " warning(s)\n";
}

std::chrono::seconds secondsFlag(const ParsedFlags& flags, const std::string& name,
                                 std::chrono::seconds fallback) {
  const auto given = flags.value(name);
  if (!given) return fallback;
  const std::string& text = *given;
  if (text.empty() || text.size() > 7 ||
      !std::all_of(text.begin(), text.end(), [](char c) { return c >= '0' && c <= '9'; })) {
    throw UsageError{name + " needs a whole number of seconds"};
  }
  return std::chrono::seconds(std::stol(text));
}

int runVerify(const ParsedFlags& flags) {
  const bool noSignatures = flags.has("--no-signatures");
  if (!noSignatures && !flags.has("--public-key")) {
    throw UsageError{
        "give --public-key PEM (the audit key, from kc-setup key export): without it a "
        "rewritten log cannot be told from the original; --no-signatures checks the hash chain "
        "alone"};
  }
  if (noSignatures && flags.has("--public-key")) {
    throw UsageError{"give --public-key or --no-signatures, not both"};
  }
  const auto key = loadKey(flags);
  std::vector<SavedHead> heads;
  for (const auto& path : flags.values("--head")) {
    auto parsed = parseHeads(readFileOrThrow(path), path);
    if (!parsed) throw IoError{parsed.status().message()};
    heads.insert(heads.end(), parsed->begin(), parsed->end());
  }
  const auto files = readLogFiles(flags.operands());
  auto report = verifyLogs(files, key ? &*key : nullptr);
  checkHeads(report, heads, key ? &*key : nullptr);
  StrictPolicy policy;
  policy.requireSignatures = !noSignatures;
  policy.checkpointInterval =
      secondsFlag(flags, "--checkpoint-interval", policy.checkpointInterval);
  policy.margin = std::max(policy.margin, policy.checkpointInterval);
  applyStrictPolicy(report, policy);
  if (noSignatures) {
    std::cout << "WARNING: --no-signatures: checkpoint signatures were NOT checked; this proves "
                 "the chain is unbroken, not that it is the log the daemon wrote\n";
  }
  printSummary(report, std::cout);
  return report.intact() ? kExitOk : kExitFailed;
}

int runHead(const ParsedFlags& flags) {
  const auto key = loadKey(flags);
  const auto report = verifyLogs(readLogFiles(flags.operands()), key ? &*key : nullptr);
  for (const auto& f : report.findings) std::cerr << f.toString() << "\n";
  bool complete = report.intact();
  for (const auto& chain : report.chains) {
    if (chain.headLine.empty()) {
      std::cerr << "ERROR (instance " << chain.instance
                << ") no valid checkpoint: the chain has no head\n";
      complete = false;
    }
  }
  if (!complete) {
    std::cerr << "FAILED: no head printed\n";
    return kExitFailed;
  }
  for (const auto& chain : report.chains) std::cout << chain.headLine << "\n";
  return kExitOk;
}

std::vector<const ParsedRecord*> selectRecords(const VerificationReport& report,
                                               const Filters& filters) {
  for (const auto& f : report.findings) std::cerr << f.toString() << "\n";
  std::vector<const ParsedRecord*> out;
  for (const auto& r : report.records) {
    if (filters.matches(r.record)) out.push_back(&r);
  }
  return out;
}

int runShow(const ParsedFlags& flags) {
  const Filters filters = filtersOf(flags);
  const auto report = readLogs(readLogFiles(flags.operands()));
  for (const auto* p : selectRecords(report, filters)) {
    const auto& r = p->record;
    std::cout << formatTime(r.timeMicros) << "  " << r.instance << "  #" << r.seq << "  "
              << r.operation << "  " << r.outcome;
    if (r.httpStatus != 0) std::cout << "  " << r.httpStatus;
    if (!r.userId.empty()) std::cout << "  user=" << r.userId;
    if (!r.keyId.empty()) std::cout << "  key=" << r.keyId;
    if (!r.clientAddress.empty()) std::cout << "  client=" << r.clientAddress;
    if (!r.requestId.empty()) std::cout << "  request=" << r.requestId;
    if (!r.clientRequestId.empty()) std::cout << "  client_request=" << r.clientRequestId;
    if (r.durationMicros != 0) std::cout << "  " << r.durationMicros << "us";
    if (!r.detail.empty()) std::cout << "  (" << r.detail << ")";
    std::cout << "\n";
  }
  return kExitOk;
}

std::string csvCell(std::string_view text, bool isText = true) {
  std::string value(text);
  if (isText && !value.empty() &&
      (value[0] == '=' || value[0] == '+' || value[0] == '-' || value[0] == '@'))
    value.insert(value.begin(), '\'');
  if (value.find_first_of(",\"\r\n") == std::string::npos) return value;
  std::string out = "\"";
  for (const char c : value) {
    if (c == '"') out += '"';
    out += c;
  }
  out += '"';
  return out;
}

int runExport(const ParsedFlags& flags) {
  const std::string format = flags.value("--format").value_or("jsonl");
  if (format != "jsonl" && format != "csv") throw UsageError{"--format must be jsonl or csv"};
  const Filters filters = filtersOf(flags);
  const auto report = readLogs(readLogFiles(flags.operands()));
  std::ostringstream out;
  if (format == "csv") {
    out << "time,instance,seq,operation,outcome,http_status,user,key,request,client,"
           "duration_us,detail,prev,sig,client_request\r\n";
  }
  for (const auto* p : selectRecords(report, filters)) {
    const auto& r = p->record;
    if (format == "jsonl") {
      out << serialize(r) << "\n";
      continue;
    }
    out << csvCell(formatTime(r.timeMicros), false) << ',' << csvCell(r.instance) << ',' << r.seq
        << ',' << csvCell(r.operation) << ',' << csvCell(r.outcome) << ',' << r.httpStatus << ','
        << csvCell(r.userId) << ',' << csvCell(r.keyId) << ',' << csvCell(r.requestId) << ','
        << csvCell(r.clientAddress) << ',' << r.durationMicros << ',' << csvCell(r.detail) << ','
        << csvCell(r.prev, false) << ',' << csvCell(r.signature, false) << ','
        << csvCell(r.clientRequestId) << "\r\n";
  }
  const auto output = flags.value("--output");
  if (!output) {
    std::cout << out.str();
  } else {
    std::ofstream file(*output, std::ios::binary | std::ios::trunc);
    file << out.str();
    if (!file.flush()) throw IoError{"cannot write " + *output};
  }
  return kExitOk;
}

int runReport(const ParsedFlags& flags) {
  const auto html = flags.value("--html");
  if (!html) throw UsageError{"report needs --html OUT"};
  const auto key = loadKey(flags);
  const auto files = readLogFiles(flags.operands());
  const auto report = verifyLogs(files, key ? &*key : nullptr);
  std::ofstream out(*html, std::ios::binary | std::ios::trunc);
  out << renderHtmlReport(report, flags.operands());
  if (!out.flush()) throw IoError{"cannot write " + *html};
  std::cout << "report written to " << *html << "; " << (report.intact() ? "INTACT" : "FAILED")
            << ": " << report.errors() << " error(s), " << report.warnings() << " warning(s)\n";
  return report.intact() ? kExitOk : kExitFailed;
}

// The flags of show and export that choose records.
std::vector<FlagSpec> filterFlags() {
  return {{"--user", "ID", "records of this user id"},
          {"--operation", "OP", "e.g. key.release, key.refused, checkpoint", true},
          {"--outcome", "OUTCOME", "e.g. ok, denied, not_found, rejected, integrity, error", true},
          {"--since", "TIME",
           "at or after TIME (UTC: 2026-11-25, 2026-11-25T15:00:00Z, or with microseconds)"},
          {"--until", "TIME", "before TIME"}};
}

constexpr std::string_view kFiltersMatch =
    "\n\nFilters given together must all match; a repeated --operation or --outcome matches any "
    "of its values.";

struct AuditCommand {
  CommandSpec spec;
  int (*run)(const ParsedFlags& flags);
};

// A command that reads log files (every kc-audit command does): it takes FILE..., and exits
// with `outcomes` or with kExitError on a usage or I/O error.
AuditCommand onFiles(CommandSpec spec, std::vector<ExitStatus> outcomes,
                     int (*run)(const ParsedFlags& flags)) {
  spec.operands = "FILE...";
  spec.minOperands = 1;
  spec.exitStatuses = std::move(outcomes);
  spec.exitStatuses.push_back({kExitError, "usage or I/O error"});
  return {std::move(spec), run};
}

std::vector<AuditCommand> auditCommands() {
  AuditCommand verify = onFiles(
      {.group = "verify",
       .summary = "Check the hash chain, sequence numbers and checkpoint signatures (and that the "
                  "files extend the chain heads saved earlier).",
       .description =
           "Verifies every instance's chain across the given files: each record's \"prev\" must "
           "be the SHA-256 of the record before, sequence numbers must run without gaps, and "
           "every checkpoint's signature must verify with the audit public key (as exported by "
           "'kc-setup key export'). Each problem is printed with its file and line number.\n"
           "\n"
           "Strict by default: a chain without a valid checkpoint fails, and so does one whose "
           "records after the last checkpoint (or after a later restart's log.open) span more "
           "than the checkpoint interval plus a margin (checkpoints went missing, or were cut "
           "away with what followed them). Records after the last checkpoint within that span "
           "are reported as unsealed (a warning): cutting them off could not be detected. A chain "
           "that stops at a rotation fails (its newest file "
           "is missing); so does a rotated file that ends before the seq its name says, a chain "
           "whose newest file has a rotated name but no close checkpoint at its end (cut, and "
           "audit.log removed), and a chain that started again at seq 1 after every earlier "
           "file of its instance was deleted.\n"
           "\n"
           "Saved heads (--head) catch what the files alone cannot: for each head, its signature "
           "must verify with the public key (a forged head fails), and the files must hold that "
           "instance's record with the head's seq, byte for byte the head's line. A log cut "
           "before the head, or whose files up to it were deleted, fails naming the first "
           "missing seq; a log rewritten after the head was saved (even re-chained and "
           "re-signed) fails naming the head's seq.\n"
           "\n"
           "A head file holds one or more heads, one per line: each the line of a signed "
           "checkpoint exactly as it stands in the log, that is the body of the daemon's GET "
           "/audit/head or a line of 'kc-audit head' (empty lines are skipped). Save one "
           "regularly, outside the server:\n"
           "  $ curl -fsS https://kc.example.org/audit/head -o .new && mv .new head-$(date "
           "+%F).json",
       .flags = {{"--public-key", "PEM",
                  "the audit key's public key (required unless --no-signatures)"},
                 {"--head", "HEADFILE", "saved heads the files must extend", true},
                 {"--no-signatures", "",
                  "check the hash chain only; says loudly what that cannot prove"},
                 {"--checkpoint-interval", "S",
                  "the daemon's audit.checkpoint_interval_s (default 60)"}}},
      {{kExitOk, "the logs are intact"}, {kExitFailed, "a problem was found"}}, runVerify);
  AuditCommand head = onFiles(
      {.group = "head",
       .summary = "Print the chain head of each instance, to save and verify against later.",
       .description =
           "Prints one line per instance in the files: the line of its latest valid checkpoint, "
           "exactly as in the log (what the daemon serves at GET /audit/head). Save the output "
           "outside the server and later run 'kc-audit verify --head FILE' to prove the log was "
           "neither cut before nor rewritten after it. With --public-key only a checkpoint "
           "whose signature verifies counts. Nothing is printed when the files do not verify "
           "(the problems go to standard error).",
       .flags = {{"--public-key", "PEM", "the audit public key (strongly advised)"}}},
      {{kExitOk, "heads printed"},
       {kExitFailed, "the files do not verify or a chain has no checkpoint"}},
      runHead);
  AuditCommand show = onFiles(
      {.group = "show",
       .summary = "Print records, filtered.",
       .description = "Prints the matching records, one per line: time, instance, seq, "
                      "operation, outcome, HTTP status, user, key, client, request, duration and "
                      "detail. Does not verify; run 'kc-audit verify' for that." +
                      std::string(kFiltersMatch),
       .flags = filterFlags()},
      {{kExitOk, "done"}}, runShow);
  AuditCommand exportRecords = onFiles(
      {.group = "export",
       .summary = "Write records as JSON lines or CSV, filtered.",
       .description = "Writes the matching records to standard output (or FILE). jsonl (the "
                      "default) keeps each record's line exactly as logged; csv has a header row, "
                      "RFC 4180 quoting, and a leading ' on text cells that begin with = + - @ so "
                      "spreadsheets do not run them as formulas." +
                      std::string(kFiltersMatch),
       .flags = {{"--format", "jsonl|csv", "the output format (default jsonl)"},
                 {"--output", "FILE", "write to FILE instead of standard output"}}},
      {{kExitOk, "done"}}, runExport);
  for (auto& flag : filterFlags()) exportRecords.spec.flags.push_back(std::move(flag));
  AuditCommand report = onFiles(
      {.group = "report",
       .summary = "Write a self-contained HTML report.",
       .description = "Verifies the files and writes one self-contained HTML page to OUT: the "
                      "verdict, operations per hour, outcomes, top users by key releases, "
                      "refusals, integrity failures and checkpoints. The page loads nothing from "
                      "anywhere.",
       .flags = {{"--html", "OUT", "where to write the report (required)"},
                 {"--public-key", "PEM", "the audit public key, to check checkpoint signatures"}}},
      {{kExitOk, "report written and logs intact"},
       {kExitFailed, "report written but verification failed"}},
      runReport);
  return {std::move(verify), std::move(head), std::move(show), std::move(exportRecords),
          std::move(report)};
}

ToolSpec toolSpec(const std::vector<AuditCommand>& commands) {
  ToolSpec tool{.name = "kc-audit",
                .summary =
                    "Checks and reads the HSM Key Connector's audit logs (audit.log and "
                    "its rotated files, from one or several instances).",
                .exitStatuses = {{kExitOk, "intact (or done)"},
                                 {kExitFailed, "verification failed"},
                                 {kExitError, "usage or I/O error"}}};
  for (const auto& command : commands) tool.commands.push_back(command.spec);
  return tool;
}

}  // namespace

ToolSpec kcAuditTool() {
  return toolSpec(auditCommands());
}

int runKcAudit(const std::vector<std::string>& args) {
  const auto commands = auditCommands();
  const ToolSpec tool = toolSpec(commands);
  auto selection = cli::selectCommand(tool, args, std::cout, std::cerr);
  if (selection.exitNow) return *selection.exitNow;
  const AuditCommand& command = commands[selection.command];
  try {
    return command.run(selection.flags);
  } catch (const UsageError& e) {
    return cli::reportUsageError(std::cerr, tool.name, &command.spec, e.message);
  } catch (const IoError& e) {
    std::cerr << "kc-audit: error: " << e.message << "\n";
  }
  return kExitError;
}

}  // namespace kc::audit_tool
