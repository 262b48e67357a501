// The daemon's properties file, parsed from memory with an empty environment: any bytes must
// give a configuration or one clear line, never a crash, an exception, or a multi-line error.

#include <cstdint>
#include <cstdlib>
#include <sstream>
#include <string>

#include "kc/appliance/Config.h"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  static const kc::appliance::Environment kEnvironment;
  std::istringstream input(std::string(reinterpret_cast<const char*>(data), size));
  auto config = kc::appliance::parseDaemonConfig(input, "fuzz.properties", "/nonexistent-kc-fuzz",
                                                 kEnvironment);
  if (!config) {
    const kc::Status status = config.status();
    const std::string& message = status.message();
    if (status.code() != kc::StatusCode::kInvalidArgument) std::abort();
    if (message.empty() || message.find('\n') != std::string::npos) std::abort();
    return 0;
  }
  if (config->pkcs11.wrapKey.empty()) std::abort();  // required, so never empty on success
  (void)kc::appliance::storeConfigFrom(*config);
  (void)kc::appliance::tokenSettingsFrom(config->pkcs11);
  return 0;
}
