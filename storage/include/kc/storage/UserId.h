#pragma once
// User ids are GUIDs in canonical form: 36 characters, lower-case hex, hyphens at 8-4-4-4-12.
// The store accepts nothing else, so one user can never have two spellings of one id.

#include <string>
#include <string_view>

#include "kc/Result.h"

namespace kc::storage {

// True when `userId` is a canonical lower-case GUID.
bool isCanonicalUserId(std::string_view userId);

// OK for a canonical id; kInvalidArgument naming the problem otherwise. The message quotes at
// most the first 40 characters of the input.
Status checkUserId(std::string_view userId);

// Lower-cases a GUID given in any case (with or without braces); kInvalidArgument if it is
// not a GUID. For callers (the API) that receive ids from outside.
Result<std::string> canonicalUserId(std::string_view userId);

}  // namespace kc::storage
