#pragma once
// The one place a Status becomes an HTTP status and the message a client may see. Client
// messages are fixed texts per status: a Status's own message is for the log only, so no
// answer ever carries internals.

#include <string>

#include "kc/Result.h"

namespace kc::api {

// Where the Status came from: the token check (JwtValidator) or the KeyService.
enum class StatusSource { kAuthentication, kKeyService };

// Authentication: PERMISSION_DENIED → 403, anything else → 401.
// KeyService: NOT_FOUND → 404; ALREADY_EXISTS, INVALID_ARGUMENT → 400; UNAVAILABLE,
// TIMEOUT → 503; INTEGRITY and everything else → 500.
int httpStatusFor(const Status& status, StatusSource source);

// The text for the `message` of a JSON error body answering with `httpStatus`; for 5xx it
// is generic and names only the request id.
std::string clientMessageFor(const Status& status, int httpStatus, const std::string& requestId);

}  // namespace kc::api
