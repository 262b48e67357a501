// kc-audit report: a self-contained HTML page with the auditor's sections, rendered by
// headless Chromium (screenshot and DOM), loading nothing from anywhere.

#include <gtest/gtest.h>

#include <cstdlib>
#include <regex>

#include "AuditTestSupport.h"
#include "kc/audit/AuditLog.h"
#include "support/Subprocess.h"
#include "support/TempDir.h"

namespace kc::audit {
namespace {

constexpr const char* kSections[] = {
    "verdict",  "activity",           "outcomes",           "top-users",
    "refusals", "integrity-failures", "unresolved-intents", "checkpoints"};

class ReportTest : public ::testing::Test {
 protected:
  void SetUp() override {
    auto signer = std::make_shared<test::OpenSslSigner>();
    test::writeFile(pem_, signer->publicKeyPem());
    auto log = AuditLog::open({.directory = dir_ / "log",
                               .instance = "kc-report",
                               .signer = signer,
                               .checkpointInterval = {}});
    ASSERT_TRUE(log.isOk());
    const std::int64_t start = 1'764'072'000'000'000;  // 2025-11-25T12:00:00Z
    for (int i = 0; i < 60; ++i) {
      AuditRecord r = test::sampleRecord(i);
      r.timeMicros = start + static_cast<std::int64_t>(i) * 900'000'000;  // every 15 minutes
      if (i == 17) {
        r.operation = std::string(op::kIntegrityFailure);
        r.outcome = std::string(outcome::kIntegrity);
        r.detail = "envelope bound to another user <script>alert(1)</script>";
      }
      ASSERT_TRUE((*log)->append(r).isOk());
      if (i % 20 == 19) {
        ASSERT_TRUE((*log)->checkpoint().isOk());
      }
    }
    ASSERT_TRUE((*log)->close().isOk());
    log_ = (dir_ / "log" / "audit.log").string();
  }

  test::ProcessResult report(const std::filesystem::path& html, const std::string& file) {
    return test::runProcess({test::kcAuditPath(), "report", "--html", html.string(), "--public-key",
                             pem_.string(), file});
  }

  static void expectSelfContained(const std::string& html) {
    for (const char* id : kSections)
      EXPECT_NE(html.find("id=\"" + std::string(id) + "\""), std::string::npos) << id;
    const std::regex external(R"((src|href|action|poster|data)\s*=\s*["']?\s*(https?:)?//)",
                              std::regex::icase);
    EXPECT_FALSE(std::regex_search(html, external)) << "an external resource reference";
    EXPECT_EQ(html.find("url("), std::string::npos);
    EXPECT_EQ(html.find("@import"), std::string::npos);
    EXPECT_EQ(html.find("<link"), std::string::npos);
    EXPECT_EQ(html.find("<script"), std::string::npos) << "record text is escaped, no script";
  }

