// audit.archive_command: every rotated file is handed to the operator's command, retried until
// it succeeds, across restarts, with any file name passed safely; nothing is deleted.

#include <gtest/gtest.h>

#include <chrono>
#include <fstream>
#include <set>
#include <thread>

#include "AuditTestSupport.h"
#include "FaultInjectingFileSystem.h"
#include "kc/audit/AuditArchiver.h"
#include "kc/audit/AuditLog.h"
#include "support/TempDir.h"

namespace kc::audit {
namespace {

using namespace std::chrono_literals;

class ArchiveTest : public ::testing::Test {
 protected:
  static constexpr std::uint64_t kRotateBytes = 2500;

  // A log rotating every kRotateBytes, archived by `command`.
  Result<std::unique_ptr<AuditLog>> openLog(const std::string& command) {
    return AuditLog::open({.directory = logDir_,
                           .instance = "kc-1",
                           .signer = signer_,
                           .checkpointInterval = {},
                           .rotateBytes = kRotateBytes,
                           .archiveCommand = command,
                           .archiveRetry = 10ms});
  }

  // Appends `records` to openLog(command) and closes it.
  void writeLog(const std::string& command, int records, bool awaitArchive = true) {
    auto log = openLog(command);
    ASSERT_TRUE(log.isOk()) << log.status().toString();
    for (int i = 0; i < records; ++i) ASSERT_TRUE((*log)->append(test::sampleRecord(i)).isOk());
    // append() returns once its record is durable; the writer rotates after that. Wait until
    // no rotation is due or under way, so the set of rotated files is final.
    ASSERT_TRUE(waitFor(
        [&] {
          std::error_code error;
          const auto size = std::filesystem::file_size(logDir_ / "audit.log", error);
          return !error && size < kRotateBytes &&
                 (*log)->stats().rotations == rotatedFiles().size();
        },
        5s));
    // Let the archiver catch up before close() stops it (pending files stay pending).
    if (awaitArchive) waitFor([&] { return rotatedFiles().size() == doneMarkers().size(); }, 5s);
    ASSERT_TRUE((*log)->close().isOk());
  }

  std::set<std::string> rotatedFiles() const {
    std::set<std::string> names;
    for (const auto& path : test::logFiles(logDir_)) {
      if (path.filename() != "audit.log") names.insert(path.filename().string());
    }
    return names;
  }

  std::set<std::string> filesIn(const std::filesystem::path& directory,
                                const std::string& suffix = "") const {
    std::set<std::string> names;
    if (!std::filesystem::exists(directory)) return names;
    for (const auto& entry : std::filesystem::directory_iterator(directory)) {
      std::string name = entry.path().filename().string();
      if (name.size() < suffix.size() ||
          name.compare(name.size() - suffix.size(), suffix.size(), suffix) != 0)
        continue;
      names.insert(name.substr(0, name.size() - suffix.size()));
    }
    return names;
  }

  std::set<std::string> doneMarkers() const { return filesIn(logDir_ / "archive_status", ".done"); }

  template <typename Predicate>
  static bool waitFor(Predicate done, std::chrono::milliseconds limit) {
    const auto deadline = std::chrono::steady_clock::now() + limit;
    while (!done()) {
      if (std::chrono::steady_clock::now() > deadline) return false;
      std::this_thread::sleep_for(10ms);
    }
    return true;
  }

