// AuditedKeyService::fetchUserKey over a real audit log: a "key.release.intent" record is
// synced while the inner service reads and unwraps, the key leaves only once that record is
// durable, and the outcome follows it in the chain.
//
// The inner service is scripted (the token's part is covered by the appliance key suite);
// the log writes real files through FaultInjectingFileSystem, which can hold or fail a sync.

#include <gtest/gtest.h>

#include <cerrno>
#include <chrono>
#include <condition_variable>
#include <functional>
#include <future>
#include <mutex>

#include "audit/AuditTestSupport.h"
#include "audit/FaultInjectingFileSystem.h"
#include "kc/UserId.h"
#include "kc/api/ErrorMapping.h"
#include "kc/appliance/AuditedKeyService.h"
#include "kc/audit/AuditLog.h"
#include "kc/audit/AuditVerifier.h"
#include "support/TempDir.h"

namespace kc::appliance {
namespace {

using namespace std::chrono_literals;

// A flag one thread raises and others wait for, with a limit so a broken ordering fails the
// test instead of hanging it.
class Gate {
 public:
  void open() {
    std::lock_guard lock(mutex_);
    open_ = true;
    changed_.notify_all();
  }
  bool waitOpen(std::chrono::milliseconds limit) {
    std::unique_lock lock(mutex_);
    return changed_.wait_for(lock, limit, [this] { return open_; });
  }

 private:
  std::mutex mutex_;
  std::condition_variable changed_;
  bool open_ = false;
};

// Answers every fetch with `answer()`, after running `during` (the token's time).
class ScriptedKeyService final : public api::KeyService {
 public:
  std::function<void()> during = [] {};
  std::function<Result<SecretBytes>()> answer = [] {
    const std::uint8_t bytes[] = {1, 2, 3, 4};
    return Result<SecretBytes>(SecretBytes(std::span<const std::uint8_t>(bytes)));
  };
  int calls = 0;

  Result<SecretBytes> fetchUserKey(const api::RequestContext&) override {
    ++calls;
    during();
    return answer();
  }
  Status depositUserKey(const api::RequestContext&, const SecretBytes&, api::DepositMode) override {
    return Status(StatusCode::kInternal, "not expected");
  }
  api::HealthReport checkHealth() override { return {}; }
};

class AuditedReleaseTest : public ::testing::Test {
 protected:
  void SetUp() override {
    auto log =
        audit::AuditLog::open({.directory = logDir(), .instance = "kc-release", .fileSystem = fs_});
    ASSERT_TRUE(log.isOk()) << log.status().toString();
    log_ = std::shared_ptr<audit::AuditLog>(std::move(*log));
    service_ =
        std::make_unique<AuditedKeyService>(inner_, std::make_shared<AuditTrail>(log_, nullptr));
  }
  void TearDown() override { fs_->onDatasync({}); }

  // Closes the service and the log, checks the chain, and returns the records of `request`.
  std::vector<audit::AuditRecord> closeAndRead(const std::string& request) {
    service_->close();
    EXPECT_TRUE(log_->close().isOk());
    const auto report = audit::verifyLogs(test::loadLogDirectory(logDir()), nullptr);
    EXPECT_TRUE(report.intact());
    std::vector<audit::AuditRecord> records;
    for (const auto& r : report.records) {
      if (r.record.requestId == request) records.push_back(r.record);
    }
    return records;
  }
  static std::vector<std::string> operations(const std::vector<audit::AuditRecord>& records) {
    std::vector<std::string> out;
    for (const auto& r : records) out.push_back(r.operation);
    return out;
  }
  std::filesystem::path logDir() const { return dir_.path() / "audit"; }
  bool activeLogHolds(std::string_view text) const {
    return test::readFile(logDir() / "audit.log").find(text) != std::string::npos;
  }

