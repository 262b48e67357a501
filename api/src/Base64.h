#pragma once
// Strict base64 (RFC 4648 §4, padded, as .NET's Convert writes it) for user keys, and
// base64url (§5, unpadded, as JOSE writes it) for JWTs and JWKs. Decoders refuse any
// character outside the alphabet, wrong padding and non-zero trailing bits.

#include <cstdint>
#include <optional>
#include <span>
#include <string>
#include <string_view>

#include "kc/SecretBytes.h"

namespace kc::api {

// Decodes padded standard base64 into a buffer that wipes itself; nullopt when malformed.
std::optional<SecretBytes> decodeBase64Secret(std::string_view text);

// Decodes unpadded base64url; nullopt when malformed.
std::optional<std::string> decodeBase64Url(std::string_view text);

// Padded standard base64. The result may hold a secret: the caller wipes it.
std::string encodeBase64(std::span<const std::uint8_t> bytes);

// Unpadded base64url.
std::string encodeBase64Url(std::span<const std::uint8_t> bytes);

}  // namespace kc::api
