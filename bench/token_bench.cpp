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
  CK_FUNCTION_LIST* api = f.pool->api();
  CK_SESSION_HANDLE session = CK_INVALID_HANDLE;
  if (api->C_OpenSession(f.pool->slot(), CKF_SERIAL_SESSION, nullptr, nullptr, &session) !=
      CKR_OK) {
    state.SkipWithError("C_OpenSession failed");
    return;
  }
  CK_OBJECT_CLASS privateClass = CKO_PRIVATE_KEY;
  std::vector<std::uint8_t> id = f.key.id();
  CK_ATTRIBUTE query[] = {{CKA_CLASS, &privateClass, sizeof privateClass},
                          {CKA_ID, id.data(), id.size()}};
  CK_OBJECT_HANDLE privateKey = CK_INVALID_HANDLE;
  CK_ULONG found = 0;
  api->C_FindObjectsInit(session, query, 2);
  api->C_FindObjects(session, &privateKey, 1, &found);
  api->C_FindObjectsFinal(session);
  if (found != 1) {
    state.SkipWithError("private key not found");
    api->C_CloseSession(session);
    return;
  }
  CK_RSA_PKCS_OAEP_PARAMS params{};
  const bool sha256 = f.ciphertext.hash == kc::pkcs11::OaepHash::kSha256;
  params.hashAlg = sha256 ? CKM_SHA256 : CKM_SHA_1;
  params.mgf = sha256 ? CKG_MGF1_SHA256 : CKG_MGF1_SHA1;
  params.source = CKZ_DATA_SPECIFIED;
  CK_MECHANISM mechanism{CKM_RSA_PKCS_OAEP, &params, sizeof params};
  std::vector<std::uint8_t> ciphertext = f.ciphertext.bytes;
  std::vector<std::uint8_t> out(ciphertext.size());
  for (auto _ : state) {
    CK_ULONG length = out.size();
    if (api->C_DecryptInit(session, &mechanism, privateKey) != CKR_OK ||
        api->C_Decrypt(session, ciphertext.data(), ciphertext.size(), out.data(), &length) !=
            CKR_OK) {
      state.SkipWithError("C_Decrypt failed");
      break;
    }
    benchmark::DoNotOptimize(out.data());
  }
  std::memset(out.data(), 0, out.size());
  api->C_CloseSession(session);
  state.SetItemsProcessed(state.iterations());
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
