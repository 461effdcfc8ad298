// netns/parse.cpp: see parse.h. Every error names the offending input and what was expected.
#include "netns/parse.h"

#include <arpa/inet.h>

#include <cctype>
#include <charconv>
#include <cstdio>
#include <cstring>

namespace vsrv::net {
namespace {

Result<unsigned long> to_num(std::string_view s, unsigned long max, const std::string& what) {
  unsigned long v = 0;
  auto [p, ec] = std::from_chars(s.data(), s.data() + s.size(), v);
  if (s.empty() || ec != std::errc() || p != s.data() + s.size() || v > max)
    return make_error(EINVAL, what + " '" + std::string(s) + "': expected a number up to " + std::to_string(max));
  return v;
}

}  // namespace

Result<uint32_t> parse_ipv4(std::string_view s) {
  in_addr a{};
  std::string str(s);
  if (str.empty() || ::inet_pton(AF_INET, str.c_str(), &a) != 1)
    return make_error(EINVAL, "invalid IPv4 address '" + str + "'");
  return ntohl(a.s_addr);
}

std::string format_ipv4(uint32_t a) {
  char buf[INET_ADDRSTRLEN];
  in_addr n{htonl(a)};
  ::inet_ntop(AF_INET, &n, buf, sizeof buf);
  return buf;
}

Result<Cidr4> parse_cidr4(std::string_view s) {
  auto slash = s.find('/');
  if (slash == std::string_view::npos) return make_error(EINVAL, "invalid CIDR '" + std::string(s) + "': expected ADDR/PREFIX");
  auto a = parse_ipv4(s.substr(0, slash));
  if (!a) return forward(std::move(a.error()), "invalid CIDR '" + std::string(s) + "'");
  auto p = to_num(s.substr(slash + 1), 32, "prefix length");
  if (!p) return forward(std::move(p.error()), "invalid CIDR '" + std::string(s) + "'");
  Cidr4 c{*a, static_cast<int>(*p)};
  if (c.prefix < 8 || c.prefix > 30)
    return make_error(EINVAL, "invalid CIDR '" + std::string(s) + "': prefix must be between /8 and /30");
  if (c.addr != c.network())
    return make_error(EINVAL, "invalid CIDR '" + std::string(s) + "': host bits set (did you mean " +
                                  format_ipv4(c.network()) + "/" + std::to_string(c.prefix) + "?)");
  return c;
}

std::string format_cidr4(const Cidr4& c) { return format_ipv4(c.addr) + "/" + std::to_string(c.prefix); }

Result<Cidr6> parse_cidr6(std::string_view s) {
  auto slash = s.find('/');
  if (slash == std::string_view::npos) return make_error(EINVAL, "invalid IPv6 CIDR '" + std::string(s) + "': expected ADDR/PREFIX");
  Cidr6 c;
  std::string a(s.substr(0, slash));
  if (::inet_pton(AF_INET6, a.c_str(), c.addr.data()) != 1) return make_error(EINVAL, "invalid IPv6 CIDR '" + std::string(s) + "'");
  auto p = to_num(s.substr(slash + 1), 128, "prefix length");
  if (!p) return forward(std::move(p.error()), "invalid IPv6 CIDR '" + std::string(s) + "'");
  c.prefix = static_cast<int>(*p);
  if (c.prefix < 48 || c.prefix > 120)
    return make_error(EINVAL, "invalid IPv6 CIDR '" + std::string(s) + "': prefix must be between /48 and /120");
  for (int bit = c.prefix; bit < 128; ++bit)
    if (c.addr[bit / 8] & (0x80 >> (bit % 8))) return make_error(EINVAL, "invalid IPv6 CIDR '" + std::string(s) + "': host bits set");
  return c;
}

std::string format_ipv6(const std::array<uint8_t, 16>& a) {
  char buf[INET6_ADDRSTRLEN];
  ::inet_ntop(AF_INET6, a.data(), buf, sizeof buf);
  return buf;
}

std::array<uint8_t, 16> ipv6_host(const Cidr6& c, uint32_t host) {
  auto a = c.addr;
  for (int i = 0; i < 4; ++i) a[15 - i] |= static_cast<uint8_t>(host >> (8 * i));
  return a;
}

Result<std::string> parse_mac(std::string_view s) {
  unsigned b[6];
  char tail;
  std::string str(s);
  if (str.size() != 17 || std::sscanf(str.c_str(), "%2x:%2x:%2x:%2x:%2x:%2x%c", &b[0], &b[1], &b[2], &b[3], &b[4], &b[5], &tail) != 6)
    return make_error(EINVAL, "invalid MAC address '" + str + "': expected xx:xx:xx:xx:xx:xx");
  if (b[0] & 1) return make_error(EINVAL, "invalid MAC address '" + str + "': multicast bit set");
  if ((b[0] | b[1] | b[2] | b[3] | b[4] | b[5]) == 0) return make_error(EINVAL, "invalid MAC address '" + str + "': all zero");
  char out[24];
  std::snprintf(out, sizeof out, "%02x:%02x:%02x:%02x:%02x:%02x", b[0], b[1], b[2], b[3], b[4], b[5]);
  return std::string(out);
}

namespace {
uint64_t fnv1a(std::string_view s) {
  uint64_t h = 1469598103934665603ull;
  for (unsigned char c : s) h = (h ^ c) * 1099511628211ull;
  return h;
}
}  // namespace

std::string derive_mac(std::string_view id) {
  uint64_t h = fnv1a(id);
  char out[18];
  // 0x02: locally administered (bit 1), unicast (bit 0 clear): never clashes with vendor MACs.
  std::snprintf(out, sizeof out, "02:%02x:%02x:%02x:%02x:%02x", unsigned(h >> 32 & 0xff), unsigned(h >> 24 & 0xff),
                unsigned(h >> 16 & 0xff), unsigned(h >> 8 & 0xff), unsigned(h & 0xff));
  return out;
}

std::string short_hash(std::string_view id, int digits) {
  char buf[17];
  std::snprintf(buf, sizeof buf, "%016llx", static_cast<unsigned long long>(fnv1a(id)));
  return std::string(buf, static_cast<size_t>(digits));
}

Result<PortMap> parse_publish(std::string_view s) {
  std::string whole(s);
  auto bad = [&](const std::string& why) {
    return make_error(EINVAL, "invalid --publish '" + whole + "': " + why +
                                  " (expected [HOSTIP:]HOSTPORT:CONTAINERPORT[/tcp|udp], an IPv6 HOSTIP in brackets: [ADDR])");
  };
  PortMap m;
  if (auto slash = s.rfind('/'); slash != std::string_view::npos) {
    m.proto = std::string(s.substr(slash + 1));
    if (m.proto != "tcp" && m.proto != "udp") return bad("protocol must be tcp or udp");
    s = s.substr(0, slash);
  }
  // An IPv6 HOSTIP is bracketed, as docker and podman write it: [2001:db8::1]:8080:80.
  if (!s.empty() && s[0] == '[') {
    auto close = s.find(']');
    if (close == std::string_view::npos) return bad("missing ']' after the IPv6 host address");
    std::string ip(s.substr(1, close - 1));
    in6_addr a{};
    if (ip.empty() || ::inet_pton(AF_INET6, ip.c_str(), &a) != 1)
      return bad("host address '" + ip + "' is not an IPv6 address");
    if (IN6_IS_ADDR_V4MAPPED(&a)) return bad("host address '" + ip + "' is IPv4-mapped: write the IPv4 address without brackets");
    if (close + 1 >= s.size() || s[close + 1] != ':') return bad("expected ':' after ']'");
    std::array<uint8_t, 16> b{};
    std::memcpy(b.data(), &a, 16);
    m.host_ip = format_ipv6(b);
    // IPv6 has no route_localnet: a packet from ::1 may not leave lo, so the kernel cannot
    // DNAT it to a container. Refused rather than made into a rule that never works.
    if (m.host_ip == "::1") return bad("IPv6 loopback [::1] cannot be DNATed to a container (IPv6 has no route_localnet)");
    s = s.substr(close + 2);
    if (s.find_first_of("[]") != std::string_view::npos) return bad("unexpected bracket");
    auto c = s.find(':');
    if (c == std::string_view::npos) return bad("missing container port");
    if (s.find(':', c + 1) != std::string_view::npos) return bad("too many ':'");
    auto hp = to_num(s.substr(0, c), 65535, "host port");
    auto cp = to_num(s.substr(c + 1), 65535, "container port");
    if (!hp || *hp == 0) return bad("host port '" + std::string(s.substr(0, c)) + "' out of range 1-65535");
    if (!cp || *cp == 0) return bad("container port '" + std::string(s.substr(c + 1)) + "' out of range 1-65535");
    m.host_port = static_cast<uint16_t>(*hp);
    m.container_port = static_cast<uint16_t>(*cp);
    return m;
  }
  if (s.find('[') != std::string_view::npos) return bad("'[' must open the IPv6 host address at the start");
  if (s.find(']') != std::string_view::npos) return bad("missing '[' before the IPv6 host address");
  auto last = s.rfind(':');
  if (last == std::string_view::npos) return bad("missing container port");
  auto cport = s.substr(last + 1);
  s = s.substr(0, last);
  std::string_view hport = s;
  if (auto c = s.rfind(':'); c != std::string_view::npos) {
    hport = s.substr(c + 1);
    auto ip = s.substr(0, c);
    if (ip.find(':') != std::string_view::npos) {
      in6_addr a{};
      std::string str(ip);
      if (::inet_pton(AF_INET6, str.c_str(), &a) == 1)
        return bad("an IPv6 host address goes in brackets: [" + str + "]:" + std::string(hport) + ":" + std::string(cport));
      return bad("host address '" + str + "' is not an IPv4 address");
    }
    auto a = parse_ipv4(ip);
    if (!a) return bad("host address '" + std::string(ip) + "' is not an IPv4 address");
    m.host_ip = format_ipv4(*a);
  }
  auto hp = to_num(hport, 65535, "host port");
  auto cp = to_num(cport, 65535, "container port");
  if (!hp || *hp == 0) return bad("host port '" + std::string(hport) + "' out of range 1-65535");
  if (!cp || *cp == 0) return bad("container port '" + std::string(cport) + "' out of range 1-65535");
  m.host_port = static_cast<uint16_t>(*hp);
  m.container_port = static_cast<uint16_t>(*cp);
  return m;
}

bool publish_is_ipv6(const PortMap& m) { return m.host_ip.find(':') != std::string::npos; }

Result<void> validate_name(std::string_view s, const char* what, size_t max) {
  auto ok = [](char c) { return std::isalnum(static_cast<unsigned char>(c)) || c == '_' || c == '.' || c == '-'; };
  bool good = !s.empty() && s.size() <= max && std::isalnum(static_cast<unsigned char>(s[0]));
  for (char c : s) good = good && ok(c);
  if (!good)
    return make_error(EINVAL, std::string("invalid ") + what + " '" + std::string(s) + "': expected [A-Za-z0-9][A-Za-z0-9_.-]*, at most " +
                                  std::to_string(max) + " characters");
  return {};
}

Result<Mode> parse_mode(std::string_view s) {
  std::string str(s);
  auto colon = s.find(':');
  Mode m{std::string(s.substr(0, colon)), colon == std::string_view::npos ? "" : std::string(s.substr(colon + 1))};
  if ((m.kind == "none" || m.kind == "host") && colon == std::string_view::npos) return m;
  if (m.kind == "bridge") {
    if (colon != std::string_view::npos) VSRV_TRYC(validate_name(m.arg, "network name", 64), "--network '" + str + "'");
    return m;
  }
  if (m.kind == "macvlan") {
    if (colon == std::string_view::npos) return make_error(EINVAL, "--network 'macvlan' needs a network: macvlan:NAME");
    VSRV_TRYC(validate_name(m.arg, "network name", 64), "--network '" + str + "'");
    return m;
  }
  if (m.kind == "ns") {
    if (m.arg.empty() || m.arg[0] != '/') return make_error(EINVAL, "--network '" + str + "': ns: needs an absolute path");
    return m;
  }
  return make_error(EINVAL, "invalid --network '" + str +
                                "': expected none, host, bridge, bridge:NAME, macvlan:NAME, container:ID or ns:PATH");
}

Result<uint64_t> parse_rate(std::string_view s) {
  std::string str(s);
  size_t i = 0;
  while (i < s.size() && std::isdigit(static_cast<unsigned char>(s[i]))) ++i;
  auto n = to_num(s.substr(0, i), 1ul << 40, "rate");
  if (!n || *n == 0) return make_error(EINVAL, "invalid rate '" + str + "': expected e.g. 10mbit, 500kbit, 1gbit, 2mbps");
  std::string unit(s.substr(i));
  for (auto& c : unit) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  // tc(8) units: bit/kbit/mbit/gbit are bits per second (SI), bps/kbps/... bytes per second.
  struct U { const char* name; uint64_t mul; bool bits; };
  static const U units[] = {{"", 1, false},        {"bps", 1, false},    {"kbps", 1000, false},   {"mbps", 1000000, false},
                            {"gbps", 1000000000, false}, {"bit", 1, true}, {"kbit", 1000, true}, {"mbit", 1000000, true},
                            {"gbit", 1000000000, true}};
  for (const auto& u : units)
    if (unit == u.name) {
      uint64_t v = *n * u.mul / (u.bits ? 8 : 1);
      if (v == 0 || v > 0x7fffffff) return make_error(EINVAL, "invalid rate '" + str + "': must be between 1 byte/s and 17gbit");
      return v;
    }
  return make_error(EINVAL, "invalid rate '" + str + "': unknown unit '" + unit + "' (bit, kbit, mbit, gbit, bps, kbps, mbps, gbps)");
}

}  // namespace vsrv::net
