// Tokens the daemon must refuse (401) or refuse to authorise (403), and the signing keys
// it must pick up: a JWKS file reloaded on SIGHUP, and a key rotation at an identity
// server found through OIDC discovery (a small server on loopback in this test).

#include <Poco/Net/Context.h>
#include <Poco/Net/HTTPRequestHandler.h>
#include <Poco/Net/HTTPRequestHandlerFactory.h>
#include <Poco/Net/HTTPServer.h>
#include <Poco/Net/HTTPServerRequest.h>
#include <Poco/Net/HTTPServerResponse.h>
#include <Poco/Net/SSLManager.h>
#include <Poco/Net/SecureServerSocket.h>
#include <Poco/Net/ServerSocket.h>
#include <gtest/gtest.h>
#include <openssl/hmac.h>
#include <signal.h>

#include <mutex>
#include <thread>

#include "DaemonFixture.h"
#include "kc/api/StopServer.h"
#include "support/ConnectProxy.h"

namespace kc::test {
namespace {

std::string base64Url(std::string_view bytes) {
  static constexpr char kAlphabet[] =
      "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
  std::string out;
  std::size_t i = 0;
  for (; i + 2 < bytes.size(); i += 3) {
    const unsigned v = (static_cast<unsigned char>(bytes[i]) << 16) |
                       (static_cast<unsigned char>(bytes[i + 1]) << 8) |
                       static_cast<unsigned char>(bytes[i + 2]);
    out += kAlphabet[(v >> 18) & 63];
    out += kAlphabet[(v >> 12) & 63];
    out += kAlphabet[(v >> 6) & 63];
    out += kAlphabet[v & 63];
  }
  if (i + 1 == bytes.size()) {
    const unsigned v = static_cast<unsigned char>(bytes[i]) << 16;
    out += kAlphabet[(v >> 18) & 63];
    out += kAlphabet[(v >> 12) & 63];
  } else if (i + 2 == bytes.size()) {
    const unsigned v = (static_cast<unsigned char>(bytes[i]) << 16) |
                       (static_cast<unsigned char>(bytes[i + 1]) << 8);
    out += kAlphabet[(v >> 18) & 63];
    out += kAlphabet[(v >> 12) & 63];
    out += kAlphabet[(v >> 6) & 63];
  }
  return out;
}

long long now() {
  return std::chrono::duration_cast<std::chrono::seconds>(
             std::chrono::system_clock::now().time_since_epoch())
      .count();
}

std::string validPayload(const std::string& user) {
  return R"({"iss":")" + E2eEnvironment::get().issuer() + R"(","sub":")" + user + R"(","exp":)" +
         std::to_string(now() + 600) + R"(,"amr":["Application"],"scope":["api"]})";
}

class Authentication : public ::testing::Test {
 protected:
  static void SetUpTestSuite() { daemon_ = new Daemon(); }
  static void TearDownTestSuite() {
    delete daemon_;
    daemon_ = nullptr;
  }
  static inline Daemon* daemon_ = nullptr;

  int statusWith(const std::string& token) { return daemon_->get("/user-keys", token).status; }

