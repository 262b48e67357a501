#include "kc/api/TrustedProxies.h"

#include <Poco/Net/IPAddress.h>

#include <algorithm>
#include <optional>

namespace kc::api {
namespace {

// Dotted-quad IPv4 only: inet_aton's shorthands ("10.1", "0x0a.0.0.1", octal "010.0.0.1")
// are not addresses here.
bool isDottedQuad(std::string_view text) {
  int parts = 0;
  std::size_t start = 0;
  while (true) {
    const auto dot = text.find('.', start);
    const std::string_view part =
        text.substr(start, dot == std::string_view::npos ? std::string_view::npos : dot - start);
    if (part.empty() || part.size() > 3 ||
        part.find_first_not_of("0123456789") != std::string_view::npos ||
        (part.size() > 1 && part.front() == '0')) {
      return false;
    }
    ++parts;
    if (dot == std::string_view::npos) break;
    start = dot + 1;
  }
  return parts == 4;
}

// The address's bytes (4 for IPv4, IPv4-mapped IPv6 included; 16 for IPv6), or none when
// `text` is not an address. "[v6]" and a port after an IPv4 address or "[v6]" are accepted,
// as some proxies write them into X-Forwarded-For.
std::optional<std::vector<std::uint8_t>> addressBytes(std::string_view text) {
  std::string host(text);
  if (!host.empty() && host.front() == '[') {
    const auto close = host.find(']');
    if (close == std::string::npos) return std::nullopt;
    const std::string rest = host.substr(close + 1);
    if (!rest.empty() && rest.front() != ':') return std::nullopt;
    host = host.substr(1, close - 1);
  } else if (std::count(host.begin(), host.end(), ':') == 1) {
    host = host.substr(0, host.find(':'));  // "192.0.2.1:443"
  }
  if (host.find('%') != std::string::npos) return std::nullopt;  // no zone ids
  if (host.find(':') == std::string::npos && !isDottedQuad(host)) return std::nullopt;
  Poco::Net::IPAddress address;
  if (!Poco::Net::IPAddress::tryParse(host, address)) return std::nullopt;
  const auto* bytes = static_cast<const std::uint8_t*>(address.addr());
  std::vector<std::uint8_t> out(bytes, bytes + address.length());
  if (out.size() == 16 && address.isIPv4Mapped()) out.erase(out.begin(), out.begin() + 12);
  return out;
}

std::string addressText(const std::vector<std::uint8_t>& bytes) {
  return Poco::Net::IPAddress(bytes.data(), static_cast<poco_socklen_t>(bytes.size())).toString();
}

// `bytes` with every bit past the first `prefix` cleared.
std::vector<std::uint8_t> masked(std::vector<std::uint8_t> bytes, unsigned prefix) {
  for (std::size_t i = 0; i < bytes.size(); ++i) {
    const std::size_t start = 8 * i;
    const std::size_t bits = prefix >= start + 8 ? 8 : prefix > start ? prefix - start : 0;
    bytes[i] = static_cast<std::uint8_t>(bytes[i] & (0xFF00u >> bits));
  }
  return bytes;
}

bool inBlock(const std::vector<std::uint8_t>& address, const std::vector<std::uint8_t>& network,
             unsigned prefix) {
  return address.size() == network.size() && masked(address, prefix) == network;
}

std::vector<std::string_view> splitHops(std::string_view list) {
  std::vector<std::string_view> out;
  std::size_t start = 0;
  while (start <= list.size()) {
    const auto comma = list.find(',', start);
    const auto end = comma == std::string_view::npos ? list.size() : comma;
    std::string_view hop = list.substr(start, end - start);
    while (!hop.empty() && (hop.front() == ' ' || hop.front() == '\t')) hop.remove_prefix(1);
    while (!hop.empty() && (hop.back() == ' ' || hop.back() == '\t')) hop.remove_suffix(1);
    out.push_back(hop);
    if (comma == std::string_view::npos) break;
    start = comma + 1;
  }
  return out;
}

}  // namespace

Result<TrustedProxies> TrustedProxies::parse(std::string_view list) {
  TrustedProxies out;
  const auto entries = splitHops(list);
  if (entries.size() == 1 && entries.front().empty()) return out;
  for (const std::string_view entry : entries) {
    const std::string shown = "\"" + std::string(entry.substr(0, 64)) + "\"";
    const Status notABlock(StatusCode::kInvalidArgument,
                           shown + " is not an address or CIDR block");
    if (entry.empty()) return Status(StatusCode::kInvalidArgument, "an empty entry in the list");
    const auto slash = entry.find('/');
    const std::string host(entry.substr(0, slash));
    Poco::Net::IPAddress address;
    if (host.find_first_of("[]%") != std::string::npos ||
        !Poco::Net::IPAddress::tryParse(host, address)) {
      return notABlock;
    }
    auto bytes = addressBytes(host);
    if (!bytes) return notABlock;
    const bool mapped = address.family() == Poco::Net::IPAddress::IPv6 && bytes->size() == 4;
    const unsigned maxPrefix = static_cast<unsigned>(bytes->size() * 8);
    unsigned prefix = maxPrefix;
    if (slash != std::string_view::npos) {
      const std::string_view digits = entry.substr(slash + 1);
      if (digits.empty() || digits.size() > 3 ||
          digits.find_first_not_of("0123456789") != std::string_view::npos) {
        return Status(StatusCode::kInvalidArgument, shown + " has no valid prefix length");
      }
      prefix = static_cast<unsigned>(std::stoul(std::string(digits)));
      if (mapped) {
        if (prefix < 96 || prefix > 128) {
          return Status(StatusCode::kInvalidArgument,
                        shown + ": an IPv4-mapped block needs a prefix of 96 to 128");
        }
        prefix -= 96;
      }
      if (prefix > maxPrefix) {
        return Status(StatusCode::kInvalidArgument,
                      shown + " has a prefix longer than " + std::to_string(maxPrefix) + " bits");
      }
    }
    if (masked(*bytes, prefix) != *bytes) {
      return Status(StatusCode::kInvalidArgument, shown + " has host bits set past its prefix");
    }
    out.blocks_.push_back({.network = std::move(*bytes), .prefix = prefix});
  }
  return out;
}

bool TrustedProxies::contains(std::string_view address) const {
  const auto bytes = addressBytes(address);
  if (!bytes) return false;
  return std::any_of(blocks_.begin(), blocks_.end(), [&](const Block& block) {
    return inBlock(*bytes, block.network, block.prefix);
  });
}

std::string TrustedProxies::clientAddress(std::string_view peer,
                                          const std::vector<std::string>& forwardedFor) const {
  const auto peerBytes = addressBytes(peer);
  std::string client = peerBytes ? addressText(*peerBytes) : std::string(peer);
  if (blocks_.empty() || !contains(peer)) return client;
  std::vector<std::string_view> hops;
  for (const auto& header : forwardedFor) {
    for (const auto hop : splitHops(header)) hops.push_back(hop);
  }
  for (auto it = hops.rbegin(); it != hops.rend(); ++it) {
    const auto bytes = addressBytes(*it);
    if (!bytes) break;  // a forged or garbled hop: the proxy that forwarded it is the client
    client = addressText(*bytes);
    if (!contains(client)) break;
  }
  return client;
}

std::string TrustedProxies::describe() const {
  std::string out;
  for (const auto& block : blocks_) {
    if (!out.empty()) out += ',';
    out += addressText(block.network) + "/" + std::to_string(block.prefix);
  }
  return out;
}

}  // namespace kc::api
