// kc-setup's progress output off a terminal: one plain line per step and one at the end, never
// the same line twice.

#include <gtest/gtest.h>

#include <sstream>
#include <string>
#include <vector>

#include "Progress.h"

namespace kc::setup {
namespace {

std::vector<std::string> linesOf(const std::string& text) {
  std::vector<std::string> lines;
  std::istringstream in(text);
  for (std::string line; std::getline(in, line);) lines.push_back(line);
  return lines;
}

TEST(Progress, PlainLinesComeEveryStepAndTheEndIsNotRepeated) {
  std::ostringstream out;
  {
    Progress progress(out, "users", 10, Progress::Style::kPlain, 5);
    progress.advance(3);
    progress.advance(2);  // crosses 5
    progress.advance(5);  // crosses 10: the last line already says 10 of 10
    progress.finish();
  }
  const auto lines = linesOf(out.str());
  ASSERT_EQ(lines.size(), 2u) << out.str();
  EXPECT_EQ(lines[0].rfind("5 of 10 users (50%)", 0), 0u) << lines[0];
  EXPECT_EQ(lines[1].rfind("10 of 10 users (100%)", 0), 0u) << lines[1];
}

TEST(Progress, AnEndBetweenStepsGetsItsOwnLine) {
  std::ostringstream out;
  {
    Progress progress(out, "users", 7, Progress::Style::kPlain, 5);
    progress.advance(6);  // crosses 5: "6 of 7"
    progress.advance(1);  // crosses nothing
  }                       // the destructor finishes: "7 of 7"
  const auto lines = linesOf(out.str());
  ASSERT_EQ(lines.size(), 2u) << out.str();
  EXPECT_EQ(lines[0].rfind("6 of 7 users", 0), 0u) << lines[0];
  EXPECT_EQ(lines[1].rfind("7 of 7 users (100%)", 0), 0u) << lines[1];
}

TEST(Progress, QuietWritesNothing) {
  std::ostringstream out;
  {
    Progress progress(out, "users", 7, Progress::Style::kQuiet, 1);
    progress.advance(7);
  }
  EXPECT_TRUE(out.str().empty()) << out.str();
}

}  // namespace
}  // namespace kc::setup
