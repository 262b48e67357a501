#include "kc/storage/UserId.h"

#include <cctype>

namespace kc::storage {
namespace {

constexpr std::size_t kGuidLength = 36;

bool isHyphenPosition(std::size_t i) {
  return i == 8 || i == 13 || i == 18 || i == 23;
}

std::string quoted(std::string_view text) {
  std::string out;
  for (const char c : text.substr(0, 40)) {
    out += std::isprint(static_cast<unsigned char>(c)) ? c : '?';
  }
  return "'" + out + (text.size() > 40 ? "...'" : "'");
}

}  // namespace

bool isCanonicalUserId(std::string_view userId) {
  if (userId.size() != kGuidLength) return false;
  for (std::size_t i = 0; i < userId.size(); ++i) {
    const char c = userId[i];
    if (isHyphenPosition(i)) {
      if (c != '-') return false;
    } else if (!((c >= '0' && c <= '9') || (c >= 'a' && c <= 'f'))) {
      return false;
    }
  }
  return true;
}

Status checkUserId(std::string_view userId) {
  if (isCanonicalUserId(userId)) return Status::ok();
  return {StatusCode::kInvalidArgument,
          "user id " + quoted(userId) + " is not a canonical lower-case GUID"};
}

Result<std::string> canonicalUserId(std::string_view userId) {
  std::string_view inner = userId;
  if (inner.size() == kGuidLength + 2 && inner.front() == '{' && inner.back() == '}') {
    inner = inner.substr(1, kGuidLength);
  }
  std::string out(inner);
  for (char& c : out) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  if (!isCanonicalUserId(out)) {
    return Status{StatusCode::kInvalidArgument, "user id " + quoted(userId) + " is not a GUID"};
  }
  return out;
}

}  // namespace kc::storage
