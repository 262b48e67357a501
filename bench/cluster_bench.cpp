// A token cluster's throughput (pkcs11.tokens): the same key pair on two SoftHSM tokens.
//
//   build/bench/cluster_bench [--bits=3072] [google-benchmark flags]
//
// Measures RSA-OAEP decryptions per second at 1, 2, 4 and 8 threads: (a) one session per
// thread calling C_Decrypt directly on token A, the raw rate every other figure is divided
// by; (b) RsaKeyPair::decrypt on token A alone (the single-token path); (c) the same key
// found on the cluster of tokens A and B. Every decryption is checked against the plaintext.
// Two SoftHSM tokens share this machine's CPUs, so (c) cannot beat (a) here: what it shows is
// the cluster's own cost and how evenly it spreads. A second physical HSM adds its own RSA
// engine, so (c) could approach twice (a) once enough threads keep both busy.

#include <benchmark/benchmark.h>

#include <algorithm>
#include <atomic>
#include <cstring>
#include <iostream>
#include <optional>

#include "RateTable.h"
#include "RawDecrypt.h"
#include "kc/pkcs11/Pkcs11Uri.h"
#include "kc/pkcs11/RsaKeyPair.h"
#include "kc/pkcs11/TokenCluster.h"
#include "support/ImportedKeyPair.h"
#include "support/SoftHsmToken.h"

namespace {

using kc::pkcs11::OaepCiphertext;
using kc::pkcs11::RsaKeyPair;

unsigned gBits = 3072;
constexpr int kMaxThreads = 8;
const std::vector<std::uint8_t> kPlaintext(64, 0x5A);
std::atomic<long> gWrong{0};

std::shared_ptr<kc::pkcs11::SessionPool> poolOn(kc::test::SoftHsmToken& token,
                                                const std::string& label) {
  auto slot = token.module()->findToken(*kc::pkcs11::Pkcs11Uri::parse("pkcs11:token=" + label));
  if (!slot) throw std::runtime_error(slot.status().toString());
  auto pool = kc::pkcs11::SessionPool::open(token.module(), *slot,
                                            kc::pkcs11::PinSource::fromFile(token.pinFile()),
                                            {.size = kMaxThreads});
  if (!pool) throw std::runtime_error(pool.status().toString());
  return *pool;
}

struct Fixture {
  kc::test::SoftHsmToken token{"kc-bench-a"};
  std::shared_ptr<kc::pkcs11::SessionPool> poolA, poolB;
  std::shared_ptr<kc::pkcs11::TokenCluster> cluster;
  std::optional<RsaKeyPair> single, replicated;
  OaepCiphertext ciphertext;

  Fixture() {
    token.addToken("kc-bench-b");
    poolA = poolOn(token, "kc-bench-a");
    poolB = poolOn(token, "kc-bench-b");
    const auto key = kc::test::SoftwareRsaKey::generate(static_cast<int>(gBits));
    kc::test::importKeyPair(*poolA, key, "bench-wrap", {0xBE, 0x01});
    kc::test::importKeyPair(*poolB, key, "bench-wrap", {0xBE, 0x01});
    const auto uri = *kc::pkcs11::Pkcs11Uri::parse("pkcs11:object=bench-wrap");
    auto found = RsaKeyPair::find(poolA, uri);
    if (!found) throw std::runtime_error(found.status().toString());
    single = *found;
    cluster = kc::pkcs11::TokenCluster::create({{"kc-bench-a", poolA}, {"kc-bench-b", poolB}});
    auto onCluster = RsaKeyPair::findOnCluster(cluster, uri);
    if (!onCluster) throw std::runtime_error(onCluster.status().toString());
    replicated = *onCluster;
    auto sealed = single->encrypt(kPlaintext);
    if (!sealed) throw std::runtime_error(sealed.status().toString());
    ciphertext = *sealed;
  }
};

Fixture& fixture() {
  static Fixture instance;
  return instance;
}

void decryptWith(benchmark::State& state, const RsaKeyPair& key) {
  const auto& ciphertext = fixture().ciphertext;
  for (auto _ : state) {
    auto plaintext = key.decrypt(ciphertext.bytes, ciphertext.hash);
    if (!plaintext) {
      state.SkipWithError(plaintext.status().toString().c_str());
      break;
    }
    if (plaintext->size() != kPlaintext.size() ||
        !std::equal(kPlaintext.begin(), kPlaintext.end(), plaintext->data())) {
      ++gWrong;
    }
  }
  state.SetItemsProcessed(state.iterations());
}

void BM_OneToken(benchmark::State& state) {
  decryptWith(state, *fixture().single);
}

void BM_TwoTokens(benchmark::State& state) {
  decryptWith(state, *fixture().replicated);
}

// The baseline: this thread's own session on token A, C_Decrypt called directly.
void BM_RawDecrypt(benchmark::State& state) {
  auto& f = fixture();
  kc::bench::runRawDecrypt(state, *f.poolA, f.single->id(), f.ciphertext);
}

void printSummary(const kc::bench::RateCollector& rates, std::ostream& out) {
  out << "\nRSA-OAEP decrypt, " << gBits << "-bit key, SoftHSM; ratios of one token's raw "
      << "C_Decrypt rate at the same thread count\n"
      << "threads  raw ops/s  one token/raw  two tokens/raw\n";
  for (int threads : rates.threadCounts("BM_RawDecrypt")) {
    const double raw = rates.rate("BM_RawDecrypt", threads);
    char line[128];
    std::snprintf(line, sizeof line, "%7d  %9.0f  %13.3f  %14.3f\n", threads, raw,
                  rates.rate("BM_OneToken", threads) / raw,
                  rates.rate("BM_TwoTokens", threads) / raw);
    out << line;
  }
  out << "cluster split over the whole run:";
  for (const auto& state : fixture().cluster->states()) {
    out << "  " << state.name << " " << state.operations << " ops"
        << (state.inRotation ? "" : " (out of rotation)") << ", " << state.failures << " failures;";
  }
  out << "\nwrong plaintexts: " << gWrong.load() << "\n";
}

}  // namespace

int main(int argc, char** argv) {
  const auto args = kc::bench::takeKeySizeFlags(argc, argv, gBits);
  kc::bench::registerInterleaved({{"BM_RawDecrypt", BM_RawDecrypt},
                                  {"BM_OneToken", BM_OneToken},
                                  {"BM_TwoTokens", BM_TwoTokens}},
                                 kMaxThreads);
  kc::bench::RateCollector rates;
  kc::bench::runBenchmarks(args, rates);
  printSummary(rates, std::cout);
  return gWrong.load() == 0 ? 0 : 1;
}
