#pragma once
// UserId: a Bitwarden user id, a GUID held in its one canonical spelling (36 characters,
// lower-case hex, hyphens at 8-4-4-4-12), so one user can never have two spellings of one id.
// A UserId can only be made by parsing: a function that takes one needs no check of its own.

#include <compare>
#include <string>
#include <string_view>

#include "kc/Result.h"
#include "kc/Text.h"

namespace kc {

class UserId {
 public:
  // A GUID in the "D" form (8-4-4-4-12 hex digits) in any case, optionally in braces, as a
  // token's `sub` or an imported database may spell it. INVALID_ARGUMENT otherwise; the
  // message quotes at most the first 40 characters of the input, unprintable ones as '?'.
  static Result<UserId> parse(std::string_view text) {
    std::string_view inner = text;
    if (inner.size() == kLength + 2 && inner.front() == '{' && inner.back() == '}') {
      inner = inner.substr(1, kLength);
    }
    std::string canonical = toLower(inner);
    if (!isCanonical(canonical)) return invalid(text, "is not a GUID");
    return UserId(std::move(canonical));
  }

  // Only the canonical spelling: what the store and the audit log hold.
  static Result<UserId> parseCanonical(std::string_view text) {
    if (!isCanonical(text)) return invalid(text, "is not a canonical lower-case GUID");
    return UserId(std::string(text));
  }

  const std::string& str() const { return text_; }

  friend bool operator==(const UserId&, const UserId&) = default;
  friend std::strong_ordering operator<=>(const UserId&, const UserId&) = default;

 private:
  static constexpr std::size_t kLength = 36;

  explicit UserId(std::string text) : text_(std::move(text)) {}

  static bool isCanonical(std::string_view text) {
    if (text.size() != kLength) return false;
    for (std::size_t i = 0; i < text.size(); ++i) {
      const char c = text[i];
      const bool hyphen = i == 8 || i == 13 || i == 18 || i == 23;
      if (hyphen ? c != '-' : !((c >= '0' && c <= '9') || (c >= 'a' && c <= 'f'))) return false;
    }
    return true;
  }

  static Status invalid(std::string_view text, std::string_view problem) {
    std::string shown;
    for (const char c : text.substr(0, 40)) {
      const auto byte = static_cast<unsigned char>(c);
      shown += byte >= 0x20 && byte < 0x7F ? c : '?';
    }
    return {StatusCode::kInvalidArgument,
            "user id '" + shown + (text.size() > 40 ? "...'" : "'") + " " + std::string(problem)};
  }

  std::string text_;
};

}  // namespace kc
