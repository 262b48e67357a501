#pragma once
// NSS softokn (libsoftokn3.so) over a fresh NSS database in a temp dir: `certutil -N` makes
// the database with a random password, which is the user PIN of its "NSS Certificate DB"
// token; the module is initialised with "configDir=sql:<dir>" in
// CK_C_INITIALIZE_ARGS.pReserved. The module's other token, "NSS Generic Crypto Services",
// has no login and no token objects.

#include "support/TempDir.h"
#include "support/TestToken.h"

namespace kc::test {

class SoftoknToken : public TestToken {
 public:
  explicit SoftoknToken(std::string modulePath = KC_TEST_SOFTOKN_MODULE);

  std::string_view kind() const override { return "softokn"; }
  const std::string& label() const override { return label_; }
  const std::string& serial() const override { return serial_; }
  const std::string& modulePath() const override { return modulePath_; }
  const std::string& initArgs() const override { return initArgs_; }
  std::filesystem::path pinFile() const override { return dir_ / "user.pin"; }
  std::map<std::string, std::string> childEnvironment() const override { return {}; }
  std::shared_ptr<pkcs11::Module> module() const override { return module_; }
  pkcs11::OaepHash strongestOaep() const override { return pkcs11::OaepHash::kSha256; }
  std::string otherTokenLabel() override { return "NSS Generic Crypto Services"; }
  bool serialsAreUnique() const override { return false; }

 private:
  TempDir dir_{"kc-softokn"};
  std::string label_ = "NSS Certificate DB";
  std::string modulePath_;
  std::string initArgs_;
  std::string serial_;
  std::shared_ptr<pkcs11::Module> module_;
};

}  // namespace kc::test
