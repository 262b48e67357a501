#pragma once
// Where the user PIN comes from: a file (a systemd credential is one) or an environment
// variable, never the command line. The PIN is read when needed and the caller wipes it.

#include <filesystem>
#include <string>

#include "kc/Result.h"
#include "kc/SecretBytes.h"

namespace kc::pkcs11 {

class PinSource {
 public:
  // A file holding the PIN (one trailing newline is ignored). Refused when others may
  // read it.
  static PinSource fromFile(const std::filesystem::path& path);
  static PinSource fromEnvironment(std::string variable);

  // Reads the PIN. Errors name the file or variable, never any of its contents.
  Result<SecretBytes> read() const;
  // For an environment variable: moves the PIN out of the process environment into locked
  // memory, where read() of any source naming that variable finds it from then on. Its value
  // is overwritten in place (also in the initial environment block that /proc/<pid>/environ
  // shows) and the variable unset, so neither children nor readers of /proc see it. Call
  // before other threads start (the environment is not thread-safe). A file source, or an
  // unset variable, is left alone.
  void moveOutOfEnvironment() const;
  // "file /etc/kc/pin" or "environment variable KC_PIN", for messages.
  std::string describe() const;

 private:
  enum class Kind { kFile, kEnvironment };
  PinSource(Kind kind, std::string where) : kind_(kind), where_(std::move(where)) {}
  Kind kind_;
  std::string where_;
};

}  // namespace kc::pkcs11