  std::string user_ = E2eEnvironment::newUserId();
};

TEST_F(Authentication, ValidTokenIsAccepted) {
  EXPECT_EQ(statusWith(E2eEnvironment::get().tokenFor(user_)), 404);  // authorised, no key yet
}

TEST_F(Authentication, MissingOrNonBearerAuthorizationIsUnauthorizedWithChallenge) {
  auto none = daemon_->get("/user-keys");
  EXPECT_EQ(none.status, 401);
  EXPECT_NE(none.header("WWW-Authenticate").find("Bearer"), std::string::npos);
  HttpRequest basic{.method = "GET", .path = "/user-keys"};
  basic.headers["Authorization"] = "Basic dXNlcjpwYXNz";
  EXPECT_EQ(daemon_->send(basic).status, 401);
}

TEST_F(Authentication, SchemeIsCaseInsensitive) {
  HttpRequest request{.method = "GET", .path = "/user-keys"};
  request.headers["Authorization"] = "bEaReR " + E2eEnvironment::get().tokenFor(user_);
  EXPECT_EQ(daemon_->send(request).status, 404);
}

TEST_F(Authentication, ExpiredTokenIsUnauthorized) {
  provisioning::DevTokenClaims claims;
  claims.timeToLive = std::chrono::seconds(-600);  // beyond the 5 minutes' skew
  EXPECT_EQ(statusWith(E2eEnvironment::get().tokenFor(user_, claims)), 401);
}

TEST_F(Authentication, TokenNotYetValidIsUnauthorized) {
  provisioning::DevTokenClaims claims;
  claims.notBeforeOffset = std::chrono::seconds(900);
  claims.timeToLive = std::chrono::seconds(1800);
  EXPECT_EQ(statusWith(E2eEnvironment::get().tokenFor(user_, claims)), 401);
}

TEST_F(Authentication, WrongIssuerIsUnauthorized) {
  provisioning::DevTokenClaims claims;
  claims.issuer = "https://someone-else.e2e.invalid";
  EXPECT_EQ(statusWith(E2eEnvironment::get().tokenFor(user_, claims)), 401);
}

TEST_F(Authentication, ForeignSigningKeyIsUnauthorized) {
  EXPECT_EQ(statusWith(E2eEnvironment::get().foreignTokenFor(user_)), 401);
}

TEST_F(Authentication, AlgNoneIsUnauthorized) {
  const std::string token =
      base64Url(R"({"alg":"none","typ":"JWT"})") + "." + base64Url(validPayload(user_)) + ".";
  EXPECT_EQ(statusWith(token), 401);
}

TEST_F(Authentication, Hs256KeyedWithThePublicKeyIsUnauthorized) {
  const std::string jwks = readFile(E2eEnvironment::get().identityDir() / "jwks.json");
  const std::string input =
      base64Url(R"({"alg":"HS256","typ":"JWT"})") + "." + base64Url(validPayload(user_));
  unsigned char mac[32];
  unsigned int length = 0;
  HMAC(EVP_sha256(), jwks.data(), static_cast<int>(jwks.size()),
       reinterpret_cast<const unsigned char*>(input.data()), input.size(), mac, &length);
  const std::string token =
      input + "." + base64Url(std::string_view(reinterpret_cast<const char*>(mac), length));
  EXPECT_EQ(statusWith(token), 401);
}

TEST_F(Authentication, MalformedTokensAreUnauthorized) {
  const std::string good = E2eEnvironment::get().tokenFor(user_);
  for (const std::string& token :
       {std::string("abc"), good.substr(0, good.rfind('.')), good + ".extra",
        std::string("!!!.###.$$$"), good.substr(0, good.size() - 4)}) {
    EXPECT_EQ(statusWith(token), 401) << token.substr(0, 20);
  }
}

TEST_F(Authentication, WrongAmrIsForbidden) {
  provisioning::DevTokenClaims claims;
  claims.amr = {"pwd"};
  EXPECT_EQ(statusWith(E2eEnvironment::get().tokenFor(user_, claims)), 403);
}

TEST_F(Authentication, ExternalAmrIsAccepted) {
  provisioning::DevTokenClaims claims;
  claims.amr = {"external"};
  EXPECT_EQ(statusWith(E2eEnvironment::get().tokenFor(user_, claims)), 404);
}

TEST_F(Authentication, MissingApiScopeIsForbidden) {
  provisioning::DevTokenClaims claims;
  claims.scope = {"offline_access"};
  EXPECT_EQ(statusWith(E2eEnvironment::get().tokenFor(user_, claims)), 403);
}

TEST_F(Authentication, SubjectThatIsNotAGuidIsForbidden) {
  // The dev-token tool refuses such a subject, so the token is made here.
  provisioning::DevTokenClaims claims;
  claims.userId = "not-a-guid";
  auto token = provisioning::mintDevToken(E2eEnvironment::get().identityDir(), claims);
  ASSERT_TRUE(token);
  EXPECT_EQ(statusWith(*token), 403);
}

TEST_F(Authentication, UpperCaseSubjectNamesTheSameUser) {
  std::string upper = user_;
  for (char& c : upper) c = static_cast<char>(toupper(c));
  const std::string key = randomKeyBase64(32);
  ASSERT_EQ(daemon_->sendKey("PUT", E2eEnvironment::get().tokenFor(user_), keyBody(key)).status,
            200);
  auto fetched = daemon_->get("/user-keys", E2eEnvironment::get().tokenFor(upper));
  EXPECT_EQ(fetched.status, 200);
  EXPECT_EQ(fetched.body, "{\"key\":\"" + key + "\"}");
}

TEST(SigningKeys, SighupReloadsTheJwksFile) {
  auto& environment = E2eEnvironment::get();
  TempDir dir;
  const auto jwks = dir / "jwks.json";
  writeFile(jwks, readFile(environment.identityDir() / "jwks.json"));
  Daemon daemon({.config = {{"identity.jwks_file", jwks.string()}}});
  const std::string user = E2eEnvironment::newUserId();
  const std::string rotated = environment.foreignTokenFor(user);
  ASSERT_EQ(daemon.get("/user-keys", rotated).status, 401);

  // The identity rotates to the other key; after SIGHUP the daemon trusts it.
  writeFile(jwks, readFile(environment.foreignIdentityDir() / "jwks.json"));
  daemon.sendSignal(SIGHUP);
  int status = 0;
  for (int i = 0; i < 100 && status != 404; ++i) {
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
    status = daemon.get("/user-keys", rotated).status;
  }
  EXPECT_EQ(status, 404) << daemon.log();
  EXPECT_EQ(daemon.get("/user-keys", environment.tokenFor(user)).status, 401)
      << "the old key is no longer in the file";
}

// Serves OIDC discovery and a JWKS that the test can swap.
class IdentityServer {
 public:
  IdentityServer() : socket_(Poco::Net::SocketAddress("127.0.0.1", 0)) { start(); }
  // Over HTTPS with the certificate and key in `certificateDir` (cert.pem, key.pem).
  explicit IdentityServer(const std::filesystem::path& certificateDir)
      : socket_(Poco::Net::SecureServerSocket(
            Poco::Net::SocketAddress("127.0.0.1", 0), 64,
            new Poco::Net::Context(
                Poco::Net::Context::TLS_SERVER_USE, (certificateDir / "key.pem").string(),
                (certificateDir / "cert.pem").string(), "", Poco::Net::Context::VERIFY_NONE))),
        scheme_("https") {
    start();
  }
  ~IdentityServer() { kc::api::stopServer(*server_); }
  std::string uri() const {
    return scheme_ + "://127.0.0.1:" + std::to_string(socket_.address().port());
  }
  void setJwks(std::string jwks) {
    std::lock_guard lock(mutex_);
    jwks_ = std::move(jwks);
  }
  int jwksFetches() const {
    std::lock_guard lock(mutex_);
    return fetches_;
  }
  // What discovery names as jwks_uri; empty: <uri>/jwks.
  void setJwksUri(std::string jwksUri) {
    std::lock_guard lock(mutex_);
    jwksUri_ = std::move(jwksUri);
  }

