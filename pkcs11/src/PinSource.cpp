#include "kc/pkcs11/PinSource.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstdlib>
#include <cstring>

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

}  // namespace

PinSource PinSource::fromFile(std::filesystem::path path) {
  return {Kind::kFile, path.string()};
}

PinSource PinSource::fromEnvironment(std::string variable) {
  return {Kind::kEnvironment, std::move(variable)};
}

std::string PinSource::describe() const {
  return (kind_ == Kind::kFile ? "PIN file " : "PIN environment variable ") + where_;
}

Result<SecretBytes> PinSource::read() const {
  if (kind_ == Kind::kEnvironment) {
    const char* value = std::getenv(where_.c_str());
    if (value == nullptr || *value == '\0') {
      return Status(StatusCode::kInvalidArgument, describe() + " is not set");
    }
    SecretBytes pin = SecretBytes::fromString(value);
    dropTrailingNewline(pin);
    return pin;
  }

  const int fd = open(where_.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) {
    return Status(StatusCode::kInvalidArgument,
                  "cannot open " + describe() + ": " + std::strerror(errno));
  }
  struct stat info {};
  if (fstat(fd, &info) != 0 || !S_ISREG(info.st_mode)) {
    close(fd);
    return Status(StatusCode::kInvalidArgument, describe() + " is not a regular file");
  }
  if ((info.st_mode & S_IROTH) != 0) {
    close(fd);
    return Status(StatusCode::kPolicyViolation,
                  describe() + " is readable by every user; chmod 600 it (or 640 for a group)");
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
                    "cannot read " + describe() + ": " + std::strerror(saved));
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
