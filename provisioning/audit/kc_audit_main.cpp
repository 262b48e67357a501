// kc-audit: the auditors' tool. Verifies audit logs (hash chain, sequence, checkpoint
// signatures), filters and exports their records, and renders an HTML report.
// Exit codes: 0 intact / done, 1 verification failed, 2 usage or I/O error.

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

namespace {

using namespace kc::audit;

constexpr int kExitOk = 0;
constexpr int kExitFailed = 1;
constexpr int kExitUsage = 2;

constexpr std::string_view kUsage = R"(Usage: kc-audit COMMAND [OPTIONS] FILE...

Checks and reads the HSM Key Connector's audit logs (audit.log and its rotated files,
from one or several instances).

Commands:
  verify   check the hash chain, sequence numbers and checkpoint signatures (and that the
           files extend the chain heads saved earlier)
  head     print the chain head of each instance, to save and verify against later
  show     print records, filtered
  export   write records as JSON lines or CSV, filtered
  report   write a self-contained HTML report

Run 'kc-audit COMMAND --help' for a command's options.
Exit codes: 0 intact (or done), 1 verification failed, 2 usage or I/O error.
)";

constexpr std::string_view kVerifyUsage =
    R"(Usage: kc-audit verify (--public-key PEM | --no-signatures) [--checkpoint-interval S]
                      [--head HEADFILE]... FILE...

Verifies every instance's chain across the given files: each record's "prev" must be the
SHA-256 of the record before, sequence numbers must run without gaps, and every
checkpoint's signature must verify with the audit public key (as exported by
'kc-setup key export'). Each problem is printed with its file and line number.

Strict by default: a chain without a valid checkpoint fails, and so does one whose records
after the last checkpoint span more than the checkpoint interval plus a margin (checkpoints
went missing, or were cut away with what followed them). Records after the last checkpoint
within that span are reported as unsealed (a warning): cutting them off could not be
detected. A chain that stops at a rotation fails (its newest file is missing).

Saved heads (--head) catch what the files alone cannot: for each head, its signature must
verify with the public key (a forged head fails), and the files must hold that instance's
record with the head's seq, byte for byte the head's line. A log cut before the head, or
whose files up to it were deleted, fails naming the first missing seq; a log rewritten after
the head was saved (even re-chained and re-signed) fails naming the head's seq.

A head file holds one or more heads, one per line: each the line of a signed checkpoint
exactly as it stands in the log, that is the body of the daemon's GET /audit/head or a line
of 'kc-audit head' (empty lines are skipped). Save one regularly, outside the server:
  curl -s https://kc.example/audit/head > head-$(date +%F).json

Options:
  --public-key PEM         the audit key's public key (required unless --no-signatures)
  --head HEADFILE          saved heads the files must extend (repeatable)
  --no-signatures          check the hash chain only; says loudly what that cannot prove
  --checkpoint-interval S  the daemon's audit.checkpoint_interval_s (default 60)
  --help                   this text

Exit codes: 0 the logs are intact, 1 a problem was found, 2 usage or I/O error.
)";

constexpr std::string_view kHeadUsage = R"(Usage: kc-audit head [--public-key PEM] FILE...

Prints the chain head of each instance in the files, one line each: the line of its latest
valid checkpoint, exactly as in the log (what the daemon serves at GET /audit/head). Save the
output outside the server and later run 'kc-audit verify --head FILE' to prove the log was
neither cut before nor rewritten after it. With --public-key only a checkpoint whose
signature verifies counts. Nothing is printed when the files do not verify (the problems
go to standard error).

Options:
  --public-key PEM   the audit public key (strongly advised)
  --help             this text

Exit codes: 0 heads printed, 1 the files do not verify or a chain has no checkpoint,
2 usage or I/O error.
)";

constexpr std::string_view kFilterOptions = R"(Filters (all must match):
  --user ID          records of this user id
  --operation OP     e.g. key.release, key.refused, checkpoint (repeatable)
  --outcome OUTCOME  e.g. ok, denied, not_found, rejected, integrity, error (repeatable)
  --since TIME       at or after TIME (UTC: 2026-11-25, 2026-11-25T15:00:00Z, or with
                     microseconds)
  --until TIME       before TIME
)";

constexpr std::string_view kShowUsage = R"(Usage: kc-audit show [FILTERS] FILE...

Prints the matching records, one per line: time, instance, seq, operation, outcome,
HTTP status, user, key, client, request, duration and detail. Does not verify; run
'kc-audit verify' for that.

)";

constexpr std::string_view kExportUsage =
    R"(Usage: kc-audit export [--format jsonl|csv] [--output FILE] [FILTERS] FILE...

Writes the matching records to standard output (or FILE). jsonl (the default) keeps each
record's line exactly as logged; csv has a header row, RFC 4180 quoting, and a leading '
on text cells that begin with = + - @ so spreadsheets do not run them as formulas.

)";

constexpr std::string_view kReportUsage =
    R"(Usage: kc-audit report --html OUT [--public-key PEM] FILE...

