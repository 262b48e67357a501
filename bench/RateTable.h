#pragma once
// The pieces every benchmark harness here shares: benchmarks registered interleaved at
// 1, 2, 4 ... N threads (so a change in the machine's load hits every side of a ratio
// alike), and a reporter that keeps items/s per benchmark and thread count (the median
// under --benchmark_repetitions) so the harness can print ratios measured in the same run.

#include <benchmark/benchmark.h>

#include <map>
#include <string>
#include <utility>
#include <vector>

namespace kc::bench {

using BenchmarkFunction = void (*)(benchmark::State&);

// Registers each of `benchmarks` at 1, 2, 4 ... `maxThreads` threads, interleaved: all of
// them at 1 thread, then all at 2, and so on.
void registerInterleaved(const std::vector<std::pair<std::string, BenchmarkFunction>>& benchmarks,
                         int maxThreads);

// A benchmark that runs its own worker threads (one benchmark thread driving N workers) sets
// the counter "workers" to N; the collector then files its rate under N threads.
class RateCollector : public benchmark::ConsoleReporter {
 public:
  void ReportRuns(const std::vector<Run>& runs) override;
  // items/s of `benchmark` at `threads`; 0 when it was not measured (or failed).
  double rate(const std::string& benchmark, int threads) const;
  // The thread counts `benchmark` was measured at, ascending.
  std::vector<int> threadCounts(const std::string& benchmark) const;

 private:
  std::map<std::string, std::map<int, double>> rates_;
};

// argv without the harness's key-size flags, which set `bits`: --bits=N, or --smoke (2048,
// for the quick ctest run).
std::vector<char*> takeKeySizeFlags(int argc, char** argv, unsigned& bits);

// Initialises Google Benchmark with `args` (argv without the harness's own flags) and runs
// every registered benchmark through `collector`.
void runBenchmarks(std::vector<char*> args, RateCollector& collector);

}  // namespace kc::bench
