#include "kc/api/HttpFront.h"

#include <Poco/CountingStream.h>
#include <Poco/Exception.h>
#include <Poco/Logger.h>
#include <Poco/Net/HTTPChunkedStream.h>
#include <Poco/Net/HTTPFixedLengthStream.h>
#include <Poco/Net/HTTPHeaderStream.h>
#include <Poco/Net/HTTPRequestHandler.h>
#include <Poco/Net/HTTPServerParams.h>
#include <Poco/Net/HTTPServerRequest.h>
#include <Poco/Net/HTTPServerResponse.h>
#include <Poco/Net/HTTPServerSession.h>
#include <Poco/Net/HTTPStream.h>
#include <Poco/Net/StreamSocket.h>
#include <Poco/Net/StreamSocketImpl.h>
#include <Poco/NullStream.h>
#include <Poco/Timestamp.h>
#include <errno.h>
#include <openssl/ssl.h>
#include <poll.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <unistd.h>

#include <atomic>
#include <condition_variable>
#include <deque>
#include <mutex>
#include <system_error>
#include <thread>
#include <unordered_map>
#include <vector>

#include "ConnectionSocket.h"
#include "FrontSocket.h"
#include "RequestHead.h"
#include "kc/Text.h"
#include "kc/ThreadName.h"
#include "kc/api/RequestHandlerFactory.h"

namespace kc::api {
namespace {

using Clock = std::chrono::steady_clock;
using Poco::Net::HTTPServerParams;
using Poco::Net::HTTPServerResponse;
using Poco::Net::HTTPServerSession;
using Poco::Net::SocketAddress;
using Poco::Net::StreamSocket;

Poco::Logger& logger() {
  return Poco::Logger::get("kc.http");
}

// How often the acceptor looks for heads past their deadline.
constexpr std::chrono::milliseconds kSweepInterval{100};
// A refused request's unread rest is drained (by the acceptor, costing no worker) for this
// long and up to this much before the connection closes, so the client reads the answer
// rather than a reset.
constexpr std::chrono::seconds kLinger{1};
constexpr std::size_t kMaxLingerBytes = 1 << 20;

// How long a worker with nothing else to do waits for a kept-alive client's next request.
constexpr std::chrono::milliseconds kFollowUp{2};

// What becomes of a connection after a worker answered on it.
enum class AfterAnswer { kClose, kKeepAlive, kDrain };
// Written by the acceptor itself when every worker is busy and the queue is full.
constexpr std::string_view kBusyAnswer =
    "HTTP/1.1 503 Service Unavailable\r\nContent-Length: 0\r\nCache-Control: no-store\r\n"
    "Retry-After: 1\r\nConnection: close\r\n\r\n";

// A log line for an event that a client can cause at will: the first at once, then at most one
// per interval with the number of events since the last line.
class ThrottledLog {
 public:
  explicit ThrottledLog(std::string what) : what_(std::move(what)) {}
  void note(const std::string& example) {
    ++count_;
    const auto now = Clock::now();
    if (logged_ && now - last_ < std::chrono::seconds(10)) return;
    logger().warning(what_ + " (" + std::to_string(count_) +
                     (logged_ ? " since the last such line" : "") + "; latest: " + example + ")");
    logged_ = true;
    last_ = now;
    count_ = 0;
  }

 private:
  std::string what_;
  Clock::time_point last_{};
  bool logged_ = false;
  std::size_t count_ = 0;
};

// Open connections, in all and of each peer address, for the caps.
class ClientSlots {
 public:
  enum class Refusal { kNone, kTotal, kClient };
  // Takes a slot for a connection of `address` (empty: exempt from the per-client cap);
  // refused when `total` connections are open, or `perClient` of the address.
  Refusal acquire(const std::string& address, std::size_t perClient, std::size_t total) {
    const std::lock_guard lock(mutex_);
    if (total_ >= total) return Refusal::kTotal;
    if (!address.empty()) {
      std::size_t& open = open_[address];
      if (open >= perClient) return Refusal::kClient;
      ++open;
    }
    ++total_;
    return Refusal::kNone;
  }
  void release(const std::string& address) {
    const std::lock_guard lock(mutex_);
    --total_;
    if (address.empty()) return;
    const auto it = open_.find(address);
    if (it != open_.end() && --it->second == 0) open_.erase(it);
  }

