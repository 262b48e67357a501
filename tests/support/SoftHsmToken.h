#pragma once
// A real SoftHSM token in a temp dir, for one test process: its own token directory and
// softhsm2.conf (SOFTHSM2_CONF is set for this process and given to children), a token
// initialised with random SO and user PINs kept in 0600 files.
//
// SoftHSM reads SOFTHSM2_CONF once, when the module is initialised, so a process has
// one SoftHsmToken (create it in a GoogleTest Environment or a static).

#include <filesystem>
#include <map>
#include <memory>
#include <string>

#include "kc/pkcs11/Module.h"
#include "kc/pkcs11/SessionPool.h"
#include "support/TempDir.h"
#include "support/TestToken.h"

namespace kc::test {

class SoftHsmToken : public TestToken {
 public:
  // `modulePath` may name a module that forwards to SoftHSM (the fault injector).
  explicit SoftHsmToken(std::string label = "kc-test",
                        std::string modulePath = KC_TEST_PKCS11_MODULE);

  std::string_view kind() const override { return "softhsm"; }
  const std::string& label() const override { return label_; }
  const std::string& serial() const override { return serial_; }
  const std::string& modulePath() const override { return modulePath_; }
  const std::string& initArgs() const override { return initArgs_; }
  const std::filesystem::path& dir() const { return dir_.path(); }
  std::filesystem::path confPath() const { return dir_ / "softhsm2.conf"; }
  std::filesystem::path pinFile() const override { return dir_ / "user.pin"; }
  std::filesystem::path soPinFile() const { return dir_ / "so.pin"; }
  std::map<std::string, std::string> childEnvironment() const override;
  std::shared_ptr<pkcs11::Module> module() const override { return module_; }
  // SoftHSM 2.6 does RSA-OAEP with SHA-1 only.
  pkcs11::OaepHash strongestOaep() const override { return pkcs11::OaepHash::kSha1; }
  std::string otherTokenLabel() override;
  bool serialsAreUnique() const override { return true; }

  // Initialises one more token labelled `label` in the next free slot (same PINs).
  void addToken(const std::string& label);

 private:
  TempDir dir_{"kc-softhsm"};
  std::string label_;
  std::string modulePath_;
  std::string initArgs_;
  std::string serial_;
  std::shared_ptr<pkcs11::Module> module_;
  bool otherAdded_ = false;
};

// Generates a 2048-bit RSA key pair directly through Cryptoki with the given private-key
// flags, to make keys our own generator never would (extractable, not sensitive,
// duplicates). `idByte` makes the CKA_ID {0xEE, idByte}. Throws on failure.
void generateRawKeyPair(pkcs11::SessionPool& pool, const std::string& label, bool extractable,
                        bool sensitive, unsigned char idByte);

// Generates a wrapping key pair our policy would accept but for its history: generated with
// CKA_EXTRACTABLE=true, which is then cleared with C_SetAttributeValue, so the token reports
// CKA_EXTRACTABLE=false and CKA_NEVER_EXTRACTABLE=false (someone could have copied it out
// first). CKA_ID {0xEE, idByte}. Throws on failure.
void generateOnceExtractableWrapKey(pkcs11::SessionPool& pool, const std::string& label,
                                    unsigned char idByte);

// A random printable string of `length` characters (PINs, labels).
std::string randomToken(std::size_t length);

}  // namespace kc::test
