// storage_bench: get and upsert operations per second for each back-end, at 1k and 1M records,
// get with 1 and 4 client threads, upsert with 1, 2, 4 and 8 (concurrent writers are where
// SQLite's single write lock shows; upsert also reports its p99 latency in microseconds). The
// records are preloaded with one SQL statement per back-end (loading 1M through the store would
// dominate the run); the measured operations go through UserKeyStore. `--smoke` runs 1k records
// only, for ctest.
//
//   build-storage/bench/storage_bench --benchmark_min_time=1

#include <benchmark/benchmark.h>

#include <algorithm>
#include <chrono>
#include <cstring>
#include <map>
#include <mutex>
#include <random>

#include "StoreTargets.h"
#include "kc/storage/UserKeyStore.h"
#include "support/UserIds.h"

namespace {

using kc::test::StoreTarget;

constexpr std::size_t kEnvelopeBytes = 512;  // an RSA-4096 envelope is about this size

using kc::test::sequentialUserId;

// SQL that inserts records 0 .. count-1 with sequentialUserId() ids in one statement.
std::string preloadSql(StoreTarget target, std::int64_t count) {
  const std::string last = std::to_string(count - 1);
  const std::string columns =
      "INSERT INTO kc_user_keys (user_id, envelope, wrapping_key_id, revision, created_ms, "
      "revised_ms, last_access_ms) ";
  switch (target) {
    case StoreTarget::kSqlite:
      return "WITH RECURSIVE c(x) AS (SELECT 0 UNION ALL SELECT x + 1 FROM c WHERE x < " + last +
             ") " + columns +
             "SELECT printf('00000000-0000-4000-8000-%012x', x), randomblob(512), 'wrap-1', 1, 0, "
             "0, 0 FROM c";
    case StoreTarget::kPostgreSql:
      return columns +
             "SELECT '00000000-0000-4000-8000-' || lpad(to_hex(x), 12, '0'), "
             "decode(repeat('5a', 512), 'hex'), 'wrap-1', 1, 0, 0, 0 FROM generate_series(0, " +
             last + ") AS x";
    case StoreTarget::kMariaDb:
      return columns +
             "SELECT CONCAT('00000000-0000-4000-8000-', LPAD(LOWER(HEX(seq)), 12, '0')), "
             "REPEAT('Z', 512), 'wrap-1', 1, 0, 0, 0 FROM seq_0_to_" +
             last;
    default:
      return "";
  }
}

struct Loaded {
  kc::test::TempDir dir{"kc-bench"};
  std::unique_ptr<kc::storage::UserKeyStore> store;
  std::string error;
};

// One loaded store per (back-end, size), created on first use and kept for the whole run.
Loaded& loaded(StoreTarget target, std::int64_t count) {
  static std::mutex mutex;
  static std::map<std::pair<StoreTarget, std::int64_t>, std::unique_ptr<Loaded>> stores;
  std::lock_guard lock(mutex);
  auto& slot = stores[{target, count}];
  if (slot) return *slot;
  slot = std::make_unique<Loaded>();
  std::string whyNot;
  auto config = kc::test::freshStoreConfig(target, slot->dir, whyNot);
  if (!config) {
    slot->error = whyNot;
    return *slot;
  }
  config->poolSize = 8;
  config->accessFlushInterval = std::chrono::seconds(10);
  auto store = kc::storage::openUserKeyStore(*config);
  if (!store.isOk()) {
    slot->error = store.status().toString();
    return *slot;
  }
  try {
    kc::test::executeSql(*config, preloadSql(target, count));
  } catch (const std::exception& error) {
    slot->error = std::string("preload failed: ") + error.what();
    return *slot;
  }
  slot->store = std::move(store).value();
  return *slot;
}

void benchGet(benchmark::State& state, StoreTarget target, std::int64_t count) {
  Loaded& target_ = loaded(target, count);
  if (!target_.store) {
    state.SkipWithError(target_.error.c_str());
    return;
  }
  std::mt19937_64 random(static_cast<std::uint64_t>(state.thread_index()) + 1);
  std::uniform_int_distribution<std::int64_t> pick(0, count - 1);
  for (auto _ : state) {
    auto record = target_.store->get(sequentialUserId(static_cast<std::uint64_t>(pick(random))));
    if (!record.isOk()) {
      state.SkipWithError(record.status().toString().c_str());
      break;
    }
    benchmark::DoNotOptimize(record);
  }
  state.SetItemsProcessed(state.iterations());
}

// The latencies of one upsert benchmark run, across its threads.
struct Latencies {
  std::mutex mutex;
  std::vector<double> micros;

