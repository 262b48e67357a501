// Token throughput: the physical limit every end-to-end figure is compared with.
//
//   build/bench/token_bench [--bits=3072] [google-benchmark flags]
//
// Measures RSA-OAEP decryptions per second at 1, 2, 4 and 8 threads, (a) through the
// session pool and RsaKeyPair::decrypt, and (b) with one session per thread calling
// C_DecryptInit + C_Decrypt directly, then prints the pool's cost as a ratio of the two
// measured in the same run (the machines are shared and noisy; ratios travel, absolute
// figures do not).

#include <benchmark/benchmark.h>

#include <cstring>
#include <iostream>
#include <map>
#include <mutex>

#include "RateTable.h"
#include "RawDecrypt.h"
#include "kc/pkcs11/KeyGeneration.h"
#include "kc/pkcs11/Pkcs11Uri.h"
#include "support/SoftHsmToken.h"

namespace {

using kc::pkcs11::OaepCiphertext;
using kc::pkcs11::RsaKeyPair;

unsigned gBits = 3072;
constexpr int kMaxThreads = 8;

struct Fixture {
  kc::test::SoftHsmToken token{"kc-bench"};
  std::shared_ptr<kc::pkcs11::SessionPool> pool = token.openPool({.size = kMaxThreads});
  RsaKeyPair key = generate();
  OaepCiphertext ciphertext = encrypt();

  RsaKeyPair generate() {
    auto generated = kc::pkcs11::generateKeyPair(
        pool, {.purpose = kc::pkcs11::KeyPurpose::kWrap, .bits = gBits, .label = "bench-wrap"});
    if (!generated) throw std::runtime_error(generated.status().toString());
    return *generated;
  }
  OaepCiphertext encrypt() {
    std::vector<std::uint8_t> userKey(64, 0x5A);
    auto out = key.encrypt(userKey);
    if (!out) throw std::runtime_error(out.status().toString());
    return *out;
  }
};

Fixture& fixture() {
  static Fixture instance;
  return instance;
}

void BM_PoolDecrypt(benchmark::State& state) {
  auto& f = fixture();
  for (auto _ : state) {
    auto plaintext = f.key.decrypt(f.ciphertext.bytes, f.ciphertext.hash);
    if (!plaintext) {
      state.SkipWithError(plaintext.status().toString().c_str());
      break;
    }
    benchmark::DoNotOptimize(plaintext->data());
  }
  state.SetItemsProcessed(state.iterations());
}

// The baseline: this thread's own session, C_Decrypt called directly.
void BM_DirectDecrypt(benchmark::State& state) {
  auto& f = fixture();
  kc::bench::runRawDecrypt(state, *f.pool, f.key.id(), f.ciphertext);
}

void printSummary(const kc::bench::RateCollector& rates, std::ostream& out) {
  out << "\nRSA-OAEP decrypt, " << gBits << "-bit key, "
      << (fixture().ciphertext.hash == kc::pkcs11::OaepHash::kSha256 ? "SHA-256" : "SHA-1")
      << " OAEP, SoftHSM\n"
      << "threads  direct ops/s  pool ops/s  pool/direct\n";
  for (int threads : rates.threadCounts("BM_DirectDecrypt")) {
    const double direct = rates.rate("BM_DirectDecrypt", threads);
    const double pooled = rates.rate("BM_PoolDecrypt", threads);
    char line[128];
    std::snprintf(line, sizeof line, "%7d  %12.0f  %10.0f  %11.3f\n", threads, direct, pooled,
                  pooled / direct);
    out << line;
  }
}

}  // namespace

int main(int argc, char** argv) {
  const auto args = kc::bench::takeKeySizeFlags(argc, argv, gBits);
  kc::bench::registerInterleaved(
      {{"BM_DirectDecrypt", BM_DirectDecrypt}, {"BM_PoolDecrypt", BM_PoolDecrypt}}, kMaxThreads);
  kc::bench::RateCollector rates;
  kc::bench::runBenchmarks(args, rates);
  printSummary(rates, std::cout);
  return 0;
}