 private:
  class Handler : public Poco::Net::HTTPRequestHandler {
   public:
    explicit Handler(IdentityServer& server) : server_(server) {}
    void handleRequest(Poco::Net::HTTPServerRequest& request,
                       Poco::Net::HTTPServerResponse& response) override {
      std::string body;
      if (request.getURI() == "/.well-known/openid-configuration") {
        std::lock_guard lock(server_.mutex_);
        const std::string jwksUri =
            server_.jwksUri_.empty() ? server_.uri() + "/jwks" : server_.jwksUri_;
        body = R"({"issuer":")" + E2eEnvironment::get().issuer() + R"(","jwks_uri":")" + jwksUri +
               R"("})";
      } else if (request.getURI() == "/jwks") {
        std::lock_guard lock(server_.mutex_);
        ++server_.fetches_;
        body = server_.jwks_;
      } else {
        response.setStatus(Poco::Net::HTTPResponse::HTTP_NOT_FOUND);
      }
      response.setContentType("application/json");
      response.sendBuffer(body.data(), body.size());
    }

   private:
    IdentityServer& server_;
  };
  class Factory : public Poco::Net::HTTPRequestHandlerFactory {
   public:
    explicit Factory(IdentityServer& server) : server_(server) {}
    Poco::Net::HTTPRequestHandler* createRequestHandler(
        const Poco::Net::HTTPServerRequest&) override {
      return new Handler(server_);
    }

   private:
    IdentityServer& server_;
  };

  void start() {
    server_ = std::make_unique<Poco::Net::HTTPServer>(new Factory(*this), socket_,
                                                      new Poco::Net::HTTPServerParams);
    server_->start();
  }

  Poco::Net::ServerSocket socket_;
  std::string scheme_ = "http";
  std::unique_ptr<Poco::Net::HTTPServer> server_;
  mutable std::mutex mutex_;
  std::string jwks_;
  std::string jwksUri_;
  int fetches_ = 0;
};

// A certificate for 127.0.0.1 for an HTTPS identity server, which the daemon is told to
// trust (identity.ca_file).
class IdentityCertificate {
 public:
  IdentityCertificate() {
    Poco::Net::initializeSSL();
    makeSelfSignedCertificate(dir_.path(), "identity");
  }
  ~IdentityCertificate() { Poco::Net::uninitializeSSL(); }
  const std::filesystem::path& dir() const { return dir_.path(); }
  std::string caFile() const { return (dir_ / "cert.pem").string(); }

 private:
  TempDir dir_;
};

