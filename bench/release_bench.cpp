// The helper programs of bench/run: filling a store, the token's raw rate, and the naive
// release path, each measured against a token bench/run provisioned with kc-setup.
//
//   release_bench fill  --module M --token LABEL --key LABEL --pin-file F --db PATH
//                       --records N --identity DIR --tokens-out FILE --tokens K
//   release_bench token --module M --token LABEL --key LABEL --pin-file F
//                       --op decrypt|encrypt --threads N --seconds S
//   release_bench naive --module M --token LABEL --key LABEL --pin-file F --threads N --seconds S
//   release_bench login --module M --token LABEL --pin-file F
//   release_bench fsync --dir DIR --threads N --seconds S [--bytes B]
//
// fill: writes N valid envelopes (a fresh DEK per record, wrapped with RSA-OAEP by OpenSSL
// under the wrapping key's public half, the user key sealed with AES-256-GCM as the daemon
// does) into a SQLite store, 100,000 to a transaction, and JWTs of the development identity for the
// first K users into FILE (0600), one a line, for the load generator.
// token: the token's raw rate with one session per thread (C_DecryptInit + C_Decrypt of a
// wrapped 32-byte DEK with the private key, or C_EncryptInit + C_Encrypt of one with the
// public key); prints "<ops/s> <OAEP hash> <CPU microseconds per op>" (the process's user and
// system time over the operations: what one op costs the machine, whatever else runs on it).
// naive: what Bitwarden's reference Key Connector does for each operation: load the module
// (C_Initialize), find the slot, open a session, log in, find the key, decrypt, log out, close
// the session, C_Finalize; prints "<ops/s>".
// login: the token's share of the daemon's start-up (C_Initialize to C_Login), in ms.
// fsync: the durable-write bound of DIR's file system: N threads, each appending B-byte lines
// (default 300, about an audit record) to its own file in DIR with fdatasync after every line,
// as the audit log makes each record durable; prints "<appends/s>" over all threads. The files
// are removed afterwards.

#include <dlfcn.h>
#include <fcntl.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/rand.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <unistd.h>

#include <atomic>
#include <cerrno>
#include <chrono>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <map>
#include <memory>
#include <mutex>
#include <random>
#include <stdexcept>
#include <string>
#include <string_view>
#include <system_error>
#include <thread>
#include <vector>

#include "kc/Text.h"
#include "kc/appliance/Envelope.h"
#include "kc/pkcs11/Cryptoki.h"
#include "kc/pkcs11/Pkcs11Uri.h"
#include "kc/pkcs11/RsaKeyPair.h"
#include "kc/pkcs11/TokenConnection.h"
#include "kc/provisioning/DevIdentity.h"
#include "kc/storage/UserKeyStore.h"

