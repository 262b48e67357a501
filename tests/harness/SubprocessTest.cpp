// BackgroundProcess: a program a test leaves running never outlives the test process.

#include <gtest/gtest.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <string>
#include <thread>

#include "support/Subprocess.h"
#include "support/TempDir.h"

namespace kc::test {
namespace {

namespace fs = std::filesystem;

constexpr const char* kPidFileVariable = "KC_TEST_ORPHAN_PID_FILE";

// Whether `pid` is gone: no such process, or one that has exited and waits to be reaped by
// whoever inherited it.
bool gone(pid_t pid) {
  std::ifstream stat("/proc/" + std::to_string(pid) + "/stat");
  std::string line;
  if (!std::getline(stat, line)) return true;
  const auto end = line.rfind(')');
  return end == std::string::npos || line.substr(end + 2, 1) == "Z";
}

bool goneWithin(pid_t pid, std::chrono::seconds limit) {
  const auto deadline = std::chrono::steady_clock::now() + limit;
  while (std::chrono::steady_clock::now() < deadline) {
    if (gone(pid)) return true;
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
  return gone(pid);
}

// The children of this process, by their /proc entries.
int childCount() {
  int count = 0;
  const std::string self = std::to_string(::getpid());
  for (const auto& entry : fs::directory_iterator("/proc")) {
    std::ifstream stat(entry.path() / "stat");
    std::string line;
    if (!std::getline(stat, line)) continue;
    const auto end = line.rfind(')');
    if (end == std::string::npos) continue;
    std::istringstream fields(line.substr(end + 2));
    std::string state, parent;
    fields >> state >> parent;
    if (parent == self) ++count;
  }
  return count;
}

// Run only as the child of the test below: leaves a program running and dies by abort(), the
// way a crashing suite dies, without running any destructor.
TEST(OrphanChild, DISABLED_StartsAProgramThenAborts) {
  const char* pidFile = std::getenv(kPidFileVariable);
  ASSERT_NE(pidFile, nullptr);
  const fs::path dir = fs::path(pidFile).parent_path();
  auto* sleeper = new BackgroundProcess({"sleep", "600"}, (dir / "sleeper.log").string());
  writeFile(pidFile, std::to_string(sleeper->pid()) + "\n");
  std::abort();
}

TEST(BackgroundProcessTest, AProgramDoesNotOutliveATestProcessThatCrashed) {
  TempDir dir("kc-harness");
  const fs::path pidFile = dir / "sleeper.pid";
  const auto child = runProcess(
      {fs::read_symlink("/proc/self/exe").string(), "--gtest_also_run_disabled_tests",
       "--gtest_filter=OrphanChild.DISABLED_StartsAProgramThenAborts"},
      {.env = {{kPidFileVariable, pidFile.string()}}, .timeout = std::chrono::seconds(60)});
  ASSERT_EQ(child.exitCode, 128 + SIGABRT) << child.out << child.err;
  const pid_t sleeper = std::stoi(readFile(pidFile));
  ASSERT_GT(sleeper, 1);
  EXPECT_TRUE(goneWithin(sleeper, std::chrono::seconds(10)))
      << "the program (pid " << sleeper << ") outlived the crashed test process";
  if (!gone(sleeper)) ::kill(sleeper, SIGKILL);
}

TEST(BackgroundProcessTest, AStoppedProgramLeavesNoProcessBehind) {
  TempDir dir("kc-harness");
  const int before = childCount();
  {
    BackgroundProcess sleeper({"sleep", "600"}, (dir / "sleeper.log").string());
    EXPECT_GE(childCount(), before + 2) << "the program and its guard";
    EXPECT_EQ(sleeper.stop(), 128 + SIGTERM);
    EXPECT_EQ(childCount(), before) << "the guard is reaped with the program";
  }
  {
    BackgroundProcess quick({"true"}, (dir / "quick.log").string());
    const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(10);
    while (quick.running() && std::chrono::steady_clock::now() < deadline) {
      std::this_thread::sleep_for(std::chrono::milliseconds(10));
    }
    EXPECT_FALSE(quick.running());
    EXPECT_EQ(childCount(), before) << "a program that exited on its own takes its guard along";
  }
  EXPECT_EQ(childCount(), before);
}

}  // namespace
}  // namespace kc::test
