#include "RawDecrypt.h"

#include <cstring>

namespace kc::bench {

void runRawDecrypt(benchmark::State& state, const pkcs11::SessionPool& pool,
                   const std::vector<std::uint8_t>& id, const pkcs11::OaepCiphertext& ciphertext) {
  CK_FUNCTION_LIST* api = pool.api();
  CK_SESSION_HANDLE session = CK_INVALID_HANDLE;
  if (api->C_OpenSession(pool.slot(), CKF_SERIAL_SESSION, nullptr, nullptr, &session) != CKR_OK) {
    state.SkipWithError("C_OpenSession failed");
    return;
  }
  CK_OBJECT_CLASS privateClass = CKO_PRIVATE_KEY;
  std::vector<std::uint8_t> keyId = id;  // PKCS#11 takes a non-const pointer
  CK_ATTRIBUTE query[] = {{CKA_CLASS, &privateClass, sizeof privateClass},
                          {CKA_ID, keyId.data(), keyId.size()}};
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
  const bool sha256 = ciphertext.hash == pkcs11::OaepHash::kSha256;
  params.hashAlg = sha256 ? CKM_SHA256 : CKM_SHA_1;
  params.mgf = sha256 ? CKG_MGF1_SHA256 : CKG_MGF1_SHA1;
  params.source = CKZ_DATA_SPECIFIED;
  CK_MECHANISM mechanism{CKM_RSA_PKCS_OAEP, &params, sizeof params};
  std::vector<std::uint8_t> bytes = ciphertext.bytes;
  std::vector<std::uint8_t> out(bytes.size());
  for (auto _ : state) {
    CK_ULONG length = out.size();
    if (api->C_DecryptInit(session, &mechanism, privateKey) != CKR_OK ||
        api->C_Decrypt(session, bytes.data(), bytes.size(), out.data(), &length) != CKR_OK) {
      state.SkipWithError("C_Decrypt failed");
      break;
    }
    benchmark::DoNotOptimize(out.data());
  }
  std::memset(out.data(), 0, out.size());
  api->C_CloseSession(session);
  state.SetItemsProcessed(state.iterations());
}

}  // namespace kc::bench
