#pragma once
// WriteDeadline: the write timeout (server.write_timeout_s) of one answer. Poco's server has
// none, and a socket's SO_SNDTIMEO bounds one send() only: a client that reads nothing still
// lets the kernel take a few hundred bytes now and then, so a blocked write would go on for
// ever. While a WriteDeadline is armed, one process-wide thread watches it; past the deadline
// it shuts the connection down (both directions), the blocked send fails at once, and Poco
// closes the connection. Works the same under TLS (the socket under the TLS session).
//
//   {
//     WriteDeadline deadline(request, settings.writeTimeout);
//     response.sendBuffer(body.data(), body.size());
//   }  // disarmed

#include <Poco/Net/HTTPServerRequest.h>

#include <chrono>
#include <cstdint>

namespace kc::api {

class WriteDeadline {
 public:
  // Arms the deadline `timeout` from now on `request`'s connection; nothing for a request
  // that is not Poco's own (no socket to watch).
  WriteDeadline(Poco::Net::HTTPServerRequest& request, std::chrono::seconds timeout);
  ~WriteDeadline();  // disarms: the connection is never touched after this
  WriteDeadline(const WriteDeadline&) = delete;
  WriteDeadline& operator=(const WriteDeadline&) = delete;

  // Whether the deadline passed and the connection was shut down.
  bool expired() const;

 private:
  std::uint64_t ticket_ = 0;  // 0: not armed
};

}  // namespace kc::api