Verifies the files and writes one self-contained HTML page to OUT: the verdict, operations
per hour, outcomes, top users by key releases, refusals, integrity failures and
checkpoints. The page loads nothing from anywhere.

Options:
  --html OUT         where to write the report
  --public-key PEM   the audit public key, to check checkpoint signatures
  --help             this text

Exit codes: 0 report written and logs intact, 1 report written but verification failed,
2 usage or I/O error.
)";

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

std::int64_t parseTimeArgument(const std::string& option, std::string text) {
  if (text.size() == 10) text += "T00:00:00Z";
  if (text.size() == 20 && text.back() == 'Z') text = text.substr(0, 19) + ".000000Z";
  auto micros = parseTime(text);
  if (!micros) throw UsageError{option + ": not a UTC time such as 2026-11-25T15:00:00Z"};
  return *micros;
}

struct Arguments {
  std::map<std::string, std::string> single;
  std::set<std::string> switches;  // options without a value that were given
  Filters filters;
  std::vector<std::string> files;
  std::vector<std::string> heads;  // --head, repeatable
  bool help = false;
};

// Parses "--name value" options; `allowed` lists the options that take a value.
Arguments parseArguments(const std::vector<std::string>& args, std::vector<std::string> allowed,
                         bool withFilters, const std::vector<std::string>& switches = {}) {
  Arguments out;
  if (withFilters) {
    for (const char* name : {"--user", "--operation", "--outcome", "--since", "--until"})
      allowed.emplace_back(name);
  }
  for (std::size_t i = 0; i < args.size(); ++i) {
    const std::string& arg = args[i];
    if (arg == "--help" || arg == "-h") {
      out.help = true;
      continue;
    }
    if (arg == "--") {
      out.files.insert(out.files.end(), args.begin() + static_cast<std::ptrdiff_t>(i) + 1,
                       args.end());
      break;
    }
    if (arg.rfind("--", 0) != 0) {
      out.files.push_back(arg);
      continue;
    }
    std::string name = arg;
    std::optional<std::string> value;
    if (const auto eq = arg.find('='); eq != std::string::npos) {
      name = arg.substr(0, eq);
      value = arg.substr(eq + 1);
    }
    if (std::find(switches.begin(), switches.end(), name) != switches.end()) {
      if (value) throw UsageError{name + " takes no value"};
      out.switches.insert(name);
      continue;
    }
    if (std::find(allowed.begin(), allowed.end(), name) == allowed.end())
      throw UsageError{"unknown option " + name};
    if (!value) {
      if (i + 1 >= args.size()) throw UsageError{name + " needs a value"};
      value = args[++i];
    }
    if (name == "--user") {
      out.filters.user = *value;
    } else if (name == "--operation") {
      out.filters.operations.push_back(*value);
    } else if (name == "--outcome") {
      out.filters.outcomes.push_back(*value);
    } else if (name == "--since") {
      out.filters.since = parseTimeArgument(name, *value);
    } else if (name == "--until") {
      out.filters.until = parseTimeArgument(name, *value);
    } else if (name == "--head") {
      out.heads.push_back(*value);
    } else {
      out.single[name] = *value;
    }
  }
  return out;
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
  if (paths.empty()) throw UsageError{"no log files given"};
  std::vector<LogFile> files;
  for (const auto& path : paths) files.push_back({path, readFileOrThrow(path)});
  return files;
}