 private:
  std::mutex mutex_;
  std::size_t total_ = 0;                              // guarded by mutex_
  std::unordered_map<std::string, std::size_t> open_;  // guarded by mutex_
};

// How many connections may be open at once: the file descriptors the process may hold, less
// a reserve for the audit log, the database, the token and the identity server.
std::size_t connectionBudget() {
  constexpr std::size_t kReserve = 256;
  rlimit files{};
  if (getrlimit(RLIMIT_NOFILE, &files) != 0 || files.rlim_cur == RLIM_INFINITY) return 65536;
  const auto limit = static_cast<std::size_t>(files.rlim_cur);
  return limit > 2 * kReserve ? limit - kReserve : limit / 2;
}

// One open connection and what the acceptor has read of its next head.
struct Connection {
  Connection(const StreamSocket& s, const SocketAddress& p, std::string slot, ClientSlots& all)
      : socket(s),
        io(static_cast<FrontSocket&>(*socket.impl())),
        peer(p),
        slotAddress(std::move(slot)),
        slots(all),
        handshaking(io.tls()) {}
  ~Connection() { slots.release(slotAddress); }
  Connection(const Connection&) = delete;
  Connection& operator=(const Connection&) = delete;

  StreamSocket socket;
  FrontSocket& io;  // socket's, with what was read past the last head
  SocketAddress peer;
  std::string slotAddress;  // the capped address; empty for an exempt peer
  ClientSlots& slots;
  std::string head;  // the bytes of the next head read so far
  Clock::time_point deadline;
  bool handshaking;          // TLS: the handshake is not done yet
  bool idle = true;          // kept alive and no byte of a next request yet
  bool draining = false;     // answered and shut for sending: the acceptor drops what arrives
  std::size_t drained = 0;   // bytes dropped so far
  bool tooLarge = false;     // the head outgrew the limit: `head` is its cut-off start
  std::size_t answered = 0;  // requests answered on this connection
};

// Poco's session for one request, with what it has read past the request's body in sight.
// It leaves the socket open (a Poco session closes its socket when destroyed): the
// connection may serve another request.
class FrontSession final : public HTTPServerSession {
 public:
  using HTTPServerSession::HTTPServerSession;
  ~FrontSession() override {
    try {
      detachSocket();
    } catch (...) {
    }
  }
  FrontSession(const FrontSession&) = delete;
  FrontSession& operator=(const FrontSession&) = delete;
  using HTTPServerSession::buffered;
  // What was read past the request, for the connection's next one (a pipelined request).
  std::string takeBuffered() {
    std::string rest(static_cast<std::size_t>(buffered()), '\0');
    if (!rest.empty())
      rest.resize(
          static_cast<std::size_t>(read(rest.data(), static_cast<std::streamsize>(rest.size()))));
    return rest;
  }
};

// The answer to one request, written to the session as Poco's own server writes it (Poco's
// HTTPServerResponseImpl writes no body unless tied to Poco's own request class). The answer
// to a HEAD request (`headOnly`) has the headers GET's would have, Content-Length included,
// and no body: what a handler writes of one is dropped.
class FrontResponse final : public HTTPServerResponse {
 public:
  FrontResponse(HTTPServerSession& session, bool headOnly)
      : session_(session), headOnly_(headOnly) {}

