#pragma once
// A directory under $TMPDIR (or /tmp) removed with everything in it when the object dies.

#include <filesystem>
#include <string>

namespace kc::test {

class TempDir {
 public:
  explicit TempDir(const std::string& prefix = "kc-test");
  ~TempDir();
  TempDir(const TempDir&) = delete;
  TempDir& operator=(const TempDir&) = delete;

  const std::filesystem::path& path() const { return path_; }
  std::filesystem::path operator/(const std::string& name) const { return path_ / name; }
  // Keeps the directory after the test (for post-mortems).
  void keep() { keep_ = true; }

 private:
  std::filesystem::path path_;
  bool keep_ = false;
};

// Writes `contents` to `path` with the given permission bits.
void writeFile(const std::filesystem::path& path, const std::string& contents,
               std::filesystem::perms perms = std::filesystem::perms::owner_read |
                                              std::filesystem::perms::owner_write);
std::string readFile(const std::filesystem::path& path);

}  // namespace kc::test
