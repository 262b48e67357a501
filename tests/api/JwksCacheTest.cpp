// JwksCache behind the API: OIDC discovery, kid rotation, the refresh rate limit, the last
// good key set kept while the identity server is down, the air-gapped JWKS file; lookups that
// never wait for the network, the periodic refresh after Cache-Control's max-age, the
// transport rules (https, jwks_uri on the discovery URL's origin) and the HTTPS proxy.

#include <gtest/gtest.h>

#include <cstdlib>
#include <functional>
#include <thread>

#include "ApiTestSupport.h"
#include "support/TempDir.h"

namespace kc::test {
namespace {

using namespace std::chrono_literals;

constexpr int kAccepted = 404;

int statusFor(const ApiServer& api, const Signer& signer) {
  return api.userKeys("GET", makeToken(signer, api.defaultClaims())).status;
}

// Polls `condition` until it holds or `timeout` passes; whether it held.
bool eventually(const std::function<bool()>& condition, std::chrono::milliseconds timeout = 10s) {
  const auto deadline = std::chrono::steady_clock::now() + timeout;
  while (!condition()) {
    if (std::chrono::steady_clock::now() > deadline) return false;
    std::this_thread::sleep_for(20ms);
  }
  return true;
}

std::chrono::seconds untilNextRefresh(api::JwksCache& jwks) {
  const auto left = jwks.timeToNextRefresh();
  return left ? std::chrono::ceil<std::chrono::seconds>(*left) : std::chrono::seconds(-1);
}

TEST(JwksCacheTest, DiscoveryNamesTheIssuerAndTheKeys) {
  ApiServer api({.loadAtStart = false});
  EXPECT_EQ(api.jwks().discoveredIssuer(), "");
  EXPECT_TRUE(api.jwks().reload().isOk());
  EXPECT_EQ(api.jwks().discoveredIssuer(), api.identity().issuer());
  EXPECT_EQ(statusFor(api, signerA()), kAccepted);
  EXPECT_EQ(api.identity().jwksFetches(), 1);
}

TEST(JwksCacheTest, FirstLookupLoadsTheKeysInTheBackground) {
  ApiServer api({.loadAtStart = false});
  EXPECT_EQ(statusFor(api, signerA()), 401);  // answered at once, the fetch started
  EXPECT_TRUE(eventually([&] { return statusFor(api, signerA()) == kAccepted; }));
  EXPECT_EQ(api.identity().jwksFetches(), 1);
}

TEST(JwksCacheTest, KnownKidsAreServedFromTheCache) {
  ApiServer api({.refreshInterval = std::chrono::seconds(0)});
  for (int i = 0; i < 5; ++i) EXPECT_EQ(statusFor(api, signerA()), kAccepted);
  EXPECT_EQ(api.identity().jwksFetches(), 1);
}

TEST(JwksCacheTest, RotatedKeyIsPickedUpOnUnknownKid) {
  ApiServer api({.refreshInterval = std::chrono::seconds(0)});
  EXPECT_EQ(statusFor(api, signerA()), kAccepted);
  api.identity().setJwks(jwksOf({signerA().jwk(), signerB().jwk()}));
  EXPECT_TRUE(eventually([&] { return statusFor(api, signerB()) == kAccepted; }));
  EXPECT_EQ(api.identity().jwksFetches(), 2);
}

TEST(JwksCacheTest, UnknownKidStartsExactlyOneRefresh) {
  ApiServer api({.refreshInterval = std::chrono::seconds(0)});
  EXPECT_EQ(statusFor(api, signerA()), kAccepted);
  const int before = api.identity().jwksFetches();
  EXPECT_EQ(statusFor(api, signerB()), 401);
  EXPECT_TRUE(eventually([&] { return api.jwks().refreshAttempts() == 2; }));
  std::this_thread::sleep_for(200ms);
  EXPECT_EQ(api.identity().jwksFetches(), before + 1);
}

TEST(JwksCacheTest, UnknownKidRefreshesAtMostOncePerInterval) {
  ApiServer api({.refreshInterval = std::chrono::hours(1)});
  EXPECT_EQ(statusFor(api, signerA()), kAccepted);
  api.identity().setJwks(jwksOf({signerA().jwk(), signerB().jwk()}));
  for (int i = 0; i < 3; ++i) EXPECT_EQ(statusFor(api, signerB()), 401);
  std::this_thread::sleep_for(200ms);
  EXPECT_EQ(api.identity().jwksFetches(), 1);
  EXPECT_EQ(api.jwks().refreshAttempts(), 1u);
}

TEST(JwksCacheTest, ReloadIgnoresTheRateLimit) {
  ApiServer api({.refreshInterval = std::chrono::hours(1)});
  EXPECT_EQ(statusFor(api, signerA()), kAccepted);
  api.identity().setJwks(jwksOf({signerB().jwk()}));
  EXPECT_TRUE(api.jwks().reload().isOk());
  EXPECT_EQ(statusFor(api, signerB()), kAccepted);
  EXPECT_EQ(statusFor(api, signerA()), 401);  // the rotated-out key no longer verifies
}

TEST(JwksCacheTest, IdentityServerDownKeepsTheLastGoodKeys) {
  ApiServer api({.refreshInterval = std::chrono::seconds(0)});
  EXPECT_EQ(statusFor(api, signerA()), kAccepted);
  api.identity().stop();
  EXPECT_EQ(statusFor(api, signerA()), kAccepted);
  EXPECT_EQ(statusFor(api, signerB()), 401);  // a refresh is tried, fails, keeps the set
  EXPECT_TRUE(eventually([&] { return api.jwks().refreshAttempts() == 2; }));
  EXPECT_FALSE(api.jwks().reload().isOk());
  EXPECT_EQ(statusFor(api, signerA()), kAccepted);
  const std::string metrics = api.metrics().render();
  EXPECT_NE(metrics.find(R"(kc_jwks_refreshes_total{outcome="success"} 1)"), std::string::npos);
  EXPECT_NE(metrics.find(R"(kc_jwks_refreshes_total{outcome="failure"} 2)"), std::string::npos)
      << metrics;
}

TEST(JwksCacheTest, FailedRefreshIsRetriedWithBackoff) {
  ApiServer api({.refreshInterval = std::chrono::hours(1)});
  EXPECT_EQ(untilNextRefresh(api.jwks()), 12h) << "no Cache-Control: the default period";
  api.identity().stop();
  EXPECT_FALSE(api.jwks().reload().isOk());
  EXPECT_EQ(untilNextRefresh(api.jwks()), 30s);
  EXPECT_FALSE(api.jwks().reload().isOk());
  EXPECT_EQ(untilNextRefresh(api.jwks()), 60s);
  EXPECT_EQ(statusFor(api, signerA()), kAccepted) << "the last good keys are kept";
}

TEST(JwksCacheTest, RefreshPeriodFollowsCacheControlWithinBounds) {
  const struct {
    const char* cacheControl;
    std::chrono::seconds period;
  } cases[] = {
      {"", 12h},
      {"public, max-age=3600", 1h},
      {"max-age=60", 5min},       // at least 5 minutes
      {"max-age=31536000", 24h},  // at most a day
      {"no-store", 5min},
      {"max-age=soon", 12h},  // not a number: as if absent
  };
  ApiServer api({.refreshInterval = std::chrono::hours(1)});
  for (const auto& c : cases) {
    api.identity().setCacheControl(c.cacheControl);
    ASSERT_TRUE(api.jwks().reload().isOk());
    EXPECT_EQ(untilNextRefresh(api.jwks()), c.period) << c.cacheControl;
  }
}

// The identity server withdraws a key: once its max-age runs out, the timer's refresh drops
// it, with no unknown kid to prompt it.
TEST(JwksCacheTest, WithdrawnKeyStopsBeingTrustedAfterThePeriodicRefresh) {
  ApiServer api({.refreshInterval = std::chrono::hours(1),
                 .adjustJwks = [](api::JwksSettings& jwks) { jwks.minRefreshPeriod = 1s; }});
  api.identity().setCacheControl("max-age=1");
  ASSERT_TRUE(api.jwks().reload().isOk());
  EXPECT_EQ(statusFor(api, signerA()), kAccepted);
  api.identity().setJwks(jwksOf({signerB().jwk()}));
  EXPECT_TRUE(eventually([&] { return statusFor(api, signerA()) == 401; }, 5s));
  EXPECT_EQ(statusFor(api, signerB()), kAccepted);
  EXPECT_GE(api.identity().jwksFetches(), 2);
}

// An attacker's random kids cost nothing while the identity server is slow: one refresh runs
// in the background and every request is answered at once, never parked behind it.
TEST(JwksCacheTest, UnknownKidsAreRefusedAtOnceWhileOneRefreshRuns) {
  ApiServer api({.refreshInterval = std::chrono::seconds(0)});
  ASSERT_EQ(statusFor(api, signerA()), kAccepted);
  const int before = api.identity().jwksFetches();
  api.identity().setJwksDelay(std::chrono::seconds(4));
  std::atomic<long long> slowestMs{0};
  std::atomic<int> refused{0};
  std::vector<std::thread> threads;
  for (int t = 0; t < 4; ++t) {
    threads.emplace_back([&, t] {
      for (int i = 0; i < 3; ++i) {
        const std::string kid = "random-" + std::to_string(t) + "-" + std::to_string(i);
        const auto start = std::chrono::steady_clock::now();
        const int status =
            api.userKeys("GET", makeToken(signerA(), api.defaultClaims(), "RS256", kid)).status;
        const auto ms = std::chrono::duration_cast<std::chrono::milliseconds>(
                            std::chrono::steady_clock::now() - start)
                            .count();
        if (status == 401) ++refused;
        long long seen = slowestMs.load();
        while (ms > seen && !slowestMs.compare_exchange_weak(seen, ms)) {
        }
      }
    });
  }
  for (auto& thread : threads) thread.join();
  EXPECT_EQ(refused.load(), 12);
  EXPECT_LT(slowestMs.load(), 1500) << "a request waited for the identity server";
  EXPECT_EQ(api.identity().jwksFetches(), before + 1) << "one refresh at a time";
  EXPECT_EQ(statusFor(api, signerA()), kAccepted) << "known keys are served meanwhile";
}

TEST(JwksCacheTest, NoKeySetEverLoadedIsUnauthorized) {
  int deadPort = 0;
  {
    IdentityServer gone;
    deadPort = gone.port();
  }
  ApiServer api({.identityUri = "http://127.0.0.1:" + std::to_string(deadPort) + "/identity"});
  EXPECT_EQ(statusFor(api, signerA()), 401);
}

TEST(JwksCacheTest, BadJwksDocumentKeepsTheLastGoodKeys) {
  ApiServer api({.refreshInterval = std::chrono::seconds(0)});
  EXPECT_EQ(statusFor(api, signerA()), kAccepted);
  api.identity().setJwks(R"({"keys":"nope"})");
  EXPECT_EQ(api.jwks().reload().code(), StatusCode::kInvalidArgument);
  EXPECT_EQ(statusFor(api, signerA()), kAccepted);
}

TEST(JwksCacheTest, ExplicitIssuerWinsOverDiscovery) {
  ApiServer api({.issuer = "https://issuer.example.test"});
  EXPECT_EQ(statusFor(api, signerA()), 401);  // the token names the discovered issuer
  auto claims = api.defaultClaims();
  claims.issuer = "https://issuer.example.test";
  EXPECT_EQ(api.userKeys("GET", makeToken(signerA(), claims)).status, kAccepted);
}

TEST(JwksCacheTest, JwksFileServesAirGappedSitesAndReloadsOnDemand) {
  TempDir dir("kc-api-jwks");
  const auto file = dir / "jwks.json";
  writeFile(file, jwksOf({signerA().jwk()}));
  ApiServer api({.jwksFile = file.string(), .issuer = "https://offline.example.test"});
  auto claims = api.defaultClaims();
  claims.issuer = "https://offline.example.test";
  EXPECT_EQ(api.userKeys("GET", makeToken(signerA(), claims)).status, kAccepted);
  EXPECT_EQ(api.userKeys("GET", makeToken(signerB(), claims)).status, 401);
  writeFile(file, jwksOf({signerB().jwk()}));
  EXPECT_TRUE(api.jwks().reload().isOk());  // what SIGHUP does
  EXPECT_EQ(api.userKeys("GET", makeToken(signerB(), claims)).status, kAccepted);
  EXPECT_EQ(api.identity().jwksFetches(), 0);
  EXPECT_FALSE(api.jwks().timeToNextRefresh()) << "a file is read again on SIGHUP only";
}

TEST(JwksCacheTest, MissingJwksFileIsUnauthorizedNotACrash) {
  ApiServer api({.jwksFile = "/nonexistent/jwks.json", .issuer = "https://offline.example.test"});
  EXPECT_EQ(statusFor(api, signerA()), 401);
}

TEST(JwksCacheTest, ConcurrentFirstRequestsStartOneFetch) {
  ApiServer api({.refreshInterval = std::chrono::hours(1), .loadAtStart = false});
  const std::string token = makeToken(signerA(), api.defaultClaims());
  std::vector<std::thread> threads;
  std::atomic<int> answered{0};
  for (int i = 0; i < 8; ++i) {
    threads.emplace_back([&] {
      const int status = api.userKeys("GET", token).status;
      if (status == kAccepted || status == 401) ++answered;
    });
  }
  for (auto& thread : threads) thread.join();
  EXPECT_EQ(answered.load(), 8);
  EXPECT_TRUE(eventually([&] { return statusFor(api, signerA()) == kAccepted; }));
  EXPECT_EQ(api.identity().jwksFetches(), 1);
}

// --- transport: https, the jwks_uri's origin, the proxy ---

TEST(JwksCacheTest, PlainHttpIdentityServerIsRefusedUnlessAllowed) {
  ApiServer api({.allowInsecureHttp = false});
  EXPECT_EQ(api.jwks().reload().code(), StatusCode::kPolicyViolation);
  EXPECT_EQ(statusFor(api, signerA()), 401);
  EXPECT_EQ(api.identity().jwksFetches(), 0) << "nothing is fetched over plain HTTP";
}

TEST(JwksCacheTest, HttpsIdentityServerIsTrustedThroughItsCaFile) {
  ApiServer api(
      {.identityTransport = IdentityServer::Transport::kHttps, .allowInsecureHttp = false});
  EXPECT_EQ(statusFor(api, signerA()), kAccepted);
  ApiServer untrusting({.identityTransport = IdentityServer::Transport::kHttps,
                        .allowInsecureHttp = false,
                        .adjustJwks = [](api::JwksSettings& jwks) { jwks.caFile.clear(); }});
  EXPECT_EQ(untrusting.jwks().reload().code(), StatusCode::kUnavailable);
}

TEST(JwksCacheTest, DiscoveryMayNotMoveTheKeysToAnotherOrigin) {
  ApiServer api({.loadAtStart = false});
  const std::string path = "/identity/.well-known/openid-configuration/jwks";
  const std::string port = std::to_string(api.identity().port());
  IdentityServer other;
  for (const std::string& elsewhere :
       {"http://localhost:" + port + path,                          // another host name
        "http://127.0.0.1:" + std::to_string(other.port()) + path,  // another port
        "https://127.0.0.1:" + port + path}) {                      // another scheme
    api.identity().setJwksUri(elsewhere);
    EXPECT_EQ(api.jwks().reload().code(), StatusCode::kPolicyViolation) << elsewhere;
  }
  EXPECT_EQ(api.identity().jwksFetches() + other.jwksFetches(), 0);
  api.identity().setJwksUri("http://127.0.0.1:" + port + path);  // the discovery URL's origin
  const Status loaded = api.jwks().reload();
  EXPECT_TRUE(loaded.isOk()) << loaded.toString();
}

TEST(JwksCacheTest, ExplicitJwksUriIsTrustedOnAnotherOrigin) {
  IdentityServer keys;  // another server holds the keys
  keys.setJwks(jwksOf({signerB().jwk()}));
  const std::string jwksUri = keys.uri() + "/.well-known/openid-configuration/jwks";
  ApiServer api({.adjustJwks = [&](api::JwksSettings& jwks) { jwks.jwksUri = jwksUri; }});
  api.identity().setJwksUri("http://elsewhere.invalid/jwks");  // ignored
  ASSERT_TRUE(api.jwks().reload().isOk());
  EXPECT_EQ(statusFor(api, signerB()), kAccepted);
  EXPECT_EQ(keys.jwksFetches(), 2);
  EXPECT_EQ(api.identity().jwksFetches(), 0);
}

TEST(JwksCacheTest, HttpsFetchGoesThroughTheProxy) {
  ConnectProxy proxy;
  ApiServer api({.identityTransport = IdentityServer::Transport::kHttps,
                 .allowInsecureHttp = false,
                 .adjustJwks = [&](api::JwksSettings& jwks) { jwks.proxy.url = proxy.url(); }});
  EXPECT_EQ(statusFor(api, signerA()), kAccepted);
  const std::string target = "127.0.0.1:" + std::to_string(api.identity().port());
  EXPECT_EQ(proxy.targets(), (std::vector<std::string>{target, target}))
      << "discovery and JWKS each through a CONNECT tunnel";
}

TEST(JwksCacheTest, NoProxyHostsAreFetchedDirectly) {
  for (const char* noProxy : {"127.0.0.1", "*", "example.com, 127.0.0.1"}) {
    ConnectProxy proxy;
    ApiServer api({.identityTransport = IdentityServer::Transport::kHttps,
                   .allowInsecureHttp = false,
                   .adjustJwks = [&](api::JwksSettings& jwks) {
                     jwks.proxy = {.url = proxy.url(), .noProxy = noProxy};
                   }});
    EXPECT_EQ(statusFor(api, signerA()), kAccepted) << noProxy;
    EXPECT_TRUE(proxy.targets().empty()) << noProxy;
  }
}

TEST(JwksCacheTest, ProxyIsTakenFromTheEnvironment) {
  ConnectProxy proxy;
  ::setenv("HTTPS_PROXY", proxy.url().c_str(), 1);
  ::setenv("NO_PROXY", "localhost", 1);
  const api::HttpsProxy fromEnvironment = api::HttpsProxy::fromEnvironment();
  ::unsetenv("HTTPS_PROXY");
  ::unsetenv("NO_PROXY");
  ApiServer api({.identityTransport = IdentityServer::Transport::kHttps,
                 .allowInsecureHttp = false,
                 .adjustJwks = [&](api::JwksSettings& jwks) { jwks.proxy = fromEnvironment; }});
  EXPECT_EQ(statusFor(api, signerA()), kAccepted);
  EXPECT_EQ(proxy.targets().size(), 2u);
}

TEST(JwksCacheTest, ProxyDownIsUnavailableNotBypassed) {
  int deadPort = 0;
  {
    ConnectProxy gone;
    deadPort = gone.port();
  }
  ApiServer api({.identityTransport = IdentityServer::Transport::kHttps,
                 .allowInsecureHttp = false,
                 .adjustJwks = [&](api::JwksSettings& jwks) {
                   jwks.proxy.url = "http://127.0.0.1:" + std::to_string(deadPort);
                 }});
  EXPECT_EQ(api.jwks().reload().code(), StatusCode::kUnavailable);
  EXPECT_EQ(api.identity().jwksFetches(), 0);
}

}  // namespace
}  // namespace kc::test
