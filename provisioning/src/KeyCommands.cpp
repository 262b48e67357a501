// kc-setup key generate | verify | export: the wrapping and audit key pairs on the token.

#include <filesystem>
#include <fstream>
#include <iostream>

#include "Commands.h"
#include "SetupSettings.h"
#include "UriText.h"
#include "kc/Text.h"
#include "kc/pkcs11/KeyGeneration.h"
#include "kc/pkcs11/RsaKeyPair.h"

namespace kc::setup {
namespace {

using pkcs11::KeyPurpose;

Status usageError(std::string message) {
  return {StatusCode::kInvalidArgument, std::move(message)};
}

// What a key command acts on: a URI selecting the token (and perhaps the key), and the
// key's label when --label gives it.
struct KeyTarget {
  Setting uri;
  std::optional<std::string> label;
  // The configuration's pkcs11.token when the key URI came from the configuration too: the
  // daemon selects its token by pkcs11.token and only then looks for the key on it.
  std::optional<Setting> token;
};

// The URI that selects the token: the target's token when it has one, else the key's URI.
const Setting& tokenSelector(const KeyTarget& target, const Setting& keyUri) {
  return target.token ? *target.token : keyUri;
}

// --key, else --token, else the daemon's key URI for the purpose, else its token URI.
Result<KeyTarget> resolveKeyTarget(const cli::ParsedFlags& flags, const ConfigFile& config,
                                   KeyPurpose purpose) {
  KeyTarget target;
  target.label = flags.value("--label");
  const auto key = flags.value("--key");
  const auto token = flags.value("--token");
  if (key && token) return usageError("give --key URI or --token URI, not both");
  if (key) {
    target.uri = {*key, "--key"};
  } else if (token) {
    target.uri = {*token, "--token"};
  } else if (auto configured = config.get(keyConfigKey(purpose))) {
    target.uri = std::move(*configured);
    target.token = config.get("pkcs11.token");
  } else if (auto configuredToken = config.get("pkcs11.token")) {
    target.uri = std::move(*configuredToken);
  } else {
    return usageError(
        "no key given: pass --key URI, or --token URI with --label NAME, or "
        "--config FILE setting " +
        std::string(keyConfigKey(purpose)));
  }
  return target;
}

// The URI of the existing key a command acts on: the target's URI with --label as its
// object when given; otherwise the URI must name an object itself.
Result<Setting> existingKeyUri(const KeyTarget& target) {
  if (target.label) {
    auto uri = withObjectLabel(target.uri.value, *target.label);
    if (!uri) return usageError(target.uri.origin + ": " + uri.status().message());
    return Setting{std::move(*uri), target.uri.origin + " with --label"};
  }
  auto parsed = parseUriSetting(target.uri);
  if (!parsed) return parsed.status();
  if (!parsed->namesObject()) {
    return usageError("the URI given by " + target.uri.origin +
                      " names a token but no key: add object=<label> to it, or pass --label NAME");
  }
  return target.uri;
}

struct KeyContext {
  ConfigFile config;
  KeyPurpose purpose = KeyPurpose::kWrap;
  Setting module;
  std::string initArgs;
  KeyTarget target;
};

Result<KeyContext> resolveKeyContext(const cli::ParsedFlags& flags) {
  auto config = ConfigFile::load(flags.value("--config"));
  if (!config) return config.status();
  auto purpose = resolvePurpose(flags);
  if (!purpose) return purpose.status();
  auto module = resolveModule(flags, *config);
  if (!module) return module.status();
  auto target = resolveKeyTarget(flags, *config, *purpose);
  if (!target) return target.status();
  KeyContext context;
  context.initArgs = resolveInitArgs(flags, *config);
  context.config = std::move(*config);
  context.purpose = *purpose;
  context.module = std::move(*module);
  context.target = std::move(*target);
  return context;
}

// An existing key pair found on a logged-in token.
struct FoundKey {
  ConnectedToken connected;
  Setting uri;  // the key URI that found it
  pkcs11::RsaKeyPair key;
};

// Connects to the token and finds the existing key the flags name.
Result<FoundKey> findKey(const cli::ParsedFlags& flags, const KeyContext& context) {
  auto uri = existingKeyUri(context.target);
  if (!uri) return uri.status();
  auto pin = resolveUserPin(flags, context.config);
  if (!pin) return pin.status();
  auto connected =
      connect(context.module, context.initArgs, tokenSelector(context.target, *uri), *pin);
  if (!connected) return connected.status();
  auto parsed = parseUriSetting(*uri);
  if (!parsed) return parsed.status();
  auto key = pkcs11::RsaKeyPair::find(connected->pool, *parsed);
  if (!key) {
    return Status(key.status().code(), namingUri(*uri, key.status().message()));
  }
  return FoundKey{std::move(*connected), std::move(*uri), std::move(*key)};
}

std::string boolText(bool value) {
  return value ? "true" : "false";
}

ExitCode runKeyGenerate(const cli::ParsedFlags& flags) {
  auto context = resolveKeyContext(flags);
  if (!context) return reportError(context.status());
  auto bits = resolveBits(flags);
  if (!bits) return reportError(bits.status());
  auto parsed = parseUriSetting(context->target.uri);
  if (!parsed) return reportError(parsed.status());
  std::string label;
  if (context->target.label) {
    label = *context->target.label;
  } else if (auto fromUri = objectLabel(*parsed)) {
    label = *fromUri;
  } else {
    return reportError(usageError("--label NAME is required (the URI given by " +
                                  context->target.uri.origin + " names no object)"));
  }
  auto pin = resolveUserPin(flags, context->config);
  if (!pin) return reportError(pin.status());
  auto connected = connect(context->module, context->initArgs,
                           tokenSelector(context->target, context->target.uri), *pin);
  if (!connected) return reportError(connected.status());

  const std::string uri = keyUri(connected->token, label);
  pkcs11::KeyGenerationSpec spec;
  spec.purpose = context->purpose;
  spec.bits = *bits;
  spec.label = label;
  auto key = pkcs11::generateKeyPair(connected->pool, spec);
  if (!key && key.status().code() == StatusCode::kAlreadyExists) {
    if (!flags.has("--if-missing")) {
      return reportError({StatusCode::kAlreadyExists,
                          "a key labelled '" + label + "' already exists on token '" +
                              connected->token.label +
                              "': choose another --label, or pass --if-missing to accept it"});
    }
    std::cout << "key '" << label << "' already exists on token '" << connected->token.label
              << "'; nothing generated (--if-missing)\n";
    printRows(std::cout, {{"label", label}, {"uri", uri}});
    return ExitCode::kOk;
  }
  if (!key) {
    return reportError({key.status().code(), "cannot generate key '" + label + "' on token '" +
                                                 connected->token.label +
                                                 "': " + key.status().message()});
  }
  auto publicKey = key->exportPublicKey();
  if (!publicKey) return reportError(publicKey.status());
  std::cout << "generated " << pkcs11::keyPurposeName(context->purpose) << " key '" << label
            << "' on token '" << connected->token.label << "'\n";
  printRows(std::cout, {{"label", key->label()},
                        {"id", key->idHex()},
                        {"bits", std::to_string(publicKey->modulusBits)},
                        {"fingerprint", publicKey->fingerprint},
                        {"uri", uri}});
  return ExitCode::kOk;
}

ExitCode runKeyVerify(const cli::ParsedFlags& flags) {
  auto context = resolveKeyContext(flags);
  if (!context) return reportError(context.status());
  auto found = findKey(flags, *context);
  if (!found) return reportError(found.status());
  const auto& [connected, uri, key] = *found;
  auto attributes = key.readAttributes();
  if (!attributes) return reportError(attributes.status());
  auto publicKey = key.exportPublicKey();
  if (!publicKey) return reportError(publicKey.status());
  const auto& a = *attributes;
  const auto report = pkcs11::checkKeyPolicy(a, context->purpose);

  printRows(std::cout, {{"key", uri.value},
                        {"token-label", connected.token.label},
                        {"token-serial", connected.token.serial},
                        {"purpose", std::string(pkcs11::keyPurposeName(context->purpose))},
                        {"label", a.label},
                        {"id", toHex(a.id)},
                        {"bits", std::to_string(a.modulusBits)},
                        {"fingerprint", publicKey->fingerprint},
                        {"token", boolText(a.onToken)},
                        {"private", boolText(a.isPrivate)},
                        {"sensitive", boolText(a.sensitive)},
                        {"extractable", boolText(a.extractable)},
                        {"always-sensitive", boolText(a.alwaysSensitive)},
                        {"never-extractable", boolText(a.neverExtractable)},
                        {"decrypt", boolText(a.decrypt)},
                        {"unwrap", boolText(a.unwrap)},
                        {"sign", boolText(a.sign)},
                        {"sign-recover", boolText(a.signRecover)},
                        {"derive", boolText(a.derive)},
                        {"public-encrypt", boolText(a.publicEncrypt)},
                        {"public-wrap", boolText(a.publicWrap)},
                        {"public-verify", boolText(a.publicVerify)}});
  for (const auto& warning : report.warnings) std::cout << "warning: " << warning << "\n";
  for (const auto& violation : report.violations) std::cout << "violation: " << violation << "\n";
  if (!report.compliant()) {
    std::cout << "result: refused: the key breaks the " << pkcs11::keyPurposeName(context->purpose)
              << " key policy\n";
    std::cerr << "kc-setup: key '" << a.label << "' breaks the "
              << pkcs11::keyPurposeName(context->purpose) << " key policy ("
              << report.violations.size() << " violation(s))\n";
    return ExitCode::kRefusedByPolicy;
  }
  std::cout << "result: ok: the key complies with the " << pkcs11::keyPurposeName(context->purpose)
            << " key policy\n";
  return ExitCode::kOk;
}

// Writes the PEM next to `path` and renames it into place, so a reader never sees half a key.
Status writePublicKeyFile(const std::filesystem::path& path, const std::string& pem) {
  namespace fs = std::filesystem;
  const fs::path temporary = path.string() + ".kc-setup-tmp";
  {
    std::ofstream out(temporary, std::ios::binary | std::ios::trunc);
    out << pem;
    out.close();
    if (!out) {
      std::error_code ignored;
      fs::remove(temporary, ignored);
      return usageError("--out: cannot write " + path.string());
    }
  }
  std::error_code error;
  // A public key: readable by everyone is fine.
  fs::permissions(temporary,
                  fs::perms::owner_read | fs::perms::owner_write | fs::perms::group_read |
                      fs::perms::others_read,
                  error);
  if (!error) fs::rename(temporary, path, error);
  if (error) {
    std::error_code ignored;
    fs::remove(temporary, ignored);
    return usageError("--out: cannot write " + path.string() + ": " + error.message());
  }
  return Status::ok();
}

ExitCode runKeyExport(const cli::ParsedFlags& flags) {
  auto context = resolveKeyContext(flags);
  if (!context) return reportError(context.status());
  auto found = findKey(flags, *context);
  if (!found) return reportError(found.status());
  auto publicKey = found->key.exportPublicKey();
  if (!publicKey) return reportError(publicKey.status());
  if (const auto out = flags.value("--out")) {
    if (const Status written = writePublicKeyFile(*out, publicKey->pem); !written.isOk()) {
      return reportError(written);
    }
    std::cout << "wrote " << *out << "\n";
    std::cout << "fingerprint: " << publicKey->fingerprint << "\n";
    return ExitCode::kOk;
  }
  std::cout << publicKey->pem;
  if (!publicKey->pem.ends_with('\n')) std::cout << "\n";
  std::cerr << "fingerprint: " << publicKey->fingerprint << "\n";
  return ExitCode::kOk;
}

std::vector<cli::FlagSpec> keyFlags(std::vector<cli::FlagSpec> extra) {
  std::vector<cli::FlagSpec> out = {
      {"--key", "URI",
       "pkcs11: URI of the key (token attributes and object=<label>); default with --config: "
       "pkcs11.wrap_key, or pkcs11.audit_key for --purpose audit"},
      {"--token", "URI", "pkcs11: URI of the token, with --label naming the key"},
      {"--label", "NAME", "the key's label (CKA_LABEL)"},
      {"--purpose", "wrap|audit", "wrap: decrypt/unwrap only; audit: sign only (default: wrap)"},
  };
  out.insert(out.end(), extra.begin(), extra.end());
  for (auto flag :
       {flags::pinFile(), flags::pinEnv(), flags::module(), flags::initArgs(), flags::config()}) {
    out.push_back(std::move(flag));
  }
  return out;
}

}  // namespace

std::vector<Command> keyCommands() {
  Command generate{
      {"key", "generate",
       "Generate an RSA key pair on the token for wrapping user keys or signing the audit log.",
       "The private half is sensitive, never extractable and private; a wrap key may only\n"
       "decrypt and unwrap, an audit key only sign. Prints the label, CKA_ID, bits, the\n"
       "public key's SHA-256 fingerprint and the key URI for the daemon's config.",
       keyFlags({{"--bits", "BITS", "modulus size: 2048, 3072 or 4096 (default: 3072)"},
                 {"--if-missing", "",
                  "succeed without changes when a key with the label exists (for scripts)"}})},
      runKeyGenerate};
  Command verify{
      {"key",
       "verify",
       "Print a key's attributes and check them against the policy of its purpose.",
       "Each violation of the policy is printed.",
       keyFlags({}),
       "",
       0,
       {{0, "the key complies"}, {1, "the key breaks the policy"}, {2, "a usage or token error"}}},
      runKeyVerify};
  Command exportKey{
      {"key", "export",
       "Export the public key as PEM (SubjectPublicKeyInfo) with its SHA-256 fingerprint.",
       "Writes the PEM to standard output and the fingerprint to standard error; with --out\n"
       "writes the PEM to FILE (mode 0644) and the fingerprint to standard output.",
       keyFlags({{"--out", "FILE", "write the PEM to FILE instead of standard output"}})},
      runKeyExport};
  return {std::move(generate), std::move(verify), std::move(exportKey)};
}

}  // namespace kc::setup
