#pragma once
// SecretBytes: a buffer for key material and PINs. It wipes itself when destroyed or
// cleared, cannot be copied by accident (copy is explicit), and has no operator<< so it
// cannot end up in a log line. Its pages are locked in RAM and left out of core dumps where
// the system allows (SecureMemory.h).

#include <string.h>  // explicit_bzero

#include <cstddef>
#include <cstdint>
#include <span>
#include <string_view>
#include <utility>
#include <vector>

#include "kc/SecureMemory.h"

namespace kc {

class SecretBytes {
 public:
  SecretBytes() = default;
  explicit SecretBytes(std::size_t size) : bytes_(size) {}
  explicit SecretBytes(std::span<const std::uint8_t> bytes) : bytes_(bytes.begin(), bytes.end()) {}
  static SecretBytes fromString(std::string_view text) {
    SecretBytes out(text.size());
    for (std::size_t i = 0; i < text.size(); ++i)
      out.bytes_[i] = static_cast<std::uint8_t>(text[i]);
    return out;
  }

  SecretBytes(SecretBytes&& other) noexcept : bytes_(std::move(other.bytes_)) { other.clear(); }
  SecretBytes& operator=(SecretBytes&& other) noexcept {
    if (this != &other) {
      wipe();
      bytes_ = std::move(other.bytes_);
      other.clear();
    }
    return *this;
  }
  SecretBytes(const SecretBytes&) = delete;
  SecretBytes& operator=(const SecretBytes&) = delete;
  ~SecretBytes() { wipe(); }

  // An explicit copy, so every duplicate of a secret is visible in the code.
  SecretBytes copy() const { return SecretBytes(view()); }

  std::uint8_t* data() { return bytes_.data(); }
  const std::uint8_t* data() const { return bytes_.data(); }
  std::size_t size() const { return bytes_.size(); }
  bool empty() const { return bytes_.empty(); }
  std::span<const std::uint8_t> view() const { return {bytes_.data(), bytes_.size()}; }
  std::span<std::uint8_t> mutableView() { return {bytes_.data(), bytes_.size()}; }

  // Shrinks to `size` bytes, wiping the tail first (a token reports the real length
  // of a decryption only after writing into a buffer of the maximum length).
  void truncate(std::size_t size) {
    if (size >= bytes_.size()) return;
    explicit_bzero(bytes_.data() + size, bytes_.size() - size);
    bytes_.resize(size);
  }
  void clear() {
    wipe();
    bytes_.clear();
  }

  bool operator==(const SecretBytes& other) const {
    // Constant time in the contents, so comparing secrets leaks only their lengths.
    if (bytes_.size() != other.bytes_.size()) return false;
    std::uint8_t diff = 0;
    for (std::size_t i = 0; i < bytes_.size(); ++i) {
      diff = static_cast<std::uint8_t>(diff | (bytes_[i] ^ other.bytes_[i]));
    }
    return diff == 0;
  }

 private:
  void wipe() {
    if (!bytes_.empty()) explicit_bzero(bytes_.data(), bytes_.size());
  }
  std::vector<std::uint8_t, LockedAllocator<std::uint8_t>> bytes_;
};

}  // namespace kc
