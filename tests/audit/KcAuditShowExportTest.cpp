// kc-audit show and export: filters by user, operation, outcome and time; JSON lines and CSV.

#include <gtest/gtest.h>

#include <sstream>

#include "AuditTestSupport.h"
#include "kc/audit/AuditLog.h"
#include "support/Subprocess.h"
#include "support/TempDir.h"

namespace kc::audit {
namespace {

constexpr std::int64_t kHour = 3'600'000'000;
constexpr std::int64_t kStart = 1'764'072'000'000'000;  // 2025-11-25T12:00:00Z

class ShowExportTest : public ::testing::Test {
 protected:
  void SetUp() override {
    auto log = AuditLog::open({.directory = dir_ / "log", .instance = "kc-1"});
    ASSERT_TRUE(log.isOk());
    auto add = [&](std::string_view operation, std::string_view outcome, std::string user,
                   std::int64_t time, std::string detail = "") {
      AuditRecord r;
      r.operation = std::string(operation);
      r.outcome = std::string(outcome);
      r.userId = std::move(user);
      r.timeMicros = time;
      r.detail = std::move(detail);
      ASSERT_TRUE((*log)->append(r).isOk());
    };
    add(op::kKeyRelease, outcome::kOk, "alice", kStart);
    add(op::kKeyRelease, outcome::kOk, "bob", kStart + kHour);
    add(op::kKeyRefused, outcome::kDenied, "mallory", kStart + kHour + 1, "token expired");
    add(op::kKeyDeposit, outcome::kOk, "alice", kStart + 2 * kHour, "first, \"deposit\"");
    add(op::kIntegrityFailure, outcome::kIntegrity, "carol", kStart + 3 * kHour, "=cmd()");
    log_ = (dir_ / "log" / "audit.log").string();
  }

  test::ProcessResult run(std::vector<std::string> args) {
    args.insert(args.begin(), test::kcAuditPath());
    args.push_back(log_);
    return test::runProcess(args);
  }

  static std::vector<std::string> lines(const std::string& text) {
    std::vector<std::string> out;
    std::istringstream in(text);
    for (std::string line; std::getline(in, line);) out.push_back(line);
    return out;
  }

  test::TempDir dir_{"kc-audit-show"};
  std::string log_;
};

TEST_F(ShowExportTest, ShowFiltersByUser) {
  const auto result = run({"show", "--user", "alice"});
  ASSERT_EQ(result.exitCode, 0) << result.err;
  const auto shown = lines(result.out);
  ASSERT_EQ(shown.size(), 2u) << result.out;
  EXPECT_NE(shown[0].find("key.release"), std::string::npos);
  EXPECT_NE(shown[1].find("key.deposit"), std::string::npos);
}

TEST_F(ShowExportTest, ShowFiltersByOperationAndOutcome) {
  auto result = run({"show", "--operation", "key.release", "--operation", "key.refused"});
  EXPECT_EQ(lines(result.out).size(), 3u) << result.out;
  result = run({"show", "--outcome", "denied"});
  ASSERT_EQ(lines(result.out).size(), 1u) << result.out;
  EXPECT_NE(result.out.find("user=mallory"), std::string::npos);
  EXPECT_NE(result.out.find("(token expired)"), std::string::npos);
  result = run({"show", "--operation", "key.release", "--outcome", "denied"});
  EXPECT_TRUE(result.out.empty()) << result.out;
}

TEST_F(ShowExportTest, ShowFiltersByTimeRangeWithAnInclusiveStartAndExclusiveEnd) {
  auto result = run({"show", "--since", "2025-11-25T13:00:00Z", "--until", "2025-11-25T15:00:00Z"});
  const auto shown = lines(result.out);
  ASSERT_EQ(shown.size(), 3u) << result.out;
  EXPECT_EQ(shown[0].rfind("2025-11-25T13:00:00.000000Z", 0), 0u) << shown[0];
  result = run({"show", "--since", "2025-11-26"});
  EXPECT_GE(lines(result.out).size(), 1u) << "the log.open record was written now";
  EXPECT_EQ(run({"show", "--since", "yesterday"}).exitCode, 2);
}

TEST_F(ShowExportTest, FlagsMayComeAfterTheFilesAndDoubleDashEndsThem) {
  auto result = test::runProcess({test::kcAuditPath(), "show", log_, "--user", "alice"});
  ASSERT_EQ(result.exitCode, 0) << result.err;
  EXPECT_EQ(lines(result.out).size(), 2u) << result.out;
  result = run({"show", "--user", "alice", "--"});
  ASSERT_EQ(result.exitCode, 0) << result.err;
  EXPECT_EQ(lines(result.out).size(), 2u) << result.out;
  result = test::runProcess({test::kcAuditPath(), "show", "--", "--user"});
  EXPECT_EQ(result.exitCode, 2);
  EXPECT_EQ(result.err, "kc-audit: error: cannot read --user\n");
}

TEST_F(ShowExportTest, AFilterThatIsNotRepeatableIsRefusedWhenRepeated) {
  const auto result = run({"show", "--user", "alice", "--user", "s3cr3t-bob"});
  EXPECT_EQ(result.exitCode, 2);
  EXPECT_EQ(result.err,
            "kc-audit: error: --user is given more than once (see kc-audit show --help)\n");
}

TEST_F(ShowExportTest, AValueOfTheWrongFormIsAUsageErrorInTheToolsOneForm) {
  const auto result = run({"export", "--format", "xml"});
  EXPECT_EQ(result.exitCode, 2);
  EXPECT_EQ(result.err,
            "kc-audit: error: --format must be jsonl or csv (see kc-audit export --help)\n");
}

TEST_F(ShowExportTest, ExportJsonLinesKeepsEachRecordExactlyAsLogged) {
  const auto result = run({"export", "--format", "jsonl", "--user", "bob"});
  ASSERT_EQ(result.exitCode, 0) << result.err;
  const auto logged = test::readLines(log_);
  ASSERT_EQ(lines(result.out).size(), 1u);
  EXPECT_EQ(lines(result.out)[0], logged[2]);
}

TEST_F(ShowExportTest, ExportCsvQuotesFieldsAndDefusesFormulas) {
  const auto out = dir_ / "out.csv";
  const auto result = run({"export", "--format", "csv", "--output", out.string(), "--since",
                           "2025-11-25T14:00:00Z", "--until", "2025-11-26"});
  ASSERT_EQ(result.exitCode, 0) << result.err;
  const auto rows = test::readLines(out);
  ASSERT_EQ(rows.size(), 3u) << test::readFile(out);
  EXPECT_EQ(rows[0],
            "time,instance,seq,operation,outcome,http_status,user,key,request,client,"
            "duration_us,detail,prev,sig,client_request\r");
  EXPECT_NE(rows[1].find(",key.deposit,ok,0,alice,,,,0,\"first, \"\"deposit\"\"\","),
            std::string::npos)
      << rows[1];
  EXPECT_NE(rows[2].find(",'=cmd(),"), std::string::npos) << rows[2];
}

}  // namespace
}  // namespace kc::audit
