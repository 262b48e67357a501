// The daemon's front end (kc/api/HttpFront.h) over real sockets: request heads are waited for
// without a worker, under a total deadline and a 32 KiB cap, with a cap on connections per
// client address; long tokens reach our JWT check; keep-alive serves several requests, and
// pipelined ones in order. Over TLS alike: the handshake is waited for without a worker too.

#include <Poco/Exception.h>
#include <Poco/Net/Context.h>
#include <Poco/Net/HTTPRequest.h>
#include <Poco/Net/HTTPResponse.h>
#include <Poco/Net/HTTPSClientSession.h>
#include <Poco/Net/SSLManager.h>
#include <Poco/Net/SecureStreamSocket.h>
#include <Poco/Net/SocketAddress.h>
#include <Poco/Net/StreamSocket.h>
#include <Poco/StreamCopier.h>
#include <gtest/gtest.h>

#include <chrono>
#include <cstdio>
#include <optional>
#include <string>
#include <thread>
#include <vector>

#include "DaemonFixture.h"

namespace kc::test {
namespace {

using std::chrono::milliseconds;
using std::chrono::seconds;
using Clock = std::chrono::steady_clock;

constexpr const char* kOrigin = "https://vault.e2e.invalid";  // the fixture's web_vault.origin

Poco::Net::StreamSocket connectTo(const Daemon& daemon) {
  Poco::Net::StreamSocket socket;
  socket.connect(Poco::Net::SocketAddress("127.0.0.1", static_cast<Poco::UInt16>(daemon.port())));
  return socket;
}

void sendAll(Poco::Net::StreamSocket& socket, std::string_view bytes) {
  while (!bytes.empty()) {
    const int sent = socket.sendBytes(bytes.data(), static_cast<int>(bytes.size()));
    if (sent <= 0) throw std::runtime_error("send failed");
    bytes.remove_prefix(static_cast<std::size_t>(sent));
  }
}

struct RawResponse {
  int status = 0;
  std::string head;  // status line and headers
  std::string body;
  bool hasHeader(const std::string& line) const { return head.find(line) != std::string::npos; }
};

// Reads one response (a Content-Length body, none for a HEAD request's) off `socket`; `pending`
// keeps what was read past it. None when the connection closed first.
std::optional<RawResponse> readResponse(Poco::Net::StreamSocket& socket, std::string& pending,
                                        bool headRequest = false) {
  socket.setReceiveTimeout(Poco::Timespan(10, 0));
  char buffer[4096];
  auto fill = [&] {
    const int got = socket.receiveBytes(buffer, sizeof buffer);
    if (got <= 0) return false;
    pending.append(buffer, static_cast<std::size_t>(got));
    return true;
  };
  std::size_t end;
  while ((end = pending.find("\r\n\r\n")) == std::string::npos)
    if (!fill()) return std::nullopt;
  RawResponse response;
  response.head = pending.substr(0, end + 2);
  pending.erase(0, end + 4);
  response.status = std::stoi(response.head.substr(9, 3));
  std::size_t length = 0;
  const auto at = response.head.find("Content-Length: ");
  if (at != std::string::npos && !headRequest) length = std::stoul(response.head.substr(at + 16));
  while (pending.size() < length)
    if (!fill()) return std::nullopt;
  response.body = pending.substr(0, length);
  pending.erase(0, length);
  return response;
}

// Whether the daemon closed `socket` within `timeout` (reading and dropping what it sent).
bool closedWithin(Poco::Net::StreamSocket& socket, milliseconds timeout) {
  const auto until = Clock::now() + timeout;
  char buffer[4096];
  while (Clock::now() < until) {
    try {
      socket.setReceiveTimeout(Poco::Timespan(0, 100 * 1000));
      // Negative: a TLS socket's timeout (a plain one's throws).
      if (socket.receiveBytes(buffer, sizeof buffer) == 0) return true;
    } catch (const Poco::TimeoutException&) {
    } catch (const Poco::Exception&) {
      return true;  // reset
    }
  }
  return false;
}

// `body` in two chunks and the last.
std::string chunked(const std::string& body) {
  auto chunk = [](std::string_view part) {
    char size[16];
    std::snprintf(size, sizeof size, "%zx\r\n", part.size());
    return std::string(size) + std::string(part) + "\r\n";
  };
  const std::string_view all(body);
  return chunk(all.substr(0, 10)) + chunk(all.substr(10)) + "0\r\n\r\n";
}

std::size_t countLinesWith(const std::vector<std::string>& lines, const std::string& a,
                           const std::string& b) {
  std::size_t count = 0;
  for (const auto& line : lines)
    if (line.find(a) != std::string::npos && line.find(b) != std::string::npos) ++count;
  return count;
}

TEST(RequestHead, HalfSentHeadsDoNotHoldTheWorkers) {
  Daemon daemon({.config = {{"server.workers", "4"}}});
  std::vector<Poco::Net::StreamSocket> slow;
  for (int i = 0; i < 24; ++i) {  // six times the workers
    slow.push_back(connectTo(daemon));
    sendAll(slow.back(), "GET /alive HTTP/1.1\r\nHost: 127.0.0.1\r\nAccept: appl");
  }
  std::this_thread::sleep_for(milliseconds(200));
  const auto started = Clock::now();
  const HttpResponse alive = daemon.get("/alive");
  const auto took = Clock::now() - started;
  EXPECT_EQ(alive.status, 200);
  EXPECT_LT(took, seconds(1)) << std::chrono::duration_cast<milliseconds>(took).count() << " ms";
  // The slow heads are still waited for, and answered once they are whole.
  sendAll(slow.front(), "ication/json\r\n\r\n");
  std::string pending;
  const auto answer = readResponse(slow.front(), pending);
  ASSERT_TRUE(answer);
  EXPECT_EQ(answer->status, 200);
}

TEST(RequestHead, TricklingHeadIsCutAtTheDeadline) {
  Daemon daemon({.config = {{"server.head_timeout_s", "2"}, {"server.read_timeout_s", "15"}}});
  auto socket = connectTo(daemon);
  const std::string head =
      "GET /alive HTTP/1.1\r\nHost: 127.0.0.1\r\nX-Padding: " + std::string(200, 'a') + "\r\n\r\n";
  const auto started = Clock::now();
  bool closed = false;
  for (const char byte : head) {  // one byte every 250 ms: each read is quick, the head is not
    try {
      sendAll(socket, std::string_view(&byte, 1));
    } catch (const std::exception&) {
      closed = true;
      break;
    }
    if (closedWithin(socket, milliseconds(250))) {
      closed = true;
      break;
    }
    if (Clock::now() - started > seconds(10)) break;
  }
  const auto took = Clock::now() - started;
  EXPECT_TRUE(closed);
  EXPECT_GE(took, milliseconds(1900));
  EXPECT_LT(took, milliseconds(3500))
      << std::chrono::duration_cast<milliseconds>(took).count() << " ms";
  EXPECT_NE(daemon.log().find("missed server.head_timeout_s"), std::string::npos) << daemon.log();
}

TEST(RequestHead, TwentyKiBAuthorizationReachesTheTokenCheck) {
  Daemon daemon;
  HttpRequest request{.method = "GET", .path = "/user-keys"};
  request.headers["Authorization"] = "Bearer " + std::string(20 * 1024, 'a');
  request.headers["Origin"] = kOrigin;
  const HttpResponse response = daemon.send(request);
  EXPECT_EQ(response.status, 401);
  EXPECT_EQ(response.header("x-request-id").size(), 32U);
  EXPECT_EQ(response.header("cache-control"), "no-store");
  EXPECT_EQ(response.header("access-control-allow-origin"), kOrigin);
  EXPECT_NE(response.header("www-authenticate").find("invalid_token"), std::string::npos);
  EXPECT_NE(daemon.log().find("token too long"), std::string::npos) << daemon.log();
}

TEST(RequestHead, OversizedHeadIsAnswered431WithOurHeadersLoggedAndAudited) {
  Daemon daemon;
  auto socket = connectTo(daemon);
  sendAll(socket, "GET /user-keys HTTP/1.1\r\nHost: 127.0.0.1\r\nOrigin: " + std::string(kOrigin) +
                      "\r\nX-Request-Id: big-head-1\r\nAuthorization: Bearer " +
                      std::string(40 * 1024, 'a') + "\r\n\r\n");
  std::string pending;
  const auto response = readResponse(socket, pending);
  ASSERT_TRUE(response) << daemon.log();
  EXPECT_EQ(response->status, 431) << response->head;
  EXPECT_TRUE(response->hasHeader("\r\nX-Request-Id: ")) << response->head;
  EXPECT_TRUE(response->hasHeader("\r\nX-Client-Request-Id: big-head-1\r\n")) << response->head;
  EXPECT_TRUE(response->hasHeader("\r\nCache-Control: no-store\r\n")) << response->head;
  EXPECT_TRUE(response->hasHeader("\r\nAccess-Control-Allow-Origin: " + std::string(kOrigin)))
      << response->head;
  EXPECT_TRUE(response->hasHeader("\r\nConnection: Close\r\n")) << response->head;
  EXPECT_NE(response->body.find("too large"), std::string::npos);
  EXPECT_TRUE(closedWithin(socket, milliseconds(3000)));
  EXPECT_NE(daemon.log().find(" 431 "), std::string::npos) << daemon.log();
  EXPECT_EQ(countLinesWith(daemon.auditLines(), "\"key.refused\"", "big-head-1"), 1U);
  EXPECT_EQ(countLinesWith(daemon.auditLines(), "\"key.refused\"", "431"), 1U);
}

TEST(RequestHead, MalformedHeadIsAnswered400WithOurHeaders) {
  Daemon daemon;
  auto socket = connectTo(daemon);
  sendAll(socket,
          "GET /alive HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Length: 3\r\n"
          "Transfer-Encoding: chunked\r\n\r\n");
  std::string pending;
  const auto response = readResponse(socket, pending);
  ASSERT_TRUE(response) << daemon.log();
  EXPECT_EQ(response->status, 400) << response->head;
  EXPECT_TRUE(response->hasHeader("\r\nX-Request-Id: ")) << response->head;
  EXPECT_TRUE(closedWithin(socket, milliseconds(3000)));
}

TEST(RequestHead, KeepAliveServesSeveralRequestsOnOneConnection) {
  Daemon daemon;
  const std::string user = E2eEnvironment::newUserId();
  const std::string token = E2eEnvironment::get().tokenFor(user);
  const std::string body = keyBody(randomKeyBase64());
  auto socket = connectTo(daemon);
  std::string pending;
  const std::vector<std::string> requests = {
      "GET /alive HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n",
      "PUT /user-keys HTTP/1.1\r\nHost: 127.0.0.1\r\nAuthorization: Bearer " + token +
          "\r\nContent-Type: application/json\r\nContent-Length: " + std::to_string(body.size()) +
          "\r\n\r\n" + body,
      "GET /user-keys HTTP/1.1\r\nHost: 127.0.0.1\r\nAuthorization: Bearer " + token + "\r\n\r\n",
      "GET /nowhere HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n",
      "PUT /user-keys HTTP/1.1\r\nHost: 127.0.0.1\r\nAuthorization: Bearer " + token +
          "\r\nContent-Type: application/json\r\nTransfer-Encoding: chunked\r\n\r\n" +
          chunked(body),
      "GET /now HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n",
  };
  const std::vector<int> expected = {200, 200, 200, 404, 200, 200};
  for (std::size_t i = 0; i < requests.size(); ++i) {
    sendAll(socket, requests[i]);
    const auto response = readResponse(socket, pending);
    ASSERT_TRUE(response) << "request " << i << " found the connection closed\n" << daemon.log();
    EXPECT_EQ(response->status, expected[i]) << response->head;
    EXPECT_FALSE(response->hasHeader("Connection: Close")) << response->head;
  }
  EXPECT_EQ(daemon.get("/user-keys", token).status, 200);
}

TEST(RequestHead, ConnectionsPerClientAddressAreCapped) {
  Daemon daemon({.config = {{"server.max_connections_per_client", "3"}}});
  std::vector<Poco::Net::StreamSocket> held;
  for (int i = 0; i < 3; ++i) held.push_back(connectTo(daemon));
  auto over = connectTo(daemon);  // the kernel accepts it; the daemon closes it at once
  EXPECT_TRUE(closedWithin(over, milliseconds(2000)));
  EXPECT_FALSE(closedWithin(held.front(), milliseconds(200)));
  held.pop_back();  // one slot free again
  std::this_thread::sleep_for(milliseconds(200));
  EXPECT_EQ(daemon.get("/alive").status, 200);
  EXPECT_NE(daemon.log().find("server.max_connections_per_client"), std::string::npos)
      << daemon.log();
}

TEST(RequestHead, OpenConnectionsStayWithinTheFileDescriptorLimit) {
  // 400 descriptors: 200 for connections (half, below twice the reserve of 256).
  Daemon daemon({.config = {{"server.max_connections_per_client", "100000"}},
                 .launcher = {"/bin/sh", "-c", "ulimit -n 400; exec \"$0\" \"$@\""}});
  std::vector<Poco::Net::StreamSocket> held;
  for (int i = 0; i < 200; ++i) held.push_back(connectTo(daemon));
  auto over = connectTo(daemon);
  EXPECT_TRUE(closedWithin(over, milliseconds(2000)));
  held.resize(150);
  std::this_thread::sleep_for(milliseconds(300));
  EXPECT_EQ(daemon.get("/alive").status, 200);
  EXPECT_NE(daemon.log().find("as many open as file descriptors allow"), std::string::npos)
      << daemon.log();
}

TEST(RequestHead, ExpectContinueIsAnsweredBeforeTheBody) {
  Daemon daemon;
  const std::string token = E2eEnvironment::get().tokenFor(E2eEnvironment::newUserId());
  const std::string body = keyBody(randomKeyBase64());
  auto socket = connectTo(daemon);
  sendAll(socket, "PUT /user-keys HTTP/1.1\r\nHost: 127.0.0.1\r\nAuthorization: Bearer " + token +
                      "\r\nContent-Type: application/json\r\nExpect: 100-continue\r\n"
                      "Content-Length: " +
                      std::to_string(body.size()) + "\r\n\r\n");
  std::string pending;
  const auto interim = readResponse(socket, pending);
  ASSERT_TRUE(interim) << daemon.log();
  EXPECT_EQ(interim->status, 100);
  sendAll(socket, body);
  const auto response = readResponse(socket, pending);
  ASSERT_TRUE(response) << daemon.log();
  EXPECT_EQ(response->status, 200) << response->head;
}

TEST(RequestHead, HeadRequestIsAnsweredWithoutABodyAndTheConnectionKept) {
  Daemon daemon;
  auto socket = connectTo(daemon);
  sendAll(socket, "HEAD /alive HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n");
  std::string pending;
  const auto response = readResponse(socket, pending, true);
  ASSERT_TRUE(response) << daemon.log();
  EXPECT_EQ(response->status, 405) << response->head;
  EXPECT_FALSE(response->hasHeader("Connection: Close")) << response->head;
  // No body follows the head: the next bytes on the connection are the next answer's.
  sendAll(socket, "GET /alive HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n");
  const auto next = readResponse(socket, pending);
  ASSERT_TRUE(next) << "the connection closed after the HEAD answer\n" << daemon.log();
  EXPECT_EQ(next->status, 200) << next->head;
  EXPECT_TRUE(pending.empty()) << pending;
}

std::string getRequest(const std::string& path) {
  return "GET " + path + " HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n";
}

std::string putKeyRequest(const std::string& token, const std::string& body) {
  return "PUT /user-keys HTTP/1.1\r\nHost: 127.0.0.1\r\nAuthorization: Bearer " + token +
         "\r\nContent-Type: application/json\r\nContent-Length: " + std::to_string(body.size()) +
         "\r\n\r\n" + body;
}

std::string putKeyChunkedRequest(const std::string& token, const std::string& body) {
  return "PUT /user-keys HTTP/1.1\r\nHost: 127.0.0.1\r\nAuthorization: Bearer " + token +
         "\r\nContent-Type: application/json\r\nTransfer-Encoding: chunked\r\n\r\n" + chunked(body);
}

// Sends `requests` in one write, each before any answer, and expects their answers in order
// with the connection kept.
void expectPipelinedAnswers(Poco::Net::StreamSocket& socket,
                            const std::vector<std::string>& requests,
                            const std::vector<int>& statuses, const std::string& log) {
  std::string all;
  for (const auto& request : requests) all += request;
  sendAll(socket, all);
  std::string pending;
  for (std::size_t i = 0; i < statuses.size(); ++i) {
    const auto response = readResponse(socket, pending);
    ASSERT_TRUE(response) << "answer " << i << ": the connection closed\n" << log;
    EXPECT_EQ(response->status, statuses[i]) << response->head;
    EXPECT_FALSE(response->hasHeader("Connection: Close")) << response->head;
  }
  EXPECT_TRUE(pending.empty()) << pending;
}

TEST(RequestHead, PipelinedRequestsAreAnsweredInOrderOnTheConnection) {
  Daemon daemon;
  const std::string token = E2eEnvironment::get().tokenFor(E2eEnvironment::newUserId());
  auto socket = connectTo(daemon);
  expectPipelinedAnswers(socket, {getRequest("/alive"), getRequest("/alive")}, {200, 200},
                         daemon.log());
  expectPipelinedAnswers(socket,
                         {getRequest("/alive"), getRequest("/nowhere"), getRequest("/alive")},
                         {200, 404, 200}, daemon.log());
  // Requests with a body: what follows the body arrived with it, and is the next request
  // (a chunked body is read through a buffer, which takes what follows too).
  expectPipelinedAnswers(socket,
                         {putKeyRequest(token, keyBody(randomKeyBase64())), getRequest("/alive")},
                         {200, 200}, daemon.log());
  expectPipelinedAnswers(
      socket,
      {getRequest("/alive"), putKeyChunkedRequest(token, keyBody(randomKeyBase64())),
       getRequest("/nowhere")},
      {200, 200, 404}, daemon.log());
}

TEST(RequestHead, TrustedProxyIsNotCappedAsOneClient) {
  Daemon daemon({.config = {{"server.max_connections_per_client", "2"},
                            {"server.trusted_proxies", "127.0.0.1"}}});
  std::vector<Poco::Net::StreamSocket> held;
  for (int i = 0; i < 4; ++i) held.push_back(connectTo(daemon));
  std::string pending;
  for (auto& socket : held) {
    sendAll(socket, "GET /alive HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n");
    const auto response = readResponse(socket, pending);
    ASSERT_TRUE(response) << daemon.log();
    EXPECT_EQ(response->status, 200);
  }
}

// The same front end serving HTTPS: the handshake, like the head, costs no worker and has the
// head deadline counted from accept.
class TlsFront : public ::testing::Test {
 protected:
  static void SetUpTestSuite() { Poco::Net::initializeSSL(); }
  static void TearDownTestSuite() { Poco::Net::uninitializeSSL(); }

