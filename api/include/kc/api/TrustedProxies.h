#pragma once
// Which peers may tell us who the client is: the setting server.trusted_proxies, a
// comma-separated list of CIDR blocks ("10.0.0.0/8, 192.168.1.7, 2001:db8::/32"), and the
// rule that picks a request's client address from its peer and X-Forwarded-For.
//
// The rule (as nginx's real_ip_recursive and most proxies apply it): start at the peer
// address; while the address in hand is a trusted proxy and X-Forwarded-For has a hop left
// of it, step to that hop. The client is where the walk stops: the right-most hop that is not
// a trusted proxy, or the left-most hop when all are. A hop that is not an IP address ends
// the walk at the (trusted) address that forwarded it, so a forged entry never becomes the
// client. With no trusted proxies the peer is the client and X-Forwarded-For is ignored.
// Addresses match by family; an IPv4-mapped IPv6 address ("::ffff:10.0.0.1") is its IPv4
// address.

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "kc/Result.h"

namespace kc::api {

class TrustedProxies {
 public:
  // None: the peer is always the client.
  TrustedProxies() = default;

  // Parses the comma-separated list (spaces around entries allowed; empty: none). An entry is
  // an address, or an address, '/' and a prefix length (0..32 for IPv4, 0..128 for IPv6)
  // whose host bits are zero. INVALID_ARGUMENT naming the first bad entry otherwise.
  static Result<TrustedProxies> parse(std::string_view list);

  bool empty() const { return blocks_.empty(); }
  // Whether `address` (text, as Poco or the kernel prints it) lies in one of the blocks; false
  // for anything that is not an address.
  bool contains(std::string_view address) const;

  // The client address of a request from `peer` carrying these X-Forwarded-For values (every
  // header of that name, in order; each a comma-separated list), by the rule above, as
  // canonical address text.
  std::string clientAddress(std::string_view peer,
                            const std::vector<std::string>& forwardedFor) const;

  // The list as parsed, in canonical form ("10.0.0.0/8,2001:db8::/32"), for the log.
  std::string describe() const;

 private:
  struct Block {
    std::vector<std::uint8_t> network;  // 4 or 16 bytes
    unsigned prefix = 0;
  };
  std::vector<Block> blocks_;
};

}  // namespace kc::api
