// Fail closed: when the log cannot be written, append() refuses (so the daemon answers 503
// and releases nothing), healthy() turns false, and the log recovers by itself once the
// disk takes writes again, leaving a valid chain with a log.recovery record.
//
// The faults are injected through the log's file-system seam (FaultInjectingFileSystem over
// the real files of a temporary directory): a failed or short write, a failed fdatasync, a
// failed rename at rotation. One test fills a real tmpfs end to end, when it may mount one.

#include <gtest/gtest.h>
#include <sys/mount.h>

#include <cerrno>
#include <cstring>
#include <fstream>
#include <mutex>
#include <set>
#include <thread>

#include "AuditTestSupport.h"
#include "FaultInjectingFileSystem.h"
#include "kc/audit/AuditLog.h"
#include "kc/audit/AuditVerifier.h"
#include "support/TempDir.h"

namespace kc::audit {
namespace {

using Fault = test::FaultInjectingFileSystem::Fault;

bool waitHealthy(const AuditLog& log, std::chrono::milliseconds limit) {
  const auto until = std::chrono::steady_clock::now() + limit;
  while (std::chrono::steady_clock::now() < until) {
    if (log.healthy()) return true;
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
  return log.healthy();
}

// Appends until one append fails (the disk is full); returns how many succeeded, or -1.
int appendUntilRefused(AuditLog& log, int limit) {
  for (int i = 0; i < limit; ++i) {
    const Status status = log.append(test::sampleRecord(i));
    if (!status.isOk()) {
      EXPECT_EQ(status.code(), StatusCode::kUnavailable) << status.toString();
      return i;
    }
  }
  return -1;
}

// Verifies the closed log in `directory`: the chain is intact, records its recovery, and
// audit.log ends with a whole line. Returns the report for further checks.
VerificationReport expectRecoveredChain(const std::filesystem::path& directory,
                                        const CheckpointVerifier* key = nullptr) {
  auto report = verifyLogs(test::loadLogDirectory(directory), key);
  std::string findings;
  for (const auto& f : report.findings) findings += f.toString() + "\n";
  EXPECT_TRUE(report.intact()) << findings;
  bool sawRecovery = false;
  for (const auto& r : report.records) sawRecovery |= r.record.operation == op::kLogRecovery;
  EXPECT_TRUE(sawRecovery) << "the chain records the recovery";
  const std::string text = test::readFile(directory / "audit.log");
  EXPECT_TRUE(text.empty() || text.back() == '\n') << "no partial line is left behind";
  return report;
}

// The request ids of the callers' records in the chain (log and checkpoint records left out).
std::multiset<std::string> requestIds(const VerificationReport& report) {
  std::multiset<std::string> ids;
  for (const auto& r : report.records) {
    if (!r.record.requestId.empty()) ids.insert(r.record.requestId);
  }
  return ids;
}

// The detail of the (only) log.recovery record.
std::string recoveryDetail(const VerificationReport& report) {
  std::string detail;
  for (const auto& r : report.records) {
    if (r.record.operation == op::kLogRecovery) detail = r.record.detail;
  }
  return detail;
}

class AuditLogFailClosed : public ::testing::Test {
 protected:
  std::unique_ptr<AuditLog> openLog(AuditLogOptions options = {}) {
    options.directory = logDir();
    if (options.instance.empty()) options.instance = "kc-1";
    options.fileSystem = fs_;
    auto log = AuditLog::open(std::move(options));
    EXPECT_TRUE(log.isOk()) << log.status().toString();
    return log.isOk() ? std::move(*log) : nullptr;
  }
  std::filesystem::path logDir() const { return dir_.path() / "log"; }
  std::uint64_t activeSize() const { return std::filesystem::file_size(logDir() / "audit.log"); }

  test::TempDir dir_{"kc-audit-fail"};
  std::shared_ptr<test::FaultInjectingFileSystem> fs_ =
      std::make_shared<test::FaultInjectingFileSystem>();
};

TEST_F(AuditLogFailClosed, RefusesTheRecordOfAFailedWriteAndRecoversWhenWritesWorkAgain) {
  auto log = openLog();
  ASSERT_TRUE(log->append(test::sampleRecord(0)).isOk());
  const auto before = log->stats();

  fs_->failAppend({.error = ENOSPC});
  const Status refused = log->append(test::sampleRecord(1));
  EXPECT_EQ(refused.code(), StatusCode::kUnavailable) << refused.toString();
  EXPECT_NE(refused.message().find(std::strerror(ENOSPC)), std::string::npos) << refused.message();
  EXPECT_EQ(fs_->counts().failedAppends, 1) << "the write really failed";
  EXPECT_FALSE(log->healthy());
  EXPECT_EQ(log->stats().records, before.records) << "nothing was counted durable";
  EXPECT_EQ(log->stats().failures, before.failures + 1);

  ASSERT_TRUE(log->append(test::sampleRecord(2)).isOk());
  EXPECT_TRUE(log->healthy());
  ASSERT_TRUE(log->close().isOk());
  const auto report = expectRecoveredChain(logDir());
  EXPECT_EQ(requestIds(report), (std::multiset<std::string>{"req-0", "req-2"}))
      << "the refused record is not in the log";
  EXPECT_NE(recoveryDetail(report).find(std::strerror(ENOSPC)), std::string::npos)
      << "the recovery record names the failure: " << recoveryDetail(report);
}

TEST_F(AuditLogFailClosed, ShortWriteIsCutOffAtRecoverySoNoPartialLineRemains) {
  auto log = openLog();
  ASSERT_TRUE(log->append(test::sampleRecord(0)).isOk());
  const auto confirmed = activeSize();

  fs_->failAppend({.error = ENOSPC, .partialBytes = 40});
  EXPECT_EQ(log->append(test::sampleRecord(1)).code(), StatusCode::kUnavailable);
  ASSERT_EQ(fs_->counts().partialBytesWritten, 40u);
  EXPECT_EQ(activeSize(), confirmed + 40) << "half a line is in the file, unconfirmed";

  ASSERT_TRUE(log->append(test::sampleRecord(2)).isOk());
  ASSERT_TRUE(log->close().isOk());
  const auto report = expectRecoveredChain(logDir());
  EXPECT_NE(recoveryDetail(report).find("removed 40 bytes of records that were never confirmed"),
            std::string::npos)
      << recoveryDetail(report);
  EXPECT_EQ(requestIds(report), (std::multiset<std::string>{"req-0", "req-2"}));
}

TEST_F(AuditLogFailClosed, FailedDatasyncRefusesEveryRecordOfItsGroupThoughTheyWereWritten) {
  auto log = openLog();
  ASSERT_TRUE(log->append(test::sampleRecord(0)).isOk());
  const auto confirmed = activeSize();
  const auto before = log->stats();

  fs_->failDatasync({.error = EIO});
  std::vector<AuditRecord> group{test::sampleRecord(1), test::sampleRecord(2),
                                 test::sampleRecord(4)};
  const Status refused = log->appendAll(group);
  EXPECT_EQ(refused.code(), StatusCode::kUnavailable) << refused.toString();
  EXPECT_NE(refused.message().find(std::strerror(EIO)), std::string::npos) << refused.message();
  EXPECT_EQ(fs_->counts().failedDatasyncs, 1) << "the fdatasync really failed";
  const auto written = activeSize() - confirmed;
  EXPECT_GT(written, 0u) << "the lines reached the file; only their sync failed";
  EXPECT_FALSE(log->healthy());
  EXPECT_EQ(log->stats().records, before.records) << "no record of the group counted durable";
  EXPECT_EQ(log->stats().syncs, before.syncs);

  // Retrying the same request (as a client would) works once the device does.
  ASSERT_TRUE(log->appendAll(group).isOk());
  ASSERT_TRUE(log->close().isOk());
  const auto report = expectRecoveredChain(logDir());
  EXPECT_NE(recoveryDetail(report).find("removed " + std::to_string(written) + " bytes"),
            std::string::npos)
      << "the unsynced group is cut off, not left unmarked: " << recoveryDetail(report);
  EXPECT_EQ(requestIds(report), (std::multiset<std::string>{"req-0", "req-1", "req-2", "req-4"}))
      << "each record appears once: the refused copies are gone";
}

TEST_F(AuditLogFailClosed, UnderConcurrentAppendsOnlyRecordsOfSyncedGroupsAreAcknowledged) {
  auto log = openLog();
  fs_->failDatasync({.error = EIO, .after = 3});  // a group in the middle of the run
  constexpr int kThreads = 8, kPerThread = 25;
  std::mutex mutex;
  std::set<std::string> acknowledged, refused;
  std::vector<std::thread> threads;
  for (int t = 0; t < kThreads; ++t) {
    threads.emplace_back([&, t] {
      for (int i = 0; i < kPerThread; ++i) {
        AuditRecord record = test::sampleRecord(i);
        record.requestId = "t" + std::to_string(t) + "-" + std::to_string(i);
        const Status status = log->append(record);
        std::lock_guard lock(mutex);
        (status.isOk() ? acknowledged : refused).insert(record.requestId);
      }
    });
  }
  for (auto& thread : threads) thread.join();
  EXPECT_EQ(fs_->counts().failedDatasyncs, 1);
  EXPECT_FALSE(refused.empty()) << "the group of the failed fdatasync was refused";
  EXPECT_EQ(acknowledged.size() + refused.size(), std::size_t{kThreads * kPerThread});
  ASSERT_TRUE(log->close().isOk());

  // A key is released only on an acknowledged append: every one of them must be in the
  // chain; and the refused ones, cut off at recovery, must not.
  const auto report = expectRecoveredChain(logDir());
  const auto inLog = requestIds(report);
  EXPECT_EQ(std::set<std::string>(inLog.begin(), inLog.end()), acknowledged);
  EXPECT_EQ(inLog.size(), acknowledged.size());
}

TEST_F(AuditLogFailClosed, FailedRenameAtRotationLosesNoRecordAndTheChainStillVerifies) {
  const auto signer = std::make_shared<test::OpenSslSigner>();
  auto log = openLog({.signer = signer, .checkpointInterval = {}, .rotateBytes = 4000});
  fs_->failRename({.error = EIO});
  constexpr int kRecords = 60;
  for (int i = 0; i < kRecords; ++i) {
    // The rename fails after the append that filled the file returned: its record was
    // durable already. The next append recovers and the rotation is tried again.
    ASSERT_TRUE(log->append(test::sampleRecord(i)).isOk()) << i;
  }
  ASSERT_TRUE(log->close().isOk());
  EXPECT_EQ(fs_->counts().failedRenames, 1) << "the rename really failed";
  EXPECT_EQ(log->stats().failures, 1u) << "the failed rotation turned the log unhealthy";
  EXPECT_GE(log->stats().rotations, 2u) << "later rotations worked";

  auto key = CheckpointVerifier::fromPem(signer->publicKeyPem());
  ASSERT_TRUE(key.isOk());
  const auto report = expectRecoveredChain(logDir(), &*key);
  const std::string detail = recoveryDetail(report);
  EXPECT_NE(detail.find("rotate audit.log"), std::string::npos) << detail;
  EXPECT_NE(detail.find(std::strerror(EIO)), std::string::npos) << detail;
  EXPECT_EQ(requestIds(report).size(), std::size_t{kRecords}) << "no record was lost";
  ASSERT_EQ(report.chains.size(), 1u);
  EXPECT_EQ(report.chains[0].unsealed, 0u);
}

TEST_F(AuditLogFailClosed, RetriesByItselfAndTurnsHealthyWithoutAnotherAppend) {
  auto log = openLog();
  fs_->failAppend({.error = EIO});
  EXPECT_EQ(log->append(test::sampleRecord(1)).code(), StatusCode::kUnavailable);
  EXPECT_FALSE(log->healthy());
  EXPECT_TRUE(waitHealthy(*log, std::chrono::seconds(5)))
      << "the writer retries about once a second";
  ASSERT_TRUE(log->close().isOk());
  expectRecoveredChain(logDir());
}

TEST_F(AuditLogFailClosed, KeepsRefusingWhileTheLogFileCannotBeReopened) {
  auto log = openLog();
  ASSERT_TRUE(log->append(test::sampleRecord(0)).isOk());
  // Failed writes make the log reopen its file; meanwhile some outside hand has moved the
  // file away and put a directory in its place. (The writes keep failing so that the
  // writer's own retry cannot reopen the file before it is moved.)
  fs_->failAppend({.error = EIO, .times = test::FaultInjectingFileSystem::kUntilCleared});
  EXPECT_FALSE(log->append(test::sampleRecord(1)).isOk());
  const auto active = logDir() / "audit.log";
  const auto moved = logDir() / "moved.txt";
  std::filesystem::rename(active, moved);
  std::filesystem::create_directory(active);
  const Status refused = log->append(test::sampleRecord(2));
  EXPECT_EQ(refused.code(), StatusCode::kUnavailable);
  EXPECT_NE(refused.message().find(std::strerror(EISDIR)), std::string::npos) << refused.message();
  EXPECT_FALSE(log->healthy()) << "audit.log is a directory: nothing can be written";
  EXPECT_GE(fs_->counts().failedAppends, 1);

  fs_->clear();
  std::filesystem::remove(active);
  std::filesystem::rename(moved, active);
  ASSERT_TRUE(log->append(test::sampleRecord(3)).isOk());
  ASSERT_TRUE(log->close().isOk());
  const auto report = expectRecoveredChain(logDir());
  EXPECT_EQ(requestIds(report), (std::multiset<std::string>{"req-0", "req-3"}));
}

// A 64 KiB tmpfs mounted for the test; needs root (CAP_SYS_ADMIN).
class SmallFileSystem {
 public:
  explicit SmallFileSystem(const std::filesystem::path& at) : at_(at) {
    std::filesystem::create_directories(at_);
    mounted_ = ::mount("tmpfs", at_.c_str(), "tmpfs", 0, "size=64k") == 0;
  }
  ~SmallFileSystem() {
    if (mounted_) ::umount2(at_.c_str(), MNT_DETACH);
  }
  SmallFileSystem(const SmallFileSystem&) = delete;
  SmallFileSystem& operator=(const SmallFileSystem&) = delete;
  bool mounted() const { return mounted_; }

 private:
  std::filesystem::path at_;
  bool mounted_ = false;
};

// End to end on a real full disk, with the real file system and no injected fault: the
// seam tests above cover the same paths without root.
TEST(AuditLogFullDisk, RefusesRecordsOnAFullFileSystemAndRecoversWhenSpaceReturns) {
  test::TempDir dir("kc-audit-full");
  SmallFileSystem fs(dir / "mnt");
  if (!fs.mounted()) GTEST_SKIP() << "cannot mount a tmpfs here (needs root)";
  auto opened = AuditLog::open({.directory = dir / "mnt" / "log", .instance = "kc-1"});
  ASSERT_TRUE(opened.isOk()) << opened.status().toString();
  auto& log = **opened;
  ASSERT_TRUE(log.append(test::sampleRecord(0)).isOk());

  // Fill the file system.
  const auto filler = dir / "mnt" / "filler";
  {
    std::ofstream out(filler, std::ios::binary);
    const std::string block(4096, 'x');
    for (int i = 0; i < 64 && out; ++i) out.write(block.data(), block.size()), out.flush();
  }
  const int accepted = appendUntilRefused(log, 200);
  ASSERT_GE(accepted, 0) << "no append was refused on a full file system";
  EXPECT_FALSE(log.healthy());
  EXPECT_FALSE(log.append(test::sampleRecord(1000)).isOk()) << "still full: still refused";

  std::filesystem::remove(filler);
  EXPECT_TRUE(waitHealthy(log, std::chrono::seconds(5)))
      << "the log retries by itself and turns healthy again";
  ASSERT_TRUE(log.append(test::sampleRecord(2000)).isOk());
  ASSERT_TRUE(log.close().isOk());
  expectRecoveredChain(dir / "mnt" / "log");
}

}  // namespace
}  // namespace kc::audit
