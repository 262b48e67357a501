// The identity fetch's small parsers: Cache-Control's max-age, and the proxy environment
// (https_proxy's URL, no_proxy's host list) as curl reads them.

#include <gtest/gtest.h>

#include <map>

#include "HttpFetch.h"
#include "kc/api/HttpsProxy.h"

namespace kc::api {
namespace {

using std::chrono::seconds;

TEST(CacheControlTest, MaxAgeIsRead) {
  EXPECT_EQ(maxAgeOf("max-age=3600"), seconds(3600));
  EXPECT_EQ(maxAgeOf("public, max-age=86400, must-revalidate"), seconds(86400));
  EXPECT_EQ(maxAgeOf("  Max-Age = 60 "), seconds(60));
  EXPECT_EQ(maxAgeOf(R"(max-age="120")"), seconds(120));
  EXPECT_EQ(maxAgeOf("max-age=0"), seconds(0));
}

TEST(CacheControlTest, NoStoreAndNoCacheMeanNow) {
  EXPECT_EQ(maxAgeOf("no-store"), seconds(0));
  EXPECT_EQ(maxAgeOf("NO-CACHE, max-age=600"), seconds(0));
}

TEST(CacheControlTest, RepeatedMaxAgeTakesTheSmallest) {
  EXPECT_EQ(maxAgeOf("max-age=600, max-age=60"), seconds(60));
}

TEST(CacheControlTest, NothingUsableIsNoAnswer) {
  for (const char* text : {"", "public", "max-age", "max-age=", "max-age=-5", "max-age=1h",
                           "max-age=12.5", "s-maxage=60", "xmax-age=60", ",,,"}) {
    EXPECT_FALSE(maxAgeOf(text)) << text;
  }
}

TEST(CacheControlTest, HugeMaxAgeSaturates) {
  const auto age = maxAgeOf("max-age=99999999999999999999999999");
  ASSERT_TRUE(age);
  EXPECT_GE(*age, seconds(86400L * 365));
}

HttpsProxy proxyWith(std::string noProxy) {
  return {.url = "http://proxy.internal:3128", .noProxy = std::move(noProxy)};
}

TEST(NoProxyTest, WithoutAProxyEveryHostIsDirect) {
  EXPECT_TRUE(HttpsProxy{}.bypasses("identity.example.com", 443));
}

TEST(NoProxyTest, EmptyListSendsEveryHostThroughTheProxy) {
  EXPECT_FALSE(proxyWith("").bypasses("identity.example.com", 443));
  EXPECT_FALSE(proxyWith(" , ").bypasses("identity.example.com", 443));
}

TEST(NoProxyTest, StarMatchesEveryHost) {
  EXPECT_TRUE(proxyWith("*").bypasses("identity.example.com", 443));
  EXPECT_TRUE(proxyWith("other.org, *").bypasses("10.1.2.3", 8443));
}

TEST(NoProxyTest, NamesMatchTheHostAndItsSubdomains) {
  for (const char* entry : {"example.com", ".example.com", "*.example.com", "EXAMPLE.COM"}) {
    const HttpsProxy proxy = proxyWith(entry);
    EXPECT_TRUE(proxy.bypasses("example.com", 443)) << entry;
    EXPECT_TRUE(proxy.bypasses("identity.Example.com", 443)) << entry;
    EXPECT_FALSE(proxy.bypasses("badexample.com", 443)) << entry;
    EXPECT_FALSE(proxy.bypasses("example.com.evil.org", 443)) << entry;
  }
}

TEST(NoProxyTest, ListsAreSplitOnCommasAndSpaces) {
  const HttpsProxy proxy = proxyWith("localhost,  .internal  intranet.lan");
  EXPECT_TRUE(proxy.bypasses("localhost", 443));
  EXPECT_TRUE(proxy.bypasses("sso.internal", 443));
  EXPECT_TRUE(proxy.bypasses("intranet.lan", 443));
  EXPECT_FALSE(proxy.bypasses("identity.example.com", 443));
}

TEST(NoProxyTest, PortNarrowsAnEntry) {
  const HttpsProxy proxy = proxyWith("example.com:8443, [::1]:443, 10.0.0.5:443");
  EXPECT_TRUE(proxy.bypasses("sso.example.com", 8443));
  EXPECT_FALSE(proxy.bypasses("sso.example.com", 443));
  EXPECT_TRUE(proxy.bypasses("::1", 443));
  EXPECT_FALSE(proxy.bypasses("::1", 8443));
  EXPECT_TRUE(proxy.bypasses("10.0.0.5", 443));
  EXPECT_FALSE(proxy.bypasses("10.0.0.5", 444));
}

TEST(NoProxyTest, AddressesMatchOnlyThemselves) {
  const HttpsProxy proxy = proxyWith("0.0.1, 127.0.0.1, ::1");
  EXPECT_TRUE(proxy.bypasses("127.0.0.1", 443));
  EXPECT_FALSE(proxy.bypasses("10.0.0.1", 443)) << "no suffix match on addresses";
  EXPECT_TRUE(proxy.bypasses("::1", 443));
  EXPECT_TRUE(proxy.bypasses("[::1]", 443));
  EXPECT_FALSE(proxy.bypasses("127.0.0.2", 443));
}

TEST(ProxyUrlTest, PartsAreRead) {
  auto plain = parseProxyUrl("http://proxy.internal:3128");
  ASSERT_TRUE(plain.isOk());
  EXPECT_EQ(plain->host, "proxy.internal");
  EXPECT_EQ(plain->port, 3128);
  EXPECT_TRUE(plain->username.empty());

  auto bare = parseProxyUrl("proxy.internal");
  ASSERT_TRUE(bare.isOk());
  EXPECT_EQ(bare->port, 1080) << "curl's default proxy port";

  auto withCredentials = parseProxyUrl("http://kc%40corp:s3cr%3At@10.0.0.8:8080/");
  ASSERT_TRUE(withCredentials.isOk());
  EXPECT_EQ(withCredentials->host, "10.0.0.8");
  EXPECT_EQ(withCredentials->username, "kc@corp");
  EXPECT_EQ(withCredentials->password, "s3cr:t");
}

TEST(ProxyUrlTest, UnsupportedProxiesAreRefusedWithoutEchoingCredentials) {
  for (const char* url : {"https://user:hunter2@proxy:443", "socks5://user:hunter2@proxy:1080",
                          "http://user:hunter2@:3128"}) {
    auto parsed = parseProxyUrl(url);
    ASSERT_FALSE(parsed.isOk()) << url;
    EXPECT_EQ(parsed.status().code(), StatusCode::kInvalidArgument);
    EXPECT_EQ(parsed.status().message().find("hunter2"), std::string::npos);
  }
}

TEST(ProxyEnvironmentTest, LowerCaseWinsAsInCurl) {
  std::map<std::string, std::string> env = {{"HTTPS_PROXY", "http://upper:1"},
                                            {"https_proxy", "http://lower:2"},
                                            {"NO_PROXY", "upper.example"},
                                            {"no_proxy", "lower.example"}};
  const auto lookup = [&env](const std::string& name) -> std::optional<std::string> {
    const auto it = env.find(name);
    return it == env.end() ? std::nullopt : std::optional(it->second);
  };
  HttpsProxy proxy = HttpsProxy::fromEnvironment(lookup);
  EXPECT_EQ(proxy.url, "http://lower:2");
  EXPECT_EQ(proxy.noProxy, "lower.example");
  env.erase("https_proxy");
  env.erase("no_proxy");
  proxy = HttpsProxy::fromEnvironment(lookup);
  EXPECT_EQ(proxy.url, "http://upper:1");
  EXPECT_EQ(proxy.noProxy, "upper.example");
  env.clear();
  proxy = HttpsProxy::fromEnvironment(lookup);
  EXPECT_TRUE(proxy.url.empty());
  EXPECT_TRUE(proxy.bypasses("identity.example.com", 443));
}

}  // namespace
}  // namespace kc::api
