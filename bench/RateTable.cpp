#include "RateTable.h"

#include <string>
#include <string_view>

namespace kc::bench {

void registerInterleaved(const std::vector<std::pair<std::string, BenchmarkFunction>>& benchmarks,
                         int maxThreads) {
  for (int threads = 1; threads <= maxThreads; threads *= 2) {
    for (const auto& [name, function] : benchmarks) {
      benchmark::RegisterBenchmark(name.c_str(), function)->Threads(threads)->UseRealTime();
    }
  }
}

void RateCollector::ReportRuns(const std::vector<Run>& runs) {
  ConsoleReporter::ReportRuns(runs);
  for (const auto& run : runs) {
    if (run.error_occurred) continue;
    // With --benchmark_repetitions the median stands for the repetitions.
    if (run.run_type == Run::RT_Aggregate && run.aggregate_name != "median") continue;
    if (run.run_type == Run::RT_Iteration && run.repetitions > 1) continue;
    auto it = run.counters.find("items_per_second");
    if (it == run.counters.end()) continue;
    auto workers = run.counters.find("workers");
    const int threads = workers == run.counters.end() ? static_cast<int>(run.threads)
                                                      : static_cast<int>(workers->second.value);
    rates_[run.run_name.function_name][threads] = it->second.value;
  }
}

double RateCollector::rate(const std::string& benchmark, int threads) const {
  auto byName = rates_.find(benchmark);
  if (byName == rates_.end()) return 0;
  auto byThreads = byName->second.find(threads);
  return byThreads == byName->second.end() ? 0 : byThreads->second;
}

std::vector<int> RateCollector::threadCounts(const std::string& benchmark) const {
  std::vector<int> out;
  auto byName = rates_.find(benchmark);
  if (byName == rates_.end()) return out;
  for (const auto& [threads, rate] : byName->second) out.push_back(threads);
  return out;
}

std::vector<char*> takeKeySizeFlags(int argc, char** argv, unsigned& bits) {
  std::vector<char*> rest;
  for (int i = 0; i < argc; ++i) {
    const std::string_view arg(argv[i]);
    if (arg.starts_with("--bits=")) {
      bits = static_cast<unsigned>(std::stoul(std::string(arg.substr(7))));
    } else if (arg == "--smoke") {
      bits = 2048;
    } else {
      rest.push_back(argv[i]);
    }
  }
  return rest;
}

void runBenchmarks(std::vector<char*> args, RateCollector& collector) {
  int count = static_cast<int>(args.size());
  benchmark::Initialize(&count, args.data());
  benchmark::RunSpecifiedBenchmarks(&collector);
  benchmark::Shutdown();
}

}  // namespace kc::bench
