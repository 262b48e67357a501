// AuditedKeyService::recordRefusal over a real audit log: the first refusals of a client are
// recorded one by one, the rest in one summary record per interval, written when the interval
// ends and at close().

#include <gtest/gtest.h>

#include <chrono>
#include <fstream>
#include <thread>

#include "kc/appliance/AuditedKeyService.h"
#include "kc/audit/AuditLog.h"
#include "support/TempDir.h"

namespace kc::appliance {
namespace {

using namespace std::chrono_literals;

// The inner service is never reached by a refusal.
class UnreachedKeyService final : public api::KeyService {
 public:
  Result<SecretBytes> fetchUserKey(const api::RequestContext&) override {
    return Status(StatusCode::kInternal, "not expected");
  }
  Status depositUserKey(const api::RequestContext&, const SecretBytes&, api::DepositMode) override {
    return Status(StatusCode::kInternal, "not expected");
  }
  api::HealthReport checkHealth() override { return {}; }
};

class AuditedRefusalsTest : public ::testing::Test {
 protected:
  std::unique_ptr<AuditedKeyService> serviceWith(RefusalAuditSettings settings) {
    auto log = audit::AuditLog::open({.directory = dir_.path() / "audit", .instance = "kc-t"});
    EXPECT_TRUE(log.isOk()) << log.status().toString();
    log_ = std::shared_ptr<audit::AuditLog>(std::move(*log));
    auto trail = std::make_shared<AuditTrail>(log_, nullptr);
    return std::make_unique<AuditedKeyService>(std::make_shared<UnreachedKeyService>(), trail,
                                               settings);
  }
  std::size_t count(std::string_view op) const {
    std::size_t n = 0;
    std::ifstream in(log_->activePath());
    for (std::string line; std::getline(in, line);) {
      auto record = audit::parseRecord(line);
      if (record.isOk() && record->operation == op) ++n;
    }
    return n;
  }
  std::vector<audit::AuditRecord> records(std::string_view op) const {
    std::vector<audit::AuditRecord> out;
    std::ifstream in(log_->activePath());
    for (std::string line; std::getline(in, line);) {
      auto record = audit::parseRecord(line);
      if (record.isOk() && record->operation == op) out.push_back(*record);
    }
    return out;
  }

  test::TempDir dir_{"kc-audited-refusals"};
  std::shared_ptr<audit::AuditLog> log_;
};

const api::RequestContext kFlooder{.requestId = "r", .clientAddress = "198.51.100.7"};

TEST_F(AuditedRefusalsTest, BeyondTheLimitRefusalsAreCountedIntoOneSummaryWrittenAtClose) {
  auto service = serviceWith({.perClient = 3, .interval = 60s});
  for (int i = 0; i < 10; ++i) service->recordRefusal(kFlooder, i % 2 ? 401 : 403, "bad token");
  EXPECT_EQ(count(audit::op::kKeyRefused), 3u);
  EXPECT_EQ(count(audit::op::kKeyRefusedSummary), 0u) << "the interval has not ended";
  EXPECT_EQ(service->summarisedRefusals(), 7u);
  service->close();
  const auto summaries = records(audit::op::kKeyRefusedSummary);
  ASSERT_EQ(summaries.size(), 1u);
  EXPECT_EQ(summaries[0].clientAddress, "198.51.100.7");
  EXPECT_EQ(summaries[0].outcome, "denied");
  EXPECT_EQ(summaries[0].detail.rfind("count=7 first=", 0), 0u) << summaries[0].detail;
  EXPECT_NE(summaries[0].detail.find("statuses=401:4,403:3"), std::string::npos)
      << summaries[0].detail;
}

TEST_F(AuditedRefusalsTest, TheSummaryIsWrittenWhenItsIntervalEndsWithoutFurtherRefusals) {
  auto service = serviceWith({.perClient = 1, .interval = 200ms});
  for (int i = 0; i < 5; ++i) service->recordRefusal(kFlooder, 401, "bad token");
  for (int i = 0; i < 100 && count(audit::op::kKeyRefusedSummary) == 0; ++i) {
    std::this_thread::sleep_for(20ms);
  }
  EXPECT_EQ(count(audit::op::kKeyRefusedSummary), 1u);
  EXPECT_EQ(count(audit::op::kKeyRefused), 1u);
}

}  // namespace
}  // namespace kc::appliance
