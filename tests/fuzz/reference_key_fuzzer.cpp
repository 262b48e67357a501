// kc-setup import-bitwarden opens the reference's RSA key from a PKCS#12/PFX file or a PEM file
// the importer is handed, through OpenSSL's parsers: whatever the bytes, the key either opens
// and decrypts (or refuses a ciphertext) by status code, or is refused by code; never a crash.
// The first byte picks the format (bit 0) and whether the password "fuzz-pass" is given (bit
// 1); the rest is the file, read from memory through a memfd.

#include <sys/mman.h>
#include <unistd.h>

#include <cstdint>
#include <cstdlib>
#include <string>

#include "kc/provisioning/BitwardenImport.h"

namespace {

constexpr char kPasswordVariable[] = "KC_FUZZ_REFERENCE_KEY_PASSWORD";

bool isRefusal(kc::StatusCode code) {
  return code == kc::StatusCode::kInvalidArgument || code == kc::StatusCode::kPermissionDenied;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  using namespace kc::provisioning;
  if (size == 0) return 0;
  const int fd = memfd_create("reference-key", MFD_CLOEXEC);
  if (fd < 0) std::abort();
  const auto* file = data + 1;
  for (std::size_t done = 0; done < size - 1;) {
    const auto n = write(fd, file + done, size - 1 - done);
    if (n <= 0) std::abort();
    done += static_cast<std::size_t>(n);
  }
  ReferenceKeySource source;
  source.kind =
      (data[0] & 1) != 0 ? ReferenceKeySource::Kind::kPem : ReferenceKeySource::Kind::kPkcs12;
  source.path = "/proc/self/fd/" + std::to_string(fd);
  if ((data[0] & 2) != 0) {
    setenv(kPasswordVariable, "fuzz-pass", 1);
    source.passwordEnv = kPasswordVariable;
  }
  auto key = ReferenceKey::open(source);
  close(fd);
  if (!key) {
    if (!isRefusal(key.status().code())) std::abort();
    return 0;
  }
  // A key that opened is an RSA key that refuses a ciphertext it did not make, by code.
  const std::uint8_t ciphertext[64] = {1, 2, 3};
  auto plain = key->decryptOaepSha1(ciphertext);
  if (plain && plain->empty()) std::abort();
  if (!plain && plain.status().code() != kc::StatusCode::kIntegrity &&
      plain.status().code() != kc::StatusCode::kInternal) {
    std::abort();
  }
  return 0;
}