  void clear() {
    std::lock_guard lock(mutex);
    micros.clear();
  }
  void add(double value) {
    std::lock_guard lock(mutex);
    micros.push_back(value);
  }
  double percentile(double fraction) {
    std::lock_guard lock(mutex);
    if (micros.empty()) return 0;
    const auto at = micros.begin() +
                    static_cast<std::ptrdiff_t>(fraction * static_cast<double>(micros.size() - 1));
    std::nth_element(micros.begin(), at, micros.end());
    return *at;
  }
};

void benchUpsert(benchmark::State& state, StoreTarget target, std::int64_t count) {
  static Latencies latencies;
  Loaded& target_ = loaded(target, count);
  if (!target_.store) {
    state.SkipWithError(target_.error.c_str());
    return;
  }
  // Every thread passes a barrier when the loop starts and another when it ends, so thread 0
  // clears before anyone measures and reads after everyone has.
  if (state.thread_index() == 0) latencies.clear();
  std::mt19937_64 random(static_cast<std::uint64_t>(state.thread_index()) + 100);
  std::uniform_int_distribution<std::int64_t> pick(0, count - 1);
  kc::storage::UserKeyWrite write{.userId = sequentialUserId(0),
                                  .envelope = std::vector<std::uint8_t>(kEnvelopeBytes, 0x42),
                                  .wrappingKeyId = "wrap-1"};
  for (auto _ : state) {
    write.userId = sequentialUserId(static_cast<std::uint64_t>(pick(random)));
    const auto start = std::chrono::steady_clock::now();
    const kc::Status status = target_.store->upsert(write);
    latencies.add(
        std::chrono::duration<double, std::micro>(std::chrono::steady_clock::now() - start)
            .count());
    if (!status.isOk()) {
      state.SkipWithError(status.toString().c_str());
      break;
    }
  }
  state.SetItemsProcessed(state.iterations());
  // Counters are summed over threads: only thread 0 reports.
  if (state.thread_index() == 0) state.counters["p99_us"] = latencies.percentile(0.99);
}

}  // namespace

int main(int argc, char** argv) {
  bool smoke = false;
  std::vector<char*> args;
  for (int i = 0; i < argc; ++i) {
    if (std::strcmp(argv[i], "--smoke") == 0) {
      smoke = true;
    } else {
      args.push_back(argv[i]);
    }
  }
  std::vector<std::int64_t> sizes = {1'000};
  if (!smoke) sizes.push_back(1'000'000);
  for (const auto target :
       {StoreTarget::kSqlite, StoreTarget::kPostgreSql, StoreTarget::kMariaDb}) {
    for (const auto count : sizes) {
      const std::string suffix = "/" + kc::test::targetName(target) + "/" + std::to_string(count);
      for (const int threads : {1, 4}) {
        benchmark::RegisterBenchmark(("get" + suffix).c_str(), benchGet, target, count)
            ->Threads(threads)
            ->UseRealTime();
      }
      for (const int threads : {1, 2, 4, 8}) {
        benchmark::RegisterBenchmark(("upsert" + suffix).c_str(), benchUpsert, target, count)
            ->Threads(threads)
            ->UseRealTime();
      }
    }
  }
  int filteredArgc = static_cast<int>(args.size());
  benchmark::Initialize(&filteredArgc, args.data());
  benchmark::RunSpecifiedBenchmarks();
  benchmark::Shutdown();
  return 0;
}
