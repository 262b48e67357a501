#pragma once
// The baseline of every ratio the benchmarks print: the token's raw RSA-OAEP decrypt rate,
// with this thread's own session calling C_Decrypt directly (no pool, no key object, no
// retry), so the figure is what the token itself can do.

#include <benchmark/benchmark.h>

#include <cstdint>
#include <vector>

#include "kc/pkcs11/RsaKeyPair.h"
#include "kc/pkcs11/SessionPool.h"

namespace kc::bench {

// Opens a session on `pool`'s token (logged in through the pool's own sessions), finds the
// private key whose CKA_ID is `id`, and decrypts `ciphertext` once per iteration of `state`.
// A failure skips the benchmark with the reason.
void runRawDecrypt(benchmark::State& state, const pkcs11::SessionPool& pool,
                   const std::vector<std::uint8_t>& id, const pkcs11::OaepCiphertext& ciphertext);

}  // namespace kc::bench