  test::TempDir dir_{"kc-audited-release"};
  std::shared_ptr<test::FaultInjectingFileSystem> fs_ =
      std::make_shared<test::FaultInjectingFileSystem>();
  std::shared_ptr<ScriptedKeyService> inner_ = std::make_shared<ScriptedKeyService>();
  std::shared_ptr<audit::AuditLog> log_;
  std::unique_ptr<AuditedKeyService> service_;
};

const api::RequestContext kRequest{
    .requestId = "rq-1",
    .clientAddress = "192.0.2.10",
    .userId = *UserId::parse("7a5c1f0e-3b1d-4b8e-9c2a-0d4e5f6a7b8c")};

TEST_F(AuditedReleaseTest, ReleasesKeyOnlyAfterTheIntentSyncedDuringTheUnwrapIsDurable) {
  Gate syncStarted, syncMayEnd, unwrapEnded;
  fs_->onDatasync([&] {
    syncStarted.open();
    EXPECT_TRUE(syncMayEnd.waitOpen(10s));
  });
  bool syncOverlappedUnwrap = false;
  inner_->during = [&] {
    // A serial implementation syncs only after this returns: the wait would time out.
    syncOverlappedUnwrap = syncStarted.waitOpen(5s);
    unwrapEnded.open();
  };
  auto fetched = std::async(std::launch::async, [&] { return service_->fetchUserKey(kRequest); });
  ASSERT_TRUE(unwrapEnded.waitOpen(10s));
  EXPECT_TRUE(syncOverlappedUnwrap) << "the intent's sync started before the unwrap ended";
  EXPECT_EQ(fetched.wait_for(200ms), std::future_status::timeout)
      << "the key waits for the intent's sync, though the unwrap is done";
  syncMayEnd.open();
  auto key = fetched.get();
  ASSERT_TRUE(key.isOk()) << key.status().toString();
  EXPECT_TRUE(activeLogHolds("\"op\":\"key.release.intent\",\"outcome\":\"pending\""))
      << "the intent is in the file when the key is handed back";

  fs_->onDatasync({});
  const auto records = closeAndRead("rq-1");
  EXPECT_EQ(operations(records), (std::vector<std::string>{"key.release.intent", "key.release"}));
  ASSERT_EQ(records.size(), 2u);
  EXPECT_EQ(records[0].outcome, "pending");
  EXPECT_EQ(records[0].userId, "7a5c1f0e-3b1d-4b8e-9c2a-0d4e5f6a7b8c");
  EXPECT_EQ(records[1].outcome, "ok");
  EXPECT_EQ(records[1].httpStatus, 200u);
}

TEST_F(AuditedReleaseTest, AKeyWhoseIntentCannotBeMadeDurableIsRefusedAndTheRefusalRecorded) {
  fs_->failDatasync({.error = EIO});
  auto key = service_->fetchUserKey(kRequest);
  EXPECT_EQ(inner_->calls, 1) << "the unwrap ran while the intent was being synced";
  ASSERT_FALSE(key.isOk()) << "no key leaves without a durable intent";
  EXPECT_EQ(key.status().code(), StatusCode::kUnavailable);
  EXPECT_EQ(fs_->counts().failedDatasyncs, 1);

  // The log recovers on the next write: the refusal is in the chain, the intent cut off.
  const auto records = closeAndRead("rq-1");
  EXPECT_EQ(operations(records), (std::vector<std::string>{"key.refused"}));
  ASSERT_EQ(records.size(), 1u);
  EXPECT_EQ(records[0].httpStatus, 503u);
  EXPECT_EQ(records[0].outcome, "error");
}

TEST_F(AuditedReleaseTest, AFailedFetchIsRecordedAfterItsIntent) {
  inner_->answer = [] { return Result<SecretBytes>(Status(StatusCode::kNotFound, "no key")); };
  auto key = service_->fetchUserKey(kRequest);
  EXPECT_EQ(key.status().code(), StatusCode::kNotFound);
  const auto records = closeAndRead("rq-1");
  EXPECT_EQ(operations(records), (std::vector<std::string>{"key.release.intent", "key.refused"}));
  ASSERT_EQ(records.size(), 2u);
  EXPECT_EQ(records[1].outcome, "not_found");
  EXPECT_EQ(records[1].httpStatus, 404u);
}

// The HTTP status a failed release is recorded with is the one the API answers with, for every
// status a key service can fail with (one mapping, api::httpStatusFor).
TEST_F(AuditedReleaseTest, EveryFailureIsRecordedWithTheHttpStatusTheApiAnswers) {
  const StatusCode failures[] = {
      StatusCode::kInvalidArgument, StatusCode::kNotFound,        StatusCode::kAlreadyExists,
      StatusCode::kConflict,        StatusCode::kPolicyViolation, StatusCode::kPermissionDenied,
      StatusCode::kUnavailable,     StatusCode::kTimeout,         StatusCode::kIntegrity,
      StatusCode::kTokenError,      StatusCode::kInternal};
  static_assert(std::size(failures) == static_cast<std::size_t>(StatusCode::kInternal),
                "every StatusCode but kOk");
  std::vector<std::string> requests;
  for (const StatusCode code : failures) {
    inner_->answer = [code] { return Result<SecretBytes>(Status(code, "scripted")); };
    api::RequestContext context = kRequest;
    context.requestId = "rq-" + std::string(statusCodeName(code));
    requests.push_back(context.requestId);
    EXPECT_EQ(service_->fetchUserKey(context).status().code(), code);
  }
  service_->close();
  ASSERT_TRUE(log_->close().isOk());
  const auto report = audit::verifyLogs(test::loadLogDirectory(logDir()), nullptr);
  for (std::size_t i = 0; i < std::size(failures); ++i) {
    const audit::AuditRecord* outcome = nullptr;
    for (const auto& r : report.records) {
      if (r.record.requestId == requests[i] && r.record.operation != "key.release.intent") {
        outcome = &r.record;
      }
    }
    ASSERT_NE(outcome, nullptr) << requests[i];
    const int http = api::httpStatusFor(Status(failures[i], ""), api::StatusSource::kKeyService);
    EXPECT_EQ(outcome->httpStatus, static_cast<unsigned>(http)) << requests[i];
    EXPECT_EQ(outcome->operation,
              failures[i] == StatusCode::kIntegrity ? "integrity.failure" : "key.refused")
        << requests[i];
  }
}

}  // namespace
}  // namespace kc::appliance
