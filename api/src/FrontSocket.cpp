#include "FrontSocket.h"

#include <Poco/Exception.h>
#include <Poco/Net/NetException.h>
#include <errno.h>
#include <openssl/err.h>
#include <openssl/ssl.h>
#include <poll.h>
#include <sys/socket.h>

#include <algorithm>
#include <cstring>

namespace kc::api {
namespace {

// What a non-blocking OpenSSL call that returned `result` asks for next.
enum class Next { kReadable, kWritable, kClosed, kFailed };
Next classify(ssl_st* ssl, int result) {
  const int error = SSL_get_error(ssl, result);
  ERR_clear_error();  // the thread's error queue stays empty for the next connection
  switch (error) {
    case SSL_ERROR_WANT_READ:
      return Next::kReadable;
    case SSL_ERROR_WANT_WRITE:
      return Next::kWritable;
    case SSL_ERROR_ZERO_RETURN:
      return Next::kClosed;
    default:
      return Next::kFailed;  // a reset, a close without close_notify, a protocol error
  }
}

}  // namespace

FrontSocket::FrontSocket(int fd, ssl_ctx_st* tls) : StreamSocketImpl(fd) {
  if (tls == nullptr) return;
  ssl_ = SSL_new(tls);
  if (ssl_ == nullptr || SSL_set_fd(ssl_, fd) != 1) {
    ERR_clear_error();
    throw Poco::IOException("cannot set up TLS for a connection");
  }
  SSL_set_accept_state(ssl_);
}

FrontSocket::~FrontSocket() {
  if (ssl_ != nullptr) SSL_free(ssl_);
}

FrontSocket::Progress FrontSocket::handshake() {
  if (ssl_ == nullptr) return Progress::kDone;
  ERR_clear_error();
  const int result = SSL_do_handshake(ssl_);
  if (result == 1) return Progress::kDone;
  const Next next = classify(ssl_, result);
  return next == Next::kReadable || next == Next::kWritable ? Progress::kWaiting
                                                            : Progress::kFailed;
}

long FrontSocket::readAvailable(char* buffer, std::size_t length) {
  if (length == 0) return 0;
  if (!putBack_.empty()) {
    const std::size_t n = std::min(length, putBack_.size());
    std::memcpy(buffer, putBack_.data(), n);
    putBack_.erase(0, n);
    return static_cast<long>(n);
  }
  if (ssl_ == nullptr) {
    while (true) {
      const ssize_t got = ::recv(sockfd(), buffer, length, MSG_DONTWAIT);
      if (got < 0 && errno == EINTR) continue;
      if (got < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) return -1;
      return got < 0 ? 0 : static_cast<long>(got);
    }
  }
  ERR_clear_error();
  const int got = SSL_read(ssl_, buffer, static_cast<int>(std::min<std::size_t>(length, 1 << 30)));
  if (got > 0) return got;
  const Next next = classify(ssl_, got);
  return next == Next::kReadable || next == Next::kWritable ? -1 : 0;
}

bool FrontSocket::sendAvailable(std::string_view bytes) {
  if (ssl_ == nullptr) {
    return ::send(sockfd(), bytes.data(), bytes.size(), MSG_NOSIGNAL | MSG_DONTWAIT) ==
           static_cast<ssize_t>(bytes.size());
  }
  ERR_clear_error();
  const int sent = SSL_write(ssl_, bytes.data(), static_cast<int>(bytes.size()));
  if (sent > 0) return true;
  classify(ssl_, sent);
  return false;
}

void FrontSocket::putBack(std::string_view bytes) {
  putBack_.insert(0, bytes);
}

int FrontSocket::receiveBytes(void* buffer, int length, int flags) {
  if (!putBack_.empty() || ssl_ == nullptr) {
    if (putBack_.empty()) return StreamSocketImpl::receiveBytes(buffer, length, flags);
    return static_cast<int>(
        readAvailable(static_cast<char*>(buffer), static_cast<std::size_t>(length)));
  }
  while (true) {
    ERR_clear_error();
    const int got = SSL_read(ssl_, buffer, length);
    if (got > 0) return got;
    switch (classify(ssl_, got)) {
      case Next::kReadable:
        await(POLLIN, getReceiveTimeout());
        break;
      case Next::kWritable:
        await(POLLOUT, getReceiveTimeout());
        break;
      case Next::kClosed:
        return 0;
      case Next::kFailed:
        throw Poco::Net::ConnectionResetException("TLS read");
    }
  }
}

int FrontSocket::sendBytes(const void* buffer, int length, int flags) {
  if (ssl_ == nullptr) return StreamSocketImpl::sendBytes(buffer, length, flags);
  if (length <= 0) return 0;
  while (true) {
    ERR_clear_error();
    const int sent = SSL_write(ssl_, buffer, length);  // all of it (no partial writes)
    if (sent > 0) return sent;
    switch (classify(ssl_, sent)) {
      case Next::kReadable:
        await(POLLIN, getSendTimeout());
        break;
      case Next::kWritable:
        await(POLLOUT, getSendTimeout());
        break;
      case Next::kClosed:
      case Next::kFailed:
        throw Poco::Net::ConnectionResetException("TLS write");
    }
  }
}

int FrontSocket::available() {
  const int buffered = ssl_ != nullptr ? SSL_pending(ssl_) : StreamSocketImpl::available();
  return static_cast<int>(putBack_.size()) + buffered;
}

void FrontSocket::shutdownSend() {
  if (ssl_ != nullptr) {
    ERR_clear_error();
    SSL_shutdown(ssl_);  // close_notify, if it fits; the client then reads a clean end
    ERR_clear_error();
  }
  StreamSocketImpl::shutdownSend();
}

void FrontSocket::await(short events, const Poco::Timespan& timeout) {
  const long long ms = timeout.totalMilliseconds();
  pollfd ready{sockfd(), events, 0};
  while (true) {
    const int result = ::poll(&ready, 1, ms > 0 ? static_cast<int>(ms) : -1);
    if (result < 0 && errno == EINTR) continue;
    if (result == 0) throw Poco::TimeoutException("TLS connection");
    if (result < 0) throw Poco::IOException("poll");
    return;  // readable, writable, or failed: the next OpenSSL call says which
  }
}

}  // namespace kc::api
