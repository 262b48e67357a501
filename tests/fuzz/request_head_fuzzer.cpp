// Fuzzes the front end's reading of a request head (api/src/RequestHead.h): where it ends,
// the strict parse, and the lenient parse of a head cut off at the size limit.

#include <cstdint>
#include <string_view>

#include "RequestHead.h"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const std::string_view input(reinterpret_cast<const char*>(data), size);
  const auto end = kc::api::findHeadEnd(input);
  if (end) {
    if (*end > input.size() || input.substr(*end - 4, 4) != "\r\n\r\n") __builtin_trap();
    // The end found is the first: a prefix one byte short of it has none.
    const auto prefix = input.substr(0, *end - 1);
    if (kc::api::findHeadEnd(prefix)) __builtin_trap();
    const auto head = kc::api::parseRequestHead(input.substr(0, *end));
    if (head) {
      if (head->method.empty() || head->target.empty()) __builtin_trap();
      if (head->headers.size() > kc::api::kMaxHeaderLines) __builtin_trap();
      for (const auto& [name, value] : head->headers) {
        if (name.empty()) __builtin_trap();
        if (value.find_first_of("\r\n") != std::string::npos) __builtin_trap();
      }
    }
  } else {
    (void)kc::api::parseRequestHead(input);
  }
  const auto partial = kc::api::parsePartialRequestHead(input);
  if (partial.headers.size() > kc::api::kMaxHeaderLines) __builtin_trap();
  return 0;
}
