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

// Interleaved, so a change in the machine's load hits both sides of each ratio alike.
const bool gRegistered = [] {
  for (int threads = 1; threads <= 8; threads *= 2) {
    benchmark::RegisterBenchmark("BM_AuditAppendSyncPerRecord", BM_AuditAppendSyncPerRecord)
        ->Threads(threads)
        ->UseRealTime();
    benchmark::RegisterBenchmark("BM_AuditAppendGroupCommit", BM_AuditAppendGroupCommit)
        ->Threads(threads)
        ->UseRealTime();
  }
  return true;
}();

class SummaryReporter : public benchmark::ConsoleReporter {
 public:
  void ReportRuns(const std::vector<Run>& runs) override {
    ConsoleReporter::ReportRuns(runs);
    for (const auto& run : runs) {
      if (run.error_occurred) continue;
      if (run.run_type == Run::RT_Aggregate && run.aggregate_name != "median") continue;
      if (run.run_type == Run::RT_Iteration && run.repetitions > 1) continue;
      auto it = run.counters.find("items_per_second");
      if (it == run.counters.end()) continue;
      rates_[run.run_name.function_name][static_cast<int>(run.threads)] = it->second.value;
    }
  }
  void printSummary(std::ostream& out) const {
    auto single = rates_.find("BM_AuditAppendSyncPerRecord");
    auto group = rates_.find("BM_AuditAppendGroupCommit");
    if (single == rates_.end() || group == rates_.end()) return;
    out << "\nDurable audit appends (write + fdatasync before return) in " << gDirectory << "\n";
    out << "threads  sync-per-record ops/s  group-commit ops/s  group/per-record\n";
    for (const auto& [threads, singleRate] : single->second) {
      auto g = group->second.find(threads);
      if (g == group->second.end()) continue;
      char line[128];
      std::snprintf(line, sizeof line, "%7d  %21.0f  %18.0f  %16.2f\n", threads, singleRate,
                    g->second, g->second / singleRate);
      out << line;
    }
  }

 private:
  std::map<std::string, std::map<int, double>> rates_;
};

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
  int count = static_cast<int>(args.size());
  benchmark::Initialize(&count, args.data());
  SummaryReporter reporter;
  benchmark::RunSpecifiedBenchmarks(&reporter);
  reporter.printSummary(std::cout);
  benchmark::Shutdown();
  std::error_code ignored;
  std::filesystem::remove_all(gDirectory, ignored);
  return 0;
}
