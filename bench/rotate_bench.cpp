// What a rotation's rewrap costs next to the token's physical limit: every rewrapped record is
// one RSA-OAEP decrypt (open) and one encrypt (seal) on the token, plus a store read, a
// compare-and-swap write and a durable audit record.
//
//   build/bench/rotate_bench [--bits=3072] [google-benchmark flags]
//
// At 1, 2, 4 and 8 threads, interleaved: the token's raw decrypt + encrypt rate through the
// pool (the limit; benchmark threads), and provisioning::rewrapRecords moving kRecords records
// from one key to the other and back (its own workers, the counter "workers"). The summary
// prints rewrapped records per second as a ratio of the raw rate measured in the same run.

#include <benchmark/benchmark.h>

#include <iostream>

#include "RateTable.h"
#include "kc/appliance/KeyRing.h"
#include "kc/audit/AuditLog.h"
#include "kc/pkcs11/KeyGeneration.h"
#include "kc/provisioning/Rewrap.h"
#include "kc/storage/UserKeyStore.h"
#include "support/SoftHsmToken.h"
#include "support/UserIds.h"

namespace {

unsigned gBits = 3072;
constexpr int kMaxThreads = 8;
constexpr int kRecords = 128;

struct Fixture {
  kc::test::SoftHsmToken token{"kc-bench-rotate"};
  kc::test::TempDir dir{"kc-bench-rotate"};
  std::shared_ptr<kc::pkcs11::SessionPool> pool = token.openPool({.size = kMaxThreads + 1});
  kc::pkcs11::RsaKeyPair first = generate("bench-rotate-a");
  kc::pkcs11::RsaKeyPair second = generate("bench-rotate-b");
  // Two rings, each current key the other's previous: rewrapping under one, then the other,
  // moves every record back and forth, so each iteration has kRecords to do.
  kc::appliance::KeyRing toSecond = ring(second, first);
  kc::appliance::KeyRing toFirst = ring(first, second);
  std::unique_ptr<kc::storage::UserKeyStore> store = openStore();
  std::unique_ptr<kc::audit::AuditLog> audit = openAudit();
  kc::pkcs11::OaepCiphertext probe = encrypt();
  bool underFirst = true;

  kc::pkcs11::RsaKeyPair generate(const std::string& label) {
    auto generated = kc::pkcs11::generateKeyPair(pool, {.bits = gBits, .label = label});
    if (!generated) throw std::runtime_error(generated.status().toString());
    return *generated;
  }
  static kc::appliance::KeyRing ring(const kc::pkcs11::RsaKeyPair& current,
                                     const kc::pkcs11::RsaKeyPair& previous) {
    auto made = kc::appliance::KeyRing::create(current, {previous});
    if (!made) throw std::runtime_error(made.status().toString());
    return std::move(*made);
  }
  std::unique_ptr<kc::storage::UserKeyStore> openStore() {
    kc::storage::StoreConfig config;
    config.sqlitePath = (dir / "keys.db").string();
    config.poolSize = kMaxThreads + 1;
    auto opened = kc::storage::openUserKeyStore(config);
    if (!opened) throw std::runtime_error(opened.status().toString());
    auto seedRing = ring(first, second);
    for (int n = 0; n < kRecords; ++n) {
      const auto user = kc::test::sequentialUserId(static_cast<std::uint64_t>(n));
      auto sealed = seedRing.seal(user, kc::SecretBytes(std::vector<std::uint8_t>(64, 7)));
      if (!sealed) throw std::runtime_error(sealed.status().toString());
      kc::Status stored = (*opened)->insert(
          {.userId = user, .envelope = std::move(*sealed), .wrappingKeyId = first.idHex()});
      if (!stored.isOk()) throw std::runtime_error(stored.toString());
    }
    return std::move(*opened);
  }
  std::unique_ptr<kc::audit::AuditLog> openAudit() {
    auto log = kc::audit::AuditLog::open({.directory = dir / "audit", .instance = "bench"});
    if (!log) throw std::runtime_error(log.status().toString());
    return std::move(*log);
  }
  kc::pkcs11::OaepCiphertext encrypt() {
    auto out = first.encrypt(std::vector<std::uint8_t>(32, 0x5A));
    if (!out) throw std::runtime_error(out.status().toString());
    return *out;
  }
};

Fixture& fixture() {
  static Fixture instance;
  return instance;
}

// The limit: one unwrap and one wrap of a 32-byte DEK, what a rewrap asks of the token.
void BM_TokenDecryptEncrypt(benchmark::State& state) {
  auto& f = fixture();
  for (auto _ : state) {
    auto plaintext = f.first.decrypt(f.probe.bytes, f.probe.hash);
    if (!plaintext) {
      state.SkipWithError(plaintext.status().toString().c_str());
      break;
    }
    auto ciphertext = f.second.encrypt(plaintext->view());
    if (!ciphertext) {
      state.SkipWithError(ciphertext.status().toString().c_str());
      break;
    }
  }
  state.SetItemsProcessed(state.iterations());
}

void BM_Rewrap(benchmark::State& state) {
  auto& f = fixture();
  const auto workers = static_cast<std::size_t>(state.range(0));
  std::uint64_t rewrapped = 0;
  for (auto _ : state) {
    const auto& ring = f.underFirst ? f.toSecond : f.toFirst;
    auto summary = kc::provisioning::rewrapRecords(ring, *f.store, f.audit.get(),
                                                   {.threads = workers, .pageSize = 64});
    if (!summary || !summary->failures.empty() || summary->rewrapped != kRecords) {
      state.SkipWithError(summary ? "rewrap left records behind"
                                  : summary.status().toString().c_str());
      break;
    }
    rewrapped += summary->rewrapped;
    f.underFirst = !f.underFirst;
  }
  state.SetItemsProcessed(static_cast<std::int64_t>(rewrapped));
  state.counters["workers"] = static_cast<double>(workers);
}

void printSummary(const kc::bench::RateCollector& rates, std::ostream& out) {
  out << "\nRewrap vs the token's raw RSA-OAEP decrypt+encrypt rate (" << gBits
      << "-bit keys, SoftHSM, SQLite, audit log on local disk)\n"
      << "threads  token pairs/s  rewraps/s  rewrap/token\n";
  for (int threads : rates.threadCounts("BM_TokenDecryptEncrypt")) {
    const double token = rates.rate("BM_TokenDecryptEncrypt", threads);
    const double rewrap = rates.rate("BM_Rewrap", threads);
    char line[128];
    std::snprintf(line, sizeof line, "%7d  %13.0f  %9.0f  %12.3f\n", threads, token, rewrap,
                  token > 0 ? rewrap / token : 0.0);
    out << line;
  }
}

}  // namespace

int main(int argc, char** argv) {
  const auto args = kc::bench::takeKeySizeFlags(argc, argv, gBits);
  for (int threads = 1; threads <= kMaxThreads; threads *= 2) {
    benchmark::RegisterBenchmark("BM_TokenDecryptEncrypt", BM_TokenDecryptEncrypt)
        ->Threads(threads)
        ->UseRealTime();
    benchmark::RegisterBenchmark("BM_Rewrap", BM_Rewrap)->Arg(threads)->UseRealTime();
  }
  kc::bench::RateCollector rates;
  kc::bench::runBenchmarks(args, rates);
  printSummary(rates, std::cout);
  return 0;
}
