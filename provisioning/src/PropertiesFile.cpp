#include "PropertiesFile.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <fstream>
#include <sstream>
#include <system_error>

#include "kc/FileDescriptor.h"
#include "kc/Text.h"

namespace kc::setup {
namespace {

namespace fs = std::filesystem;

bool isCommentOrBlank(std::string_view line) {
  const std::string_view content = trimView(line);
  return content.empty() || content.front() == '#' || content.front() == '!';
}

// True when `line` ends in an odd number of backslashes: its value goes on.
bool continues(std::string_view line) {
  std::size_t backslashes = 0;
  for (auto it = line.rbegin(); it != line.rend() && *it == '\\'; ++it) ++backslashes;
  return backslashes % 2 == 1;
}

std::size_t separatorOf(std::string_view line) {
  return line.find_first_of("=:");
}

// Poco's reading of a value: escapes decoded, continuation lines joined (leading blanks of a
// continued line are kept, as Poco keeps them), then trimmed.
std::string decodeValue(const std::vector<std::string>& lines) {
  std::string raw;
  const std::size_t separator = separatorOf(lines.front());
  if (separator == std::string::npos) return {};
  raw = lines.front().substr(separator + 1);
  for (std::size_t i = 1; i < lines.size(); ++i) raw += "\n" + lines[i];
  std::string out;
  for (std::size_t i = 0; i < raw.size(); ++i) {
    if (raw[i] != '\\') {
      out.push_back(raw[i]);
      continue;
    }
    if (++i == raw.size()) break;
    switch (raw[i]) {
      case 't':
        out.push_back('\t');
        break;
      case 'r':
        out.push_back('\r');
        break;
      case 'n':
        out.push_back('\n');
        break;
      case 'f':
        out.push_back('\f');
        break;
      case '\n':
        break;  // a continuation
      default:
        out.push_back(raw[i]);
    }
  }
  return trim(out);
}

std::string encodeValue(std::string_view value) {
  std::string out;
  for (char c : value) {
    if (c == '\\') out.push_back('\\');
    out.push_back(c);
  }
  return out;
}

std::string errnoText() {
  return std::generic_category().message(errno);  // strerror's text, without its shared buffer
}

Status writeAll(int fd, std::string_view text) {
  while (!text.empty()) {
    const ssize_t written = ::write(fd, text.data(), text.size());
    if (written < 0) {
      if (errno == EINTR) continue;
      return {StatusCode::kInvalidArgument, errnoText()};
    }
    text.remove_prefix(static_cast<std::size_t>(written));
  }
  return Status::ok();
}

Status writeReplacing(const fs::path& path, std::string_view text, bool mustExist) {
  struct stat old {};
  const bool exists = ::stat(path.c_str(), &old) == 0;
  if (!exists && mustExist) {
    return {StatusCode::kInvalidArgument, "cannot read " + path.string() + ": " + errnoText()};
  }
  const fs::path directory = path.has_parent_path() ? path.parent_path() : fs::path(".");
  std::string temporary = (directory / ("." + path.filename().string() + ".kc-setup-XXXXXX"));
  FileDescriptor fd(::mkstemp(temporary.data()));
  auto fail = [&](const std::string& step) {
    const std::string reason = errnoText();
    ::unlink(temporary.c_str());
    return Status(StatusCode::kInvalidArgument,
                  "cannot write " + path.string() + " (" + step + "): " + reason);
  };
  if (fd.get() < 0) {
    return {StatusCode::kInvalidArgument, "cannot write " + path.string() +
                                              " (create a temporary file in " + directory.string() +
                                              "): " + errnoText()};
  }
  if (Status written = writeAll(fd.get(), text); !written.isOk()) return fail("write");
  const mode_t mode = exists ? (old.st_mode & 07777) : mode_t{0600};
  if (::fchmod(fd.get(), mode) != 0) return fail("chmod");
  if (exists && (old.st_uid != ::geteuid() || old.st_gid != ::getegid()) &&
      ::fchown(fd.get(), old.st_uid, old.st_gid) != 0) {
    return fail("chown to the old file's owner");
  }
  if (::fsync(fd.get()) != 0) return fail("fsync");
  if (::close(fd.release()) != 0) return fail("close");
  if (::rename(temporary.c_str(), path.c_str()) != 0) return fail("rename");
  FileDescriptor dir(::open(directory.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC));
  if (dir.get() >= 0) ::fsync(dir.get());  // best effort: the rename is done either way
  return Status::ok();
}

}  // namespace

Result<PropertiesFile> PropertiesFile::read(const fs::path& path) {
  std::ifstream in(path, std::ios::binary);
  std::ostringstream text;
  text << in.rdbuf();
  if (!in) return Status(StatusCode::kInvalidArgument, "cannot read " + path.string());
  return parse(text.str());
}

PropertiesFile PropertiesFile::parse(std::string_view text) {
  PropertiesFile file;
  file.endsWithNewline_ = text.empty() || text.back() == '\n';
  std::vector<std::string> lines;
  std::size_t start = 0;
  while (start < text.size()) {
    std::size_t end = text.find('\n', start);
    if (end == std::string_view::npos) end = text.size();
    lines.emplace_back(text.substr(start, end - start));
    start = end + 1;
  }
  for (std::size_t i = 0; i < lines.size(); ++i) {
    Entry entry;
    entry.lines.push_back(lines[i]);
    if (!isCommentOrBlank(lines[i])) {
      const std::size_t separator = separatorOf(lines[i]);
      entry.key = trim(std::string_view(lines[i]).substr(0, separator));
      while (continues(entry.lines.back()) && i + 1 < lines.size()) {
        entry.lines.push_back(lines[++i]);
      }
    }
    file.entries_.push_back(std::move(entry));
  }
  return file;
}

std::optional<std::string> PropertiesFile::get(std::string_view key) const {
  std::optional<std::string> value;
  for (const auto& entry : entries_) {
    if (!entry.key.empty() && entry.key == key) value = decodeValue(entry.lines);
  }
  return value;
}

Status PropertiesFile::set(std::string_view key, std::string_view value) {
  for (char c : value) {
    if (static_cast<unsigned char>(c) < 0x20 || c == 0x7f) {
      return {StatusCode::kInvalidArgument,
              std::string(key) + ": a value must not hold a line break or control character"};
    }
  }
  const std::string encoded = encodeValue(trim(value));
  bool replaced = false;
  for (auto it = entries_.begin(); it != entries_.end();) {
    if (it->key.empty() || it->key != key) {
      ++it;
      continue;
    }
    if (replaced) {
      it = entries_.erase(it);
      continue;
    }
    // Keep everything up to the separator and the blanks after it: "key = ", "key=", "key: ".
    const std::string& first = it->lines.front();
    std::size_t separator = separatorOf(first);
    std::string prefix;
    if (separator == std::string::npos) {
      prefix = first + " = ";
    } else {
      std::size_t valueStart = first.find_first_not_of(" \t", separator + 1);
      if (valueStart == std::string::npos) valueStart = first.size();
      prefix = first.substr(0, valueStart);
      if (valueStart == separator + 1 && first.size() == valueStart && separator > 0 &&
          first[separator - 1] == ' ') {
        prefix += ' ';  // "key =" with no value: keep the spacing symmetric
      }
    }
    it->lines = {prefix + encoded};
    replaced = true;
    ++it;
  }
  if (!replaced) {
    entries_.push_back({{std::string(key) + " = " + encoded}, std::string(key)});
    endsWithNewline_ = true;
  }
  return Status::ok();
}

void PropertiesFile::erase(std::string_view key) {
  std::erase_if(entries_,
                [&](const Entry& entry) { return !entry.key.empty() && entry.key == key; });
}

std::string PropertiesFile::text() const {
  std::string out;
  for (std::size_t i = 0; i < entries_.size(); ++i) {
    for (std::size_t j = 0; j < entries_[i].lines.size(); ++j) {
      out += entries_[i].lines[j];
      const bool last = i + 1 == entries_.size() && j + 1 == entries_[i].lines.size();
      if (!last || endsWithNewline_) out += '\n';
    }
  }
  return out;
}

Status replaceFileAtomically(const fs::path& path, std::string_view text) {
  return writeReplacing(path, text, true);
}

Status writeFileAtomically(const fs::path& path, std::string_view text) {
  return writeReplacing(path, text, false);
}

}  // namespace kc::setup