  void sendContinue() override {
    Poco::Net::HTTPHeaderOutputStream out(session_);
    out << getVersion() << " 100 Continue\r\n\r\n";
  }
  std::ostream& send() override {
    expectUnsent();
    if (headOnly_) {
      {
        Poco::Net::HTTPHeaderOutputStream head(session_);
        write(head);
      }
      stream_ = std::make_unique<Poco::NullOutputStream>();
    } else if (getChunkedTransferEncoding()) {
      Poco::Net::HTTPHeaderOutputStream head(session_);
      write(head);
      stream_ = std::make_unique<Poco::Net::HTTPChunkedOutputStream>(session_);
    } else if (hasContentLength()) {
      Poco::CountingOutputStream head;
      write(head);
      stream_ = std::make_unique<Poco::Net::HTTPFixedLengthOutputStream>(
          session_, getContentLength64() + head.chars());
      write(*stream_);
    } else {
      setKeepAlive(false);  // the body ends where the connection does
      stream_ = std::make_unique<Poco::Net::HTTPOutputStream>(session_);
      write(*stream_);
    }
    return *stream_;
  }
  void sendFile(const std::string&, const std::string&) override {
    throw Poco::NotImplementedException("sendFile");  // no handler serves files
  }
  void sendBuffer(const void* buffer, std::size_t length) override {
    expectUnsent();
    setContentLength64(static_cast<Poco::Int64>(length));
    setChunkedTransferEncoding(false);
    stream_ = std::make_unique<Poco::Net::HTTPHeaderOutputStream>(session_);
    write(*stream_);
    if (!headOnly_) {
      stream_->write(static_cast<const char*>(buffer), static_cast<std::streamsize>(length));
    }
  }
  void redirect(const std::string& uri, HTTPStatus status) override {
    expectUnsent();
    setContentLength(0);
    setChunkedTransferEncoding(false);
    setStatusAndReason(status);
    set("Location", uri);
    stream_ = std::make_unique<Poco::Net::HTTPHeaderOutputStream>(session_);
    write(*stream_);
  }
  void requireAuthentication(const std::string& realm) override {
    setStatusAndReason(HTTP_UNAUTHORIZED);
    set("WWW-Authenticate", "Basic realm=\"" + realm + "\"");
  }
  bool sent() const override { return stream_ != nullptr; }
  // Writes what is buffered of the answer to the connection.
  void finish() { stream_.reset(); }

 private:
  void expectUnsent() const {
    if (stream_) throw Poco::IllegalStateException("the answer was sent already");
  }
  HTTPServerSession& session_;
  const bool headOnly_;
  std::unique_ptr<std::ostream> stream_;  // flushed when destroyed
};

// A request whose head we parsed: the body is read from the session, framed as the head says.
class FrontRequest final : public Poco::Net::HTTPServerRequest, public RequestConnection {
 public:
  FrontRequest(const RequestHead& head, HTTPServerResponse& response, HTTPServerSession& session,
               const SocketAddress& client, const SocketAddress& server,
               const HTTPServerParams& params)
      : response_(response), session_(session), client_(client), server_(server), params_(params) {
    setMethod(head.method);
    setURI(head.target);
    if (!head.version.empty()) setVersion(head.version);
    for (const auto& [name, value] : head.headers) add(name, value);
  }

  std::istream& stream() override {
    if (!body_) {
      if (getChunkedTransferEncoding()) {
        body_ = std::make_unique<Poco::Net::HTTPChunkedInputStream>(session_);
      } else {
        body_ = std::make_unique<Poco::Net::HTTPFixedLengthInputStream>(
            session_, hasContentLength() ? getContentLength64() : 0);
      }
    }
    return *body_;
  }
  // Whether the body, if any, was read to its end (so the next head starts where it ended).
  bool bodyRead() const {
    const bool hasBody =
        getChunkedTransferEncoding() || (hasContentLength() && getContentLength64() > 0);
    return !hasBody || (body_ && body_->eof());
  }
  const SocketAddress& clientAddress() const override { return client_; }
  const SocketAddress& serverAddress() const override { return server_; }
  const HTTPServerParams& serverParams() const override { return params_; }
  HTTPServerResponse& response() const override { return response_; }
  bool secure() const override {
    return static_cast<FrontSocket&>(*session_.socket().impl()).tls();
  }
  Poco::Net::StreamSocket& connection() override { return session_.socket(); }

 private:
  HTTPServerResponse& response_;
  HTTPServerSession& session_;
  const SocketAddress client_;
  const SocketAddress server_;
  const HTTPServerParams& params_;
  std::unique_ptr<std::istream> body_;
};

}  // namespace

class HttpFront::Impl {
 public:
  Impl(std::unique_ptr<RequestHandlerFactory> factory, const Poco::Net::ServerSocket& socket,
       FrontSettings settings)
      : factory_(std::move(factory)),
        listener_(socket),
        settings_(std::move(settings)),
        params_(new HTTPServerParams) {
    params_->setServerName(settings_.serverName);
    params_->setKeepAlive(settings_.keepAlive);
    params_->setTimeout(Poco::Timespan(settings_.readTimeout.count(), 0));
    params_->setKeepAliveTimeout(Poco::Timespan(settings_.keepAliveTimeout.count(), 0));
    params_->setMaxKeepAliveRequests(static_cast<int>(settings_.maxKeepAliveRequests));
    serverAddress_ = listener_.address();
    epoll_ = epoll_create1(EPOLL_CLOEXEC);
    wake_ = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
    if (epoll_ < 0 || wake_ < 0) throw Poco::SystemException("epoll/eventfd", errno);
    if (settings_.tls != nullptr) SSL_CTX_up_ref(settings_.tls);
  }