  test::TempDir dir_{"kc-audit-report"};
  std::filesystem::path pem_ = dir_ / "audit.pem";
  std::string log_;
};

TEST_F(ReportTest, ReportHasEverySectionAndNoExternalResources) {
  const auto html = dir_ / "report.html";
  const auto result = report(html, log_);
  ASSERT_EQ(result.exitCode, 0) << result.out << result.err;
  const std::string page = test::readFile(html);
  expectSelfContained(page);
  EXPECT_NE(page.find("INTACT"), std::string::npos);
  EXPECT_NE(page.find("<svg"), std::string::npos);
  EXPECT_NE(page.find("&lt;script&gt;alert(1)&lt;/script&gt;"), std::string::npos);
  EXPECT_NE(page.find("2025-11-25T12:00Z"), std::string::npos) << "an hour bucket of the chart";
}

TEST_F(ReportTest, ReportOfATamperedLogLeadsWithTheFailedVerdict) {
  auto lines = test::readLines(log_);
  lines.erase(lines.begin() + 10);
  const auto tampered = dir_ / "tampered.log";
  test::writeLines(tampered, lines);
  const auto html = dir_ / "tampered.html";
  const auto result = report(html, tampered.string());
  EXPECT_EQ(result.exitCode, 1) << result.out << result.err;
  const std::string page = test::readFile(html);
  const auto verdict = page.find("id=\"verdict\"");
  ASSERT_NE(verdict, std::string::npos);
  EXPECT_LT(verdict, page.find("id=\"activity\""));
  EXPECT_NE(page.find("TAMPERED OR DAMAGED", verdict), std::string::npos);
  EXPECT_NE(page.find("seq 11 missing"), std::string::npos);
}

// The daemon's release sequence: a key.release.intent synced before the unwrap, the token
// operation and the outcome deferred after it. kc-audit verify and report accept it; the report
// lists the intents no outcome follows (a daemon stopped between the two).
TEST_F(ReportTest, ReleaseIntentsAreVerifiedAndThoseWithoutAnOutcomeAreListed) {
  auto signer = std::make_shared<test::OpenSslSigner>();
  const auto pem = dir_ / "intents.pem";
  test::writeFile(pem, signer->publicKeyPem());
  auto log = AuditLog::open({.directory = dir_ / "intents",
                             .instance = "kc-intents",
                             .signer = signer,
                             .checkpointInterval = {}});
  ASSERT_TRUE(log.isOk());
  auto record = [](std::string_view operation, std::string_view outcome, std::string request) {
    AuditRecord r;
    r.operation = std::string(operation);
    r.outcome = std::string(outcome);
    r.userId = "00000000-0000-0000-0000-000000000001";
    r.requestId = std::move(request);
    return r;
  };
  // rq-cut-off stops after its intent; rq-unwrapped after its token.unwrap (its outcome line
  // lost): both may have sent a key.
  for (const std::string request : {"rq-released", "rq-missing", "rq-cut-off", "rq-unwrapped"}) {
    auto intent =
        (*log)->appendStarted({record(op::kKeyReleaseIntent, outcome::kPending, request)});
    ASSERT_TRUE(intent.wait().isOk());
    if (request == "rq-cut-off") continue;
    if (request == "rq-unwrapped") {
      ASSERT_TRUE((*log)->appendDeferred({record(op::kTokenUnwrap, outcome::kOk, request)}).isOk());
      continue;
    }
    ASSERT_TRUE((*log)
                    ->appendDeferred({record(op::kTokenUnwrap, outcome::kOk, request),
                                      request == "rq-released"
                                          ? record(op::kKeyRelease, outcome::kOk, request)
                                          : record(op::kKeyRefused, outcome::kNotFound, request)})
                    .isOk());
  }
  ASSERT_TRUE((*log)->close().isOk());  // sealed by its closing checkpoint
  const std::string file = (dir_ / "intents" / "audit.log").string();
  const auto ops = [&] {
    std::vector<std::string> out;
    for (const auto& line : test::readLines(file)) out.push_back(parseRecord(line)->operation);
    return out;
  }();
  EXPECT_EQ(ops, (std::vector<std::string>{"log.open", "key.release.intent", "token.unwrap",
                                           "key.release", "key.release.intent", "token.unwrap",
                                           "key.refused", "key.release.intent",
                                           "key.release.intent", "token.unwrap", "checkpoint"}));

  const auto verified =
      test::runProcess({test::kcAuditPath(), "verify", "--public-key", pem.string(), file});
  EXPECT_EQ(verified.exitCode, 0) << verified.out << verified.err;
  const auto html = dir_ / "intents.html";
  const auto result = test::runProcess(
      {test::kcAuditPath(), "report", "--html", html.string(), "--public-key", pem.string(), file});
  ASSERT_EQ(result.exitCode, 0) << result.out << result.err;
  const std::string page = test::readFile(html);
  const auto section = page.find("id=\"unresolved-intents\"");
  ASSERT_NE(section, std::string::npos);
  const std::string unresolved = page.substr(section, page.find("</section>", section) - section);
  EXPECT_NE(unresolved.find("Releases without an outcome (2)"), std::string::npos) << unresolved;
  EXPECT_NE(unresolved.find("rq-cut-off"), std::string::npos) << unresolved;
  EXPECT_NE(unresolved.find("rq-unwrapped"), std::string::npos) << unresolved;
  EXPECT_EQ(unresolved.find("rq-released"), std::string::npos) << unresolved;
  EXPECT_EQ(unresolved.find("rq-missing"), std::string::npos) << unresolved;
}

// A long outcome (the log keeps 1 KiB of a field) is a chart label; its bar's SVG element
// was once formatted into a 512-byte buffer and cut off mid-markup.
TEST_F(ReportTest, ChartBarOfALongLabelIsWhole) {
  auto signer = std::make_shared<test::OpenSslSigner>();
  auto log = AuditLog::open({.directory = dir_ / "long",
                             .instance = "kc-report",
                             .signer = signer,
                             .checkpointInterval = {}});
  ASSERT_TRUE(log.isOk());
  const std::string label = "refused-" + std::string(600, 'x');
  AuditRecord r = test::sampleRecord(0);
  r.outcome = label;
  ASSERT_TRUE((*log)->append(r).isOk());
  ASSERT_TRUE((*log)->close().isOk());
  const auto pem = dir_ / "long.pem";
  test::writeFile(pem, signer->publicKeyPem());
  const auto html = dir_ / "long.html";
  const auto result =
      test::runProcess({test::kcAuditPath(), "report", "--html", html.string(), "--public-key",
                        pem.string(), (dir_ / "long" / "audit.log").string()});
  ASSERT_EQ(result.exitCode, 0) << result.out << result.err;
  const std::string page = test::readFile(html);
  EXPECT_NE(page.find("<title>" + label + ": 1</title></rect>"), std::string::npos);
}

TEST_F(ReportTest, ReportRendersInHeadlessChromium) {
  const bool inCi = [] {
    const char* ci = std::getenv("CI");
    return ci != nullptr && std::string(ci) == "true";
  }();
  const char* chromium = nullptr;
  for (const char* candidate : {"/usr/bin/chromium", "/usr/bin/chromium-browser"}) {
    if (std::filesystem::exists(candidate)) {
      chromium = candidate;
      break;
    }
  }
  if (chromium == nullptr) {
    if (inCi) FAIL() << "chromium is not installed (scripts/setup installs it)";
    GTEST_SKIP() << "chromium is not installed (scripts/setup installs it)";
  }
  const auto html = dir_ / "report.html";
  ASSERT_EQ(report(html, log_).exitCode, 0);
  const auto png = dir_ / "report.png";
  auto chromiumArgs = [&](const std::string& profile) {
    return std::vector<std::string>{chromium,
                                    "--headless",
                                    "--no-sandbox",
                                    "--disable-gpu",
                                    "--disable-quic",
                                    "--no-first-run",
                                    "--disable-background-networking",
                                    "--disable-component-update",
                                    "--disable-sync",
                                    "--user-data-dir=" + (dir_ / profile).string()};
  };
  test::ProcessOptions options;
  options.timeout = std::chrono::seconds(60);
  options.env["HOME"] = dir_.path().string();

  auto shot = chromiumArgs("profile-shot");
  shot.push_back("--screenshot=" + png.string());
  shot.push_back("--window-size=1280,2000");
  shot.push_back("file://" + html.string());
  const auto screenshot = test::runProcess(shot, options);
  ASSERT_EQ(screenshot.exitCode, 0) << screenshot.err;
  ASSERT_TRUE(std::filesystem::exists(png)) << screenshot.err;
  EXPECT_GT(std::filesystem::file_size(png), 20'000u) << "a blank page compresses to far less";
  EXPECT_EQ(test::readFile(png).substr(1, 3), "PNG");

  auto dump = chromiumArgs("profile-dom");
  dump.push_back("--dump-dom");
  dump.push_back("file://" + html.string());
  const auto dom = test::runProcess(dump, options);
  ASSERT_EQ(dom.exitCode, 0) << dom.err;
  expectSelfContained(dom.out);
  EXPECT_NE(dom.out.find("<svg"), std::string::npos);
  EXPECT_NE(dom.out.find("<rect"), std::string::npos);
}

}  // namespace
}  // namespace kc::audit
