#pragma once
// Memory for secrets that stays in RAM and out of core dumps: small secrets come from slabs of
// pages locked once (mlock) and marked MADV_DONTDUMP, larger ones from pages of their own,
// locked while they live. Where the system refuses to lock (RLIMIT_MEMLOCK exhausted, no
// privilege) the memory serves all the same, unlocked, and the refusal is counted: a secret is
// never lost because its page could not be locked. Blocks are wiped before they are reused.

#include <cstddef>
#include <cstdint>

namespace kc {

struct SecureMemoryStats {
  std::uint64_t slabBytes = 0;     // reserved for small secrets (kept for the process's life)
  std::uint64_t largeBytes = 0;    // held by secrets over 4 KiB now
  std::uint64_t refusedLocks = 0;  // regions the system would not lock, since the start
};

// A block of at least `size` bytes for a secret. Throws std::bad_alloc when out of memory.
void* allocateSecretMemory(std::size_t size);
// Wipes and releases a block of allocateSecretMemory(size), `size` the same.
void freeSecretMemory(void* data, std::size_t size) noexcept;
SecureMemoryStats secureMemoryStats() noexcept;
// Overwrites [data, data + size) with zeros in a way the compiler keeps.
void wipeSecretMemory(void* data, std::size_t size) noexcept;

// The allocator of SecretBytes' buffer: blocks of secret memory, wiped before they are freed
// (so a vector's reallocation leaves no copy behind).
template <class T>
struct LockedAllocator {
  static_assert(alignof(T) <= 16, "secret memory blocks are aligned to 16 bytes");
  using value_type = T;
  LockedAllocator() = default;
  template <class U>
  explicit LockedAllocator(const LockedAllocator<U>&) noexcept {}

  T* allocate(std::size_t n) { return static_cast<T*>(allocateSecretMemory(n * sizeof(T))); }
  void deallocate(T* block, std::size_t n) noexcept { freeSecretMemory(block, n * sizeof(T)); }
  template <class U>
  bool operator==(const LockedAllocator<U>&) const noexcept {
    return true;
  }
};

}  // namespace kc
