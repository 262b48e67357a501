// server.trusted_proxies: the CIDR list and the walk through X-Forwarded-For that picks the
// client address (kc/api/TrustedProxies.h).

#include <gtest/gtest.h>

#include <string>
#include <vector>

#include "kc/api/TrustedProxies.h"

namespace kc::api {
namespace {

TrustedProxies proxies(const std::string& list) {
  auto parsed = TrustedProxies::parse(list);
  EXPECT_TRUE(parsed.isOk()) << list << ": " << parsed.status().message();
  return parsed.isOk() ? std::move(*parsed) : TrustedProxies();
}

TEST(TrustedProxies, ParsesIpv4AndIpv6BlocksAndBareAddresses) {
  const auto list = proxies(" 10.0.0.0/8,192.168.1.7 , 2001:db8::/32, ::1, 0.0.0.0/0");
  EXPECT_EQ(list.describe(), "10.0.0.0/8,192.168.1.7/32,2001:db8::/32,::1/128,0.0.0.0/0");
}

TEST(TrustedProxies, EmptyListTrustsNoOne) {
  EXPECT_TRUE(proxies("").empty());
  EXPECT_TRUE(proxies("  ").empty());
}

TEST(TrustedProxies, RefusesMalformedEntriesNamingThem) {
  for (const std::string bad :
       {"10.0.0.0/33", "2001:db8::/129", "10.0.0.1/8", "10.0.0.0/", "10.0.0.0/x", "10.0.0.0/-1",
        "10.0.0.0/8/8", "10.0.0", "10.0.0.256", "example.com", "10.0.0.0/8,,10.1.0.0/16",
        "10.0.0.0/8,", "[::1]", "10.0.0.1:80", "fe80::1%eth0", "2001:db8::1/32", "*",
        "10.0.0.0/0008"}) {
    const auto parsed = TrustedProxies::parse(bad);
    EXPECT_FALSE(parsed.isOk()) << bad;
    if (!parsed.isOk()) {
      EXPECT_EQ(parsed.status().code(), StatusCode::kInvalidArgument);
    }
  }
  const auto named = TrustedProxies::parse("10.0.0.0/8, 300.1.1.1");
  ASSERT_FALSE(named.isOk());
  EXPECT_NE(named.status().message().find("300.1.1.1"), std::string::npos);
}

TEST(TrustedProxies, ContainsMatchesByPrefixAndFamily) {
  const auto list = proxies("10.0.0.0/8, 192.168.1.128/25, 2001:db8::/32");
  EXPECT_TRUE(list.contains("10.255.1.2"));
  EXPECT_TRUE(list.contains("192.168.1.200"));
  EXPECT_FALSE(list.contains("192.168.1.127"));
  EXPECT_FALSE(list.contains("11.0.0.1"));
  EXPECT_TRUE(list.contains("2001:db8:ffff::1"));
  EXPECT_FALSE(list.contains("2001:db9::1"));
  EXPECT_TRUE(list.contains("::ffff:10.1.2.3")) << "an IPv4-mapped address is its IPv4 address";
  EXPECT_FALSE(list.contains("::a01:203")) << "an IPv4-compatible address is IPv6";
  EXPECT_FALSE(list.contains("not an address"));
  EXPECT_FALSE(list.contains(""));
}

TEST(TrustedProxies, WithoutProxiesThePeerIsTheClientAndForwardedForIsIgnored) {
  EXPECT_EQ(TrustedProxies().clientAddress("127.0.0.1", {"203.0.113.9"}), "127.0.0.1");
}

TEST(TrustedProxies, AnUntrustedPeerIsTheClientWhateverItForwards) {
  EXPECT_EQ(proxies("10.0.0.0/8").clientAddress("198.51.100.7", {"10.0.0.1, 203.0.113.9"}),
            "198.51.100.7");
}

TEST(TrustedProxies, ClientIsTheRightMostHopThatIsNotATrustedProxy) {
  const auto list = proxies("10.0.0.0/8");
  EXPECT_EQ(list.clientAddress("10.0.0.2", {"198.51.100.1, 203.0.113.9, 10.0.0.1"}), "203.0.113.9")
      << "a client-supplied left-most hop is never taken";
  EXPECT_EQ(list.clientAddress("10.0.0.2", {"203.0.113.9"}), "203.0.113.9");
  EXPECT_EQ(list.clientAddress("10.0.0.2", {}), "10.0.0.2") << "no header: the proxy itself";
}

TEST(TrustedProxies, SeveralForwardedForHeadersReadAsOneList) {
  EXPECT_EQ(proxies("10.0.0.0/8").clientAddress("10.0.0.2", {"203.0.113.9", "10.0.0.5"}),
            "203.0.113.9");
}

TEST(TrustedProxies, WhenEveryHopIsTrustedTheLeftMostIsTheClient) {
  EXPECT_EQ(proxies("10.0.0.0/8").clientAddress("10.0.0.2", {"10.9.9.9, 10.0.0.1"}), "10.9.9.9");
}

TEST(TrustedProxies, AGarbledHopEndsTheWalkAtTheProxyThatForwardedIt) {
  const auto list = proxies("10.0.0.0/8");
  EXPECT_EQ(list.clientAddress("10.0.0.2", {"203.0.113.9, evil, 10.0.0.1"}), "10.0.0.1");
  EXPECT_EQ(list.clientAddress("10.0.0.2", {"203.0.113.9,"}), "10.0.0.2");
}

TEST(TrustedProxies, Ipv6AndHopsWithPortsAreUnderstood) {
  const auto list = proxies("::1, 2001:db8::/32");
  EXPECT_EQ(list.clientAddress("::1", {"2001:db8::7, 2001:db8::1"}), "2001:db8::7")
      << "every hop trusted: the left-most";
  EXPECT_EQ(list.clientAddress("::1", {"[2001:db9::5]:4711, 2001:db8::1"}), "2001:db9::5");
  EXPECT_EQ(list.clientAddress("::1", {"203.0.113.9:443"}), "203.0.113.9");
  EXPECT_EQ(proxies("127.0.0.1").clientAddress("::ffff:127.0.0.1", {"203.0.113.9"}), "203.0.113.9")
      << "a dual-stack socket's IPv4-mapped peer matches an IPv4 proxy";
}

}  // namespace
}  // namespace kc::api
