#include "kc/SecureMemory.h"

#include <string.h>  // explicit_bzero
#include <sys/mman.h>
#include <unistd.h>

#include <algorithm>
#include <array>
#include <bit>
#include <mutex>
#include <new>

// Under AddressSanitizer free blocks and the tail of a block past its secret are poisoned, so
// the sanitizer still sees overruns and uses after free in secret memory (which is not malloc's).
#if defined(__SANITIZE_ADDRESS__)
#define KC_ASAN 1
#elif defined(__has_feature)
#if __has_feature(address_sanitizer)
#define KC_ASAN 1
#endif
#endif
#if defined(KC_ASAN)
#include <sanitizer/asan_interface.h>
#define KC_POISON(address, size) ASAN_POISON_MEMORY_REGION(address, size)
#define KC_UNPOISON(address, size) ASAN_UNPOISON_MEMORY_REGION(address, size)
#else
#define KC_POISON(address, size) ((void)(address), (void)(size))
#define KC_UNPOISON(address, size) ((void)(address), (void)(size))
#endif

namespace kc {
namespace {

// Secrets up to kLargestBlock bytes come from slabs of kSlabBytes, one size class (a power of
// two) per slab, locked once and never returned: locking a page costs tens of microseconds (the
// kernel drains every CPU's page lists), far more than a request can spend per secret. Larger
// secrets get pages of their own, locked while they live.
constexpr std::size_t kSmallestBlock = 16;
constexpr std::size_t kLargestBlock = 4096;
constexpr std::size_t kClasses = 9;  // 16 B .. 4 KiB
constexpr std::size_t kSlabBytes = std::size_t{64} * 1024;

struct FreeBlock {
  FreeBlock* next;
};

struct Arena {
  std::mutex mutex;
  std::array<FreeBlock*, kClasses> free{};  // GUARDED_BY(mutex)
  SecureMemoryStats stats;                  // GUARDED_BY(mutex)
};

Arena& arena() {
  // Never destroyed: secrets in static objects are released after every destructor ran.
  static Arena* const instance = new Arena;
  return *instance;
}

std::size_t pageSize() {
  static const std::size_t size = static_cast<std::size_t>(sysconf(_SC_PAGESIZE));
  return size;
}

std::size_t classOf(std::size_t size) {
  const std::size_t block = std::bit_ceil(std::max(size, kSmallestBlock));
  return static_cast<std::size_t>(std::countr_zero(block) - std::countr_zero(kSmallestBlock));
}

std::size_t blockSize(std::size_t sizeClass) {
  return kSmallestBlock << sizeClass;
}

// Fresh pages, locked and out of core dumps where the system allows. Throws std::bad_alloc.
void* mapLockedPages(std::size_t bytes, SecureMemoryStats& stats) {
  void* pages = mmap(nullptr, bytes, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
  if (pages == MAP_FAILED) throw std::bad_alloc();
  madvise(pages, bytes, MADV_DONTDUMP);
  // RLIMIT_MEMLOCK reached, or no privilege: the pages serve all the same, unlocked.
  if (mlock(pages, bytes) != 0) ++stats.refusedLocks;
  return pages;
}

std::size_t roundToPages(std::size_t bytes) {
  return (bytes + pageSize() - 1) / pageSize() * pageSize();
}

}  // namespace

void* allocateSecretMemory(std::size_t size) {
  if (size == 0) size = 1;
  Arena& memory = arena();
  std::lock_guard lock(memory.mutex);
  if (size > kLargestBlock) {
    const std::size_t bytes = roundToPages(size);
    void* pages = mapLockedPages(bytes, memory.stats);
    memory.stats.largeBytes += bytes;
    return pages;
  }
  const std::size_t sizeClass = classOf(size);
  FreeBlock*& head = memory.free[sizeClass];
  if (head == nullptr) {
    auto* slab = static_cast<std::byte*>(mapLockedPages(kSlabBytes, memory.stats));
    memory.stats.slabBytes += kSlabBytes;
    for (std::size_t offset = kSlabBytes; offset >= blockSize(sizeClass);) {
      offset -= blockSize(sizeClass);
      auto* block = reinterpret_cast<FreeBlock*>(slab + offset);
      block->next = head;
      head = block;
      KC_POISON(slab + offset + sizeof(FreeBlock), blockSize(sizeClass) - sizeof(FreeBlock));
    }
  }
  FreeBlock* block = head;
  head = block->next;
  KC_UNPOISON(block, size);
  KC_POISON(reinterpret_cast<std::byte*>(block) + size, blockSize(sizeClass) - size);
  return block;
}

void freeSecretMemory(void* data, std::size_t size) noexcept {
  if (data == nullptr) return;
  if (size == 0) size = 1;
  wipeSecretMemory(data, size);
  Arena& memory = arena();
  std::lock_guard lock(memory.mutex);
  if (size > kLargestBlock) {
    const std::size_t bytes = roundToPages(size);
    munmap(data, bytes);  // drops the lock with the mapping
    memory.stats.largeBytes -= bytes;
    return;
  }
  const std::size_t sizeClass = classOf(size);
  KC_UNPOISON(data, blockSize(sizeClass));
  auto* block = static_cast<FreeBlock*>(data);
  block->next = memory.free[sizeClass];
  memory.free[sizeClass] = block;
  KC_POISON(static_cast<std::byte*>(data) + sizeof(FreeBlock),
            blockSize(sizeClass) - sizeof(FreeBlock));
}

SecureMemoryStats secureMemoryStats() noexcept {
  Arena& memory = arena();
  std::lock_guard lock(memory.mutex);
  return memory.stats;
}

void wipeSecretMemory(void* data, std::size_t size) noexcept {
  if (data != nullptr && size > 0) explicit_bzero(data, size);
}

}  // namespace kc
