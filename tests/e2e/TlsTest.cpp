// The daemon serving HTTPS itself (tls.certificate / tls.private_key): TLS 1.2 or newer
// only, and a certificate replaced on disk picked up on SIGHUP.

#include <Poco/Net/Context.h>
#include <Poco/Net/HTTPRequest.h>
#include <Poco/Net/HTTPResponse.h>
#include <Poco/Net/HTTPSClientSession.h>
#include <Poco/Net/SSLManager.h>
#include <Poco/StreamCopier.h>
#include <gtest/gtest.h>
#include <signal.h>

#include <thread>

#include "DaemonFixture.h"

namespace kc::test {
namespace {

// The subject of the certificate the server at `port` presents, per openssl s_client.
std::string presentedSubject(int port, const std::vector<std::string>& extraFlags = {}) {
  std::vector<std::string> argv = {"openssl", "s_client", "-connect",
                                   "127.0.0.1:" + std::to_string(port)};
  argv.insert(argv.end(), extraFlags.begin(), extraFlags.end());
  auto result = runProcess(argv, {.stdinText = "Q\n", .timeout = std::chrono::seconds(20)});
  const auto at = result.out.find("subject=");
  if (at == std::string::npos) return {};
  return result.out.substr(at, result.out.find('\n', at) - at);
}

int httpsAlive(int port, const std::filesystem::path& caFile) {
  Poco::Net::Context::Ptr context =
      new Poco::Net::Context(Poco::Net::Context::TLS_CLIENT_USE, "", "", caFile.string(),
                             Poco::Net::Context::VERIFY_STRICT);
  Poco::Net::HTTPSClientSession session("127.0.0.1", static_cast<Poco::UInt16>(port), context);
  session.setTimeout(Poco::Timespan(10, 0));
  Poco::Net::HTTPRequest request("GET", "/alive", Poco::Net::HTTPMessage::HTTP_1_1);
  session.sendRequest(request);
  Poco::Net::HTTPResponse response;
  std::string body;
  Poco::StreamCopier::copyToString(session.receiveResponse(response), body);
  return static_cast<int>(response.getStatus());
}

class Tls : public ::testing::Test {
 protected:
  static void SetUpTestSuite() { Poco::Net::initializeSSL(); }
  static void TearDownTestSuite() { Poco::Net::uninitializeSSL(); }

  // Starts a TLS daemon and waits until it answers over HTTPS.
  std::unique_ptr<Daemon> startTlsDaemon() {
    makeSelfSignedCertificate(dir_.path(), "kc-first");
    auto daemon = std::make_unique<Daemon>(
        DaemonOptions{.config = {{"tls.certificate", (dir_ / "cert.pem").string()},
                                 {"tls.private_key", (dir_ / "key.pem").string()}},
                      .waitUntilReady = false});
    trusted_ = dir_ / "trusted-first.pem";
    writeFile(trusted_, readFile(dir_ / "cert.pem"));
    // A deadline, not a count of tries: under ASan with NSS's softokn the login alone can
    // take seconds, and each refused try returns at once.
    const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(90);
    while (std::chrono::steady_clock::now() < deadline) {
      try {
        if (httpsAlive(daemon->port(), trusted_) == 200) return daemon;
      } catch (const std::exception&) {
      }
      std::this_thread::sleep_for(std::chrono::milliseconds(50));
    }
    ADD_FAILURE() << "no HTTPS answer; log:\n" << daemon->log();
    return daemon;
  }

  TempDir dir_;
  std::filesystem::path trusted_;
};

TEST_F(Tls, ServesHttpsWithTheConfiguredCertificate) {
  auto daemon = startTlsDaemon();
  EXPECT_EQ(httpsAlive(daemon->port(), trusted_), 200);
  EXPECT_NE(presentedSubject(daemon->port()).find("kc-first"), std::string::npos);
}

TEST_F(Tls, RefusesTlsOlderThan12) {
  auto daemon = startTlsDaemon();
  EXPECT_TRUE(
      presentedSubject(daemon->port(), {"-tls1_1", "-cipher", "DEFAULT@SECLEVEL=0"}).empty())
      << "a TLS 1.1 handshake succeeded";
  EXPECT_FALSE(presentedSubject(daemon->port(), {"-tls1_2"}).empty());
}

TEST_F(Tls, SighupPicksUpAReplacedCertificate) {
  auto daemon = startTlsDaemon();
  makeSelfSignedCertificate(dir_.path(), "kc-second");
  daemon->sendSignal(SIGHUP);
  std::string subject;
  for (int i = 0; i < 100 && subject.find("kc-second") == std::string::npos; ++i) {
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
    subject = presentedSubject(daemon->port());
  }
  EXPECT_NE(subject.find("kc-second"), std::string::npos) << subject << "\n" << daemon->log();
}

// Waits until the daemon's log holds `text`.
bool logShows(Daemon& daemon, const std::string& text) {
  for (int i = 0; i < 200; ++i) {
    if (daemon.log().find(text) != std::string::npos) return true;
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
  }
  return false;
}

TEST_F(Tls, SighupWithAKeyThatDoesNotMatchKeepsTheOldCertificateServing) {
  auto daemon = startTlsDaemon();
  std::filesystem::create_directories(dir_ / "second");
  std::filesystem::create_directories(dir_ / "other");
  makeSelfSignedCertificate(dir_ / "second", "kc-second");
  makeSelfSignedCertificate(dir_ / "other", "kc-other");
  writeFile(dir_ / "cert.pem", readFile(dir_ / "second" / "cert.pem"));
  writeFile(dir_ / "key.pem", readFile(dir_ / "other" / "key.pem"));
  daemon->sendSignal(SIGHUP);
  ASSERT_TRUE(logShows(*daemon, "the previous certificate stays in use")) << daemon->log();
  EXPECT_NE(daemon->log().find("does not match tls.certificate"), std::string::npos)
      << daemon->log();
  for (int i = 0; i < 3; ++i) {
    EXPECT_EQ(httpsAlive(daemon->port(), trusted_), 200);
    EXPECT_NE(presentedSubject(daemon->port()).find("kc-first"), std::string::npos);
  }

  // The pair made whole: the next SIGHUP serves it.
  writeFile(dir_ / "key.pem", readFile(dir_ / "second" / "key.pem"));
  daemon->sendSignal(SIGHUP);
  ASSERT_TRUE(logShows(*daemon, "TLS certificate reloaded")) << daemon->log();
  EXPECT_NE(presentedSubject(daemon->port()).find("kc-second"), std::string::npos);
  const auto trustedSecond = dir_ / "trusted-second.pem";
  writeFile(trustedSecond, readFile(dir_ / "second" / "cert.pem"));
  EXPECT_EQ(httpsAlive(daemon->port(), trustedSecond), 200);
}

TEST_F(Tls, SighupWithAnUnreadableCertificateKeepsTheOldOneServing) {
  auto daemon = startTlsDaemon();
  writeFile(dir_ / "cert.pem", "-----BEGIN CERTIFICATE-----\nnot base64\n");
  daemon->sendSignal(SIGHUP);
  ASSERT_TRUE(logShows(*daemon, "the previous certificate stays in use")) << daemon->log();
  EXPECT_NE(daemon->log().find("tls.certificate: cannot load"), std::string::npos) << daemon->log();
  EXPECT_EQ(httpsAlive(daemon->port(), trusted_), 200);
  EXPECT_NE(presentedSubject(daemon->port()).find("kc-first"), std::string::npos);
}

}  // namespace
}  // namespace kc::test
