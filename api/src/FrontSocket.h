#pragma once
// FrontSocket: one connection of HttpFront, plain TCP or TLS, with the bytes read past the
// request head that was last taken from it. The acceptor reads a head without waiting
// (readAvailable; for TLS, handshake first); bytes it read past the head's end are put back
// (putBack) and come first out of every later read, so a body or a pipelined request that
// arrived with its head is not lost. A worker reads and writes through Poco's StreamSocket
// calls (receiveBytes, sendBytes) as on any socket: for TLS they go through OpenSSL and wait
// (poll) up to the socket's receive or send timeout, the descriptor staying non-blocking.

#include <Poco/Net/StreamSocketImpl.h>

#include <string>
#include <string_view>

struct ssl_st;
struct ssl_ctx_st;

namespace kc::api {

class FrontSocket final : public Poco::Net::StreamSocketImpl {
 public:
  // Takes `fd` (connected, non-blocking); TLS (as a server) when `tls` is not null.
  FrontSocket(int fd, ssl_ctx_st* tls);
  FrontSocket(const FrontSocket&) = delete;
  FrontSocket& operator=(const FrontSocket&) = delete;

  enum class Progress { kDone, kWaiting, kFailed };
  // Advances the TLS handshake without waiting; kDone at once for plain TCP.
  Progress handshake();
  // Reads up to `length` bytes without waiting: put-back bytes first. Returns the count, 0
  // when the client closed (or the connection failed), -1 when nothing is there yet.
  long readAvailable(char* buffer, std::size_t length);
  // Writes what fits without waiting (the acceptor's own short answers); false on failure.
  bool sendAvailable(std::string_view bytes);
  // `bytes` come out of the next reads, before what was put back earlier.
  void putBack(std::string_view bytes);
  bool hasPutBack() const { return !putBack_.empty(); }
  bool tls() const { return ssl_ != nullptr; }

  int sendBytes(const void* buffer, int length, int flags = 0) override;
  int receiveBytes(void* buffer, int length, int flags = 0) override;
  int available() override;
  void shutdownSend() override;  // TLS: close_notify first

 protected:
  ~FrontSocket() override;

 private:
  // Waits until the descriptor is ready for `events` or `timeout` passes (throws then).
  void await(short events, const Poco::Timespan& timeout);

  ssl_st* ssl_ = nullptr;
  std::string putBack_;
};

}  // namespace kc::api