  // Starts a daemon serving HTTPS with `config` besides the certificate, once it answers.
  std::unique_ptr<Daemon> startTlsDaemon(std::map<std::string, std::string> config = {}) {
    makeSelfSignedCertificate(dir_.path(), "kc-front");
    config["tls.certificate"] = (dir_ / "cert.pem").string();
    config["tls.private_key"] = (dir_ / "key.pem").string();
    auto daemon =
        std::make_unique<Daemon>(DaemonOptions{.config = config, .waitUntilReady = false});
    for (int i = 0; i < 200; ++i) {
      try {
        if (httpsAlive(*daemon) == 200) return daemon;
      } catch (const std::exception&) {
      }
      std::this_thread::sleep_for(milliseconds(50));
    }
    ADD_FAILURE() << "no HTTPS answer; log:\n" << daemon->log();
    return daemon;
  }

  // A TLS connection, handshake done (the certificate is not checked: a test's own).
  Poco::Net::SecureStreamSocket connectTls(const Daemon& daemon) {
    Poco::Net::SecureStreamSocket socket(
        Poco::Net::SocketAddress("127.0.0.1", static_cast<Poco::UInt16>(daemon.port())), context_);
    socket.completeHandshake();
    return socket;
  }

  int httpsAlive(const Daemon& daemon) {
    Poco::Net::HTTPSClientSession session("127.0.0.1", static_cast<Poco::UInt16>(daemon.port()),
                                          context_);
    session.setTimeout(Poco::Timespan(20, 0));
    Poco::Net::HTTPRequest request("GET", "/alive", Poco::Net::HTTPMessage::HTTP_1_1);
    session.sendRequest(request);
    Poco::Net::HTTPResponse response;
    std::string body;
    Poco::StreamCopier::copyToString(session.receiveResponse(response), body);
    return static_cast<int>(response.getStatus());
  }

