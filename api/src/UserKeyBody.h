#pragma once
// The /user-keys JSON body, both ways. In: `{"key": "<base64>"}` with the property name
// matched case-insensitively, the key 16..512 bytes once decoded. Out: `{"key":"<base64>"}`.

#include <string>
#include <string_view>

#include "kc/Result.h"
#include "kc/SecretBytes.h"

namespace kc::api {

inline constexpr std::size_t kMinUserKeyBytes = 16;
inline constexpr std::size_t kMaxUserKeyBytes = 512;

// Whether `contentType` is application/json, optionally with charset=utf-8 (any case).
bool isJsonContentType(std::string_view contentType);

// The decoded key of a request body. INVALID_ARGUMENT with a client-safe reason when the body
// is not a JSON object, has no (or more than one) key property, the value is not a string of
// valid base64, or the key is outside 16..512 bytes. The captured base64 text is wiped; the
// caller wipes `body`.
Result<SecretBytes> parseUserKeyBody(const std::string& body);

// `{"key":"<base64 of key>"}`. The result holds the key: the caller wipes it after sending.
std::string renderUserKeyBody(const SecretBytes& key);

}  // namespace kc::api