  ~Impl() {
    stopAccepting();
    if (acceptor_.joinable()) acceptor_.join();
    {
      const std::lock_guard lock(queueMutex_);
      stopWorkers_ = true;
    }
    queueReady_.notify_all();
    for (auto& worker : workers_) worker.join();
    ::close(epoll_);
    ::close(wake_);
    if (settings_.tls != nullptr) SSL_CTX_free(settings_.tls);
  }

  void start() {
    listener_.setBlocking(false);
    watch(listener_.impl()->sockfd(), EPOLLIN);
    watch(wake_, EPOLLIN);
    acceptor_ = std::thread([this] {
      nameThisThread("kc-accept");
      acceptLoop();
    });
    for (std::size_t i = 0; i < settings_.workers; ++i)
      workers_.emplace_back([this] {
        nameThisThread("kc-worker");
        workLoop();
      });
  }

  void stopAccepting() {
    stopping_ = true;
    wakeAcceptor();
  }

  std::size_t activeConnections() const { return active_; }

 private:
  void watch(int fd, std::uint32_t events) {
    epoll_event event{};
    event.events = events;
    event.data.fd = fd;
    if (epoll_ctl(epoll_, EPOLL_CTL_ADD, fd, &event) != 0) {
      throw Poco::SystemException("epoll_ctl", errno);
    }
  }

  void wakeAcceptor() {
    const std::uint64_t one = 1;
    [[maybe_unused]] const auto written = ::write(wake_, &one, sizeof one);
  }

  // The acceptor: new connections, heads arriving, kept-alive connections coming back from
  // the workers, and deadlines. Owns `waiting_`.
  void acceptLoop() {
    std::vector<epoll_event> events(256);
    auto nextSweep = Clock::now() + kSweepInterval;
    while (!stopping_) {
      const int ready = epoll_wait(epoll_, events.data(), static_cast<int>(events.size()),
                                   static_cast<int>(kSweepInterval.count()));
      for (int i = 0; i < ready; ++i) {
        const int fd = events[static_cast<std::size_t>(i)].data.fd;
        if (fd == listener_.impl()->sockfd()) {
          acceptAll();
        } else if (fd == wake_) {
          std::uint64_t count = 0;
          [[maybe_unused]] const auto got = ::read(wake_, &count, sizeof count);
          takeReturned();
        } else {
          readHead(fd);
        }
      }
      if (Clock::now() >= nextSweep) {
        closeExpired();
        nextSweep = Clock::now() + kSweepInterval;
      }
    }
    for (auto& [fd, connection] : waiting_) epoll_ctl(epoll_, EPOLL_CTL_DEL, fd, nullptr);
    waiting_.clear();
    try {
      listener_.close();
    } catch (...) {
    }
    takeReturned();  // and drop them: stopping
    waiting_.clear();
  }

  void acceptAll() {
    while (!stopping_) {
      sockaddr_storage address{};
      socklen_t length = sizeof address;
      const int fd = accept4(listener_.impl()->sockfd(), reinterpret_cast<sockaddr*>(&address),
                             &length, SOCK_NONBLOCK | SOCK_CLOEXEC);
      if (fd < 0) {
        if (errno == EINTR || errno == ECONNABORTED) continue;
        if (errno == EMFILE || errno == ENFILE) {
          outOfFiles_.note("accept: " + std::generic_category().message(errno));
          std::this_thread::sleep_for(std::chrono::milliseconds(10));  // no busy loop
        }
        return;
      }
      StreamSocket socket;
      try {
        socket = StreamSocket(new FrontSocket(fd, settings_.tls));  // closes `fd` if it throws
      } catch (const Poco::Exception& e) {
        logger().warning("cannot take a connection: " + e.displayText());
        continue;
      }
      const SocketAddress peer(reinterpret_cast<const sockaddr*>(&address), length);
      const std::string host = peer.host().toString();
      // A trusted proxy speaks for many clients: it is not capped as one.
      const bool exempt = settings_.trustedProxies.contains(host);
      const auto refused = slots_.acquire(exempt ? std::string() : host,
                                          settings_.maxConnectionsPerClient, maxConnections_);
      if (refused != ClientSlots::Refusal::kNone) {
        (refused == ClientSlots::Refusal::kClient ? overCap_ : overBudget_).note(host);
        continue;  // `socket` closes it
      }
      auto connection = std::make_unique<Connection>(std::move(socket), peer,
                                                     exempt ? std::string() : host, slots_);
      connection->idle = false;
      connection->deadline = Clock::now() + settings_.headTimeout;
      wait(std::move(connection));
    }
  }

