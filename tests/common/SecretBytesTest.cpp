// SecretBytes in memory: its pages locked and out of core dumps while a secret lives on them,
// as the kernel reports them in /proc/self/smaps, and released only with the last secret.

#include <gtest/gtest.h>
#include <linux/capability.h>
#include <sys/resource.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cstdint>
#include <fstream>
#include <memory>
#include <set>
#include <sstream>
#include <string>
#include <vector>

#include "kc/SecretBytes.h"

namespace kc {
namespace {

// The VmFlags of the mapping holding `address` ("lo": locked, "dd": not dumped).
std::set<std::string> vmFlagsAt(std::uintptr_t wanted) {
  std::ifstream smaps("/proc/self/smaps");
  bool inside = false;
  for (std::string line; std::getline(smaps, line);) {
    std::uintptr_t begin = 0, end = 0;
    char dash = 0;
    std::istringstream header(line);
    if (header >> std::hex >> begin >> dash >> end && dash == '-') {
      inside = begin <= wanted && wanted < end;
      continue;
    }
    if (inside && line.starts_with("VmFlags:")) {
      std::istringstream words(line.substr(8));
      std::set<std::string> flags;
      for (std::string flag; words >> flag;) flags.insert(flag);
      return flags;
    }
  }
  return {};
}

bool lockedAndNotDumped(const void* address) {
  const auto flags = vmFlagsAt(reinterpret_cast<std::uintptr_t>(address));
  return flags.count("lo") == 1 && flags.count("dd") == 1;
}

// AddressSanitizer intercepts mlock and munlock and makes them succeed without locking
// anything, so under it no page is ever locked: the tests of locking have nothing to observe.
#ifdef __SANITIZE_ADDRESS__
constexpr bool kMlockIsIgnored = true;
#else
constexpr bool kMlockIsIgnored = false;
#endif
#define SKIP_IF_MLOCK_IS_IGNORED() \
  if (kMlockIsIgnored) GTEST_SKIP() << "AddressSanitizer makes mlock a no-op"

std::uintptr_t pageOf(const void* address) {
  return reinterpret_cast<std::uintptr_t>(address) /
         static_cast<std::uintptr_t>(sysconf(_SC_PAGESIZE));
}

TEST(SecretBytes, PagesAreLockedAndLeftOutOfCoreDumps) {
  SKIP_IF_MLOCK_IS_IGNORED();
  SecretBytes secret = SecretBytes::fromString("a user key");
  EXPECT_TRUE(lockedAndNotDumped(secret.data()))
      << "refused locks: " << secureMemoryStats().refusedLocks;
}

TEST(SecretBytes, APageStaysLockedWhileAnotherSecretOnItIsFreed) {
  SKIP_IF_MLOCK_IS_IGNORED();
  auto first = std::make_unique<SecretBytes>(48);
  // Small secrets share pages: find one on the first one's page.
  std::vector<std::unique_ptr<SecretBytes>> others;
  SecretBytes* neighbour = nullptr;
  for (int i = 0; i < 256 && neighbour == nullptr; ++i) {
    others.push_back(std::make_unique<SecretBytes>(48));
    if (pageOf(others.back()->data()) == pageOf(first->data())) neighbour = others.back().get();
  }
  ASSERT_NE(neighbour, nullptr) << "no two small secrets on one page";
  first.reset();
  EXPECT_TRUE(lockedAndNotDumped(neighbour->data()));
}

TEST(SecretBytes, FreedMemoryIsWipedBeforeItIsReused) {
  const std::uint8_t* where = nullptr;
  {
    SecretBytes secret = SecretBytes::fromString("0123456789abcdef0123456789abcdef");
    where = secret.data();
  }
  // Taken raw (SecretBytes would zero it): the same block, its first word the free-list link.
  auto* reused = static_cast<std::uint8_t*>(allocateSecretMemory(32));
  ASSERT_EQ(reused, where) << "the freed block was not the next one handed out";
  for (std::size_t i = sizeof(void*); i < 32; ++i) EXPECT_EQ(reused[i], 0) << i;
  freeSecretMemory(reused, 32);
}

TEST(SecretBytes, EveryPageOfALargeSecretIsLockedAndReleasedWithIt) {
  SKIP_IF_MLOCK_IS_IGNORED();
  const auto before = secureMemoryStats().largeBytes;
  {
    SecretBytes secret(std::size_t{3} * 4096);
    EXPECT_TRUE(lockedAndNotDumped(secret.data()));
    EXPECT_TRUE(lockedAndNotDumped(secret.data() + secret.size() - 1));
    EXPECT_GT(secureMemoryStats().largeBytes, before);
    SecretBytes moved = std::move(secret);
    EXPECT_TRUE(lockedAndNotDumped(moved.data()));
    EXPECT_TRUE(secret.empty());  // NOLINT(bugprone-use-after-move): moved-from is empty
  }
  EXPECT_EQ(secureMemoryStats().largeBytes, before);
}

// In a child without CAP_IPC_LOCK and with RLIMIT_MEMLOCK 0, where every lock is refused.
TEST(SecretBytes, WithoutLockablePagesSecretsStillWorkAndTheRefusalIsCounted) {
  SKIP_IF_MLOCK_IS_IGNORED();
  const pid_t child = fork();
  ASSERT_GE(child, 0);
  if (child == 0) {
    __user_cap_header_struct header{_LINUX_CAPABILITY_VERSION_3, 0};
    __user_cap_data_struct none[2]{};
    const rlimit zero{0, 0};
    if (syscall(SYS_capset, &header, none) != 0 || setrlimit(RLIMIT_MEMLOCK, &zero) != 0) _exit(3);
    const auto before = secureMemoryStats().refusedLocks;
    SecretBytes large(std::size_t{3} * 4096);  // pages of its own: a fresh lock, refused
    large.data()[large.size() - 1] = 7;
    SecretBytes secret = SecretBytes::fromString("still kept");
    const bool kept = large.data()[large.size() - 1] == 7 && secret.size() == 10;
    _exit(kept && secureMemoryStats().refusedLocks > before ? 0 : 4);
  }
  int status = 0;
  ASSERT_EQ(waitpid(child, &status, 0), child);
  ASSERT_TRUE(WIFEXITED(status));
  EXPECT_EQ(WEXITSTATUS(status), 0) << "3: could not drop the privilege; 4: wrong outcome";
}

}  // namespace
}  // namespace kc
