#include "RequestHead.h"

#include "kc/Text.h"

namespace kc::api {
namespace {

constexpr std::string_view kCrlf = "\r\n";

Status malformed(std::string reason) {
  return Status(StatusCode::kInvalidArgument, "malformed request head: " + std::move(reason));
}

// RFC 9110 section 5.6.2: tchar.
bool isTokenChar(unsigned char c) {
  if ((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9')) return true;
  return std::string_view("!#$%&'*+-.^_`|~").find(static_cast<char>(c)) != std::string_view::npos;
}

bool isToken(std::string_view text) {
  if (text.empty()) return false;
  for (const char c : text)
    if (!isTokenChar(static_cast<unsigned char>(c))) return false;
  return true;
}

// A field value's bytes: visible ASCII, SP, HTAB and obs-text; no other control byte.
bool isFieldValue(std::string_view text) {
  for (const char c : text) {
    const auto b = static_cast<unsigned char>(c);
    if ((b < 0x20 && b != '\t') || b == 0x7f) return false;
  }
  return true;
}

std::size_t skipLeadingCrlfs(std::string_view buffer) {
  std::size_t at = 0;
  while (buffer.substr(at, 2) == kCrlf) at += 2;
  return at;
}

Status parseRequestLine(std::string_view line, RequestHead& head) {
  const auto firstSpace = line.find(' ');
  const auto lastSpace = line.rfind(' ');
  if (firstSpace == std::string_view::npos || lastSpace == firstSpace) {
    return malformed("the request line is not <method> <target> <version>");
  }
  const std::string_view method = line.substr(0, firstSpace);
  const std::string_view target = line.substr(firstSpace + 1, lastSpace - firstSpace - 1);
  const std::string_view version = line.substr(lastSpace + 1);
  if (!isToken(method)) return malformed("the method is not a token");
  if (target.empty()) return malformed("the request target is empty");
  for (const char c : target) {
    const auto b = static_cast<unsigned char>(c);
    if (b <= 0x20 || b == 0x7f) return malformed("the request target holds a space or control");
  }
  if (version != "HTTP/1.1" && version != "HTTP/1.0") return malformed("not HTTP/1.0 or 1.1");
  head.method = method;
  head.target = target;
  head.version = version;
  return Status::ok();
}

Status parseHeaderLine(std::string_view line, RequestHead& head) {
  if (line.front() == ' ' || line.front() == '\t') return malformed("an obsolete line folding");
  const auto colon = line.find(':');
  if (colon == std::string_view::npos) return malformed("a header line without a colon");
  const std::string_view name = line.substr(0, colon);
  if (!isToken(name)) return malformed("a header name is not a token");
  const std::string_view value = trimView(line.substr(colon + 1), " \t");  // OWS
  if (!isFieldValue(value)) return malformed("a header value holds a control byte");
  if (head.headers.size() == kMaxHeaderLines) return malformed("too many header lines");
  head.headers.emplace_back(name, value);
  return Status::ok();
}

// The framing headers: Content-Length digits only and one value, Transfer-Encoding only
// "chunked", and never both.
Status checkFraming(const RequestHead& head) {
  std::optional<std::string_view> length;
  bool chunked = false;
  for (const auto& [name, value] : head.headers) {
    if (equalsIgnoringCase(name, "Content-Length")) {
      if (value.empty() || value.size() > 18 ||
          value.find_first_not_of("0123456789") != std::string::npos) {
        return malformed("Content-Length is not a number");
      }
      if (length && *length != value) return malformed("two different Content-Lengths");
      length = value;
    } else if (equalsIgnoringCase(name, "Transfer-Encoding")) {
      if (chunked || !equalsIgnoringCase(value, "chunked")) {
        return malformed("a Transfer-Encoding other than chunked");
      }
      chunked = true;
    }
  }
  if (length && chunked) return malformed("both Content-Length and Transfer-Encoding");
  if (chunked && head.version == "HTTP/1.0") return malformed("chunked in HTTP/1.0");
  return Status::ok();
}

}  // namespace

std::optional<std::size_t> findHeadEnd(std::string_view buffer, std::size_t from) {
  const std::size_t start = skipLeadingCrlfs(buffer);
  const auto end = buffer.find("\r\n\r\n", std::max(from, start));
  if (end == std::string_view::npos) return std::nullopt;
  return end + 4;
}

Result<RequestHead> parseRequestHead(std::string_view text) {
  text.remove_prefix(skipLeadingCrlfs(text));
  if (text.size() < 4 || text.substr(text.size() - 4) != "\r\n\r\n") {
    return malformed("the head does not end with an empty line");
  }
  text.remove_suffix(2);  // every line, the last included, now ends in CRLF
  RequestHead head;
  bool first = true;
  while (!text.empty()) {
    const auto end = text.find(kCrlf);
    const std::string_view line = text.substr(0, end);
    text.remove_prefix(end + 2);
    if (line.find_first_of("\r\n") != std::string_view::npos) {
      return malformed("a bare CR or LF");
    }
    if (line.empty()) return malformed("an empty line inside the head");
    const Status parsed = first ? parseRequestLine(line, head) : parseHeaderLine(line, head);
    if (!parsed.isOk()) return parsed;
    first = false;
  }
  if (first) return malformed("no request line");
  const Status framing = checkFraming(head);
  if (!framing.isOk()) return framing;
  return head;
}

RequestHead parsePartialRequestHead(std::string_view text) {
  text.remove_prefix(skipLeadingCrlfs(text));
  RequestHead head;
  bool first = true;
  while (true) {
    const auto end = text.find(kCrlf);
    if (end == std::string_view::npos) break;  // the line the cut went through
    const std::string_view line = text.substr(0, end);
    text.remove_prefix(end + 2);
    if (line.empty() || line.find_first_of("\r\n") != std::string_view::npos) break;
    if (first) {
      if (!parseRequestLine(line, head).isOk()) return RequestHead{};
      first = false;
    } else if (!parseHeaderLine(line, head).isOk()) {
      break;
    }
  }
  return head;
}

}  // namespace kc::api