  // Watches `connection` for its next head.
  void wait(std::unique_ptr<Connection> connection) {
    const int fd = connection->socket.impl()->sockfd();
    epoll_event event{};
    // TLS reads can need the connection writable (a handshake, a renegotiation).
    event.events = EPOLLIN | EPOLLRDHUP | EPOLLET | (connection->io.tls() ? EPOLLOUT : 0U);
    event.data.fd = fd;
    if (epoll_ctl(epoll_, EPOLL_CTL_ADD, fd, &event) != 0) return;  // closes it
    waiting_[fd] = std::move(connection);
    readHead(fd);  // what arrived before it was watched
  }

  void takeReturned() {
    std::vector<std::unique_ptr<Connection>> returned;
    {
      const std::lock_guard lock(returnedMutex_);
      returned.swap(returned_);
    }
    if (stopping_) return;
    for (auto& connection : returned) {
      try {
        connection->socket.setBlocking(false);
      } catch (const Poco::Exception&) {
        continue;
      }
      connection->head.clear();
      connection->idle = !connection->draining;
      connection->deadline =
          Clock::now() + (connection->draining ? kLinger : settings_.keepAliveTimeout);
      wait(std::move(connection));
    }
  }

  // Reads what has arrived of the head on `fd` (after the TLS handshake, if that is not
  // done), putting back what it read past the head's end. Hands the connection to a worker
  // once the head is whole or over the limit; closes it when the client did.
  void readHead(int fd) {
    const auto found = waiting_.find(fd);
    if (found == waiting_.end()) return;
    Connection& connection = *found->second;
    std::string& head = connection.head;
    char chunk[8192];
    if (connection.handshaking) {
      switch (connection.io.handshake()) {
        case FrontSocket::Progress::kWaiting:
          return;
        case FrontSocket::Progress::kFailed:
          return forget(fd);  // closed mid-handshake, or not TLS at all
        case FrontSocket::Progress::kDone:
          connection.handshaking = false;
      }
    }
    while (connection.draining) {
      const long got = connection.io.readAvailable(chunk, sizeof chunk);
      if (got < 0) return;
      if (got == 0) return forget(fd);
      connection.drained += static_cast<std::size_t>(got);
      if (connection.drained >= kMaxLingerBytes) return forget(fd);
    }
    while (true) {
      const std::size_t want = std::min(sizeof chunk, settings_.maxHeadBytes - head.size());
      const long got = connection.io.readAvailable(chunk, want);
      if (got < 0) return;
      if (got == 0) return forget(fd);  // closed or reset by the client
      if (connection.idle) {
        connection.idle = false;
        connection.deadline = Clock::now() + settings_.headTimeout;
      }
      const std::size_t before = head.size();
      head.append(chunk, static_cast<std::size_t>(got));
      if (const auto end = findHeadEnd(head, before >= 3 ? before - 3 : 0)) {
        connection.io.putBack(std::string_view(head).substr(*end));
        head.resize(*end);
        return handOver(fd);
      }
      if (head.size() >= settings_.maxHeadBytes) {
        connection.tooLarge = true;
        return handOver(fd);
      }
    }
  }

  void forget(int fd) {
    epoll_ctl(epoll_, EPOLL_CTL_DEL, fd, nullptr);
    waiting_.erase(fd);
  }

  void handOver(int fd) {
    epoll_ctl(epoll_, EPOLL_CTL_DEL, fd, nullptr);
    auto connection = std::move(waiting_[fd]);
    waiting_.erase(fd);
    std::unique_lock lock(queueMutex_);
    if (queue_.size() >= std::max<std::size_t>(settings_.maxQueued, 1)) {
      lock.unlock();
      busy_.note(connection->peer.host().toString());
      connection->io.sendAvailable(kBusyAnswer);
      return;  // `connection` closes
    }
    ++active_;
    queue_.push_back(std::move(connection));
    lock.unlock();
    queueReady_.notify_one();
  }