  test::TempDir dir_{"kc-audit-archive"};
  std::filesystem::path logDir_ = dir_ / "log";
  std::filesystem::path archive_ = dir_ / "archive";
  std::shared_ptr<test::OpenSslSigner> signer_ = std::make_shared<test::OpenSslSigner>();
};

TEST_F(ArchiveTest, ACopyCommandArchivesEveryRotatedFileAndNothingIsDeleted) {
  std::filesystem::create_directories(archive_);
  writeLog("cp %p " + shellQuote(archive_.string() + "/"), 60);
  const auto rotated = rotatedFiles();
  ASSERT_GE(rotated.size(), 3u);
  EXPECT_EQ(filesIn(archive_), rotated);
  EXPECT_EQ(doneMarkers(), rotated);
  EXPECT_TRUE(filesIn(logDir_ / "archive_status", ".ready").empty());
  for (const auto& name : rotated) {
    EXPECT_EQ(test::readLines(archive_ / name), test::readLines(logDir_ / name)) << name;
  }
}

TEST_F(ArchiveTest, AFailingCommandIsRetriedUntilItSucceeds) {
  std::filesystem::create_directories(archive_);
  // Fails the first three times it is run, then copies.
  const auto counter = dir_ / "runs";
  const std::string command = "n=$(cat " + shellQuote(counter.string()) +
                              " 2>/dev/null || echo 0); echo $((n + 1)) > " +
                              shellQuote(counter.string()) + "; [ \"$n\" -ge 3 ] && cp %p " +
                              shellQuote(archive_.string() + "/");
  writeLog(command, 30);
  const auto rotated = rotatedFiles();
  ASSERT_GE(rotated.size(), 1u);
  EXPECT_EQ(filesIn(archive_), rotated);
  EXPECT_EQ(doneMarkers(), rotated);
  EXPECT_GE(std::stoi(test::readLines(counter).front()), 4);
}

TEST_F(ArchiveTest, APendingArchiveIsDoneAfterARestart) {
  writeLog("exit 1", 30, false);  // the archive is unreachable during the first run
  const auto rotated = rotatedFiles();
  ASSERT_GE(rotated.size(), 1u);
  EXPECT_TRUE(doneMarkers().empty());
  EXPECT_EQ(filesIn(logDir_ / "archive_status", ".ready").size(), 1u);  // in order: the first

  std::filesystem::create_directories(archive_);
  auto log = AuditLog::open({.directory = logDir_,
                             .instance = "kc-1",
                             .signer = signer_,
                             .checkpointInterval = {},
                             .rotateBytes = 0,
                             .archiveCommand = "cp %p " + shellQuote(archive_.string() + "/"),
                             .archiveRetry = 10ms});
  ASSERT_TRUE(log.isOk()) << log.status().toString();
  EXPECT_TRUE(waitFor([&] { return doneMarkers() == rotated; }, 5s));
  EXPECT_EQ(filesIn(archive_), rotated);
}

// A command that hangs (a stalled upload) does not hold up close(): it is ended with what it
// started, and its file stays pending for the next run.
TEST_F(ArchiveTest, CloseEndsAHangingCommandAndItsChildrenAndLeavesTheFilePending) {
  const auto started = dir_ / "started";
  const auto child = dir_ / "child.pid";
  // The shell starts a child that would outlive it, records its pid, and waits.
  const std::string command = "sleep 60 & echo $! > " + shellQuote(child.string()) + "; touch " +
                              shellQuote(started.string()) + "; wait";
  const auto begin = std::chrono::steady_clock::now();
  {
    auto log = openLog(command);
    ASSERT_TRUE(log.isOk()) << log.status().toString();
    for (int i = 0; i < 30; ++i) ASSERT_TRUE((*log)->append(test::sampleRecord(i)).isOk());
    ASSERT_TRUE(waitFor([&] { return std::filesystem::exists(child); }, 5s));
    ASSERT_TRUE((*log)->close().isOk());
  }
  EXPECT_LT(std::chrono::steady_clock::now() - begin, 20s) << "close() waited for the command";
  EXPECT_TRUE(doneMarkers().empty());
  EXPECT_FALSE(filesIn(logDir_ / "archive_status", ".ready").empty()) << "still pending";
  // Gone, or a zombie nobody reaped yet (its parent, the shell, was ended too).
  const auto stat = "/proc/" + test::readLines(child).front() + "/stat";
  const auto ended = [&] {
    std::ifstream in(stat);
    std::string text;
    if (!std::getline(in, text)) return true;
    const auto state = text.find(") ");
    return state == std::string::npos || text.compare(state + 2, 1, "Z") == 0;
  };
  EXPECT_TRUE(waitFor(ended, 5s)) << "the command's child lives on";
}

TEST_F(ArchiveTest, APathWithSpacesAndQuotesIsPassedAsOneWord) {
  logDir_ = dir_ / "log dir 'with' \"quotes\" $(touch pwned) ;x";
  std::filesystem::create_directories(archive_);
  writeLog("cp %p " + shellQuote(archive_.string() + "/"), 30);
  const auto rotated = rotatedFiles();
  ASSERT_GE(rotated.size(), 1u);
  EXPECT_EQ(filesIn(archive_), rotated);
  EXPECT_FALSE(std::filesystem::exists("pwned"));
  EXPECT_FALSE(std::filesystem::exists(logDir_ / "pwned"));
}

// The marker that records a file as archived cannot be written (an I/O error): the file is not
// counted as archived, and the whole step is retried until the marker is durable.
TEST_F(ArchiveTest, AMarkerThatCannotBeWrittenIsRetriedUntilDurable) {
  std::filesystem::create_directories(logDir_);
  std::filesystem::create_directories(archive_);
  const std::string name = "audit-kc-1-20261201T000000Z-12.log";
  test::writeFile(logDir_ / name, "x\n");
  auto fs = std::make_shared<test::FaultInjectingFileSystem>();
  fs->failRename({.error = EIO, .times = 2});
  auto archiver = AuditArchiver::start(
      logDir_,
      {.command = "cp %p " + shellQuote(archive_.string() + "/") + " && echo copied >> " +
                  shellQuote((dir_ / "copies").string()),
       .retryInitial = 10ms},
      fs);
  ASSERT_TRUE(archiver.isOk()) << archiver.status().toString();
  EXPECT_TRUE(waitFor([&] { return (*archiver)->archived() == 1; }, 5s));
  EXPECT_EQ(fs->counts().failedRenames, 2);
  EXPECT_EQ(doneMarkers(), std::set<std::string>{name});
  EXPECT_EQ(filesIn(archive_), std::set<std::string>{name});
  // A command is run again after a failure: archive commands must be idempotent (as
  // PostgreSQL's).
  EXPECT_EQ(test::readLines(dir_ / "copies").size(), 3u);
}

TEST(ArchiveCommand, OnlyPercentPIsReplacedAndQuoted) {
  EXPECT_EQ(archiveCommandFor("cp %p /a/%f %% x", "/l/it's.log"),
            "cp '/l/it'\\''s.log' /a/%f %% x");
  EXPECT_EQ(shellQuote(""), "''");
}

}  // namespace
}  // namespace kc::audit
