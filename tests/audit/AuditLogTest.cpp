// AuditLog: durability before return, group commit under concurrency, checkpoints, rotation,
// reopening.

#include <gtest/gtest.h>
#include <signal.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <fstream>
#include <set>
#include <thread>

#include "AuditTestSupport.h"
#include "kc/Base64.h"
#include "kc/audit/AuditLog.h"
#include "kc/audit/AuditVerifier.h"
#include "support/Subprocess.h"
#include "support/TempDir.h"

namespace kc::audit {
namespace {

using test::readLines;

std::string describe(const VerificationReport& report) {
  std::string out;
  for (const auto& f : report.findings) out += f.toString() + "\n";
  return out;
}

class AuditLogTest : public ::testing::Test {
 protected:
  std::unique_ptr<AuditLog> openLog(AuditLogOptions options = {}) {
    if (options.directory.empty()) options.directory = dir_.path() / "log";
    auto log = AuditLog::open(std::move(options));
    EXPECT_TRUE(log.isOk()) << log.status().toString();
    return log.isOk() ? std::move(*log) : nullptr;
  }
  std::filesystem::path logDir() const { return dir_.path() / "log"; }

  test::TempDir dir_{"kc-audit-log"};
  std::shared_ptr<test::OpenSslSigner> signer_ = std::make_shared<test::OpenSslSigner>();
};

TEST_F(AuditLogTest, StartsEachChainWithALogOpenRecordFromTheGenesisValue) {
  auto log = openLog({.instance = "kc-1"});
  const auto lines = readLines(log->activePath());
  ASSERT_EQ(lines.size(), 1u);
  auto first = parseRecord(lines[0]);
  ASSERT_TRUE(first.isOk());
  EXPECT_EQ(first->operation, op::kLogOpen);
  EXPECT_EQ(first->seq, 1u);
  EXPECT_EQ(first->instance, "kc-1");
  EXPECT_EQ(first->prev, genesisHash("kc-1"));
}

TEST_F(AuditLogTest, AppendReturnsOnlyOnceTheLineIsInTheFile) {
  auto log = openLog({.instance = "kc-1"});
  for (int i = 0; i < 5; ++i) {
    ASSERT_TRUE(log->append(test::sampleRecord(i)).isOk());
    const auto lines = readLines(log->activePath());
    auto last = parseRecord(lines.back());
    ASSERT_TRUE(last.isOk());
    EXPECT_EQ(last->requestId, "req-" + std::to_string(i));
    EXPECT_EQ(last->seq, static_cast<std::uint64_t>(i + 2));
    EXPECT_EQ(last->prev, lineHash(lines[lines.size() - 2]));
  }
  EXPECT_TRUE(log->healthy());
}

TEST_F(AuditLogTest, StartedAppendIsDurableWhenItsTicketIsWaitedFor) {
  auto log = openLog({.instance = "kc-1"});
  auto ticket = log->appendStarted({test::sampleRecord(1)});
  ASSERT_TRUE(ticket.wait().isOk());
  EXPECT_NE(test::readFile(log->activePath()).find("\"request\":\"req-1\""), std::string::npos);
}

TEST_F(AuditLogTest, DeferredRecordsJoinTheNextSyncOrAreSyncedAloneSoonAfter) {
  auto log = openLog({.instance = "kc-1"});
  const auto before = log->stats();
  ASSERT_TRUE(log->appendDeferred({test::sampleRecord(1)}).isOk());
  ASSERT_TRUE(log->append(test::sampleRecord(2)).isOk());
  EXPECT_EQ(log->stats().records, before.records + 2)
      << "queued first, the deferred record is durable no later than the next append";

  ASSERT_TRUE(log->appendDeferred({test::sampleRecord(3)}).isOk());
  const auto until = std::chrono::steady_clock::now() + std::chrono::seconds(5);
  while (log->stats().records < before.records + 3 && std::chrono::steady_clock::now() < until)
    std::this_thread::sleep_for(AuditLog::kDeferredDelay);
  EXPECT_EQ(log->stats().records, before.records + 3) << "synced alone, nothing else came";
  ASSERT_TRUE(log->close().isOk());
  const std::string text = test::readFile(log->activePath());
  EXPECT_LT(text.find("\"request\":\"req-1\""), text.find("\"request\":\"req-2\""));
  EXPECT_NE(text.find("\"request\":\"req-3\""), std::string::npos);
}

TEST_F(AuditLogTest, DefaultInstanceIsHostnameWithARandomSuffix) {
  auto first = openLog({.directory = dir_.path() / "a"});
  auto second = openLog({.directory = dir_.path() / "b"});
  EXPECT_NE(first->instance(), second->instance());
  EXPECT_GT(first->instance().size(), 9u);
}

TEST_F(AuditLogTest, GroupCommitKeepsEveryAcknowledgedAppendInOrderUnderEightThreads) {
  auto log = openLog({.instance = "kc-1"});
  constexpr int kThreads = 8, kPerThread = 150;
  std::atomic<int> failures{0};
  std::vector<std::thread> threads;
  for (int t = 0; t < kThreads; ++t) {
    threads.emplace_back([&, t] {
      for (int i = 0; i < kPerThread; ++i) {
        AuditRecord record = test::sampleRecord(i);
        record.requestId = "t" + std::to_string(t) + "-" + std::to_string(i);
        if (!log->append(record).isOk()) ++failures;
      }
    });
  }
  for (auto& thread : threads) thread.join();
  EXPECT_EQ(failures.load(), 0);
  const auto stats = log->stats();
  EXPECT_LT(stats.syncs, stats.records) << "no fdatasync was shared by two records";
  ASSERT_TRUE(log->close().isOk());

  const auto lines = readLines(logDir() / "audit.log");
  ASSERT_EQ(lines.size(), 1u + kThreads * kPerThread);
  std::set<std::string> requests;
  std::uint64_t seq = 0;
  std::string prev = genesisHash("kc-1");
  for (const auto& line : lines) {
    auto record = parseRecord(line);
    ASSERT_TRUE(record.isOk()) << line;
    EXPECT_EQ(record->seq, ++seq);
    EXPECT_EQ(record->prev, prev);
    prev = lineHash(line);
    requests.insert(record->requestId);
  }
  for (int t = 0; t < kThreads; ++t) {
    for (int i = 0; i < kPerThread; ++i)
      EXPECT_TRUE(requests.count("t" + std::to_string(t) + "-" + std::to_string(i)));
  }
  EXPECT_TRUE(verifyLogs(test::loadLogDirectory(logDir()), nullptr).intact());
}

TEST_F(AuditLogTest, PerRecordSyncModeWritesTheSameChain) {
  auto log = openLog({.instance = "kc-1", .groupCommit = false});
  for (int i = 0; i < 20; ++i) ASSERT_TRUE(log->append(test::sampleRecord(i)).isOk());
  EXPECT_EQ(log->stats().syncs, log->stats().records);
  ASSERT_TRUE(log->close().isOk());
  EXPECT_TRUE(verifyLogs(test::loadLogDirectory(logDir()), nullptr).intact());
}

TEST_F(AuditLogTest, CheckpointIsSignedAndSealsTheChainHead) {
  auto log = openLog({.instance = "kc-1", .signer = signer_, .checkpointInterval = {}});
  ASSERT_TRUE(log->append(test::sampleRecord(1)).isOk());
  ASSERT_TRUE(log->checkpoint().isOk());
  const auto lines = readLines(log->activePath());
  auto checkpoint = parseRecord(lines.back());
  ASSERT_TRUE(checkpoint.isOk());
  EXPECT_EQ(checkpoint->operation, op::kCheckpoint);
  EXPECT_EQ(checkpoint->detail, "manual");
  EXPECT_EQ(checkpoint->keyId, signer_->keyId());
  EXPECT_EQ(checkpoint->prev, lineHash(lines[lines.size() - 2]));
  EXPECT_FALSE(checkpoint->signature.empty());

  auto key = CheckpointVerifier::fromPem(signer_->publicKeyPem());
  ASSERT_TRUE(key.isOk());
  const auto report = verifyLogs(test::loadLogDirectory(logDir()), &*key);
  EXPECT_TRUE(report.intact()) << describe(report);
  ASSERT_EQ(report.chains.size(), 1u);
  EXPECT_EQ(report.chains[0].checkpoints, 1u);
  EXPECT_EQ(report.chains[0].unsealed, 0u);
}

TEST_F(AuditLogTest, WritesACheckpointAtTheIntervalOnlyWhenThereIsSomethingToSeal) {
  auto log = openLog({.instance = "kc-1",
                      .signer = signer_,
                      .checkpointInterval = std::chrono::milliseconds(100)});
  ASSERT_TRUE(log->append(test::sampleRecord(1)).isOk());
  std::this_thread::sleep_for(std::chrono::milliseconds(600));
  const auto lines = readLines(log->activePath());
  int checkpoints = 0;
  for (const auto& line : lines) {
    auto record = parseRecord(line);
    ASSERT_TRUE(record.isOk());
    if (record->operation == op::kCheckpoint) {
      ++checkpoints;
      EXPECT_EQ(record->detail, "interval");
    }
  }
  EXPECT_EQ(checkpoints, 1) << "an idle log is not re-sealed at every interval";
}

// Under a flood that never lets the queue run dry (every 401 is a durable record), the
// interval checkpoint still comes on time: it joins the batch that is due.
TEST_F(AuditLogTest, CheckpointsKeepTheirIntervalUnderASustainedFlood) {
  auto log = openLog({.instance = "kc-1",
                      .signer = signer_,
                      .checkpointInterval = std::chrono::milliseconds(100)});
  std::atomic<bool> stop = false;
  std::vector<std::thread> flood;
  for (int t = 0; t < 4; ++t) {
    flood.emplace_back([&, t] {
      for (int i = 0; !stop; ++i)
        ASSERT_TRUE(log->append(test::sampleRecord(t * 100000 + i)).isOk());
    });
  }
  std::this_thread::sleep_for(std::chrono::milliseconds(1200));
  stop = true;
  for (auto& thread : flood) thread.join();
  ASSERT_TRUE(log->close().isOk());

  std::vector<std::int64_t> checkpointTimes;
  std::uint64_t records = 0;
  for (const auto& line : readLines(log->activePath())) {
    auto record = parseRecord(line);
    ASSERT_TRUE(record.isOk());
    ++records;
    if (record->operation == op::kCheckpoint && record->detail == "interval") {
      checkpointTimes.push_back(record->timeMicros);
    }
  }
  ASSERT_GT(records, 200u) << "the flood must keep the writer busy";
  // 1.2 s at a 100 ms interval: about 11 interval checkpoints; before the fix there were none.
  EXPECT_GE(checkpointTimes.size(), 6u);
  for (std::size_t i = 1; i < checkpointTimes.size(); ++i) {
    EXPECT_LT(checkpointTimes[i] - checkpointTimes[i - 1], 400'000) << "checkpoint " << i;
  }
}

TEST_F(AuditLogTest, CloseSealsTheChainWithACheckpoint) {
  auto log = openLog({.instance = "kc-1", .signer = signer_, .checkpointInterval = {}});
  ASSERT_TRUE(log->append(test::sampleRecord(1)).isOk());
  ASSERT_TRUE(log->close().isOk());
  EXPECT_FALSE(log->append(test::sampleRecord(2)).isOk()) << "a closed log takes no records";
  const auto lines = readLines(logDir() / "audit.log");
  auto last = parseRecord(lines.back());
  ASSERT_TRUE(last.isOk());
  EXPECT_EQ(last->operation, op::kCheckpoint);
  EXPECT_EQ(last->detail, "close; the next run continues at seq " + std::to_string(last->seq + 1));
}

TEST_F(AuditLogTest, RotationSealsEachFileAndTheChainContinuesAcrossFiles) {
  auto log = openLog(
      {.instance = "kc-1", .signer = signer_, .checkpointInterval = {}, .rotateBytes = 4000});
  for (int i = 0; i < 60; ++i) ASSERT_TRUE(log->append(test::sampleRecord(i)).isOk());
  ASSERT_TRUE(log->close().isOk());
  EXPECT_GE(log->stats().rotations, 3u);
  const auto files = test::logFiles(logDir());
  ASSERT_GE(files.size(), 4u);
  std::set<std::string> namedAsSuccessorOf;
  for (const auto& file : files) {
    auto first = parseRecord(readLines(file).front());
    ASSERT_TRUE(first.isOk());
    if (first->seq > 1) {
      // Every file after the first names the file it continues.
      EXPECT_EQ(first->operation, op::kLogOpen) << file;
      namedAsSuccessorOf.insert(first->detail.substr(first->detail.rfind(' ') + 1));
    }
    if (file.filename() == "audit.log") continue;
    EXPECT_EQ(file.filename().string().rfind("audit-kc-1-", 0), 0u) << file;
    auto last = parseRecord(readLines(file).back());
    ASSERT_TRUE(last.isOk());
    EXPECT_EQ(last->operation, op::kCheckpoint);
    EXPECT_EQ(last->detail, "rotation; kept as " + file.filename().string() +
                                ", continues at seq " + std::to_string(last->seq + 1) +
                                " in audit.log");
  }
  for (const auto& file : files) {
    if (file.filename() == "audit.log") continue;
    EXPECT_TRUE(namedAsSuccessorOf.contains(file.filename().string())) << file;
  }
  auto key = CheckpointVerifier::fromPem(signer_->publicKeyPem());
  const auto report = verifyLogs(test::loadLogDirectory(logDir()), &*key);
  EXPECT_TRUE(report.intact()) << describe(report);
  ASSERT_EQ(report.chains.size(), 1u);
  const auto nonEmpty = std::count_if(files.begin(), files.end(), [](const auto& file) {
    return std::filesystem::file_size(file) > 0;
  });
  EXPECT_EQ(report.chains[0].files.size(), static_cast<std::size_t>(nonEmpty));
  EXPECT_EQ(report.chains[0].unsealed, 0u);
}

TEST_F(AuditLogTest, ReopeningWithTheSameInstanceContinuesTheChain) {
  {
    auto log = openLog({.instance = "kc-1"});
    ASSERT_TRUE(log->append(test::sampleRecord(1)).isOk());
  }
  auto log = openLog({.instance = "kc-1"});
  ASSERT_TRUE(log->append(test::sampleRecord(2)).isOk());
  ASSERT_TRUE(log->close().isOk());
  const auto lines = readLines(logDir() / "audit.log");
  ASSERT_EQ(lines.size(), 4u);
  auto reopened = parseRecord(lines[2]);
  ASSERT_TRUE(reopened.isOk());
  EXPECT_EQ(reopened->operation, op::kLogOpen);
  EXPECT_EQ(reopened->seq, 3u);
  EXPECT_EQ(reopened->detail, "continuing chain after seq 2") << "it names the previous run's end";
  EXPECT_TRUE(verifyLogs(test::loadLogDirectory(logDir()), nullptr).intact());
}

// Two writers of one directory would both continue from the same last record and fork the
// chain: `keyconnectord --check` run beside the daemon did exactly that.
TEST_F(AuditLogTest, ASecondWriterOfTheDirectoryIsRefusedUntilTheFirstCloses) {
  auto first = openLog({.instance = "kc-1"});
  ASSERT_NE(first, nullptr);
  auto second = AuditLog::open({.directory = logDir(), .instance = "kc-1"});
  ASSERT_FALSE(second.isOk());
  EXPECT_EQ(second.status().code(), StatusCode::kConflict);
  EXPECT_NE(second.status().message().find("in use by another process (pid " +
                                           std::to_string(::getpid()) + ")"),
            std::string::npos)
      << second.status().toString();
  ASSERT_TRUE(first->append(test::sampleRecord(1)).isOk());
  ASSERT_TRUE(first->close().isOk());
  auto third = openLog({.instance = "kc-1"});
  ASSERT_NE(third, nullptr);
  ASSERT_TRUE(third->close().isOk());
  EXPECT_TRUE(verifyLogs(test::loadLogDirectory(logDir()), nullptr).intact());
}

TEST_F(AuditLogTest, ALockHeldByAnotherProcessRefusesAndAKilledHolderLeavesNoLock) {
  std::filesystem::create_directories(logDir());
  const auto lockFile = logDir() / "audit.lock";
  // The holder is one process (bash becomes sleep), so killing it drops the lock.
  test::BackgroundProcess holder(
      {"/bin/bash", "-c", "exec 9>\"$0\" && flock 9 && exec sleep 60", lockFile.string()},
      (dir_.path() / "flock.out").string());
  // The holder may lock only after a probe of ours let go: wait until opening is refused.
  for (int i = 0; i < 200 && AuditLog::open({.directory = logDir(), .instance = "kc-1"}).isOk();
       ++i)
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
  const auto refused = AuditLog::open({.directory = logDir(), .instance = "kc-1"});
  ASSERT_FALSE(refused.isOk());
  EXPECT_EQ(refused.status().code(), StatusCode::kConflict);
  holder.stop(SIGKILL);
  auto log = openLog({.instance = "kc-1"});
  ASSERT_NE(log, nullptr) << "the kernel drops the lock of a killed holder";
  ASSERT_TRUE(log->close().isOk());
}

// A clean restart after a rotation used to start audit.log from the genesis value again under
// the same instance, and an untouched log then failed verification.
TEST_F(AuditLogTest, RestartAfterARotationContinuesTheChainFromTheRotatedFile) {
  {
    auto log = openLog(
        {.instance = "kc-1", .signer = signer_, .checkpointInterval = {}, .rotateBytes = 2000});
    for (int i = 0; i < 30; ++i) ASSERT_TRUE(log->append(test::sampleRecord(i)).isOk());
    ASSERT_GE(log->stats().rotations, 1u);
  }
  // The closing run may leave audit.log empty or missing; either way the next run continues.
  std::filesystem::remove(logDir() / "audit.log");
  auto log = openLog({.instance = "kc-1", .signer = signer_, .checkpointInterval = {}});
  ASSERT_TRUE(log->append(test::sampleRecord(99)).isOk());
  ASSERT_TRUE(log->close().isOk());
  auto first = parseRecord(readLines(logDir() / "audit.log").front());
  ASSERT_TRUE(first.isOk());
  EXPECT_EQ(first->operation, op::kLogOpen);
  EXPECT_GT(first->seq, 30u);
  EXPECT_NE(first->detail.find("continuing chain after seq"), std::string::npos) << first->detail;
  auto key = CheckpointVerifier::fromPem(signer_->publicKeyPem());
  ASSERT_TRUE(key.isOk());
  const auto report = verifyLogs(test::loadLogDirectory(logDir()), &*key);
  EXPECT_TRUE(report.intact()) << describe(report);
  EXPECT_EQ(report.chains.size(), 1u);
}

TEST_F(AuditLogTest, WithoutAConfiguredInstanceEveryRunContinuesOneChain) {
  std::string firstInstance;
  {
    auto log = openLog({});
    firstInstance = log->instance();
    ASSERT_TRUE(log->append(test::sampleRecord(1)).isOk());
  }
  EXPECT_FALSE(firstInstance.empty());
  EXPECT_TRUE(std::filesystem::exists(logDir() / "instance-id"));
  auto log = openLog({});
  EXPECT_EQ(log->instance(), firstInstance);
  ASSERT_TRUE(log->close().isOk());
  const auto report = verifyLogs(test::loadLogDirectory(logDir()), nullptr);
  EXPECT_TRUE(report.intact()) << describe(report);
  EXPECT_EQ(report.chains.size(), 1u);
}

// Every audit file deleted, the instance id kept: the chain must start again at seq 1 (there
// is nothing to continue), but its first record says files of it are missing.
TEST_F(AuditLogTest, AllFilesOfAKnownInstanceDeletedIsSaidInTheNewChainsFirstRecord) {
  {
    auto log = openLog({.signer = signer_});
    ASSERT_TRUE(log->append(test::sampleRecord(1)).isOk());
    EXPECT_EQ(log->openDetail(), "new chain");
  }
  for (const auto& file : test::logFiles(logDir())) std::filesystem::remove(file);
  auto log = openLog({.signer = signer_});
  EXPECT_NE(log->openDetail().find(kChainFilesMissing), std::string::npos) << log->openDetail();
  ASSERT_TRUE(log->close().isOk());
  const auto first = *parseRecord(readLines(log->activePath()).front());
  EXPECT_EQ(first.seq, 1u);
  EXPECT_EQ(first.operation, op::kLogOpen);
  EXPECT_NE(first.detail.find(kChainFilesMissing), std::string::npos) << first.detail;
  // The signed chain says it, so an auditor's verify fails until the files are restored.
  const auto report = verifyLogs(test::loadLogDirectory(logDir()), nullptr);
  EXPECT_FALSE(report.intact()) << describe(report);
  EXPECT_NE(describe(report).find("the chain starts again here"), std::string::npos)
      << describe(report);

  // A first run in a fresh directory is a new chain and says nothing more.
  auto fresh = openLog({.directory = dir_.path() / "fresh", .signer = signer_});
  EXPECT_EQ(fresh->openDetail(), "new chain");
}

TEST_F(AuditLogTest, ReopeningCutsAPartialLastLineAndSaysSo) {
  {
    auto log = openLog({.instance = "kc-1"});
    ASSERT_TRUE(log->append(test::sampleRecord(1)).isOk());
  }
  {
    std::ofstream out(logDir() / "audit.log", std::ios::app | std::ios::binary);
    out << "{\"v\":1,\"seq\":3,\"time\":\"20";  // a crash in the middle of a write
  }
  auto log = openLog({.instance = "kc-1"});
  ASSERT_TRUE(log->close().isOk());
  const std::string text = test::readFile(logDir() / "audit.log");
  EXPECT_EQ(text.back(), '\n');
  const auto lines = readLines(logDir() / "audit.log");
  auto reopened = parseRecord(lines.back());
  ASSERT_TRUE(reopened.isOk()) << lines.back();
  EXPECT_NE(reopened->detail.find("cut 25 bytes of a partial last line"), std::string::npos)
      << reopened->detail;
  EXPECT_TRUE(verifyLogs(test::loadLogDirectory(logDir()), nullptr).intact());
}

TEST_F(AuditLogTest, AnotherInstancesFileIsKeptUnderARotatedName) {
  { auto log = openLog({.instance = "kc-old"}); }
  auto log = openLog({.instance = "kc-new"});
  ASSERT_TRUE(log->close().isOk());
  const auto files = test::logFiles(logDir());
  ASSERT_EQ(files.size(), 2u);
  EXPECT_EQ(files[0].filename().string().rfind("audit-kc-old-", 0), 0u) << files[0];
  EXPECT_EQ(files[1].filename(), "audit.log");
  const auto report = verifyLogs(test::loadLogDirectory(logDir()), nullptr);
  EXPECT_TRUE(report.intact()) << describe(report);
  EXPECT_EQ(report.chains.size(), 2u);
}

TEST_F(AuditLogTest, CleansCallerTextAndRefusesForgedCheckpoints) {
  auto log = openLog({.instance = "kc-1"});
  AuditRecord record = test::sampleRecord(1);
  record.userId = "bad\xff\nuser";
  record.detail = std::string(5000, 'x');
  ASSERT_TRUE(log->append(record).isOk());
  auto last = parseRecord(readLines(log->activePath()).back());
  ASSERT_TRUE(last.isOk());
  EXPECT_EQ(last->userId, "bad?\nuser");
  EXPECT_EQ(last->detail.size(), 1024u);

  AuditRecord forged = test::sampleRecord(2);
  forged.operation = std::string(op::kCheckpoint);
  EXPECT_EQ(log->append(forged).code(), StatusCode::kInvalidArgument);
  EXPECT_EQ(log->checkpoint().code(), StatusCode::kUnavailable) << "no signer configured";
}

TEST_F(AuditLogTest, CopiesRecordsToSyslogWhenAsked) {
  auto log = openLog({.instance = "kc-1", .syslog = true});
  ASSERT_TRUE(log->append(test::sampleRecord(1)).isOk());
  EXPECT_TRUE(log->healthy());
}

}  // namespace
}  // namespace kc::audit

namespace kc::audit {
namespace {

// A log as a version 1 daemon wrote it: "v":1 lines (no "client_request"), a log.open
// record, `records` requests and a signed closing checkpoint, chained from the genesis value.
void writeVersionOneLog(const std::filesystem::path& path, const std::string& instance,
                        test::OpenSslSigner& signer, int records) {
  std::vector<std::string> lines;
  std::string prev = genesisHash(instance);
  const std::int64_t start = nowMicros() - 10'000'000;
  auto add = [&](AuditRecord record, bool checkpoint) {
    record.version = 1;
    record.seq = lines.size() + 1;
    record.instance = instance;
    record.timeMicros = start + static_cast<std::int64_t>(lines.size()) * 1000;
    record.prev = prev;
    if (checkpoint) {
      record.keyId = signer.keyId();
      const std::string message = checkpointMessage(record);
      auto signature =
          signer.sign({reinterpret_cast<const std::uint8_t*>(message.data()), message.size()});
      ASSERT_TRUE(signature.isOk());
      record.signature = encodeBase64(*signature);
    }
    lines.push_back(serialize(record));
    prev = lineHash(lines.back());
  };
  AuditRecord open;
  open.operation = std::string(op::kLogOpen);
  open.outcome = std::string(outcome::kOk);
  open.detail = "new chain";
  add(open, false);
  for (int i = 0; i < records; ++i) add(test::sampleRecord(i), false);
  AuditRecord checkpoint;
  checkpoint.operation = std::string(op::kCheckpoint);
  checkpoint.outcome = std::string(outcome::kOk);
  checkpoint.detail = "close";
  add(checkpoint, true);
  std::filesystem::create_directories(path.parent_path());
  test::writeLines(path, lines);
}

TEST_F(AuditLogTest, AVersionOneLogVerifiesAndIsContinuedWithVersionTwoRecordsAsOneChain) {
  writeVersionOneLog(logDir() / "audit.log", "kc-old", *signer_, 3);
  auto key = CheckpointVerifier::fromPem(signer_->publicKeyPem());
  ASSERT_TRUE(key.isOk());
  const auto old = verifyLogs(test::loadLogDirectory(logDir()), &*key);
  EXPECT_TRUE(old.intact()) << describe(old);

  auto log = openLog({.instance = "kc-old", .signer = signer_});
  AuditRecord record = test::sampleRecord(9);
  record.clientRequestId = "client-9";
  ASSERT_TRUE(log->append(record).isOk());
  ASSERT_TRUE(log->close().isOk());

  const auto lines = readLines(logDir() / "audit.log");
  ASSERT_GE(lines.size(), 8u);
  EXPECT_EQ(lines.front().rfind("{\"v\":1,", 0), 0u);
  EXPECT_EQ(lines.back().rfind("{\"v\":2,", 0), 0u);
  auto continued = parseRecord(lines[lines.size() - 2]);
  ASSERT_TRUE(continued.isOk());
  EXPECT_EQ(continued->clientRequestId, "client-9");
  const auto both = verifyLogs(test::loadLogDirectory(logDir()), &*key);
  EXPECT_TRUE(both.intact()) << describe(both);
  ASSERT_EQ(both.chains.size(), 1u);
  EXPECT_EQ(both.chains[0].sealedThrough, both.chains[0].lastSeq);
}

}  // namespace
}  // namespace kc::audit
