// Refusals cost bounded work: the first N per client and interval are recorded one by one,
// the rest counted into one summary per client and interval (kc/appliance/RefusalLimiter.h).

#include <gtest/gtest.h>

#include <chrono>
#include <string>

#include "kc/appliance/RefusalLimiter.h"

namespace kc::appliance {
namespace {

using std::chrono::seconds;
constexpr std::int64_t kStart = 1'764'084'104'000'000;  // 2025-11-25T15:21:44Z
constexpr std::int64_t kSecond = 1'000'000;

TEST(RefusalLimiter, RecordsTheFirstNOfAClientAndSummarisesTheRest) {
  RefusalLimiter limiter(3, seconds(60));
  int admitted = 0;
  for (int i = 0; i < 10; ++i) admitted += limiter.admit("192.0.2.1", 401, kStart + i) ? 1 : 0;
  EXPECT_EQ(admitted, 3);
  EXPECT_EQ(limiter.summarised(), 7u);
}

TEST(RefusalLimiter, EachClientHasItsOwnAllowance) {
  RefusalLimiter limiter(2, seconds(60));
  for (int i = 0; i < 5; ++i) limiter.admit("192.0.2.1", 401, kStart);
  EXPECT_TRUE(limiter.admit("192.0.2.2", 401, kStart));
  EXPECT_TRUE(limiter.admit("192.0.2.2", 401, kStart));
  EXPECT_FALSE(limiter.admit("192.0.2.2", 401, kStart));
}

TEST(RefusalLimiter, NothingIsTakenBeforeTheIntervalEnds) {
  RefusalLimiter limiter(1, seconds(60));
  for (int i = 0; i < 5; ++i) limiter.admit("192.0.2.1", 401, kStart);
  EXPECT_TRUE(limiter.takeEnded(kStart + 59 * kSecond).empty());
}

TEST(RefusalLimiter, AnEndedIntervalYieldsOneSummaryPerClientWithCountTimesAndStatuses) {
  RefusalLimiter limiter(1, seconds(60));
  limiter.admit("192.0.2.1", 401, kStart);
  limiter.admit("192.0.2.1", 401, kStart + 1 * kSecond);
  limiter.admit("192.0.2.1", 403, kStart + 2 * kSecond);
  limiter.admit("192.0.2.1", 401, kStart + 3 * kSecond);
  limiter.admit("192.0.2.9", 413, kStart + 4 * kSecond);  // within its allowance: no summary
  const auto summaries = limiter.takeEnded(kStart + 60 * kSecond);
  ASSERT_EQ(summaries.size(), 1u);
  const auto& summary = summaries[0];
  EXPECT_EQ(summary.client, "192.0.2.1");
  EXPECT_EQ(summary.count, 3u);
  EXPECT_EQ(summary.firstMicros, kStart + 1 * kSecond);
  EXPECT_EQ(summary.lastMicros, kStart + 3 * kSecond);
  EXPECT_TRUE(summary.allDenied());
  EXPECT_EQ(summary.detail(),
            "count=3 first=2025-11-25T15:21:45.000000Z last=2025-11-25T15:21:47.000000Z "
            "statuses=401:2,403:1");
  EXPECT_TRUE(limiter.takeEnded(kStart + 61 * kSecond).empty()) << "taken once";
}

TEST(RefusalLimiter, ANewIntervalGivesEveryClientItsAllowanceAgain) {
  RefusalLimiter limiter(2, seconds(1));
  for (int i = 0; i < 5; ++i) limiter.admit("192.0.2.1", 401, kStart);
  EXPECT_EQ(limiter.takeEnded(kStart + kSecond).size(), 1u);
  EXPECT_TRUE(limiter.admit("192.0.2.1", 401, kStart + kSecond));
  EXPECT_TRUE(limiter.admit("192.0.2.1", 401, kStart + kSecond));
  EXPECT_FALSE(limiter.admit("192.0.2.1", 401, kStart + kSecond));
}

TEST(RefusalLimiter, RecordsPerIntervalStayBoundedUnderAFlood) {
  // 20 per client and interval, 10 intervals of 1000 refusals: 20 + 1 records each.
  RefusalLimiter limiter(20, seconds(1));
  std::size_t records = 0;
  for (int interval = 0; interval < 10; ++interval) {
    const std::int64_t begin = kStart + interval * kSecond;
    records += limiter.takeEnded(begin).size();
    for (int i = 0; i < 1000; ++i) records += limiter.admit("198.51.100.7", 401, begin + i) ? 1 : 0;
  }
  records += limiter.takeAll().size();
  EXPECT_EQ(records, 10u * 21u);
  EXPECT_EQ(limiter.summarised(), 10u * 980u);
}

TEST(RefusalLimiter, TakeAllYieldsTheCurrentIntervalAtShutdown) {
  RefusalLimiter limiter(0, seconds(60));
  EXPECT_FALSE(limiter.admit("192.0.2.1", 400, kStart));
  const auto summaries = limiter.takeAll();
  ASSERT_EQ(summaries.size(), 1u);
  EXPECT_FALSE(summaries[0].allDenied()) << "a 400 is a rejection, not a denial";
  EXPECT_TRUE(limiter.takeAll().empty());
}

// A flood from many addresses, each under its own limit: beyond the total only counts.
TEST(RefusalLimiter, TheTotalCapsRefusalsRecordedOneByOneAcrossClients) {
  RefusalLimiter limiter(2, seconds(60), RefusalLimiter::kMaxClients, 3);
  EXPECT_TRUE(limiter.admit("192.0.2.1", 401, kStart));
  EXPECT_TRUE(limiter.admit("192.0.2.2", 401, kStart));
  EXPECT_TRUE(limiter.admit("192.0.2.3", 401, kStart));
  EXPECT_FALSE(limiter.admit("192.0.2.4", 401, kStart)) << "beyond the total";
  EXPECT_FALSE(limiter.admit("192.0.2.1", 403, kStart)) << "under its own limit, over the total";
  EXPECT_EQ(limiter.summarised(), 2u);
  auto summaries = limiter.takeAll();
  ASSERT_EQ(summaries.size(), 2u);
  EXPECT_EQ(summaries[0].client, "192.0.2.1");
  EXPECT_EQ(summaries[0].statuses.at(403), 1u);
  EXPECT_EQ(summaries[1].client, "192.0.2.4");
  // The next interval starts the total afresh.
  EXPECT_TRUE(limiter.admit("192.0.2.5", 401, kStart + 61'000'000));
}

TEST(RefusalLimiter, ClientsBeyondTheTrackedNumberShareOneCount) {
  RefusalLimiter limiter(1, seconds(60), 2);
  limiter.admit("192.0.2.1", 401, kStart);
  limiter.admit("192.0.2.2", 401, kStart);
  EXPECT_TRUE(limiter.admit("192.0.2.3", 401, kStart)) << "the shared count's own allowance";
  EXPECT_FALSE(limiter.admit("192.0.2.4", 401, kStart));
  const auto summaries = limiter.takeAll();
  ASSERT_EQ(summaries.size(), 1u);
  EXPECT_EQ(summaries[0].client, RefusalLimiter::kOverflowClient);
}

}  // namespace
}  // namespace kc::appliance
