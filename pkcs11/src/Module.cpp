#include "kc/pkcs11/Module.h"

#include <dlfcn.h>

#include <map>
#include <mutex>

#include "kc/pkcs11/Pkcs11Uri.h"

namespace kc::pkcs11 {
namespace {

// A module is initialised once per process, so a second load of the same path must
// share the first Module rather than C_Initialize (and later C_Finalize) it again.
std::mutex gRegistryMutex;
std::map<std::string, std::weak_ptr<Module>>& registry() {
  static std::map<std::string, std::weak_ptr<Module>> modules;
  return modules;
}

std::string describeTokens(const std::vector<TokenDescription>& tokens) {
  if (tokens.empty()) return "no token is present";
  std::string out = "tokens present:";
  for (const auto& token : tokens) {
    out += " [slot " + std::to_string(token.slot) + " ";
    out += token.initialized ? "label '" + token.label + "' serial " + token.serial
                             : std::string("uninitialised");
    out += "]";
  }
  return out;
}

}  // namespace

Result<std::shared_ptr<Module>> Module::load(const std::string& path, const std::string& initArgs) {
  std::lock_guard lock(gRegistryMutex);
  // Copied into a buffer that lives as long as the module: some modules keep the pointer.
  static std::map<std::string, std::string> initArgsStorage;
  if (auto existing = registry()[path].lock()) {
    // softokn's init args name its database: other ones would silently get the first.
    if (initArgsStorage[path] != initArgs) {
      return Status(StatusCode::kInvalidArgument,
                    "PKCS#11 module " + path +
                        " is already initialised in this process with other init args");
    }
    return existing;
  }

#if defined(__SANITIZE_ADDRESS__)
  // LeakSanitizer checks at exit, after the module is unloaded; it cannot name the frames of
  // an unloaded library, so a module's own leaks (NSS keeps some NSPR state after C_Finalize)
  // could not be suppressed by library name (tests/sanitizers/lsan.supp). Keep it mapped.
  constexpr int kLoadFlags = RTLD_NOW | RTLD_LOCAL | RTLD_NODELETE;
#else
  constexpr int kLoadFlags = RTLD_NOW | RTLD_LOCAL;
#endif
  void* library = dlopen(path.c_str(), kLoadFlags);
  if (library == nullptr) {
    const char* why = dlerror();  // NOLINT(concurrency-mt-unsafe): glibc keeps it per thread
    return Status(StatusCode::kInvalidArgument,
                  "cannot load PKCS#11 module " + path + ": " + (why ? why : "dlopen failed"));
  }
  auto getFunctionList =
      reinterpret_cast<CK_C_GetFunctionList>(dlsym(library, "C_GetFunctionList"));
  CK_FUNCTION_LIST* api = nullptr;
  if (getFunctionList == nullptr || getFunctionList(&api) != CKR_OK || api == nullptr) {
    dlclose(library);
    return Status(StatusCode::kInvalidArgument,
                  "PKCS#11 module " + path + " has no usable C_GetFunctionList");
  }

  std::string& reserved = initArgsStorage[path];
  reserved = initArgs;
  CK_C_INITIALIZE_ARGS args{};
  args.flags = CKF_OS_LOCKING_OK;
  args.pReserved = reserved.empty() ? nullptr : reserved.data();
  const CK_RV rv = api->C_Initialize(&args);
  if (rv != CKR_OK && rv != CKR_CRYPTOKI_ALREADY_INITIALIZED) {
    dlclose(library);
    Status error = tokenError("C_Initialize of " + path, rv);
    return Status(error.code() == StatusCode::kTokenError ? StatusCode::kUnavailable : error.code(),
                  error.message());
  }
  std::shared_ptr<Module> module(new Module(path, library, api));
  registry()[path] = module;
  return module;
}

Module::~Module() {
  api_->C_Finalize(nullptr);
  dlclose(library_);
}

Result<std::vector<TokenDescription>> Module::tokens() const {
  CK_ULONG count = 0;
  CK_RV rv = api_->C_GetSlotList(CK_TRUE, nullptr, &count);
  if (rv != CKR_OK) return tokenError("C_GetSlotList", rv);
  std::vector<CK_SLOT_ID> slots(count);
  rv = api_->C_GetSlotList(CK_TRUE, slots.data(), &count);
  if (rv != CKR_OK) return tokenError("C_GetSlotList", rv);
  slots.resize(count);

  std::vector<TokenDescription> out;
  for (CK_SLOT_ID slot : slots) {
    CK_TOKEN_INFO info{};
    rv = api_->C_GetTokenInfo(slot, &info);
    if (rv == CKR_TOKEN_NOT_PRESENT) continue;  // removed since the slot list was taken
    if (rv != CKR_OK) return tokenError("C_GetTokenInfo", rv);
    TokenDescription token;
    token.slot = slot;
    token.initialized = (info.flags & CKF_TOKEN_INITIALIZED) != 0;
    token.label = paddedField(info.label, sizeof info.label);
    token.serial = paddedField(info.serialNumber, sizeof info.serialNumber);
    token.manufacturer = paddedField(info.manufacturerID, sizeof info.manufacturerID);
    token.model = paddedField(info.model, sizeof info.model);
    if (info.ulSessionCount != CK_UNAVAILABLE_INFORMATION) token.sessionCount = info.ulSessionCount;
    if (info.ulMaxSessionCount != CK_UNAVAILABLE_INFORMATION) {
      token.maxSessionCount = info.ulMaxSessionCount;
    }
    out.push_back(std::move(token));
  }
  return out;
}

Result<CK_SLOT_ID> Module::findToken(const Pkcs11Uri& uri, TokenMatch match) const {
  auto tokens = this->tokens();
  if (!tokens) return tokens.status();
  std::vector<CK_SLOT_ID> matches;
  for (const auto& token : *tokens) {
    if (!token.initialized) continue;
    CK_SLOT_INFO slotInfo{};
    CK_TOKEN_INFO tokenInfo{};
    if (api_->C_GetSlotInfo(token.slot, &slotInfo) != CKR_OK) continue;
    if (api_->C_GetTokenInfo(token.slot, &tokenInfo) != CKR_OK) continue;
    if (uri.matchesSlot(token.slot, slotInfo) && uri.matchesToken(tokenInfo, match)) {
      matches.push_back(token.slot);
    }
  }
  if (matches.empty()) {
    return Status(StatusCode::kNotFound, "no token matches " + uri.text() + " in " + path_ + "; " +
                                             describeTokens(*tokens));
  }
  if (matches.size() > 1) {
    return Status(StatusCode::kConflict, std::to_string(matches.size()) + " tokens match " +
                                             uri.text() + "; add serial=... to choose one; " +
                                             describeTokens(*tokens));
  }
  return matches.front();
}

}  // namespace kc::pkcs11
