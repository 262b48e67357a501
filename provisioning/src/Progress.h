#pragma once
// Progress of a long kc-setup run (import-bitwarden, rotate): on a terminal, one line redrawn
// in place with a bar, the count, the rate and the time left; otherwise (a log, a pipe, CI) a
// plain line every `plainEvery` items and at the end, so a log stays readable.

#include <chrono>
#include <cstdint>
#include <iosfwd>
#include <mutex>
#include <optional>
#include <string>

namespace kc::setup {

class Progress {
 public:
  enum class Style { kAuto, kBar, kPlain, kQuiet };

  // `what` names the items ("users"); `total` may be 0 when unknown. kAuto draws a bar when
  // `out` is standard error and standard error is a terminal.
  Progress(std::ostream& out, std::string what, std::uint64_t total, Style style = Style::kAuto,
           std::uint64_t plainEvery = 1000);
  ~Progress();
  Progress(const Progress&) = delete;
  Progress& operator=(const Progress&) = delete;

  // Counts `count` more items done; redraws at most ten times a second. Thread-safe.
  void advance(std::uint64_t count = 1);
  // Draws the final line (count, elapsed time, mean rate). Called by the destructor too.
  void finish();

  // "12,345 of 100,000 users (12%), 1,234/s, 1m 10s left"
  std::string line() const;

 private:
  void draw(bool final);
  std::string lineLocked() const;

  std::ostream& out_;
  std::string what_;
  std::uint64_t total_;
  Style style_;
  std::uint64_t plainEvery_;
  std::optional<std::uint64_t> plainDrawnAt_;  // the count of the last plain line
  std::chrono::steady_clock::time_point start_ = std::chrono::steady_clock::now();
  std::chrono::steady_clock::time_point lastDraw_{};
  mutable std::mutex mutex_;
  std::uint64_t done_ = 0;
  bool finished_ = false;
};

// "1m 10s", "2h 03m", "42s".
std::string formatDuration(std::chrono::seconds duration);

}  // namespace kc::setup
