#pragma once
// The head of an HTTP/1.x request (RFC 9112 section 2-5), as the front end reads it off the
// socket before a worker takes the request: found in a growing buffer, then parsed strictly.
// Lines end in CRLF; a bare CR or LF, an obsolete line folding, a header name with
// whitespace before its colon, a control byte in a value, Transfer-Encoding other than
// "chunked", or Content-Length beside Transfer-Encoding (or two different Content-Lengths)
// make the head malformed (RFC 9112 section 6.3: such requests are how bodies are
// smuggled past a proxy).

#include <cstddef>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "kc/Result.h"

namespace kc::api {

struct RequestHead {
  std::string method;
  std::string target;   // the request target, as sent
  std::string version;  // "HTTP/1.0" or "HTTP/1.1"
  // Every header line in order, names as sent, values without the surrounding whitespace.
  std::vector<std::pair<std::string, std::string>> headers;
};

// The most header lines a head may hold.
inline constexpr std::size_t kMaxHeaderLines = 100;

// Where the head in `buffer` ends: the offset just past its empty line ("\r\n\r\n"), or
// none while it is incomplete. CRLFs before the request line (RFC 9112 section 2.2 lets a
// client send them after a body) belong to the head. `from` is where to resume a search
// over a buffer that only grew since: at most 3 bytes before its old end.
std::optional<std::size_t> findHeadEnd(std::string_view buffer, std::size_t from = 0);

// The head in `text` (up to and including its empty line). INVALID_ARGUMENT, with a short
// reason that quotes nothing of the input, when it is malformed.
Result<RequestHead> parseRequestHead(std::string_view text);

// What can be read of a head cut off before its end (too large to take): the request line
// when it is whole and well formed, and the well-formed header lines before the cut. For
// answering the refusal with the client's Origin and X-Request-Id; never fails.
RequestHead parsePartialRequestHead(std::string_view text);

}  // namespace kc::api
