#pragma once
// A PKCS#11 module loaded by path: dlopen, C_GetFunctionList, C_Initialize with OS
// locking, and C_Finalize + dlclose when the last user lets go.

#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "kc/Result.h"
#include "kc/pkcs11/Cryptoki.h"
#include "kc/pkcs11/Pkcs11Uri.h"

namespace kc::pkcs11 {

// What a slot's token says about itself; enough to choose one and to explain a choice.
struct TokenDescription {
  CK_SLOT_ID slot = 0;
  bool initialized = false;  // CKF_TOKEN_INITIALIZED
  std::string label;
  std::string serial;
  std::string manufacturer;
  std::string model;
  // CK_TOKEN_INFO's ulSessionCount and ulMaxSessionCount; empty when the token does not report
  // one (CK_UNAVAILABLE_INFORMATION). A maximum of 0 is CK_EFFECTIVELY_INFINITE: no limit.
  std::optional<CK_ULONG> sessionCount;
  std::optional<CK_ULONG> maxSessionCount;
};

class Module {
 public:
  // Loads and initialises the module at `path`. `initArgs`, when not empty, is passed
  // in CK_C_INITIALIZE_ARGS.pReserved (NSS softokn needs "configDir=..."). Loading the
  // same path twice returns the same Module: a module is initialised once per process. A
  // second load with other init args is INVALID_ARGUMENT (for softokn they name another
  // database, which the module already initialised would never open).
  static Result<std::shared_ptr<Module>> load(const std::string& path,
                                              const std::string& initArgs = "");
  ~Module();
  Module(const Module&) = delete;
  Module& operator=(const Module&) = delete;

  CK_FUNCTION_LIST* api() const { return api_; }
  const std::string& path() const { return path_; }

  // Every slot with a token present, initialised or not.
  Result<std::vector<TokenDescription>> tokens() const;

  // The one slot whose token (and slot) matches `uri`. No match, or more than one, is
  // an error that names the URI and lists the tokens present.
  Result<CK_SLOT_ID> findToken(const Pkcs11Uri& uri, TokenMatch match = TokenMatch::kExact) const;

 private:
  Module(std::string path, void* library, CK_FUNCTION_LIST* api)
      : path_(std::move(path)), library_(library), api_(api) {}
  std::string path_;
  void* library_;
  CK_FUNCTION_LIST* api_;
};

}  // namespace kc::pkcs11
