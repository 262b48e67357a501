// JwksCache behind the API: OIDC discovery, kid rotation, the refresh rate limit, the last
// good key set kept while the identity server is down, and the air-gapped JWKS file.

#include <gtest/gtest.h>

#include <thread>

#include "ApiTestSupport.h"
#include "support/TempDir.h"

namespace kc::test {
namespace {

constexpr int kAccepted = 404;

int statusFor(const ApiServer& api, const Signer& signer) {
  return api.userKeys("GET", makeToken(signer, api.defaultClaims())).status;
}

TEST(JwksCacheTest, DiscoveryNamesTheIssuerAndTheKeys) {
  ApiServer api;
  EXPECT_EQ(api.jwks().discoveredIssuer(), "");
  EXPECT_EQ(statusFor(api, signerA()), kAccepted);
  EXPECT_EQ(api.jwks().discoveredIssuer(), api.identity().issuer());
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
  EXPECT_EQ(statusFor(api, signerB()), kAccepted);
  EXPECT_EQ(api.identity().jwksFetches(), 2);
}

TEST(JwksCacheTest, UnknownKidIsRefusedAfterExactlyOneRefresh) {
  ApiServer api({.refreshInterval = std::chrono::seconds(0)});
  EXPECT_EQ(statusFor(api, signerA()), kAccepted);
  const int before = api.identity().jwksFetches();
  EXPECT_EQ(statusFor(api, signerB()), 401);
  EXPECT_EQ(api.identity().jwksFetches(), before + 1);
}

TEST(JwksCacheTest, UnknownKidRefreshesAtMostOncePerInterval) {
  ApiServer api({.refreshInterval = std::chrono::hours(1)});
  EXPECT_EQ(statusFor(api, signerA()), kAccepted);
  api.identity().setJwks(jwksOf({signerA().jwk(), signerB().jwk()}));
  for (int i = 0; i < 3; ++i) EXPECT_EQ(statusFor(api, signerB()), 401);
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
  EXPECT_FALSE(api.jwks().reload().isOk());
  EXPECT_EQ(statusFor(api, signerA()), kAccepted);
  const std::string metrics = api.metrics().render();
  EXPECT_NE(metrics.find(R"(kc_jwks_refreshes_total{outcome="success"} 1)"), std::string::npos);
  EXPECT_NE(metrics.find(R"(kc_jwks_refreshes_total{outcome="failure"} 2)"), std::string::npos)
      << metrics;
}

TEST(JwksCacheTest, NoKeySetEverLoadedIsUnauthorized) {
  int deadPort = 0;
  {
    IdentityServer gone;
    deadPort = std::stoi(gone.uri().substr(gone.uri().rfind(':') + 1));
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
}

TEST(JwksCacheTest, MissingJwksFileIsUnauthorizedNotACrash) {
  ApiServer api({.jwksFile = "/nonexistent/jwks.json", .issuer = "https://offline.example.test"});
  EXPECT_EQ(statusFor(api, signerA()), 401);
}

TEST(JwksCacheTest, ConcurrentFirstRequestsShareOneFetch) {
  ApiServer api({.refreshInterval = std::chrono::hours(1)});
  const std::string token = makeToken(signerA(), api.defaultClaims());
  std::vector<std::thread> threads;
  std::atomic<int> accepted{0};
  for (int i = 0; i < 8; ++i) {
    threads.emplace_back([&] {
      if (api.userKeys("GET", token).status == kAccepted) ++accepted;
    });
  }
  for (auto& thread : threads) thread.join();
  EXPECT_EQ(accepted.load(), 8);
  EXPECT_EQ(api.identity().jwksFetches(), 1);
}

}  // namespace
}  // namespace kc::test
