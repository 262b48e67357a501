// storage_test_writer: inserts records 0, 1, 2, ... (record n for kc::test::sequentialUserId(n))
// into the store named by the environment (KC_TEST_STORE_BACKEND = sqlite | postgresql | mysql,
// KC_TEST_STORE_TARGET = file path or connection string) and prints "ack <n>" after each insert
// the store acknowledged. It never stops by itself: the fault suite kills it.

#include <unistd.h>

#include <cstdio>
#include <cstdlib>
#include <string>

#include "kc/storage/UserKeyStore.h"
#include "support/UserIds.h"

int main() {
  const char* backend = std::getenv("KC_TEST_STORE_BACKEND");
  const char* target = std::getenv("KC_TEST_STORE_TARGET");
  if (backend == nullptr || target == nullptr) {
    std::fprintf(stderr, "set KC_TEST_STORE_BACKEND and KC_TEST_STORE_TARGET\n");
    return 2;
  }
  kc::storage::StoreConfig config;
  const std::string kind = backend;
  if (kind == "sqlite") {
    config.sqlitePath = target;
  } else {
    config.backend = kind == "postgresql" ? kc::storage::StoreBackend::kPostgreSql
                                          : kc::storage::StoreBackend::kMySql;
    config.connectionString = target;
  }
  auto store = kc::storage::openUserKeyStore(config);
  if (!store.isOk()) {
    std::fprintf(stderr, "%s\n", store.status().toString().c_str());
    return 1;
  }
  for (unsigned long long n = 0;; ++n) {
    const kc::storage::UserKeyWrite write{.userId = kc::test::sequentialUserId(n),
                                          .envelope = {1, 2, 3, static_cast<std::uint8_t>(n)},
                                          .wrappingKeyId = "wrap-1"};
    const kc::Status status = (*store)->insert(write);
    if (!status.isOk()) {
      std::fprintf(stderr, "%s\n", status.toString().c_str());
      return 1;
    }
    // One write(2) per acknowledgement, unbuffered, so a SIGKILL cannot lose a printed ack.
    const std::string line = "ack " + std::to_string(n) + "\n";
    if (::write(1, line.data(), line.size()) != static_cast<ssize_t>(line.size())) return 1;
  }
}