  TempDir dir_;
  Poco::Net::Context::Ptr context_ = new Poco::Net::Context(
      Poco::Net::Context::TLS_CLIENT_USE, "", "", "", Poco::Net::Context::VERIFY_NONE);
};

TEST_F(TlsFront, TwentyKiBAuthorizationReachesTheTokenCheck) {
  auto daemon = startTlsDaemon();
  auto socket = connectTls(*daemon);
  sendAll(socket, "GET /user-keys HTTP/1.1\r\nHost: 127.0.0.1\r\nOrigin: " + std::string(kOrigin) +
                      "\r\nAuthorization: Bearer " + std::string(20 * 1024, 'a') + "\r\n\r\n");
  std::string pending;
  const auto response = readResponse(socket, pending);
  ASSERT_TRUE(response) << daemon->log();
  EXPECT_EQ(response->status, 401) << response->head;
  EXPECT_TRUE(response->hasHeader("\r\nX-Request-Id: ")) << response->head;
  EXPECT_TRUE(response->hasHeader("\r\nCache-Control: no-store\r\n")) << response->head;
  EXPECT_TRUE(response->hasHeader("\r\nAccess-Control-Allow-Origin: " + std::string(kOrigin)))
      << response->head;
  EXPECT_NE(daemon->log().find("token too long"), std::string::npos) << daemon->log();
}

TEST_F(TlsFront, OversizedHeadIsAnswered431WithOurHeaders) {
  auto daemon = startTlsDaemon();
  auto socket = connectTls(*daemon);
  sendAll(socket,
          "GET /user-keys HTTP/1.1\r\nHost: 127.0.0.1\r\nX-Request-Id: big-tls-head\r\n"
          "Authorization: Bearer " +
              std::string(40 * 1024, 'a') + "\r\n\r\n");
  std::string pending;
  const auto response = readResponse(socket, pending);
  ASSERT_TRUE(response) << daemon->log();
  EXPECT_EQ(response->status, 431) << response->head;
  EXPECT_TRUE(response->hasHeader("\r\nX-Request-Id: ")) << response->head;
  EXPECT_TRUE(response->hasHeader("\r\nX-Client-Request-Id: big-tls-head\r\n")) << response->head;
  EXPECT_TRUE(closedWithin(socket, milliseconds(3000)));
  EXPECT_EQ(countLinesWith(daemon->auditLines(), "\"key.refused\"", "big-tls-head"), 1U);
}

TEST_F(TlsFront, UnfinishedHandshakesAndHalfSentHeadsDoNotHoldTheWorkers) {
  auto daemon = startTlsDaemon({{"server.workers", "4"}, {"server.read_timeout_s", "10"}});
  std::vector<Poco::Net::StreamSocket> stalled;  // TCP only: no handshake, or half a record
  for (int i = 0; i < 12; ++i) {
    stalled.push_back(connectTo(*daemon));
    if (i % 2 == 1) sendAll(stalled.back(), std::string_view("\x16\x03\x01\x02\x00\x01", 6));
  }
  std::vector<Poco::Net::SecureStreamSocket> halfSent;
  for (int i = 0; i < 12; ++i) {
    halfSent.push_back(connectTls(*daemon));
    sendAll(halfSent.back(), "GET /alive HTTP/1.1\r\nHost: 127.0.0.1\r\nAccept: appl");
  }
  std::this_thread::sleep_for(milliseconds(200));
  const auto started = Clock::now();
  EXPECT_EQ(httpsAlive(*daemon), 200);
  const auto took = Clock::now() - started;
  EXPECT_LT(took, seconds(1)) << std::chrono::duration_cast<milliseconds>(took).count() << " ms";
  // A half-sent head is still waited for, and answered once whole.
  sendAll(halfSent.front(), "ication/json\r\n\r\n");
  std::string pending;
  const auto answer = readResponse(halfSent.front(), pending);
  ASSERT_TRUE(answer) << daemon->log();
  EXPECT_EQ(answer->status, 200);
}

TEST_F(TlsFront, HandshakeNotFinishedInTheHeadDeadlineIsClosed) {
  auto daemon = startTlsDaemon({{"server.head_timeout_s", "1"}, {"server.read_timeout_s", "15"}});
  auto silent = connectTo(*daemon);
  auto partial = connectTo(*daemon);
  sendAll(partial, std::string_view("\x16\x03\x01\x02\x00\x01", 6));  // half a ClientHello
  const auto started = Clock::now();
  EXPECT_TRUE(closedWithin(silent, milliseconds(4000)));
  EXPECT_TRUE(closedWithin(partial, milliseconds(4000)));
  const auto took = Clock::now() - started;
  EXPECT_GE(took, milliseconds(700));
  EXPECT_LT(took, milliseconds(3500))
      << std::chrono::duration_cast<milliseconds>(took).count() << " ms";
}

TEST_F(TlsFront, ClientsClosingMidHandshakeOrSpeakingPlainHttpAreDropped) {
  auto daemon = startTlsDaemon({{"server.workers", "2"}});
  for (int i = 0; i < 20; ++i) {  // half a ClientHello, then gone
    auto gone = connectTo(*daemon);
    sendAll(gone, std::string_view("\x16\x03\x01\x02\x00\x01\x00\x01\xfc\x03\x03", 11));
    gone.close();
  }
  auto plain = connectTo(*daemon);
  sendAll(plain, "GET /alive HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n");
  EXPECT_TRUE(closedWithin(plain, milliseconds(2000)));
  const auto started = Clock::now();
  EXPECT_EQ(httpsAlive(*daemon), 200);
  EXPECT_LT(Clock::now() - started, seconds(1));
}

TEST_F(TlsFront, KeepAliveAndPipelinedRequestsOnOneConnection) {
  auto daemon = startTlsDaemon();
  const std::string token = E2eEnvironment::get().tokenFor(E2eEnvironment::newUserId());
  const std::string body = keyBody(randomKeyBase64());
  auto socket = connectTls(*daemon);
  std::string pending;
  const std::vector<std::string> requests = {
      "GET /alive HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n",
      "PUT /user-keys HTTP/1.1\r\nHost: 127.0.0.1\r\nAuthorization: Bearer " + token +
          "\r\nContent-Type: application/json\r\nContent-Length: " + std::to_string(body.size()) +
          "\r\n\r\n" + body,
      "GET /user-keys HTTP/1.1\r\nHost: 127.0.0.1\r\nAuthorization: Bearer " + token + "\r\n\r\n",
      "GET /nowhere HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n",
  };
  const std::vector<int> expected = {200, 200, 200, 404};
  for (std::size_t i = 0; i < requests.size(); ++i) {
    sendAll(socket, requests[i]);
    const auto response = readResponse(socket, pending);
    ASSERT_TRUE(response) << "request " << i << " found the connection closed\n" << daemon->log();
    EXPECT_EQ(response->status, expected[i]) << response->head;
    EXPECT_FALSE(response->hasHeader("Connection: Close")) << response->head;
  }
  expectPipelinedAnswers(socket,
                         {putKeyChunkedRequest(token, keyBody(randomKeyBase64())),
                          getRequest("/nowhere"), getRequest("/alive")},
                         {200, 404, 200}, daemon->log());
}

}  // namespace
}  // namespace kc::test
