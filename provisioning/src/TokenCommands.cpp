// kc-setup token init | list: what an operator needs before any key exists.

#include <algorithm>
#include <iostream>

#include "Commands.h"
#include "SetupSettings.h"
#include "UriText.h"
#include "kc/pkcs11/TokenAdmin.h"

namespace kc::setup {
namespace {

// CK_TOKEN_INFO.label is 32 bytes, blank-padded.
constexpr std::size_t kMaxTokenLabel = 32;

std::vector<std::pair<std::string, std::string>> tokenRows(const pkcs11::TokenDescription& token) {
  // No slot id: SoftHSM renumbers the slot once the token is initialised.
  return {{"label", token.label}, {"serial", token.serial}, {"uri", tokenUri(token)}};
}

ExitCode runTokenInit(const cli::ParsedFlags& flags) {
  const auto label = flags.value("--label");
  if (!label) return reportError({StatusCode::kInvalidArgument, "--label NAME is required"});
  if (label->size() > kMaxTokenLabel) {
    return reportError(
        {StatusCode::kInvalidArgument, "--label is longer than a token label may be (32 bytes)"});
  }
  auto config = ConfigFile::load(flags.value("--config"));
  if (!config) return reportError(config.status());
  auto modulePath = resolveModule(flags, *config);
  if (!modulePath) return reportError(modulePath.status());
  auto soPin = resolveSoPin(flags);
  if (!soPin) return reportError(soPin.status());
  auto userPin = resolveUserPin(flags, *config);
  if (!userPin) return reportError(userPin.status());

  auto module = loadModule(*modulePath, resolveInitArgs(flags, *config));
  if (!module) return reportError(module.status());
  auto tokens = (*module)->tokens();
  if (!tokens) return reportError(tokens.status());
  const auto existing = std::find_if(tokens->begin(), tokens->end(), [&](const auto& token) {
    return token.initialized && token.label == *label;
  });
  if (existing != tokens->end()) {
    if (!flags.has("--if-missing")) {
      return reportError({StatusCode::kAlreadyExists,
                          "a token labelled '" + *label + "' already exists (serial " +
                              existing->serial +
                              "): choose another --label, or pass --if-missing to accept it"});
    }
    std::cout << "token '" << *label << "' already exists; nothing initialised (--if-missing)\n";
    printRows(std::cout, tokenRows(*existing));
    return ExitCode::kOk;
  }

  auto so = soPin->source.read();
  if (!so) {
    return reportError({so.status().code(), "cannot read the SO PIN (" + soPin->origin +
                                                "): " + so.status().message()});
  }
  auto user = userPin->source.read();
  if (!user) {
    return reportError({user.status().code(), "cannot read the user PIN (" + userPin->origin +
                                                  "): " + user.status().message()});
  }
  auto token = pkcs11::initToken(**module, *label, *so, *user);
  if (!token) {
    return reportError({token.status().code(),
                        "cannot initialise token '" + *label + "': " + token.status().message()});
  }
  std::cout << "initialised token '" << token->label << "'\n";
  printRows(std::cout, tokenRows(*token));
  return ExitCode::kOk;
}

ExitCode runTokenList(const cli::ParsedFlags& flags) {
  auto config = ConfigFile::load(flags.value("--config"));
  if (!config) return reportError(config.status());
  auto modulePath = resolveModule(flags, *config);
  if (!modulePath) return reportError(modulePath.status());
  auto module = loadModule(*modulePath, resolveInitArgs(flags, *config));
  if (!module) return reportError(module.status());
  auto tokens = (*module)->tokens();
  if (!tokens) return reportError(tokens.status());

  std::cout << "module: " << modulePath->value << "\n";
  std::size_t initialised = 0;
  for (const auto& token : *tokens) {
    std::cout << "slot " << token.slot << "\n";
    if (!token.initialized) {
      printRows(std::cout,
                {{"initialised", "no (free for kc-setup token init)"},
                 {"model", token.model + " (" + token.manufacturer + ")"}},
                "  ");
      continue;
    }
    ++initialised;
    printRows(std::cout,
              {{"initialised", "yes"},
               {"label", token.label},
               {"serial", token.serial},
               {"model", token.model + " (" + token.manufacturer + ")"},
               {"uri", tokenUri(token)}},
              "  ");
  }
  std::cout << tokens->size() << " slot(s) with a token, " << initialised << " initialised\n";
  return ExitCode::kOk;
}

}  // namespace

std::vector<Command> tokenCommands() {
  Command init{
      {"token",
       "init",
       "Initialise a token and its user PIN in a free slot.",
       "Sets the token label and SO PIN, then the user PIN. SoftHSM renumbers its slots\n"
       "after an initialisation: use the printed URI (label and serial) to name the token.\n"
       "PINs are never taken on the command line.",
       {{"--label", "NAME", "label of the new token (at most 32 bytes); required"},
        {"--so-pin-file", "FILE",
         "file holding the security officer PIN (default: environment variable "
         "KC_PKCS11_SO_PIN)"},
        {"--so-pin-env", "VAR", "environment variable holding the security officer PIN"},
        flags::pinFile(),
        flags::pinEnv(),
        {"--if-missing", "",
         "succeed without changes when a token with the label exists (for scripts)"},
        flags::module(),
        flags::initArgs(),
        flags::config()}},
      runTokenInit};
  Command list{{"token",
                "list",
                "List the module's slots: token labels, serials, initialised or not.",
                "Needs no PIN.",
                {flags::module(), flags::initArgs(), flags::config()}},
               runTokenList};
  return {std::move(init), std::move(list)};
}

}  // namespace kc::setup