namespace {

using Flags = std::map<std::string, std::string>;

Flags parseFlags(int argc, char** argv) {
  Flags flags;
  for (int i = 2; i + 1 < argc; i += 2) {
    std::string name = argv[i];
    if (name.rfind("--", 0) != 0) throw std::runtime_error("expected a flag, got " + name);
    flags[name.substr(2)] = argv[i + 1];
  }
  return flags;
}

const std::string& flag(const Flags& flags, const std::string& name) {
  auto it = flags.find(name);
  if (it == flags.end()) throw std::runtime_error("missing --" + name);
  return it->second;
}

std::string readPin(const std::string& path) {
  std::ifstream in(path);
  std::string pin;
  std::getline(in, pin);
  if (pin.empty()) throw std::runtime_error("no PIN in the PIN file");
  return pin;
}

std::string randomUserId(std::mt19937_64& random) {
  std::string id = "xxxxxxxx-xxxx-4xxx-8xxx-xxxxxxxxxxxx";
  for (char& c : id) {
    if (c == 'x') c = "0123456789abcdef"[random() & 15];
  }
  return id;
}

// RSA-OAEP (hash and MGF1 both `hash`, no label) with the public key, as the token does.
std::vector<std::uint8_t> oaepEncrypt(EVP_PKEY* key, kc::pkcs11::OaepHash hash,
                                      std::span<const std::uint8_t> plaintext) {
  std::unique_ptr<EVP_PKEY_CTX, decltype(&EVP_PKEY_CTX_free)> context(
      EVP_PKEY_CTX_new(key, nullptr), EVP_PKEY_CTX_free);
  const EVP_MD* md = hash == kc::pkcs11::OaepHash::kSha256 ? EVP_sha256() : EVP_sha1();
  std::size_t length = 0;
  if (!context || EVP_PKEY_encrypt_init(context.get()) <= 0 ||
      EVP_PKEY_CTX_set_rsa_padding(context.get(), RSA_PKCS1_OAEP_PADDING) <= 0 ||
      EVP_PKEY_CTX_set_rsa_oaep_md(context.get(), md) <= 0 ||
      EVP_PKEY_CTX_set_rsa_mgf1_md(context.get(), md) <= 0 ||
      EVP_PKEY_encrypt(context.get(), nullptr, &length, plaintext.data(), plaintext.size()) <= 0) {
    throw std::runtime_error("OpenSSL RSA-OAEP set-up failed");
  }
  std::vector<std::uint8_t> out(length);
  if (EVP_PKEY_encrypt(context.get(), out.data(), &length, plaintext.data(), plaintext.size()) <=
      0) {
    throw std::runtime_error("OpenSSL RSA-OAEP encryption failed");
  }
  out.resize(length);
  return out;
}

int fill(const Flags& flags) {
  // The token only names the key and gives its public half; every wrap below is OpenSSL's.
  kc::pkcs11::TokenSettings settings{
      .modulePath = flag(flags, "module"),
      .uri = "pkcs11:token=" + flag(flags, "token"),
      .pin = kc::pkcs11::PinSource::fromFile(flag(flags, "pin-file")),
      .pool = {.size = 1}};
  auto pool = kc::pkcs11::connectToken(settings);
  if (!pool) throw std::runtime_error(pool.status().toString());
  auto uri = kc::pkcs11::Pkcs11Uri::parse(settings.uri + ";object=" + flag(flags, "key") +
                                          ";type=private");
  if (!uri) throw std::runtime_error(uri.status().toString());
  auto key = kc::pkcs11::RsaKeyPair::find(*pool, *uri);
  if (!key) throw std::runtime_error(key.status().toString());
  auto exported = key->exportPublicKey();
  if (!exported) throw std::runtime_error(exported.status().toString());
  std::unique_ptr<BIO, decltype(&BIO_free)> bio(
      BIO_new_mem_buf(exported->pem.data(), static_cast<int>(exported->pem.size())), BIO_free);
  std::unique_ptr<EVP_PKEY, decltype(&EVP_PKEY_free)> publicKey(
      PEM_read_bio_PUBKEY(bio.get(), nullptr, nullptr, nullptr), EVP_PKEY_free);
  if (!publicKey) throw std::runtime_error("cannot read the exported public key");

  const long records = std::stol(flag(flags, "records"));
  const long tokenCount = std::min(records, std::stol(flag(flags, "tokens")));
  kc::storage::StoreConfig storeConfig;
  storeConfig.backend = kc::storage::StoreBackend::kSqlite;
  storeConfig.sqlitePath = flag(flags, "db");
  auto store = kc::storage::openUserKeyStore(storeConfig);
  if (!store) throw std::runtime_error(store.status().toString());

  const std::string tokensPath = flag(flags, "tokens-out");
  std::ofstream tokens(tokensPath, std::ios::trunc);
  ::chmod(tokensPath.c_str(), 0600);
  std::mt19937_64 random(std::random_device{}());
  // Written 100,000 at a time, one transaction each: a million envelopes in memory at once
  // would take half a gigabyte.
  constexpr std::size_t kBatch = 100000;
  std::vector<kc::storage::UserKeyWrite> batch;
  batch.reserve(kBatch);
  auto flush = [&] {
    kc::Status written = (*store)->insertMany(batch);
    if (!written.isOk()) throw std::runtime_error(written.toString());
    batch.clear();
  };
  for (long i = 0; i < records; ++i) {
    auto user = kc::UserId::parse(randomUserId(random));
    if (!user) throw std::runtime_error(user.status().toString());
    kc::SecretBytes dek(kc::appliance::kDekBytes);
    kc::SecretBytes userKey(64);
    if (RAND_bytes(dek.data(), static_cast<int>(dek.size())) != 1 ||
        RAND_bytes(userKey.data(), static_cast<int>(userKey.size())) != 1) {
      throw std::runtime_error("RAND_bytes failed");
    }
    kc::appliance::Envelope envelope;
    envelope.oaepHash = key->oaepHash();
    envelope.wrappingKeyId = key->id();
    envelope.wrappedDek = oaepEncrypt(publicKey.get(), envelope.oaepHash, dek.view());
    kc::Status sealed = kc::appliance::encryptUserKey(envelope, dek, *user, userKey);
    if (!sealed.isOk()) throw std::runtime_error(sealed.toString());
    auto bytes = kc::appliance::serializeEnvelope(envelope);
    if (!bytes) throw std::runtime_error(bytes.status().toString());
    if (i < tokenCount) {
      auto token = kc::provisioning::mintDevToken(
          flag(flags, "identity"), {.userId = user->str(), .timeToLive = std::chrono::hours(24)});
      if (!token) throw std::runtime_error(token.status().toString());
      tokens << *token << '\n';
    }
    batch.push_back(
        {.userId = *user, .envelope = std::move(*bytes), .wrappingKeyId = key->idHex()});
    if (batch.size() == kBatch) flush();
  }
  flush();
  std::cout << records << "\n";
  return 0;
}

// The module's function list, loaded with dlopen as any PKCS#11 application does.
struct Cryptoki {
  void* library = nullptr;
  CK_FUNCTION_LIST* f = nullptr;

