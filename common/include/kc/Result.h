#pragma once
// Status and Result<T>: the one error type that crosses module boundaries.
// A Status is either OK or carries a code and a message fit for an operator's log: it
// names what failed and why, and never carries a secret.

#include <cassert>
#include <string>
#include <string_view>
#include <utility>
#include <variant>

namespace kc {

enum class StatusCode {
  kOk,
  kInvalidArgument,   // the caller's input is malformed (bad URI, bad user id, bad flag)
  kNotFound,          // the thing asked for does not exist
  kAlreadyExists,     // an insert lost to an existing record
  kConflict,          // a compare-and-swap saw a newer revision, or a selector was ambiguous
  kPolicyViolation,   // a key or setting breaks the security policy
  kPermissionDenied,  // wrong PIN, not authorised
  kUnavailable,       // a transient fault: retrying later may succeed
  kTimeout,           // a bounded wait ran out
  kIntegrity,         // data failed an integrity check (tampered ciphertext, wrong binding)
  kTokenError,        // the PKCS#11 token refused an operation
  kInternal,          // a bug or an unexpected state
};

std::string_view statusCodeName(StatusCode code);

class [[nodiscard]] Status {
 public:
  Status() = default;
  Status(StatusCode code, std::string message) : code_(code), message_(std::move(message)) {}
  static Status ok() { return {}; }

  bool isOk() const { return code_ == StatusCode::kOk; }
  StatusCode code() const { return code_; }
  const std::string& message() const { return message_; }
  // "CODE: message", for logs and CLI output.
  std::string toString() const;

 private:
  StatusCode code_ = StatusCode::kOk;
  std::string message_;
};

// A value or the Status that explains why there is none.
template <typename T>
class [[nodiscard]] Result {
 public:
  Result(T value) : state_(std::move(value)) {}        // NOLINT(google-explicit-constructor)
  Result(Status status) : state_(std::move(status)) {  // NOLINT(google-explicit-constructor)
    assert(!std::get<Status>(state_).isOk() && "a Result's error must not be OK");
  }

  bool isOk() const { return std::holds_alternative<T>(state_); }
  explicit operator bool() const { return isOk(); }

  // The error; OK when there is a value.
  Status status() const { return isOk() ? Status::ok() : std::get<Status>(state_); }

  T& value() & { return std::get<T>(state_); }
  const T& value() const& { return std::get<T>(state_); }
  T&& value() && { return std::get<T>(std::move(state_)); }
  T& operator*() & { return value(); }
  const T& operator*() const& { return value(); }
  T* operator->() { return &value(); }
  const T* operator->() const { return &value(); }

 private:
  std::variant<T, Status> state_;
};

inline std::string_view statusCodeName(StatusCode code) {
  switch (code) {
    case StatusCode::kOk:
      return "OK";
    case StatusCode::kInvalidArgument:
      return "INVALID_ARGUMENT";
    case StatusCode::kNotFound:
      return "NOT_FOUND";
    case StatusCode::kAlreadyExists:
      return "ALREADY_EXISTS";
    case StatusCode::kConflict:
      return "CONFLICT";
    case StatusCode::kPolicyViolation:
      return "POLICY_VIOLATION";
    case StatusCode::kPermissionDenied:
      return "PERMISSION_DENIED";
    case StatusCode::kUnavailable:
      return "UNAVAILABLE";
    case StatusCode::kTimeout:
      return "TIMEOUT";
    case StatusCode::kIntegrity:
      return "INTEGRITY";
    case StatusCode::kTokenError:
      return "TOKEN_ERROR";
    case StatusCode::kInternal:
      return "INTERNAL";
  }
  return "UNKNOWN";
}

inline std::string Status::toString() const {
  if (isOk()) return "OK";
  std::string out(statusCodeName(code_));
  out += ": ";
  out += message_;
  return out;
}

}  // namespace kc

// Returns early from a function returning Status or Result<T> when `expr` (a Status) fails.
#define KC_RETURN_IF_ERROR(expr)               \
  do {                                         \
    ::kc::Status kc_status_ = (expr);          \
    if (!kc_status_.isOk()) return kc_status_; \
  } while (false)
