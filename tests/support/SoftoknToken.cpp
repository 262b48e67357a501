#include "support/SoftoknToken.h"

#include <stdexcept>

#include "support/SecretLedger.h"
#include "support/SoftHsmToken.h"
#include "support/Subprocess.h"

namespace kc::test {

SoftoknToken::SoftoknToken(std::string modulePath) : modulePath_(std::move(modulePath)) {
  const std::string pin = randomToken(12);
  recordSecret("pin", pin);
  writeFile(pinFile(), pin + "\n");
  const std::string database = "sql:" + dir_.path().string();
  // certutil reads the new database password from the first line of the -f file.
  const auto made = runProcess({"certutil", "-N", "-d", database, "-f", pinFile().string()});
  if (made.exitCode != 0) {
    throw std::runtime_error("certutil -N could not make an NSS database (exit " +
                             std::to_string(made.exitCode) + "): " + made.err);
  }
  initArgs_ = "configDir=" + database;
  auto module = pkcs11::Module::load(modulePath_, initArgs_);
  if (!module) throw std::runtime_error(module.status().toString());
  module_ = *module;
  auto tokens = module_->tokens();
  if (!tokens) throw std::runtime_error(tokens.status().toString());
  for (const auto& token : *tokens) {
    if (token.label == label_) serial_ = token.serial;
  }
  if (serial_.empty()) throw std::runtime_error("softokn shows no token '" + label_ + "'");
}

}  // namespace kc::test
