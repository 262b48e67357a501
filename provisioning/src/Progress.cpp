#include "Progress.h"

#include <unistd.h>

#include <iostream>

namespace kc::setup {
namespace {

std::string grouped(std::uint64_t n) {
  std::string digits = std::to_string(n);
  for (int i = static_cast<int>(digits.size()) - 3; i > 0; i -= 3) {
    digits.insert(static_cast<std::size_t>(i), ",");
  }
  return digits;
}

Progress::Style resolve(Progress::Style style, const std::ostream& out) {
  if (style != Progress::Style::kAuto) return style;
  return (&out == &std::cerr && ::isatty(STDERR_FILENO)) ? Progress::Style::kBar
                                                         : Progress::Style::kPlain;
}

}  // namespace

std::string formatDuration(std::chrono::seconds duration) {
  const auto total = duration.count();
  if (total < 60) return std::to_string(total) + "s";
  if (total < 3600) return std::to_string(total / 60) + "m " + std::to_string(total % 60) + "s";
  const auto minutes = (total % 3600) / 60;
  return std::to_string(total / 3600) + "h " + (minutes < 10 ? "0" : "") + std::to_string(minutes) +
         "m";
}

Progress::Progress(std::ostream& out, std::string what, std::uint64_t total, Style style,
                   std::uint64_t plainEvery)
    : out_(out),
      what_(std::move(what)),
      total_(total),
      style_(resolve(style, out)),
      plainEvery_(plainEvery == 0 ? 1 : plainEvery) {}

Progress::~Progress() {
  finish();
}

void Progress::advance(std::uint64_t count) {
  std::lock_guard lock(mutex_);
  const std::uint64_t before = done_;
  done_ += count;
  if (style_ == Style::kBar) {
    const auto now = std::chrono::steady_clock::now();
    if (now - lastDraw_ >= std::chrono::milliseconds(100)) {
      lastDraw_ = now;
      draw(false);
    }
  } else if (style_ == Style::kPlain && before / plainEvery_ != done_ / plainEvery_) {
    draw(false);
    plainDrawnAt_ = done_;
  }
}

void Progress::finish() {
  std::lock_guard lock(mutex_);
  if (finished_) return;
  finished_ = true;
  // Plain lines: the last one may already say where it ended (a multiple of plainEvery).
  if (style_ == Style::kPlain && plainDrawnAt_ == done_) return;
  if (style_ != Style::kQuiet) draw(true);
}

std::string Progress::line() const {
  std::lock_guard lock(mutex_);
  return lineLocked();
}

std::string Progress::lineLocked() const {
  const double seconds =
      std::chrono::duration<double>(std::chrono::steady_clock::now() - start_).count();
  const double rate = seconds > 0 ? static_cast<double>(done_) / seconds : 0.0;
  std::string text = grouped(done_);
  if (total_ > 0) {
    text +=
        " of " + grouped(total_) + " " + what_ + " (" + std::to_string(done_ * 100 / total_) + "%)";
  } else {
    text += " " + what_;
  }
  text += ", " + grouped(static_cast<std::uint64_t>(rate)) + "/s";
  if (total_ > done_ && rate > 0) {
    const auto left = static_cast<std::int64_t>(static_cast<double>(total_ - done_) / rate);
    text += ", " + formatDuration(std::chrono::seconds(left)) + " left";
  } else if (done_ >= total_ && total_ > 0) {
    text += ", " + formatDuration(std::chrono::seconds(static_cast<std::int64_t>(seconds)));
  }
  return text;
}

void Progress::draw(bool final) {
  if (style_ == Style::kBar) {
    constexpr std::size_t kWidth = 30;
    const std::size_t filled =
        total_ == 0 ? 0 : static_cast<std::size_t>(std::min(done_, total_) * kWidth / total_);
    out_ << "\r[" << std::string(filled, '#') << std::string(kWidth - filled, '.') << "] "
         << lineLocked() << "\033[K" << (final ? "\n" : "") << std::flush;
  } else {
    out_ << lineLocked() << "\n" << std::flush;
  }
}

}  // namespace kc::setup
