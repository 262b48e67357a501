// Audit log throughput: what durability costs, and what group commit saves.
//
//   build/bench/audit_bench [--dir=PATH] [google-benchmark flags]
//
// Measures AuditLog::append (each returns only after its record is fdatasync'ed) at 1, 2,
// 4 and 8 threads, (a) with group commit, where one writer syncs every pending record at
// once, and (b) with one write + fdatasync per record, then prints (a)/(b) per thread count
// from the same run (ratios travel between machines, absolute figures do not). The log is
// written under --dir (default: the current directory), which should be on the disk the
// daemon would use: on tmpfs fdatasync costs nothing and the ratio means nothing.

#include <benchmark/benchmark.h>
#include <unistd.h>

#include <cstring>
#include <filesystem>
#include <iostream>
#include <map>
#include <memory>
#include <mutex>

#include "RateTable.h"
#include "kc/audit/AuditLog.h"

namespace {

using kc::audit::AuditLog;
using kc::audit::AuditRecord;

std::filesystem::path gDirectory;

AuditLog& logFor(bool groupCommit) {
  static std::mutex mutex;
  static std::map<bool, std::unique_ptr<AuditLog>> logs;
  std::lock_guard lock(mutex);
  auto& log = logs[groupCommit];
  if (!log) {
    auto opened = AuditLog::open({.directory = gDirectory / (groupCommit ? "group" : "single"),
                                  .instance = groupCommit ? "bench-group" : "bench-single",
                                  .checkpointInterval = {},
                                  .rotateBytes = 16u << 20,
                                  .groupCommit = groupCommit});
    if (!opened) throw std::runtime_error(opened.status().toString());
    log = std::move(*opened);
  }
  return *log;
}

AuditRecord requestRecord(std::int64_t n) {
  AuditRecord record;
  record.operation = "key.release";
  record.outcome = "ok";
  record.httpStatus = 200;
  record.userId = "6b9c1f2e-0d4c-4a43-9a51-2f1f0c1f7a10";
  record.keyId = "5f0c6e1d2a3b4c5d6e7f8091a2b3c4d5";
  record.requestId = "req-" + std::to_string(n);
  record.clientAddress = "192.0.2.10";
  record.durationMicros = 1500;
  return record;
}

void appendLoop(benchmark::State& state, bool groupCommit) {
  AuditLog& log = logFor(groupCommit);
  std::int64_t n = 0;
  for (auto _ : state) {
    const auto status = log.append(requestRecord(n++));
    if (!status.isOk()) {
      state.SkipWithError(status.toString().c_str());
      break;
    }
  }
  state.SetItemsProcessed(state.iterations());
}

void BM_AuditAppendGroupCommit(benchmark::State& state) {
  appendLoop(state, true);
}
void BM_AuditAppendSyncPerRecord(benchmark::State& state) {
  appendLoop(state, false);
}

void printSummary(const kc::bench::RateCollector& rates, std::ostream& out) {
  out << "\nDurable audit appends (write + fdatasync before return) in " << gDirectory << "\n"
      << "threads  sync-per-record ops/s  group-commit ops/s  group/per-record\n";
  for (int threads : rates.threadCounts("BM_AuditAppendSyncPerRecord")) {
    const double single = rates.rate("BM_AuditAppendSyncPerRecord", threads);
    const double group = rates.rate("BM_AuditAppendGroupCommit", threads);
    char line[128];
    std::snprintf(line, sizeof line, "%7d  %21.0f  %18.0f  %16.2f\n", threads, single, group,
                  group / single);
    out << line;
  }
}

}  // namespace

int main(int argc, char** argv) {
  std::vector<char*> args;
  std::filesystem::path base = std::filesystem::current_path();
  for (int i = 0; i < argc; ++i) {
    if (std::strncmp(argv[i], "--dir=", 6) == 0) {
      base = argv[i] + 6;
    } else {
      args.push_back(argv[i]);
    }
  }
  gDirectory = base / ("audit-bench-" + std::to_string(::getpid()));
  kc::bench::registerInterleaved({{"BM_AuditAppendSyncPerRecord", BM_AuditAppendSyncPerRecord},
                                  {"BM_AuditAppendGroupCommit", BM_AuditAppendGroupCommit}},
                                 8);
  kc::bench::RateCollector rates;
  kc::bench::runBenchmarks(args, rates);
  printSummary(rates, std::cout);
  std::error_code ignored;
  std::filesystem::remove_all(gDirectory, ignored);
  return 0;
}
