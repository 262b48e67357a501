#include "kc/api/ErrorMapping.h"

namespace kc::api {

int httpStatusFor(const Status& status, StatusSource source) {
  if (source == StatusSource::kAuthentication) {
    return status.code() == StatusCode::kPermissionDenied ? 403 : 401;
  }
  switch (status.code()) {
    case StatusCode::kOk:
      return 200;
    case StatusCode::kNotFound:
      return 404;
    case StatusCode::kAlreadyExists:
    case StatusCode::kInvalidArgument:
      return 400;
    case StatusCode::kUnavailable:
    case StatusCode::kTimeout:
      return 503;
    default:  // INTEGRITY, INTERNAL, TOKEN_ERROR, ...: nothing the client can act on
      return 500;
  }
}

std::string clientMessageFor(const Status& status, int httpStatus, const std::string& requestId) {
  switch (httpStatus) {
    case 400:
      if (status.code() == StatusCode::kAlreadyExists) return "The user already has a key.";
      return "The request is invalid.";
    case 404:
      return "No key is stored for this user.";
    case 503:
      return "The service is temporarily unavailable; request id " + requestId + ".";
    default:
      return "An internal error occurred; request id " + requestId + ".";
  }
}

}  // namespace kc::api
