#pragma once
// Editing the daemon's properties file in place, as an operator would with a text editor:
// comments, blank lines, the order of keys and the spacing around each '=' are kept; only the
// lines of the keys changed are touched. Reads lines the way Poco's PropertyFileConfiguration
// does (the daemon's reader): '#' or '!' starts a comment line, a key ends at the first '=' or
// ':', a value ending in an odd number of backslashes continues on the next line, and
// "\\" escapes a backslash.

#include <filesystem>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "kc/Result.h"

namespace kc::setup {

class PropertiesFile {
 public:
  // The file at `path`. INVALID_ARGUMENT naming the path when it cannot be read.
  static Result<PropertiesFile> read(const std::filesystem::path& path);
  // Properties text already in memory (tests).
  static PropertiesFile parse(std::string_view text);

  // The value the daemon reads for `key` (the last line setting it wins, as in Poco), decoded;
  // none when no line sets it.
  std::optional<std::string> get(std::string_view key) const;

  // Sets `key` to `value`: the first line setting it keeps its place (and its spacing) with
  // the new value, later lines setting it are removed; appended at the end when none does.
  // INVALID_ARGUMENT for a value holding a line break or another control character.
  Status set(std::string_view key, std::string_view value);

  // Removes every line setting `key`; a no-op when none does.
  void erase(std::string_view key);

  // The file's text as it would be written.
  std::string text() const;

 private:
  struct Entry {
    std::vector<std::string> lines;  // physical lines, without their line ends
    std::string key;                 // empty for a comment or a blank line
  };
  std::vector<Entry> entries_;
  bool endsWithNewline_ = true;
};

// Replaces the file at `path` with `text` so that a reader (a daemon reloading on SIGHUP) sees
// either the old file or the new one, never a mix, and a crash leaves one of them: the text is
// written to a temporary file beside it, given the old file's mode and owner, fsync'ed,
// renamed over `path`, and the directory fsync'ed. The old file must exist. INVALID_ARGUMENT
// naming the path and the failing step; the temporary file is removed on failure.
Status replaceFileAtomically(const std::filesystem::path& path, std::string_view text);

// The same for a file that may not exist yet: a new file gets mode 0600.
Status writeFileAtomically(const std::filesystem::path& path, std::string_view text);

}  // namespace kc::setup
