// netns/parse.h: pure parsers and formatters for what users type about networks: IPv4/IPv6
// addresses and CIDRs, MACs, --publish, --network, --net-rate, plus the names vsrv derives
// from a container id (MAC, veth, nft table). No syscalls here, so all of it is unit tested.
#pragma once
#include <array>
#include <cstdint>
#include <string>
#include <string_view>

#include "netns/network.h"
#include "runtime/sys/error.h"

namespace vsrv::net {

struct Cidr4 {
  uint32_t addr = 0;  // host byte order
  int prefix = 0;
  uint32_t mask() const { return prefix == 0 ? 0 : ~uint32_t{0} << (32 - prefix); }
  uint32_t network() const { return addr & mask(); }
  uint32_t broadcast() const { return network() | ~mask(); }
  bool contains(uint32_t a) const { return (a & mask()) == network(); }
};

struct Cidr6 {
  std::array<uint8_t, 16> addr{};
  int prefix = 0;
};

Result<uint32_t> parse_ipv4(std::string_view s);
std::string format_ipv4(uint32_t a);
// "10.0.0.0/24": the address part must be the network address ("10.0.0.5/24" is refused).
Result<Cidr4> parse_cidr4(std::string_view s);
std::string format_cidr4(const Cidr4& c);
Result<Cidr6> parse_cidr6(std::string_view s);
std::string format_ipv6(const std::array<uint8_t, 16>& a);
// Address `host` inside an IPv6 prefix (host number in the last 32 bits).
std::array<uint8_t, 16> ipv6_host(const Cidr6& c, uint32_t host);

// "aa:bb:cc:dd:ee:ff" → canonical lowercase; refuses multicast (bit 0 of the first byte).
Result<std::string> parse_mac(std::string_view s);
// Stable, locally administered unicast MAC from the container id (02:xx:xx:xx:xx:xx).
std::string derive_mac(std::string_view id);
// 64-bit FNV-1a of the id, as lowercase hex of `digits` length: the short name of a container.
std::string short_hash(std::string_view id, int digits);

// [HOSTIP:]HOSTPORT:CONTAINERPORT[/tcp|udp]; an IPv6 HOSTIP is bracketed ([2001:db8::1]:8080:80)
// and stored canonical, without the brackets. 0.0.0.0 and [::] mean every local address of
// that family only.
Result<PortMap> parse_publish(std::string_view s);
// Whether the mapping names an IPv6 host address (so it is published on IPv6 only).
bool publish_is_ipv6(const PortMap& m);

struct Mode {
  std::string kind;  // none | host | bridge | macvlan | ns
  std::string arg;   // network name (bridge/macvlan; empty = default) or ns path
};
Result<Mode> parse_mode(std::string_view s);

// tc-style rate: "10mbit", "500kbit", "1gbit", "100bit", "2mbps" (bytes), "125000" (bytes/s).
// Returns bytes per second.
Result<uint64_t> parse_rate(std::string_view s);

// Network and interface names: [A-Za-z0-9][A-Za-z0-9_.-]*, at most 15 bytes for ifnames.
Result<void> validate_name(std::string_view s, const char* what, size_t max);

}  // namespace vsrv::net