  explicit Cryptoki(const std::string& path) {
    library = ::dlopen(path.c_str(), RTLD_NOW | RTLD_LOCAL);
    if (library == nullptr) throw std::runtime_error("dlopen failed: " + path);
    auto getList = reinterpret_cast<CK_C_GetFunctionList>(::dlsym(library, "C_GetFunctionList"));
    if (getList == nullptr || getList(&f) != CKR_OK) throw std::runtime_error("no function list");
  }
  ~Cryptoki() { ::dlclose(library); }
  Cryptoki(const Cryptoki&) = delete;
  Cryptoki& operator=(const Cryptoki&) = delete;
};

void check(CK_RV rv, const char* what) {
  if (rv != CKR_OK) throw std::runtime_error(std::string(what) + ": " + kc::pkcs11::ckrName(rv));
}

CK_SLOT_ID findSlot(CK_FUNCTION_LIST* f, const std::string& label) {
  CK_ULONG count = 0;
  check(f->C_GetSlotList(CK_TRUE, nullptr, &count), "C_GetSlotList");
  std::vector<CK_SLOT_ID> slots(count);
  check(f->C_GetSlotList(CK_TRUE, slots.data(), &count), "C_GetSlotList");
  for (CK_SLOT_ID slot : slots) {
    CK_TOKEN_INFO info{};
    if (f->C_GetTokenInfo(slot, &info) != CKR_OK) continue;
    if (kc::pkcs11::paddedField(info.label, sizeof info.label) == label) {
      return slot;
    }
  }
  throw std::runtime_error("no token labelled " + label);
}

CK_OBJECT_HANDLE findKey(CK_FUNCTION_LIST* f, CK_SESSION_HANDLE session, const std::string& label,
                         CK_OBJECT_CLASS keyClass) {
  CK_ATTRIBUTE query[] = {{CKA_CLASS, &keyClass, sizeof keyClass},
                          {CKA_LABEL, const_cast<char*>(label.data()), label.size()}};
  check(f->C_FindObjectsInit(session, query, 2), "C_FindObjectsInit");
  CK_OBJECT_HANDLE key = CK_INVALID_HANDLE;
  CK_ULONG found = 0;
  check(f->C_FindObjects(session, &key, 1, &found), "C_FindObjects");
  f->C_FindObjectsFinal(session);
  if (found != 1) throw std::runtime_error("no key labelled " + label);
  return key;
}

// The OAEP hash the token takes: SHA-256 where it can (SoftHSM 2.6 only does SHA-1), chosen
// by the first encryption as the daemon's RsaKeyPair::find probes it.
CK_MECHANISM_TYPE gOaepHash = CKM_SHA256;

CK_RSA_PKCS_OAEP_PARAMS oaepParams() {
  CK_RSA_PKCS_OAEP_PARAMS params{};
  params.hashAlg = gOaepHash;
  params.mgf = gOaepHash == CKM_SHA256 ? CKG_MGF1_SHA256 : CKG_MGF1_SHA1;
  params.source = CKZ_DATA_SPECIFIED;
  return params;
}

std::vector<std::uint8_t> encryptOnce(CK_FUNCTION_LIST* f, CK_SESSION_HANDLE session,
                                      CK_OBJECT_HANDLE publicKey) {
  CK_RSA_PKCS_OAEP_PARAMS params = oaepParams();
  CK_MECHANISM mechanism{CKM_RSA_PKCS_OAEP, &params, sizeof params};
  std::vector<std::uint8_t> dek(32, 0x5A);
  std::vector<std::uint8_t> out(1024);
  CK_ULONG length = out.size();
  check(f->C_EncryptInit(session, &mechanism, publicKey), "C_EncryptInit");
  check(f->C_Encrypt(session, dek.data(), dek.size(), out.data(), &length), "C_Encrypt");
  out.resize(length);
  return out;
}

// The first encryption, choosing the OAEP hash.
std::vector<std::uint8_t> probeOaep(CK_FUNCTION_LIST* f, CK_SESSION_HANDLE session,
                                    CK_OBJECT_HANDLE publicKey) {
  gOaepHash = CKM_SHA256;
  CK_RSA_PKCS_OAEP_PARAMS params = oaepParams();
  CK_MECHANISM mechanism{CKM_RSA_PKCS_OAEP, &params, sizeof params};
  if (f->C_EncryptInit(session, &mechanism, publicKey) != CKR_OK) {
    gOaepHash = CKM_SHA_1;
  } else {
    f->C_EncryptInit(session, nullptr, publicKey);  // ends the probe's operation
  }
  return encryptOnce(f, session, publicKey);
}

void decryptOnce(CK_FUNCTION_LIST* f, CK_SESSION_HANDLE session, CK_OBJECT_HANDLE privateKey,
                 std::vector<std::uint8_t>& ciphertext) {
  CK_RSA_PKCS_OAEP_PARAMS params = oaepParams();
  CK_MECHANISM mechanism{CKM_RSA_PKCS_OAEP, &params, sizeof params};
  std::uint8_t out[1024];
  CK_ULONG length = sizeof out;
  check(f->C_DecryptInit(session, &mechanism, privateKey), "C_DecryptInit");
  check(f->C_Decrypt(session, ciphertext.data(), ciphertext.size(), out, &length), "C_Decrypt");
  if (length != 32) throw std::runtime_error("C_Decrypt returned the wrong length");
}

// This process's user plus system CPU time, in microseconds.
double cpuMicros() {
  rusage usage{};
  getrusage(RUSAGE_SELF, &usage);
  const auto micros = [](const timeval& t) {
    return static_cast<double>(t.tv_sec) * 1e6 + static_cast<double>(t.tv_usec);
  };
  return micros(usage.ru_utime) + micros(usage.ru_stime);
}

struct Measured {
  double rate = 0;            // operations per second
  double cpuMicrosPerOp = 0;  // the process's CPU time per operation
};

// Runs `work(thread)` repeatedly on `threads` threads for `seconds`.
template <typename Work>
Measured measure(int threads, double seconds, Work work) {
  std::atomic<bool> stop{false};
  std::atomic<long> operations{0};
  std::vector<std::thread> pool;
  pool.reserve(static_cast<std::size_t>(threads));
  const double cpuStart = cpuMicros();
  const auto start = std::chrono::steady_clock::now();
  for (int t = 0; t < threads; ++t) {
    pool.emplace_back([&, t] {
      long mine = 0;
      auto once = work(t);
      while (!stop.load(std::memory_order_relaxed)) {
        once();
        ++mine;
      }
      operations += mine;
    });
  }
  std::this_thread::sleep_for(std::chrono::duration<double>(seconds));
  stop = true;
  for (auto& thread : pool) thread.join();
  const double elapsed =
      std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  const auto done = static_cast<double>(std::max(operations.load(), 1L));
  return {.rate = static_cast<double>(operations.load()) / elapsed,
          .cpuMicrosPerOp = (cpuMicros() - cpuStart) / done};
}

int token(const Flags& flags) {
  Cryptoki cryptoki(flag(flags, "module"));
  CK_FUNCTION_LIST* f = cryptoki.f;
  CK_C_INITIALIZE_ARGS args{};
  args.flags = CKF_OS_LOCKING_OK;
  check(f->C_Initialize(&args), "C_Initialize");
  const CK_SLOT_ID slot = findSlot(f, flag(flags, "token"));
  const std::string pin = readPin(flag(flags, "pin-file"));
  const std::string label = flag(flags, "key");
  const bool decrypt = flag(flags, "op") == "decrypt";
  const int threads = std::stoi(flag(flags, "threads"));
  std::vector<CK_SESSION_HANDLE> sessions(static_cast<std::size_t>(threads));
  for (auto& session : sessions) {
    check(f->C_OpenSession(slot, CKF_SERIAL_SESSION | CKF_RW_SESSION, nullptr, nullptr, &session),
          "C_OpenSession");
  }
  CK_RV login =
      f->C_Login(sessions[0], CKU_USER,
                 reinterpret_cast<CK_UTF8CHAR*>(const_cast<char*>(pin.data())), pin.size());
  if (login != CKR_USER_ALREADY_LOGGED_IN) check(login, "C_Login");
  const CK_OBJECT_HANDLE publicKey = findKey(f, sessions[0], label, CKO_PUBLIC_KEY);
  const CK_OBJECT_HANDLE privateKey = findKey(f, sessions[0], label, CKO_PRIVATE_KEY);
  const std::vector<std::uint8_t> probe = probeOaep(f, sessions[0], publicKey);
  const Measured measured = measure(threads, std::stod(flag(flags, "seconds")), [&](int t) {
    CK_SESSION_HANDLE session = sessions[static_cast<std::size_t>(t)];
    return [=]() mutable {
      std::vector<std::uint8_t> ciphertext = probe;
      if (decrypt) {
        decryptOnce(f, session, privateKey, ciphertext);
      } else {
        encryptOnce(f, session, publicKey);
      }
    };
  });
  for (auto session : sessions) f->C_CloseSession(session);
  f->C_Finalize(nullptr);
  std::cout << static_cast<long>(measured.rate) << " "
            << (gOaepHash == CKM_SHA256 ? "SHA-256" : "SHA-1") << " "
            << static_cast<long>(measured.cpuMicrosPerOp + 0.5) << "\n";
  return 0;
}

int naive(const Flags& flags) {
  const std::string module = flag(flags, "module");
  const std::string tokenLabel = flag(flags, "token");
  const std::string pin = readPin(flag(flags, "pin-file"));
  const std::string label = flag(flags, "key");
  std::vector<std::uint8_t> probe;
  {
    Cryptoki cryptoki(module);
    CK_FUNCTION_LIST* f = cryptoki.f;
    check(f->C_Initialize(nullptr), "C_Initialize");
    CK_SESSION_HANDLE session = CK_INVALID_HANDLE;
    check(f->C_OpenSession(findSlot(f, tokenLabel), CKF_SERIAL_SESSION, nullptr, nullptr, &session),
          "C_OpenSession");
    probe = probeOaep(f, session, findKey(f, session, label, CKO_PUBLIC_KEY));
    f->C_CloseSession(session);
    f->C_Finalize(nullptr);
  }
  // One process-wide module, as .NET's Pkcs11Interop keeps one library handle per factory
  // call: C_Initialize/C_Finalize are process-wide, so the threads take turns around them.
  std::mutex moduleLock;
  const double rate =
      measure(std::stoi(flag(flags, "threads")), std::stod(flag(flags, "seconds")), [&](int) {
        return [&]() {
          std::lock_guard lock(moduleLock);
          Cryptoki cryptoki(module);
          CK_FUNCTION_LIST* f = cryptoki.f;
          check(f->C_Initialize(nullptr), "C_Initialize");
          CK_SESSION_HANDLE session = CK_INVALID_HANDLE;
          check(f->C_OpenSession(findSlot(f, tokenLabel), CKF_SERIAL_SESSION, nullptr, nullptr,
                                 &session),
                "C_OpenSession");
          check(
              f->C_Login(session, CKU_USER,
                         reinterpret_cast<CK_UTF8CHAR*>(const_cast<char*>(pin.data())), pin.size()),
              "C_Login");
          std::vector<std::uint8_t> ciphertext = probe;
          decryptOnce(f, session, findKey(f, session, label, CKO_PRIVATE_KEY), ciphertext);
          f->C_Logout(session);
          f->C_CloseSession(session);
          f->C_Finalize(nullptr);
        };
      }).rate;
  std::cout << static_cast<long>(rate) << "\n";
  return 0;
}

// What the daemon's start-up spends on the token before it can serve: C_Initialize, finding
// the slot, a session and C_Login; the best of five, in milliseconds.
int measureLogin(const Flags& flags) {
  const std::string pin = readPin(flag(flags, "pin-file"));
  double best = 1e9;
  for (int i = 0; i < 5; ++i) {
    Cryptoki cryptoki(flag(flags, "module"));
    CK_FUNCTION_LIST* f = cryptoki.f;
    const auto start = std::chrono::steady_clock::now();
    check(f->C_Initialize(nullptr), "C_Initialize");
    CK_SESSION_HANDLE session = CK_INVALID_HANDLE;
    check(f->C_OpenSession(findSlot(f, flag(flags, "token")), CKF_SERIAL_SESSION, nullptr, nullptr,
                           &session),
          "C_OpenSession");
    check(f->C_Login(session, CKU_USER,
                     reinterpret_cast<CK_UTF8CHAR*>(const_cast<char*>(pin.data())), pin.size()),
          "C_Login");
    best = std::min(
        best, std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - start)
                  .count());
    f->C_Logout(session);
    f->C_CloseSession(session);
    f->C_Finalize(nullptr);
  }
  std::printf("%.1f\n", best);
  return 0;
}