// The settings for a daemon that finds its keys at `identity`, over HTTPS trusted through
// `certificate`.
std::map<std::string, std::string> identityConfig(const IdentityServer& identity,
                                                  const IdentityCertificate& certificate) {
  return {{"identity.jwks_file", ""},
          {"identity.issuer", ""},
          {"identity.server_uri", identity.uri()},
          {"identity.ca_file", certificate.caFile()}};
}

// The identity fetch goes to loopback directly, whatever proxy the test's environment names.
const std::map<std::string, std::string> kNoProxy = {{"no_proxy", "127.0.0.1"},
                                                     {"NO_PROXY", "127.0.0.1"}};

TEST(SigningKeys, KeyRotationAtTheIdentityServerIsPickedUpOnAnUnknownKid) {
  auto& environment = E2eEnvironment::get();
  IdentityCertificate certificate;
  IdentityServer identity(certificate.dir());
  identity.setJwks(readFile(environment.identityDir() / "jwks.json"));
  auto config = identityConfig(identity, certificate);
  config["identity.jwks_refresh_min_interval_s"] = "1";
  Daemon daemon({.config = config, .env = kNoProxy});
  const std::string user = E2eEnvironment::newUserId();
  ASSERT_EQ(daemon.get("/user-keys", environment.tokenFor(user)).status, 404) << daemon.log();

  // The identity server rotates its signing key: a token with the new kid makes the
  // daemon fetch the set again.
  identity.setJwks(readFile(environment.foreignIdentityDir() / "jwks.json"));
  const std::string rotated = environment.foreignTokenFor(user);
  int status = 0;
  for (int i = 0; i < 60 && status != 404; ++i) {
    status = daemon.get("/user-keys", rotated).status;
    if (status != 404) std::this_thread::sleep_for(std::chrono::milliseconds(100));
  }
  EXPECT_EQ(status, 404) << daemon.log();
  EXPECT_GE(identity.jwksFetches(), 2);
}

TEST(SigningKeys, LastGoodKeysAreKeptWhileTheIdentityServerIsDown) {
  auto& environment = E2eEnvironment::get();
  IdentityCertificate certificate;
  auto identity = std::make_unique<IdentityServer>(certificate.dir());
  identity->setJwks(readFile(environment.identityDir() / "jwks.json"));
  auto config = identityConfig(*identity, certificate);
  config["identity.jwks_refresh_min_interval_s"] = "1";
  Daemon daemon({.config = config, .env = kNoProxy});
  const std::string user = E2eEnvironment::newUserId();
  ASSERT_EQ(daemon.get("/user-keys", environment.tokenFor(user)).status, 404);
  identity.reset();  // the identity server goes away
  // An unknown kid makes the daemon try (and fail) to refresh; known keys still work.
  EXPECT_EQ(daemon.get("/user-keys", environment.foreignTokenFor(user)).status, 401);
  EXPECT_EQ(daemon.get("/user-keys", environment.tokenFor(user)).status, 404);
}

TEST(SigningKeys, IdentityServerOverHttpsIsTrustedThroughTheConfiguredCaFile) {
  auto& environment = E2eEnvironment::get();
  IdentityCertificate certificate;
  IdentityServer identity(certificate.dir());
  identity.setJwks(readFile(environment.identityDir() / "jwks.json"));
  const std::string user = E2eEnvironment::newUserId();
  auto config = identityConfig(identity, certificate);
  config.erase("identity.ca_file");
  {
    Daemon untrusting({.config = config, .env = kNoProxy});
    EXPECT_EQ(untrusting.get("/user-keys", environment.tokenFor(user)).status, 401)
        << "an identity server with an unknown certificate must not be trusted";
  }
  Daemon trusting({.config = identityConfig(identity, certificate), .env = kNoProxy});
  EXPECT_EQ(trusting.get("/user-keys", environment.tokenFor(user)).status, 404) << trusting.log();
}

TEST(SigningKeys, PlainHttpIdentityServerStopsStartUpNamingTheSetting) {
  IdentityServer identity;  // http://127.0.0.1
  auto [code, log] = failedStart({.config = {{"identity.jwks_file", ""},
                                             {"identity.issuer", ""},
                                             {"identity.server_uri", identity.uri()}},
                                  .env = kNoProxy});
  EXPECT_EQ(code, 78);
  EXPECT_NE(log.find("identity.server_uri"), std::string::npos) << log;
  EXPECT_NE(log.find("identity.allow_insecure_http"), std::string::npos) << log;
  EXPECT_EQ(identity.jwksFetches(), 0);
}

