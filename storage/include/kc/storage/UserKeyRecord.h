#pragma once
// What the store keeps for one user: an opaque envelope (ciphertext made elsewhere), the id of
// the wrapping key that sealed it, a revision counter and three UTC times. Never a plaintext key.

#include <chrono>
#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "kc/UserId.h"

namespace kc::storage {

// A UTC instant with millisecond precision, as the store keeps it.
using Timestamp = std::chrono::sys_time<std::chrono::milliseconds>;

// The current UTC time, truncated to what the store keeps.
Timestamp storeNow();

// Neither struct has a default constructor: a record or a write always names its user.
struct UserKeyRecord {
  UserId userId;
  std::vector<std::uint8_t> envelope;       // opaque to the store
  std::string wrappingKeyId;                // which token key sealed the envelope
  std::int64_t revision = 0;                // 1 on creation, +1 on every replacement
  Timestamp creationTime{};                 // set once, on creation
  Timestamp revisionTime{};                 // set on creation and on every replacement
  std::optional<Timestamp> lastAccessTime;  // empty until the key was first read
};

// What a caller asks the store to write. Times left empty become the time of the write;
// an importer fills them to keep the source's dates.
struct UserKeyWrite {
  UserId userId;
  std::vector<std::uint8_t> envelope;     // 1 .. kMaxEnvelopeBytes bytes
  std::string wrappingKeyId;              // 1 .. kMaxWrappingKeyIdLength printable ASCII characters
  std::optional<Timestamp> creationTime;  // used only when the write creates the record
  std::optional<Timestamp> revisionTime;  // a rotation passes the old one to keep it
  std::optional<Timestamp> lastAccessTime;  // used only when the write creates the record
};

inline constexpr std::size_t kMaxEnvelopeBytes = 16 * 1024;
inline constexpr std::size_t kMaxWrappingKeyIdLength = 128;

}  // namespace kc::storage
