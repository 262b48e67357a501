// Fail closed: when the log cannot be written, append() refuses (so the daemon answers 503
// and releases nothing), healthy() turns false, and the log recovers by itself once the
// disk takes writes again, leaving a valid chain with a log.recovery record.

#include <gtest/gtest.h>
#include <sys/mount.h>
#include <sys/resource.h>
#include <unistd.h>

#include <csignal>
#include <fstream>
#include <thread>

#include "AuditTestSupport.h"
#include "kc/audit/AuditLog.h"
#include "kc/audit/AuditVerifier.h"
#include "support/TempDir.h"

namespace kc::audit {
namespace {

std::vector<LogFile> loadDirectory(const std::filesystem::path& directory) {
  std::vector<LogFile> files;
  for (const auto& path : test::logFiles(directory))
    files.push_back({path.filename().string(), test::readFile(path)});
  return files;
}

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

void expectRecoveredChain(const std::filesystem::path& directory) {
  const auto report = verifyLogs(loadDirectory(directory), nullptr);
  std::string findings;
  for (const auto& f : report.findings) findings += f.toString() + "\n";
  EXPECT_TRUE(report.intact()) << findings;
  bool sawRecovery = false;
  for (const auto& r : report.records) sawRecovery |= r.record.operation == op::kLogRecovery;
  EXPECT_TRUE(sawRecovery) << "the chain records the recovery";
  const std::string text = test::readFile(directory / "audit.log");
  EXPECT_EQ(text.back(), '\n') << "no partial line is left behind";
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

TEST(AuditLogFailClosed, RefusesRecordsOnAFullFileSystemAndRecoversWhenSpaceReturns) {
  test::TempDir dir("kc-audit-full");
  SmallFileSystem fs(dir / "mnt");
  if (!fs.mounted()) GTEST_SKIP() << "cannot mount a tmpfs here (needs root); see the RLIMIT test";
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

// RLIMIT_FSIZE makes writes past a size fail with EFBIG, for any user and in any container.
class FileSizeLimit {
 public:
  explicit FileSizeLimit(rlim_t bytes) {
    previousHandler_ = std::signal(SIGXFSZ, SIG_IGN);
    ::getrlimit(RLIMIT_FSIZE, &previous_);
    rlimit limit = previous_;
    limit.rlim_cur = bytes;
    ::setrlimit(RLIMIT_FSIZE, &limit);
  }
  ~FileSizeLimit() { lift(); }
  FileSizeLimit(const FileSizeLimit&) = delete;
  FileSizeLimit& operator=(const FileSizeLimit&) = delete;
  void lift() {
    if (lifted_) return;
    ::setrlimit(RLIMIT_FSIZE, &previous_);
    std::signal(SIGXFSZ, previousHandler_);
    lifted_ = true;
  }

 private:
  rlimit previous_{};
  void (*previousHandler_)(int) = SIG_DFL;
  bool lifted_ = false;
};

TEST(AuditLogFailClosed, RefusesRecordsWhenWritesFailAndRecoversWhenTheyWorkAgain) {
  test::TempDir dir("kc-audit-fsize");
  auto opened = AuditLog::open({.directory = dir / "log", .instance = "kc-1"});
  ASSERT_TRUE(opened.isOk()) << opened.status().toString();
  auto& log = **opened;
  ASSERT_TRUE(log.append(test::sampleRecord(0)).isOk());
  const auto size = std::filesystem::file_size(dir / "log" / "audit.log");
  {
    FileSizeLimit limit(size + 1000);  // room for about two records, then EFBIG
    const int accepted = appendUntilRefused(log, 50);
    ASSERT_GE(accepted, 0) << "no append was refused past the file size limit";
    EXPECT_LE(accepted, 4);
    EXPECT_FALSE(log.healthy());
    EXPECT_EQ(log.append(test::sampleRecord(99)).code(), StatusCode::kUnavailable);
    limit.lift();
  }
  EXPECT_TRUE(waitHealthy(log, std::chrono::seconds(5)));
  ASSERT_TRUE(log.append(test::sampleRecord(100)).isOk());
  ASSERT_TRUE(log.close().isOk());
  expectRecoveredChain(dir / "log");
}

TEST(AuditLogFailClosed, RefusesRecordsWhileTheLogFileIsReplacedByADirectory) {
  test::TempDir dir("kc-audit-gone");
  auto opened = AuditLog::open({.directory = dir / "log", .instance = "kc-1"});
  ASSERT_TRUE(opened.isOk());
  auto& log = **opened;
  ASSERT_TRUE(log.append(test::sampleRecord(0)).isOk());
  // Some outside hand moves the file away and puts a directory in its place: the writer's
  // descriptor still works, so force a reopen through a failed write first.
  const auto active = dir / "log" / "audit.log";
  const auto moved = dir / "log" / "moved.txt";
  {
    FileSizeLimit limit(1);
    EXPECT_FALSE(log.append(test::sampleRecord(1)).isOk());
    std::filesystem::rename(active, moved);
    std::filesystem::create_directory(active);
    limit.lift();
  }
  std::this_thread::sleep_for(std::chrono::milliseconds(1500));
  EXPECT_FALSE(log.healthy()) << "audit.log is a directory: nothing can be written";
  EXPECT_EQ(log.append(test::sampleRecord(2)).code(), StatusCode::kUnavailable);
  std::filesystem::remove(active);
  std::filesystem::rename(moved, active);
  EXPECT_TRUE(waitHealthy(log, std::chrono::seconds(5)));
  ASSERT_TRUE(log.append(test::sampleRecord(3)).isOk());
  ASSERT_TRUE(log.close().isOk());
  expectRecoveredChain(dir / "log");
}

}  // namespace
}  // namespace kc::audit