// A file descriptor closed when it goes out of scope.
class FileDescriptor {
 public:
  explicit FileDescriptor(int fd) : fd_(fd) {}
  ~FileDescriptor() {
    if (fd_ >= 0) ::close(fd_);
  }
  FileDescriptor(const FileDescriptor&) = delete;
  FileDescriptor& operator=(const FileDescriptor&) = delete;
  int get() const { return fd_; }

 private:
  int fd_;
};

// Appends one line and makes it durable, as the audit log does with a record: the whole line
// written (retrying short writes), then fdatasync.
void appendDurably(int fd, std::string_view line) {
  while (!line.empty()) {
    const ssize_t written = ::write(fd, line.data(), line.size());
    if (written < 0) {
      if (errno == EINTR) continue;
      throw std::runtime_error("write: " + std::generic_category().message(errno));
    }
    line.remove_prefix(static_cast<std::size_t>(written));
  }
  if (::fdatasync(fd) != 0)
    throw std::runtime_error("fdatasync: " + std::generic_category().message(errno));
}

int fsyncRate(const Flags& flags) {
  const std::filesystem::path dir = flag(flags, "dir");
  const int threads = std::stoi(flag(flags, "threads"));
  const auto bytes = flags.contains("bytes") ? std::stoul(flags.at("bytes")) : 300UL;
  if (bytes < 2) throw std::runtime_error("--bytes must be at least 2");
  std::filesystem::create_directories(dir);
  std::vector<std::filesystem::path> paths;
  std::vector<std::unique_ptr<FileDescriptor>> files;
  for (int t = 0; t < threads; ++t) {
    paths.push_back(dir / ("fsync-bench-" + std::to_string(t) + ".log"));
    auto fd = std::make_unique<FileDescriptor>(
        ::open(paths.back().c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_APPEND | O_CLOEXEC, 0600));
    if (fd->get() < 0) {
      throw std::runtime_error("cannot open " + paths.back().string() + ": " +
                               std::generic_category().message(errno));
    }
    files.push_back(std::move(fd));
  }
  const std::string line = std::string(bytes - 1, 'a') + "\n";
  // A worker thread's exception would end the process; keep the first and rethrow it here.
  std::mutex failureLock;
  std::string failure;
  const Measured measured = measure(threads, std::stod(flag(flags, "seconds")), [&](int t) {
    const int fd = files[static_cast<std::size_t>(t)]->get();
    return [&, fd]() {
      try {
        appendDurably(fd, line);
      } catch (const std::exception& error) {
        const std::lock_guard lock(failureLock);
        if (failure.empty()) failure = error.what();
      }
    };
  });
  files.clear();
  for (const auto& path : paths) std::filesystem::remove(path);
  if (!failure.empty()) throw std::runtime_error(failure);
  std::cout << static_cast<long>(measured.rate) << "\n";
  return 0;
}

}  // namespace

int main(int argc, char** argv) {
  if (argc < 2) {
    std::cerr << "usage: release_bench fill|token|naive|login|fsync --flag value ...\n";
    return 2;
  }
  const std::string command = argv[1];
  try {
    const Flags flags = parseFlags(argc, argv);
    if (command == "fill") return fill(flags);
    if (command == "token") return token(flags);
    if (command == "naive") return naive(flags);
    if (command == "login") return measureLogin(flags);
    if (command == "fsync") return fsyncRate(flags);
    std::cerr << "release_bench: unknown command " << command << "\n";
    return 2;
  } catch (const std::exception& error) {
    std::cerr << "release_bench " << command << ": " << error.what() << "\n";
    return 1;
  }
}
