// Fuzzes what a client sends to POST/PUT /user-keys: the JSON body (property matched in any
// case, base64 key, 16..512 bytes), the Content-Type check and the base64 decoders.

#include <cstdint>
#include <string>

#include "UserKeyBody.h"
#include "kc/Base64.h"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const std::string input(reinterpret_cast<const char*>(data), size);
  auto key = kc::api::parseUserKeyBody(input);
  if (key.isOk()) {
    // A key that parses renders back to a body that parses to the same key.
    std::string body = kc::api::renderUserKeyBody(*key);
    const auto again = kc::api::parseUserKeyBody(body);
    if (!again.isOk() || !(*again == *key)) __builtin_trap();
  }
  (void)kc::api::isJsonContentType(input);
  (void)kc::decodeBase64Secret(input);
  (void)kc::decodeBase64Url(input);
  return 0;
}
