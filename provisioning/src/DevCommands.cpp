// kc-setup dev-identity | dev-token: a stand-in identity server for development and tests.

#include <iostream>
#include <regex>

#include "Commands.h"
#include "kc/UserId.h"
#include "kc/provisioning/DevIdentity.h"

namespace kc::setup {
namespace {

constexpr const char* kDefaultIssuer = "https://identity.kc-dev.invalid";
constexpr const char* kWarning =
    "kc-setup: warning: development identity: whoever holds its directory can mint a token "
    "for any user; never point a production daemon at it\n";

std::vector<std::string> splitList(const std::string& text) {
  std::vector<std::string> out;
  std::size_t start = 0;
  while (start <= text.size()) {
    const auto comma = text.find(',', start);
    const auto item =
        text.substr(start, comma == std::string::npos ? std::string::npos : comma - start);
    if (!item.empty()) out.push_back(item);
    if (comma == std::string::npos) break;
    start = comma + 1;
  }
  return out;
}

Result<std::chrono::seconds> parseSeconds(const cli::ParsedFlags& flags, std::string_view flag,
                                          std::chrono::seconds fallback) {
  const auto text = flags.value(flag);
  if (!text) return fallback;
  static const std::regex kInteger("-?[0-9]{1,9}");
  if (!std::regex_match(*text, kInteger)) {
    return Status(StatusCode::kInvalidArgument,
                  std::string(flag) + " takes a whole number of seconds");
  }
  return std::chrono::seconds(std::stol(*text));
}

ExitCode runDevIdentity(const cli::ParsedFlags& flags) {
  const auto out = flags.value("--out");
  if (!out) return reportError({StatusCode::kInvalidArgument, "--out DIR is required"});
  const std::string issuer = flags.value("--issuer").value_or(kDefaultIssuer);
  std::cerr << kWarning;
  Status created = provisioning::createDevIdentity(*out, issuer);
  if (created.code() == StatusCode::kAlreadyExists && flags.has("--if-missing")) {
    std::cout << "development identity in " << *out << " already exists; kept (--if-missing)\n";
    created = Status::ok();
  } else if (created.isOk()) {
    std::cout << "development identity created\n";
  }
  if (!created.isOk()) return reportError(created);
  const auto files = provisioning::devIdentityFiles(*out);
  printRows(std::cout, {{"signing key", files.signingKey.string()},
                        {"jwks", files.jwks.string()},
                        {"issuer file", files.issuer.string()}});
  return ExitCode::kOk;
}

ExitCode runDevToken(const cli::ParsedFlags& flags) {
  const auto identity = flags.value("--identity");
  if (!identity) return reportError({StatusCode::kInvalidArgument, "--identity DIR is required"});
  const auto user = flags.value("--user");
  // The daemon's own parser decides what a user id is; the claim keeps the text as given (an
  // upper-case subject, say), as an identity server would send it.
  if (!user || !UserId::parse(*user)) {
    return reportError({StatusCode::kInvalidArgument,
                        "--user UUID is required (a GUID such as "
                        "7f1c9b0e-3a52-4c8e-9d3f-2b6a1e0c4d59)"});
  }
  auto ttl = parseSeconds(flags, "--ttl", std::chrono::seconds(3600));
  if (!ttl) return reportError(ttl.status());
  auto notBefore = parseSeconds(flags, "--not-before", std::chrono::seconds(0));
  if (!notBefore) return reportError(notBefore.status());

  provisioning::DevTokenClaims claims;
  claims.userId = *user;
  claims.timeToLive = *ttl;
  claims.notBeforeOffset = *notBefore;
  if (auto amr = flags.value("--amr")) claims.amr = splitList(*amr);
  if (auto scope = flags.value("--scope")) claims.scope = splitList(*scope);
  if (auto issuer = flags.value("--issuer")) claims.issuer = *issuer;
  auto token = provisioning::mintDevToken(*identity, claims);
  if (!token) return reportError(token.status());
  std::cerr << kWarning;
  std::cout << *token << "\n";
  return ExitCode::kOk;
}

}  // namespace

std::vector<Command> devCommands() {
  return {
      {{"dev-identity",
        "",
        "Create a development identity (signing key, JWKS, issuer).",
        "Writes a stand-in for Bitwarden's identity server into DIR: signing-key.pem (0600), "
        "jwks.json for the daemon's identity.jwks_file, and the issuer name. DEVELOPMENT ONLY.",
        {{"--out", "DIR", "directory to create the identity in"},
         {"--issuer", "NAME",
          std::string("the `iss` of minted tokens (default ") + kDefaultIssuer + ")"},
         {"--if-missing", "", "exit 0 and keep an identity that already exists in DIR"}}},
       runDevIdentity},
      {{"dev-token",
        "",
        "Print a JWT for a user, signed by a development identity.",
        "Prints a token shaped like Bitwarden Identity's (RS256; amr and scope as arrays) for "
        "Authorization: Bearer. DEVELOPMENT ONLY.",
        {{"--identity", "DIR", "directory made by kc-setup dev-identity"},
         {"--user", "UUID", "the user id (`sub`)"},
         {"--ttl", "SECONDS", "lifetime (default 3600; negative mints an expired token)"},
         {"--not-before", "SECONDS", "`nbf` offset from now (default 0)"},
         {"--amr", "LIST", "comma-separated `amr` values (default Application)"},
         {"--scope", "LIST", "comma-separated `scope` values (default api,offline_access)"},
         {"--issuer", "NAME", "override the identity's issuer"}}},
       runDevToken},
  };
}

}  // namespace kc::setup
