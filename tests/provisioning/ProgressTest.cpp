// kc-setup's progress output off a terminal: one plain line per step and one at the end, never
// the same line twice.

#include <gtest/gtest.h>

#include <cstdint>
#include <sstream>
#include <string>
#include <vector>

#include "Progress.h"

namespace kc::setup {
namespace {

// The lines a Progress of `total` users in `style`, a plain line every 5, writes for
// `advances`; its destructor finishes it.
std::vector<std::string> linesFor(Progress::Style style, std::uint64_t total,
                                  const std::vector<std::uint64_t>& advances) {
  std::ostringstream out;
  {
    Progress progress(out, "users", total, style, 5);
    for (const auto count : advances) progress.advance(count);
  }
  std::vector<std::string> lines;
  std::istringstream in(out.str());
  for (std::string line; std::getline(in, line);) lines.push_back(line);
  return lines;
}

TEST(Progress, PlainLinesComeEveryStepAndTheEndIsNotRepeated) {
  // 3, then 5 (crosses 5), then 10 (crosses 10: that line already says 10 of 10).
  const auto lines = linesFor(Progress::Style::kPlain, 10, {3, 2, 5});
  ASSERT_EQ(lines.size(), 2u);
  EXPECT_EQ(lines[0].rfind("5 of 10 users (50%)", 0), 0u) << lines[0];
  EXPECT_EQ(lines[1].rfind("10 of 10 users (100%)", 0), 0u) << lines[1];
}

TEST(Progress, AnEndBetweenStepsGetsItsOwnLine) {
  // 6 (crosses 5), then 7 (crosses nothing): the end has a line of its own.
  const auto lines = linesFor(Progress::Style::kPlain, 7, {6, 1});
  ASSERT_EQ(lines.size(), 2u);
  EXPECT_EQ(lines[0].rfind("6 of 7 users", 0), 0u) << lines[0];
  EXPECT_EQ(lines[1].rfind("7 of 7 users (100%)", 0), 0u) << lines[1];
}

TEST(Progress, QuietWritesNothing) {
  EXPECT_TRUE(linesFor(Progress::Style::kQuiet, 7, {7}).empty());
}

}  // namespace
}  // namespace kc::setup
