#include "kc/pkcs11/PinSource.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <map>
#include <memory>
#include <mutex>
#include <system_error>

namespace kc::pkcs11 {
namespace {

constexpr std::size_t kMaxPinLength = 256;

// Drops one trailing "\n" or "\r\n": editors and `echo` add one.
void dropTrailingNewline(SecretBytes& pin) {
  std::size_t size = pin.size();
  if (size > 0 && pin.data()[size - 1] == '\n') --size;
  if (size > 0 && pin.data()[size - 1] == '\r') --size;
  pin.truncate(size);
}

// A PIN file must be a regular file that only its owner can change and others cannot read,
// owned by this process's effective user or by root: systemd's credential files
// ($CREDENTIALS_DIRECTORY) stay root's, mode 0400, with an ACL granting the service user read,
// and a root-owned file in group keyconnector (0640) is a file the service cannot rewrite.
Status checkPinFile(int fd, const std::string& described) {
  struct stat info {};
  if (fstat(fd, &info) != 0 || !S_ISREG(info.st_mode)) {
    return Status(StatusCode::kInvalidArgument, described + " is not a regular file");
  }
  if (info.st_uid != geteuid() && info.st_uid != 0) {
    return Status(StatusCode::kPolicyViolation,
                  described + " is owned by uid " + std::to_string(info.st_uid) +
                      ", neither this process's user (uid " + std::to_string(geteuid()) +
                      ") nor root; chown it");
  }
  if ((info.st_mode & (S_IWGRP | S_IWOTH)) != 0) {
    return Status(StatusCode::kPolicyViolation,
                  described +
                      " is writable by its group or by every user; chmod 600 it (or 640 "
                      "for a group)");
  }
  if ((info.st_mode & S_IROTH) != 0) {
    return Status(StatusCode::kPolicyViolation,
                  described + " is readable by every user; chmod 600 it (or 640 for a group)");
  }
  return Status::ok();
}

// PINs moved out of the environment, by variable name. Never destroyed: a PIN may be read
// while static objects are torn down.
struct MovedPins {
  std::mutex mutex;
  std::map<std::string, std::shared_ptr<const SecretBytes>, std::less<>> byVariable;
};

MovedPins& movedPins() {
  static MovedPins* const pins = new MovedPins;
  return *pins;
}

std::shared_ptr<const SecretBytes> movedPin(std::string_view variable) {
  MovedPins& pins = movedPins();
  std::lock_guard lock(pins.mutex);
  auto found = pins.byVariable.find(variable);
  return found == pins.byVariable.end() ? nullptr : found->second;
}

}  // namespace

PinSource PinSource::fromFile(const std::filesystem::path& path) {
  return {Kind::kFile, path.string()};
}

PinSource PinSource::fromEnvironment(std::string variable) {
  return {Kind::kEnvironment, std::move(variable)};
}

std::string PinSource::describe() const {
  return (kind_ == Kind::kFile ? "PIN file " : "PIN environment variable ") + where_;
}

void PinSource::moveOutOfEnvironment() const {
  if (kind_ != Kind::kEnvironment) return;
  // Called before other threads start (see the header), so the environment is ours alone.
  const char* value = std::getenv(where_.c_str());  // NOLINT(concurrency-mt-unsafe)
  if (value == nullptr || *value == '\0') return;
  SecretBytes pin = SecretBytes::fromString(value);
  dropTrailingNewline(pin);
  {
    MovedPins& pins = movedPins();
    std::lock_guard lock(pins.mutex);
    pins.byVariable[where_] = std::make_shared<const SecretBytes>(std::move(pin));
  }
  // Every NAME=value entry (a variable can be given twice), then the names themselves.
  const std::string prefix = where_ + "=";
  for (char** entry = environ; entry != nullptr && *entry != nullptr; ++entry) {
    if (std::strncmp(*entry, prefix.c_str(), prefix.size()) == 0) {
      char* text = *entry + prefix.size();
      explicit_bzero(text, std::strlen(text));
    }
  }
  unsetenv(where_.c_str());  // NOLINT(concurrency-mt-unsafe): before other threads start
}

Result<SecretBytes> PinSource::read() const {
  if (kind_ == Kind::kEnvironment) {
    if (auto moved = movedPin(where_)) return moved->copy();
    // Safe: the environment's only writer is moveOutOfEnvironment, before threads start.
    const char* value = std::getenv(where_.c_str());  // NOLINT(concurrency-mt-unsafe)
    if (value == nullptr || *value == '\0') {
      return Status(StatusCode::kInvalidArgument, describe() + " is not set");
    }
    SecretBytes pin = SecretBytes::fromString(value);
    dropTrailingNewline(pin);
    return pin;
  }

  // O_NOFOLLOW: a symbolic link is refused, so the checks below are of the file named.
  // O_NONBLOCK: a FIFO in its place cannot hang the start-up (it is refused below).
  const int fd = open(where_.c_str(), O_RDONLY | O_CLOEXEC | O_NOFOLLOW | O_NONBLOCK);
  if (fd < 0) {
    const int saved = errno;
    if (saved == ELOOP) {
      return Status(StatusCode::kPolicyViolation,
                    describe() + " is a symbolic link; name the file itself");
    }
    return Status(StatusCode::kInvalidArgument,
                  "cannot open " + describe() + ": " + std::generic_category().message(saved));
  }
  // Checked on the opened file, so what is read is what was checked.
  Status checked = checkPinFile(fd, describe());
  if (!checked.isOk()) {
    close(fd);
    return checked;
  }
  SecretBytes pin(kMaxPinLength + 1);
  std::size_t filled = 0;
  while (filled < pin.size()) {
    const ssize_t n = ::read(fd, pin.data() + filled, pin.size() - filled);
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) {
      const int saved = errno;
      close(fd);
      return Status(StatusCode::kInvalidArgument,
                    "cannot read " + describe() + ": " + std::generic_category().message(saved));
    }
    if (n == 0) break;
    filled += static_cast<std::size_t>(n);
  }
  close(fd);
  pin.truncate(filled);
  dropTrailingNewline(pin);
  if (pin.size() > kMaxPinLength) {
    return Status(StatusCode::kInvalidArgument, describe() + " is longer than 256 bytes");
  }
  if (pin.empty()) return Status(StatusCode::kInvalidArgument, describe() + " is empty");
  return pin;
}

}  // namespace kc::pkcs11