  void closeExpired() {
    const auto now = Clock::now();
    for (auto it = waiting_.begin(); it != waiting_.end();) {
      if (now < it->second->deadline) {
        ++it;
        continue;
      }
      // An idle kept-alive connection ends quietly; a head that did not arrive in time is
      // worth a line (throttled: any client can cause it).
      if (!it->second->idle && !it->second->draining) {
        headTimeouts_.note(it->second->peer.host().toString());
      }
      epoll_ctl(epoll_, EPOLL_CTL_DEL, it->first, nullptr);
      it = waiting_.erase(it);
    }
  }

  void workLoop() {
    while (true) {
      std::unique_ptr<Connection> connection;
      {
        std::unique_lock lock(queueMutex_);
        queueReady_.wait(lock, [this] { return stopWorkers_ || !queue_.empty(); });
        if (queue_.empty()) return;
        connection = std::move(queue_.front());
        queue_.pop_front();
      }
      AfterAnswer next = AfterAnswer::kClose;
      try {
        next = answer(*connection);
        while (next == AfterAnswer::kKeepAlive && takeFollowUp(*connection)) {
          next = answer(*connection);
        }
        if (next == AfterAnswer::kDrain) {
          connection->socket.shutdownSend();
          connection->draining = true;
        }
      } catch (const Poco::Exception& e) {
        next = AfterAnswer::kClose;
        logger().debug("connection from " + connection->peer.toString() + ": " + e.displayText());
      } catch (const std::exception& e) {
        next = AfterAnswer::kClose;
        logger().debug("connection from " + connection->peer.toString() + ": " + e.what());
      }
      const bool giveBack = next != AfterAnswer::kClose && !stopping_;
      if (giveBack) {
        const std::lock_guard lock(returnedMutex_);
        returned_.push_back(std::move(connection));
      } else {
        connection.reset();  // closes it
      }
      --active_;
      if (giveBack) wakeAcceptor();
    }
  }

  // A request/response client sends its next request as soon as it has read the answer. When
  // no other request waits for a worker, and that request's whole head arrives within
  // kFollowUp, this worker takes it at once, sparing it the trip through the acceptor (two
  // thread hand-offs); otherwise the acceptor waits for it. True when `connection.head`
  // holds the next head.
  bool takeFollowUp(Connection& connection) {
    if (stopping_) return false;
    {
      const std::lock_guard lock(queueMutex_);
      if (!queue_.empty()) return false;
    }
    FrontSocket& io = connection.io;
    if (io.available() == 0) {
      pollfd ready{io.sockfd(), POLLIN, 0};
      if (::poll(&ready, 1, static_cast<int>(kFollowUp.count())) != 1) return false;
    }
    std::string& head = connection.head;
    head.resize(settings_.maxHeadBytes);
    std::size_t have = 0;
    std::optional<std::size_t> end;
    while (!end && have < head.size()) {
      const long got = io.readAvailable(head.data() + have, head.size() - have);
      if (got <= 0) break;  // nothing more yet, or closed: the acceptor sees which
      end = findHeadEnd(std::string_view(head).substr(0, have + static_cast<std::size_t>(got)),
                        have >= 3 ? have - 3 : 0);
      have += static_cast<std::size_t>(got);
    }
    if (!end) {
      io.putBack(std::string_view(head).substr(0, have));  // the acceptor reads it again
      head.clear();
      return false;
    }
    io.putBack(std::string_view(head).substr(*end, have - *end));
    head.resize(*end);
    return true;
  }

