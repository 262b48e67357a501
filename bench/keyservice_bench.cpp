// What a key release costs next to the token's physical limit, and what the audit log's
// durability adds to it.
//
//   build/bench/keyservice_bench [--bits=3072] [google-benchmark flags]
//
// At 1, 2, 4 and 8 threads, interleaved: the token's raw RSA-OAEP decrypt rate through the
// pool (the limit), UserKeyService::fetchUserKey (store read + envelope open on the token),
// and the same through AuditedKeyService (plus a release-intent record made durable by a
// group-committed fdatasync that runs while the token unwraps, and two records deferred into
// the next sync). The summary prints each as a ratio of the raw token rate measured in the
// same run.

#include <benchmark/benchmark.h>

#include <atomic>
#include <cstring>
#include <iostream>
#include <map>

#include "RateTable.h"
#include "kc/appliance/AuditedKeyService.h"
#include "kc/appliance/KeyRing.h"
#include "kc/appliance/UserKeyService.h"
#include "kc/audit/AuditLog.h"
#include "kc/pkcs11/KeyGeneration.h"
#include "kc/storage/UserKeyStore.h"
#include "support/SoftHsmToken.h"
#include "support/UserIds.h"

namespace {

unsigned gBits = 3072;
constexpr int kMaxThreads = 8;
constexpr int kUsers = 64;

kc::UserId userId(int n) {
  return kc::test::sequentialUserId(static_cast<std::uint64_t>(n));
}

struct Fixture {
  kc::test::SoftHsmToken token{"kc-bench-service"};
  kc::test::TempDir dir{"kc-bench-service"};
  std::shared_ptr<kc::pkcs11::SessionPool> pool = token.openPool({.size = kMaxThreads});
  kc::pkcs11::RsaKeyPair key = generate();
  kc::pkcs11::OaepCiphertext probe = encrypt();
  std::shared_ptr<kc::storage::UserKeyStore> store = openStore();
  std::shared_ptr<kc::audit::AuditLog> audit = openAudit();
  std::shared_ptr<const kc::appliance::KeyRing> ring = makeRing();
  std::shared_ptr<kc::appliance::UserKeyService> plain =
      std::make_shared<kc::appliance::UserKeyService>(ring, store);
  std::shared_ptr<kc::appliance::AuditTrail> trail =
      std::make_shared<kc::appliance::AuditTrail>(audit, nullptr);
  std::shared_ptr<kc::appliance::AuditedKeyService> audited = makeAudited();

  kc::pkcs11::RsaKeyPair generate() {
    auto generated = kc::pkcs11::generateKeyPair(pool, {.bits = gBits, .label = "bench-wrap"});
    if (!generated) throw std::runtime_error(generated.status().toString());
    return *generated;
  }
  kc::pkcs11::OaepCiphertext encrypt() {
    auto out = key.encrypt(std::vector<std::uint8_t>(32, 0x5A));
    if (!out) throw std::runtime_error(out.status().toString());
    return *out;
  }
  std::shared_ptr<kc::storage::UserKeyStore> openStore() {
    kc::storage::StoreConfig config;
    config.sqlitePath = (dir / "keys.db").string();
    config.poolSize = kMaxThreads;
    auto opened = kc::storage::openUserKeyStore(config);
    if (!opened) throw std::runtime_error(opened.status().toString());
    return std::shared_ptr<kc::storage::UserKeyStore>(std::move(*opened));
  }
  std::shared_ptr<kc::audit::AuditLog> openAudit() {
    auto log = kc::audit::AuditLog::open({.directory = dir / "audit", .instance = "bench"});
    if (!log) throw std::runtime_error(log.status().toString());
    return std::shared_ptr<kc::audit::AuditLog>(std::move(*log));
  }
  std::shared_ptr<const kc::appliance::KeyRing> makeRing() {
    auto made = kc::appliance::KeyRing::create(key);
    if (!made) throw std::runtime_error(made.status().toString());
    return std::make_shared<const kc::appliance::KeyRing>(std::move(*made));
  }
  std::shared_ptr<kc::appliance::AuditedKeyService> makeAudited() {
    auto inner = std::make_shared<kc::appliance::UserKeyService>(ring, store, trail);
    for (int n = 0; n < kUsers; ++n) {
      kc::SecretBytes userKey(std::vector<std::uint8_t>(64, static_cast<std::uint8_t>(n)));
      kc::Status stored = inner->depositUserKey({.requestId = "seed-" + std::to_string(n),
                                                 .clientAddress = "127.0.0.1",
                                                 .userId = userId(n)},
                                                userKey, kc::api::DepositMode::kCreateOrReplace);
      if (!stored.isOk()) throw std::runtime_error(stored.toString());
    }
    return std::make_shared<kc::appliance::AuditedKeyService>(inner, trail);
  }
};

Fixture& fixture() {
  static Fixture instance;
  return instance;
}

std::atomic<std::uint64_t> gRequests{0};

kc::api::RequestContext nextRequest() {
  const std::uint64_t n = gRequests++;
  return {.requestId = "bench-" + std::to_string(n),
          .clientAddress = "127.0.0.1",
          .userId = userId(static_cast<int>(n % kUsers))};
}

void BM_TokenDecrypt(benchmark::State& state) {
  auto& f = fixture();
  for (auto _ : state) {
    auto plaintext = f.key.decrypt(f.probe.bytes, f.probe.hash);
    if (!plaintext) {
      state.SkipWithError(plaintext.status().toString().c_str());
      break;
    }
  }
  state.SetItemsProcessed(state.iterations());
}

template <bool kAudited>
void BM_Fetch(benchmark::State& state) {
  auto& f = fixture();
  kc::api::KeyService& service =
      kAudited ? static_cast<kc::api::KeyService&>(*f.audited) : *f.plain;
  for (auto _ : state) {
    auto key = service.fetchUserKey(nextRequest());
    if (!key) {
      state.SkipWithError(key.status().toString().c_str());
      break;
    }
  }
  state.SetItemsProcessed(state.iterations());
}

void printSummary(const kc::bench::RateCollector& rates, std::ostream& out) {
  out << "\nKey release vs the token's raw RSA-OAEP decrypt rate (" << gBits
      << "-bit key, SoftHSM, SQLite, audit log on local disk)\n"
      << "threads  token ops/s  fetch/token  audited/token  audited/fetch\n";
  for (int threads : rates.threadCounts("BM_TokenDecrypt")) {
    const double token = rates.rate("BM_TokenDecrypt", threads);
    const double fetch = rates.rate("BM_Fetch", threads);
    const double audited = rates.rate("BM_FetchAudited", threads);
    char line[128];
    std::snprintf(line, sizeof line, "%7d  %11.0f  %11.3f  %13.3f  %13.3f\n", threads, token,
                  fetch / token, audited / token, fetch > 0 ? audited / fetch : 0.0);
    out << line;
  }
}

}  // namespace

int main(int argc, char** argv) {
  const auto args = kc::bench::takeKeySizeFlags(argc, argv, gBits);
  kc::bench::registerInterleaved({{"BM_TokenDecrypt", BM_TokenDecrypt},
                                  {"BM_Fetch", BM_Fetch<false>},
                                  {"BM_FetchAudited", BM_Fetch<true>}},
                                 kMaxThreads);
  kc::bench::RateCollector rates;
  kc::bench::runBenchmarks(args, rates);
  printSummary(rates, std::cout);
  return 0;
}