// A private network may allow plain HTTP, and is reminded of it at every start and by --check.
TEST(SigningKeys, AllowedPlainHttpIsWarnedAboutAtEveryStart) {
  auto& environment = E2eEnvironment::get();
  IdentityServer identity;
  identity.setJwks(readFile(environment.identityDir() / "jwks.json"));
  const std::map<std::string, std::string> config = {{"identity.jwks_file", ""},
                                                     {"identity.issuer", ""},
                                                     {"identity.server_uri", identity.uri()},
                                                     {"identity.allow_insecure_http", "true"}};
  const std::string warning = "identity.allow_insecure_http is set";
  {
    Daemon checked({.config = config, .env = kNoProxy, .startNow = false});
    ProcessOptions options;
    options.env = environment.token().childEnvironment();
    for (const auto& [name, value] : kNoProxy) options.env[name] = value;
    const auto check =
        runProcess({KC_DAEMON_PATH, "--config", checked.configPath().string(), "--check"}, options);
    EXPECT_EQ(check.exitCode, 0) << check.err;
    EXPECT_NE((check.out + check.err).find(warning), std::string::npos) << check.err;
  }
  Daemon daemon({.config = config, .env = kNoProxy});
  EXPECT_EQ(daemon.get("/user-keys", environment.tokenFor(E2eEnvironment::newUserId())).status, 404)
      << daemon.log();
  EXPECT_NE(daemon.log().find(warning), std::string::npos) << daemon.log();
}

// Whoever can change the discovery document must not thereby move the keys to another host.
TEST(SigningKeys, DiscoveryNamingKeysOnAnotherHostStopsStartUpUnlessConfigured) {
  auto& environment = E2eEnvironment::get();
  IdentityCertificate certificate;
  IdentityServer identity(certificate.dir());
  identity.setJwks(readFile(environment.identityDir() / "jwks.json"));
  const std::string port = identity.uri().substr(identity.uri().rfind(':') + 1);
  identity.setJwksUri("https://localhost:" + port + "/jwks");
  auto [code, log] =
      failedStart({.config = identityConfig(identity, certificate), .env = kNoProxy});
  EXPECT_EQ(code, 78);
  EXPECT_NE(log.find("identity.server_uri"), std::string::npos) << log;
  EXPECT_NE(log.find("identity.jwks_uri"), std::string::npos) << log;
  EXPECT_EQ(identity.jwksFetches(), 0);

  auto config = identityConfig(identity, certificate);
  config["identity.jwks_uri"] = identity.uri() + "/jwks";  // the operator names the keys' URL
  Daemon daemon({.config = config, .env = kNoProxy});
  EXPECT_EQ(daemon.get("/user-keys", environment.tokenFor(E2eEnvironment::newUserId())).status, 404)
      << daemon.log();
}

// The identity fetch honours HTTPS_PROXY (a CONNECT tunnel, TLS end to end) and NO_PROXY.
TEST(SigningKeys, IdentityServerIsReachedThroughTheHttpsProxyUnlessNoProxyNamesIt) {
  auto& environment = E2eEnvironment::get();
  IdentityCertificate certificate;
  IdentityServer identity(certificate.dir());
  identity.setJwks(readFile(environment.identityDir() / "jwks.json"));
  const std::string target = identity.uri().substr(identity.uri().rfind('/') + 1);
  const std::string user = E2eEnvironment::newUserId();
  {
    ConnectProxy proxy;
    // Both spellings, so that no proxy setting of the test's own environment interferes.
    Daemon daemon({.config = identityConfig(identity, certificate),
                   .env = {{"HTTPS_PROXY", proxy.url()},
                           {"https_proxy", proxy.url()},
                           {"NO_PROXY", ""},
                           {"no_proxy", ""}}});
    EXPECT_EQ(daemon.get("/user-keys", environment.tokenFor(user)).status, 404) << daemon.log();
    EXPECT_EQ(proxy.targets(), (std::vector<std::string>{target, target})) << daemon.log();
    EXPECT_NE(daemon.log().find("through the proxy 127.0.0.1:" + std::to_string(proxy.port())),
              std::string::npos)
        << daemon.log();
  }
  ConnectProxy proxy;
  Daemon daemon({.config = identityConfig(identity, certificate),
                 .env = {{"HTTPS_PROXY", proxy.url()},
                         {"https_proxy", proxy.url()},
                         {"NO_PROXY", "localhost, 127.0.0.1"},
                         {"no_proxy", "localhost, 127.0.0.1"}}});
  EXPECT_EQ(daemon.get("/user-keys", environment.tokenFor(user)).status, 404) << daemon.log();
  EXPECT_TRUE(proxy.targets().empty());
}

}  // namespace
}  // namespace kc::test
