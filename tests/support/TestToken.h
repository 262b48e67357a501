#pragma once
// The PKCS#11 token a test process runs against, whichever implementation provides it:
// SoftHSM (the default) or NSS softokn, chosen by the environment variable KC_TEST_TOKEN
// ("softhsm" or "softokn"; ctest runs each token suite once per token). A suite written
// against TestToken runs unchanged on every implementation; another token (a vendor's module
// on a real HSM) is one more subclass and one more name in makeTestToken().
//
// A module is initialised once per process, so a process has one TestToken.

#include <filesystem>
#include <map>
#include <memory>
#include <string>
#include <string_view>

#include "kc/pkcs11/Module.h"
#include "kc/pkcs11/RsaKeyPair.h"
#include "kc/pkcs11/SessionPool.h"

namespace kc::test {

class TestToken {
 public:
  virtual ~TestToken() = default;

  // The name KC_TEST_TOKEN selects this implementation by.
  virtual std::string_view kind() const = 0;
  virtual const std::string& label() const = 0;
  virtual const std::string& serial() const = 0;
  virtual const std::string& modulePath() const = 0;
  // CK_C_INITIALIZE_ARGS.pReserved for the module (pkcs11.init_args); empty when none.
  virtual const std::string& initArgs() const = 0;
  // A 0600 file holding the user PIN.
  virtual std::filesystem::path pinFile() const = 0;
  // Environment a child process needs to see this token.
  virtual std::map<std::string, std::string> childEnvironment() const = 0;
  virtual std::shared_ptr<pkcs11::Module> module() const = 0;

  // The OAEP hash the probe must choose on this token: the strongest it does.
  virtual pkcs11::OaepHash strongestOaep() const = 0;
  // The label of a second token on the same module, made on the first call if needed.
  virtual std::string otherTokenLabel() = 0;
  // Whether the module's tokens have distinct serials (softokn's two both say 0000000000000000).
  virtual bool serialsAreUnique() const = 0;

  // pkcs11:token=<label>, percent-encoded.
  std::string tokenUri() const;
  // A fresh pool of logged-in sessions on this token.
  std::shared_ptr<pkcs11::SessionPool> openPool(pkcs11::SessionPoolOptions options = {}) const;
};

// A fresh token of the implementation KC_TEST_TOKEN names (SoftHSM when unset), labelled
// `label` where the implementation lets the label be chosen. An unknown name throws: a token
// the run asked for and cannot have is a failure, never a skip.
//
// With `forwardingModule`, that module is loaded instead, and KC_FAULTY_PKCS11_TARGET (for
// this process) names the token's own module for it to forward to: the fault injector.
std::unique_ptr<TestToken> makeTestToken(const std::string& label,
                                         const std::string& forwardingModule = "");

}  // namespace kc::test
