// The request-head parser of the front end (RequestHead.h) on its own: where a head ends,
// what a well-formed head parses to, and the heads it refuses (the malformed and the
// ambiguous framings a body could be smuggled by).

#include <gtest/gtest.h>

#include <string>
#include <vector>

#include "RequestHead.h"

namespace kc::test {
namespace {

using namespace kc::api;

TEST(RequestHeadTest, FindsTheEndOfAHeadOnlyOnceItIsWhole) {
  const std::string head = "GET / HTTP/1.1\r\nHost: a\r\n\r\nBODY";
  EXPECT_EQ(findHeadEnd(head), head.size() - 4);
  EXPECT_FALSE(findHeadEnd("GET / HTTP/1.1\r\nHost: a\r\n\r"));
  EXPECT_FALSE(findHeadEnd(""));
  // Resuming a search 3 bytes before the old end still finds a terminator split across reads.
  const std::string grown = "GET / HTTP/1.1\r\n\r\n";
  EXPECT_EQ(findHeadEnd(grown, grown.size() - 4 - 3 + 1), grown.size());
  // CRLFs before the request line belong to the head; they do not end it.
  EXPECT_FALSE(findHeadEnd("\r\n\r\n"));
  EXPECT_EQ(findHeadEnd("\r\nGET / HTTP/1.1\r\n\r\n"), 20U);
}

TEST(RequestHeadTest, ParsesTheRequestLineAndHeadersInOrder) {
  const auto head = parseRequestHead(
      "\r\nPOST /user-keys?x=1 HTTP/1.1\r\nHost: a\r\nAuthorization:  Bearer t  \r\n"
      "X-Forwarded-For: 1.2.3.4\r\nx-forwarded-for: 5.6.7.8\r\nContent-Length: 12\r\n"
      "Empty:\r\n\r\n");
  ASSERT_TRUE(head) << head.status().message();
  EXPECT_EQ(head->method, "POST");
  EXPECT_EQ(head->target, "/user-keys?x=1");
  EXPECT_EQ(head->version, "HTTP/1.1");
  ASSERT_EQ(head->headers.size(), 6U);
  EXPECT_EQ(head->headers[1],
            std::make_pair(std::string("Authorization"), std::string("Bearer t")));
  EXPECT_EQ(head->headers[3].first, "x-forwarded-for");
  EXPECT_EQ(head->headers[5], std::make_pair(std::string("Empty"), std::string()));
}

TEST(RequestHeadTest, TakesValuesLongerThanPocosEightKiB) {
  const std::string token(20 * 1024, 'a');
  const auto head =
      parseRequestHead("GET / HTTP/1.1\r\nAuthorization: Bearer " + token + "\r\n\r\n");
  ASSERT_TRUE(head);
  EXPECT_EQ(head->headers[0].second, "Bearer " + token);
}

TEST(RequestHeadTest, RefusesMalformedHeads) {
  static constexpr char kNul[] = "GET / HTTP/1.1\r\nX: a\0b\r\n\r\n";
  const std::vector<std::string> malformed = {
      "GET / HTTP/1.1\r\n",                         // no empty line
      "GET /  HTTP/1.1\r\n\r\n",                    // empty target between two spaces
      "GET / HTTP/2.0\r\n\r\n",                     // not HTTP/1.x
      "GET /\r\n\r\n",                              // HTTP/0.9
      "G(T / HTTP/1.1\r\n\r\n",                     // method not a token
      "GET /a\x01 HTTP/1.1\r\n\r\n",                // control in the target
      "GET / HTTP/1.1\nHost: a\r\n\r\n",            // bare LF
      "GET / HTTP/1.1\r\nHost: a\rb\r\n\r\n",       // bare CR
      "GET / HTTP/1.1\r\nHost : a\r\n\r\n",         // space before the colon
      "GET / HTTP/1.1\r\nHost a\r\n\r\n",           // no colon
      "GET / HTTP/1.1\r\nX: a\r\n folded\r\n\r\n",  // obsolete line folding
      "GET / HTTP/1.1\r\nX: a\x7f\r\n\r\n",         // DEL in a value
      std::string(kNul, sizeof kNul - 1),           // NUL in a value
      "GET / HTTP/1.1\r\nContent-Length: 1\r\nTransfer-Encoding: chunked\r\n\r\n",
      "GET / HTTP/1.1\r\nContent-Length: 1\r\nContent-Length: 2\r\n\r\n",
      "GET / HTTP/1.1\r\nContent-Length: -1\r\n\r\n",
      "GET / HTTP/1.1\r\nContent-Length: 1 2\r\n\r\n",
      "GET / HTTP/1.1\r\nContent-Length: 99999999999999999999\r\n\r\n",
      "GET / HTTP/1.1\r\nTransfer-Encoding: gzip, chunked\r\n\r\n",
      "GET / HTTP/1.1\r\nTransfer-Encoding: chunked\r\nTransfer-Encoding: chunked\r\n\r\n",
      "POST / HTTP/1.0\r\nTransfer-Encoding: chunked\r\n\r\n",
  };
  for (const auto& bad : malformed) {
    const auto head = parseRequestHead(bad);
    EXPECT_FALSE(head) << bad;
    if (!head) {
      EXPECT_EQ(head.status().code(), StatusCode::kInvalidArgument);
    }
  }
  std::string many = "GET / HTTP/1.1\r\n";
  for (std::size_t i = 0; i <= kMaxHeaderLines; ++i) many += "X: y\r\n";
  EXPECT_FALSE(parseRequestHead(many + "\r\n"));
}

TEST(RequestHeadTest, AcceptsRepeatedEqualContentLengthsAndChunked) {
  EXPECT_TRUE(parseRequestHead("PUT / HTTP/1.1\r\nContent-Length: 5\r\ncontent-length: 5\r\n\r\n"));
  EXPECT_TRUE(parseRequestHead("PUT / HTTP/1.1\r\nTransfer-Encoding: Chunked\r\n\r\n"));
  EXPECT_TRUE(parseRequestHead("GET / HTTP/1.0\r\n\r\n"));
}

TEST(RequestHeadTest, PartialHeadKeepsTheWholeLinesBeforeTheCut) {
  const auto head = parsePartialRequestHead(
      "GET /user-keys HTTP/1.1\r\nOrigin: https://v\r\nX-Request-Id: r1\r\nAuthorization: Bearer "
      "aaa");
  EXPECT_EQ(head.method, "GET");
  EXPECT_EQ(head.target, "/user-keys");
  ASSERT_EQ(head.headers.size(), 2U);
  EXPECT_EQ(head.headers[1].second, "r1");
  // A request line cut off (a huge target) leaves nothing.
  const auto cut = parsePartialRequestHead("GET /" + std::string(100, 'a'));
  EXPECT_TRUE(cut.method.empty());
  EXPECT_TRUE(cut.headers.empty());
  // A malformed line ends what is kept.
  EXPECT_EQ(
      parsePartialRequestHead("GET / HTTP/1.1\r\nA: 1\r\nbad line\r\nB: 2\r\n").headers.size(), 1U);
}

}  // namespace
}  // namespace kc::test
