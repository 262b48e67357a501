#include "UriText.h"

#include <cctype>
#include <vector>

#include "kc/Text.h"

namespace kc::setup {
namespace {

constexpr std::string_view kScheme = "pkcs11:";

std::string objectPart(std::string_view label) {
  return "object=" + percentEncode(label) + ";type=private";
}

}  // namespace

std::string tokenUri(const pkcs11::TokenDescription& token) {
  return std::string(kScheme) + "token=" + percentEncode(token.label) +
         ";serial=" + percentEncode(token.serial);
}

std::string keyUri(const pkcs11::TokenDescription& token, std::string_view label) {
  return tokenUri(token) + ";" + objectPart(label);
}

Result<std::string> withObjectLabel(std::string_view uri, std::string_view label) {
  if (!uri.starts_with(kScheme)) {
    return Status(StatusCode::kInvalidArgument, "not a pkcs11: URI");
  }
  std::string_view rest = uri.substr(kScheme.size());
  std::string_view query;
  if (const auto q = rest.find('?'); q != std::string_view::npos) {
    query = rest.substr(q);
    rest = rest.substr(0, q);
  }
  std::string path;
  while (!rest.empty()) {
    const auto end = rest.find(';');
    const std::string_view attribute = rest.substr(0, end);
    rest = end == std::string_view::npos ? std::string_view() : rest.substr(end + 1);
    const std::string_view name = attribute.substr(0, attribute.find('='));
    if (attribute.empty() || name == "object" || name == "id" || name == "type") continue;
    path += std::string(attribute) + ";";
  }
  return std::string(kScheme) + path + objectPart(label) + std::string(query);
}

}  // namespace kc::setup