std::optional<CheckpointVerifier> loadKey(const Arguments& args) {
  const auto found = args.single.find("--public-key");
  if (found == args.single.end()) return std::nullopt;
  auto key = CheckpointVerifier::fromPem(readFileOrThrow(found->second));
  if (!key) throw IoError{found->second + ": " + key.status().message()};
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

std::chrono::seconds secondsArgument(const Arguments& args, const std::string& name,
                                     std::chrono::seconds fallback) {
  const auto found = args.single.find(name);
  if (found == args.single.end()) return fallback;
  const std::string& text = found->second;
  if (text.empty() || text.size() > 7 ||
      !std::all_of(text.begin(), text.end(), [](char c) { return c >= '0' && c <= '9'; })) {
    throw UsageError{name + " needs a whole number of seconds"};
  }
  return std::chrono::seconds(std::stol(text));
}

int runVerify(const std::vector<std::string>& argv) {
  const Arguments args = parseArguments(argv, {"--public-key", "--checkpoint-interval", "--head"},
                                        false, {"--no-signatures"});
  if (args.help) {
    std::cout << kVerifyUsage;
    return kExitOk;
  }
  const bool noSignatures = args.switches.contains("--no-signatures");
  if (!noSignatures && !args.single.contains("--public-key")) {
    throw UsageError{
        "give --public-key PEM (the audit key, from kc-setup key export): without it a "
        "rewritten log cannot be told from the original; --no-signatures checks the hash chain "
        "alone"};
  }
  if (noSignatures && args.single.contains("--public-key")) {
    throw UsageError{"give --public-key or --no-signatures, not both"};
  }
  const auto key = loadKey(args);
  std::vector<SavedHead> heads;
  for (const auto& path : args.heads) {
    auto parsed = parseHeads(readFileOrThrow(path), path);
    if (!parsed) throw IoError{parsed.status().message()};
    heads.insert(heads.end(), parsed->begin(), parsed->end());
  }
  const auto files = readLogFiles(args.files);
  auto report = verifyLogs(files, key ? &*key : nullptr);
  checkHeads(report, heads, key ? &*key : nullptr);
  StrictPolicy policy;
  policy.requireSignatures = !noSignatures;
  policy.checkpointInterval =
      secondsArgument(args, "--checkpoint-interval", policy.checkpointInterval);
  policy.margin = std::max(policy.margin, policy.checkpointInterval);
  applyStrictPolicy(report, policy);
  if (noSignatures) {
    std::cout << "WARNING: --no-signatures: checkpoint signatures were NOT checked; this proves "
                 "the chain is unbroken, not that it is the log the daemon wrote\n";
  }
  printSummary(report, std::cout);
  return report.intact() ? kExitOk : kExitFailed;
}

int runHead(const std::vector<std::string>& argv) {
  const Arguments args = parseArguments(argv, {"--public-key"}, false);
  if (args.help) {
    std::cout << kHeadUsage;
    return kExitOk;
  }
  const auto key = loadKey(args);
  const auto report = verifyLogs(readLogFiles(args.files), key ? &*key : nullptr);
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

int runShow(const std::vector<std::string>& argv) {
  const Arguments args = parseArguments(argv, {}, true);
  if (args.help) {
    std::cout << kShowUsage << kFilterOptions;
    return kExitOk;
  }
  const auto report = readLogs(readLogFiles(args.files));
  for (const auto* p : selectRecords(report, args.filters)) {
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

int runExport(const std::vector<std::string>& argv) {
  const Arguments args = parseArguments(argv, {"--format", "--output"}, true);
  if (args.help) {
    std::cout << kExportUsage << kFilterOptions;
    return kExitOk;
  }
  const auto formatArg = args.single.find("--format");
  const std::string format = formatArg == args.single.end() ? "jsonl" : formatArg->second;
  if (format != "jsonl" && format != "csv") throw UsageError{"--format must be jsonl or csv"};
  const auto report = readLogs(readLogFiles(args.files));
  std::ostringstream out;
  if (format == "csv") {
    out << "time,instance,seq,operation,outcome,http_status,user,key,request,client,"
           "duration_us,detail,prev,sig,client_request\r\n";
  }
  for (const auto* p : selectRecords(report, args.filters)) {
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
  const auto output = args.single.find("--output");
  if (output == args.single.end()) {
    std::cout << out.str();
  } else {
    std::ofstream file(output->second, std::ios::binary | std::ios::trunc);
    file << out.str();
    if (!file.flush()) throw IoError{"cannot write " + output->second};
  }
  return kExitOk;
}

int runReport(const std::vector<std::string>& argv) {
  const Arguments args = parseArguments(argv, {"--html", "--public-key"}, false);
  if (args.help) {
    std::cout << kReportUsage;
    return kExitOk;
  }
  const auto html = args.single.find("--html");
  if (html == args.single.end()) throw UsageError{"report needs --html OUT"};
  const auto key = loadKey(args);
  const auto files = readLogFiles(args.files);
  const auto report = verifyLogs(files, key ? &*key : nullptr);
  std::ofstream out(html->second, std::ios::binary | std::ios::trunc);
  out << renderHtmlReport(report, args.files);
  if (!out.flush()) throw IoError{"cannot write " + html->second};
  std::cout << "report written to " << html->second << "; "
            << (report.intact() ? "INTACT" : "FAILED") << ": " << report.errors() << " error(s), "
            << report.warnings() << " warning(s)\n";
  return report.intact() ? kExitOk : kExitFailed;
}

}  // namespace

int main(int argc, char** argv) {
  std::vector<std::string> args(argv + 1, argv + argc);
  if (args.empty()) {
    std::cerr << kUsage;
    return kExitUsage;
  }
  const std::string command = args.front();
  args.erase(args.begin());
  try {
    if (command == "--help" || command == "-h" || command == "help") {
      std::cout << kUsage;
      return kExitOk;
    }
    if (command == "verify") return runVerify(args);
    if (command == "head") return runHead(args);
    if (command == "show") return runShow(args);
    if (command == "export") return runExport(args);
    if (command == "report") return runReport(args);
    std::cerr << "kc-audit: unknown command '" << command << "'\n\n" << kUsage;
    return kExitUsage;
  } catch (const UsageError& e) {
    std::cerr << "kc-audit " << command << ": " << e.message << "\n(see kc-audit " << command
              << " --help)\n";
    return kExitUsage;
  } catch (const IoError& e) {
    std::cerr << "kc-audit " << command << ": " << e.message << "\n";
    return kExitUsage;
  } catch (const std::exception& e) {
    std::cerr << "kc-audit " << command << ": " << e.what() << "\n";
    return kExitUsage;
  }
}