  // Answers the request whose head `connection` holds; whether the connection then waits for
  // another request, is drained of what the client still sends (a refused head or body), or
  // closes.
  AfterAnswer answer(Connection& connection) {
    StreamSocket& socket = connection.socket;
    if (!connection.io.tls()) socket.setBlocking(true);  // TLS waits in FrontSocket
    socket.setReceiveTimeout(Poco::Timespan(settings_.readTimeout.count(), 0));
    socket.setSendTimeout(Poco::Timespan(settings_.writeTimeout.count(), 0));
    if (connection.tooLarge) {
      refuse(connection, {431, "The request head is too large."});
      return AfterAnswer::kDrain;
    }
    auto head = parseRequestHead(connection.head);
    if (!head) {
      refuse(connection, {400, "The request head is malformed."});
      return AfterAnswer::kDrain;
    }
    ++connection.answered;
    FrontSession session(socket, params_);
    bool keep = false;
    bool bodyRead = true;
    {
      FrontResponse response(session, head->method == Poco::Net::HTTPRequest::HTTP_HEAD);
      FrontRequest request(*head, response, session, connection.peer, serverAddress_, *params_);
      const bool last = !settings_.keepAlive || stopping_ ||
                        connection.answered >= settings_.maxKeepAliveRequests;
      prepare(response, request.getVersion(), !last && request.getKeepAlive());
      std::unique_ptr<Poco::Net::HTTPRequestHandler> handler(
          factory_->createRequestHandler(request));
      if (request.getExpectContinue()) response.sendContinue();
      handler->handleRequest(request, response);
      bodyRead = request.bodyRead();
      keep = bodyRead && response.getKeepAlive() && response.sent();
    }  // the answer is flushed here
    if (!bodyRead) return AfterAnswer::kDrain;
    // Bytes Poco read past the body are the start of the next (pipelined) request.
    connection.io.putBack(session.takeBuffered());
    return keep ? AfterAnswer::kKeepAlive : AfterAnswer::kClose;
  }

  // Answers a head we would not take through the handlers' refusal path (the connection is
  // then drained and closed).
  void refuse(Connection& connection, HeadRefusal refusal) {
    RequestHead partial = parsePartialRequestHead(connection.head);
    std::erase_if(partial.headers, [](const auto& header) {
      return equalsIgnoringCase(header.first, "Content-Length") ||
             equalsIgnoringCase(header.first, "Transfer-Encoding");
    });
    FrontSession session(connection.socket, params_);
    {
      FrontResponse response(session, false);
      FrontRequest request(partial, response, session, connection.peer, serverAddress_, *params_);
      prepare(response, Poco::Net::HTTPMessage::HTTP_1_1, false);
      std::unique_ptr<Poco::Net::HTTPRequestHandler> handler(
          factory_->createRefusalHandler(std::move(refusal)));
      handler->handleRequest(request, response);
    }
  }

  void prepare(FrontResponse& response, const std::string& version, bool keepAlive) {
    response.setDate(Poco::Timestamp());
    response.setVersion(version);
    response.setKeepAlive(keepAlive);
  }

  const std::unique_ptr<RequestHandlerFactory> factory_;
  Poco::Net::ServerSocket listener_;
  const FrontSettings settings_;
  HTTPServerParams::Ptr params_;
  SocketAddress serverAddress_;
  int epoll_ = -1;
  int wake_ = -1;
  std::atomic<bool> stopping_{false};
  std::atomic<std::size_t> active_{0};
  ClientSlots slots_;
  const std::size_t maxConnections_ = connectionBudget();

  // The acceptor thread's own.
  std::thread acceptor_;
  std::unordered_map<int, std::unique_ptr<Connection>> waiting_;
  ThrottledLog headTimeouts_{"closed connections whose request head missed server.head_timeout_s"};
  ThrottledLog overCap_{"refused connections over server.max_connections_per_client"};
  ThrottledLog busy_{"answered 503: every worker busy and server.max_queued requests waiting"};
  ThrottledLog outOfFiles_{"cannot accept: out of file descriptors"};
  ThrottledLog overBudget_{"refused connections: as many open as file descriptors allow"};

  std::mutex queueMutex_;
  std::condition_variable queueReady_;
  std::deque<std::unique_ptr<Connection>> queue_;  // guarded by queueMutex_
  bool stopWorkers_ = false;                       // guarded by queueMutex_
  std::vector<std::thread> workers_;

  std::mutex returnedMutex_;
  std::vector<std::unique_ptr<Connection>> returned_;  // guarded by returnedMutex_
};

HttpFront::HttpFront(std::unique_ptr<RequestHandlerFactory> factory,
                     const Poco::Net::ServerSocket& socket, FrontSettings settings)
    : impl_(std::make_unique<Impl>(std::move(factory), socket, std::move(settings))) {}

HttpFront::~HttpFront() = default;

void HttpFront::start() {
  impl_->start();
}

void HttpFront::stopAccepting() {
  impl_->stopAccepting();
}

std::size_t HttpFront::activeConnections() const {
  return impl_->activeConnections();
}

}  // namespace kc::api
