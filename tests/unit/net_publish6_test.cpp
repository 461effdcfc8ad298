// tests/unit/net_publish6_test.cpp: published ports over IPv6: the bracketed --publish host
// address, its errors, and the ip6 DNAT / hairpin rules of the container's nft batch (pure).
#include <gtest/gtest.h>

#include "netns/nat.h"
#include "netns/network.h"
#include "netns/parse.h"

using namespace vsrv::net;

namespace {

std::string err(const char* s) {
  auto p = parse_publish(s);
  EXPECT_FALSE(p) << s;
  return p ? std::string() : p.error().message();
}

bool has(const std::string& s, const std::string& what) { return s.find(what) != std::string::npos; }

size_t count(const std::string& s, const std::string& what) {
  size_t n = 0;
  for (size_t at = s.find(what); at != std::string::npos; at = s.find(what, at + 1)) ++n;
  return n;
}

// The text of one chain ("chain NAME {" up to its closing brace).
std::string chain(const std::string& s, const std::string& name) {
  auto at = s.find("chain " + name + " {");
  if (at == std::string::npos) return "";
  return s.substr(at, s.find("  }\n", at) - at);
}

Plan dual_plan() {
  Plan p;
  p.ip = "10.96.0.2";
  p.subnet = "10.96.0.0/24";
  p.ip6 = "fd00:96::2";
  p.prefix6 = 64;
  p.bridge = "vsrv-dual";
  p.nft_table = nft_table_name("c6");
  return p;
}

}  // namespace

TEST(NetPublish6, BracketedHostAddress) {
  auto p = parse_publish("[2001:db8::1]:8080:80");
  ASSERT_TRUE(p) << p.error().message();
  EXPECT_EQ(*p, (PortMap{"2001:db8::1", 8080, 80, "tcp"}));
  EXPECT_TRUE(publish_is_ipv6(*p));
  p = parse_publish("[2001:DB8:0:0::0001]:5353:53/udp");  // stored canonical
  ASSERT_TRUE(p);
  EXPECT_EQ(*p, (PortMap{"2001:db8::1", 5353, 53, "udp"}));
  p = parse_publish("[::]:80:8080");
  ASSERT_TRUE(p);
  EXPECT_EQ(p->host_ip, "::");
  EXPECT_TRUE(publish_is_ipv6(*p));
  EXPECT_FALSE(publish_is_ipv6(*parse_publish("10.0.0.1:80:80")));
  EXPECT_FALSE(publish_is_ipv6(*parse_publish("80:80")));
}

TEST(NetPublish6, BracketErrors) {
  EXPECT_TRUE(has(err("[2001:db8::1:8080:80"), "missing ']'"));
  EXPECT_TRUE(has(err("2001:db8::1]:8080:80"), "missing '['"));
  EXPECT_TRUE(has(err("[2001:db8::zz]:8080:80"), "'2001:db8::zz' is not an IPv6 address"));
  EXPECT_TRUE(has(err("[10.0.0.1]:8080:80"), "not an IPv6 address"));
  EXPECT_TRUE(has(err("[]:8080:80"), "not an IPv6 address"));
  EXPECT_TRUE(has(err("[fe80::1%eth0]:8080:80"), "not an IPv6 address"));
  EXPECT_TRUE(has(err("[::ffff:10.0.0.1]:8080:80"), "IPv4-mapped"));
  EXPECT_TRUE(has(err("[::1]:8080:80"), "route_localnet"));
  EXPECT_TRUE(has(err("[2001:db8::1]8080:80"), "expected ':' after ']'"));
  EXPECT_TRUE(has(err("[2001:db8::1]:8080"), "missing container port"));
  EXPECT_TRUE(has(err("[2001:db8::1]:1:2:3"), "too many ':'"));
  EXPECT_TRUE(has(err("[2001:db8::1]:0:80"), "out of range"));
  EXPECT_TRUE(has(err("[2001:db8::1]:80:70000"), "out of range"));
  EXPECT_TRUE(has(err("[2001:db8::1]:80:80/sctp"), "tcp or udp"));
  EXPECT_TRUE(has(err("x[2001:db8::1]:80:80"), "'['"));
  // Unbracketed IPv6: a hint, not a misparse of the last groups as ports.
  EXPECT_TRUE(has(err("2001:db8::1:8080:80"), "goes in brackets: [2001:db8::1]:8080:80"));
  EXPECT_TRUE(has(err("2001:db8::zz:8080:80"), "not an IPv4 address"));
  // Every error still shows the expected syntax.
  EXPECT_TRUE(has(err("[2001:db8::1:8080:80"), "[HOSTIP:]HOSTPORT:CONTAINERPORT"));
}

TEST(NetPublish6, NoHostIpPublishesOnBothFamilies) {
  Plan p = dual_plan();
  p.publish = {{"", 8080, 80, "tcp"}};
  std::string s = nft_add_script(p);
  std::string pre = chain(s, "prerouting"), out = chain(s, "output"), post = chain(s, "postrouting");
  EXPECT_TRUE(has(pre, "meta nfproto ipv4 fib daddr type local tcp dport 8080 dnat ip to 10.96.0.2:80")) << s;
  EXPECT_TRUE(has(pre, "meta nfproto ipv6 fib daddr type local tcp dport 8080 dnat ip6 to [fd00:96::2]:80")) << s;
  EXPECT_TRUE(has(out, "meta nfproto ipv4 fib daddr type local tcp dport 8080 dnat ip to 10.96.0.2:80")) << s;
  // ::1 is left alone in output: IPv6 has no route_localnet.
  EXPECT_TRUE(has(out, "ip6 daddr != ::1 fib daddr type local tcp dport 8080 dnat ip6 to [fd00:96::2]:80")) << s;
  EXPECT_TRUE(has(post, "ip6 saddr fd00:96::2 oifname != \"vsrv-dual\" masquerade")) << s;
  EXPECT_TRUE(has(post, "ip daddr 10.96.0.2 oifname \"vsrv-dual\" ct status dnat ip saddr { 127.0.0.0/8, 10.96.0.0/24 } masquerade")) << s;
  EXPECT_TRUE(has(post, "ip6 daddr fd00:96::2 oifname \"vsrv-dual\" ct status dnat ip6 saddr fd00:96::/64 masquerade")) << s;
  EXPECT_EQ(count(s, "dnat ip6 to"), 2u);
  EXPECT_EQ(count(s, "dnat ip to"), 2u);
}

TEST(NetPublish6, HostIpSelectsTheFamily) {
  Plan p = dual_plan();
  p.publish = {{"2001:db8::1", 8443, 443, "tcp"}, {"192.0.2.7", 8053, 53, "udp"}, {"::", 9000, 90, "tcp"},
               {"0.0.0.0", 9001, 91, "tcp"}};
  std::string s = nft_add_script(p);
  std::string pre = chain(s, "prerouting"), out = chain(s, "output");
  for (const auto& c : {pre, out}) {
    EXPECT_TRUE(has(c, "ip6 daddr 2001:db8::1 tcp dport 8443 dnat ip6 to [fd00:96::2]:443")) << s;
    EXPECT_FALSE(has(c, "dport 8443 dnat ip to")) << s;
    EXPECT_TRUE(has(c, "ip daddr 192.0.2.7 udp dport 8053 dnat ip to 10.96.0.2:53")) << s;
    EXPECT_FALSE(has(c, "dport 8053 dnat ip6")) << s;
    EXPECT_TRUE(has(c, "fib daddr type local tcp dport 9000 dnat ip6 to [fd00:96::2]:90")) << s;
    EXPECT_FALSE(has(c, "dport 9000 dnat ip to")) << s;
    EXPECT_TRUE(has(c, "meta nfproto ipv4 fib daddr type local tcp dport 9001 dnat ip to 10.96.0.2:91")) << s;
    EXPECT_FALSE(has(c, "dport 9001 dnat ip6")) << s;
  }
}

TEST(NetPublish6, IPv4OnlyContainerGetsNoIp6Rules) {
  Plan p = dual_plan();
  p.ip6.clear();
  p.prefix6 = 0;
  p.publish = {{"", 8080, 80, "tcp"}};
  std::string s = nft_add_script(p);
  EXPECT_TRUE(has(s, "dnat ip to 10.96.0.2:80")) << s;
  EXPECT_FALSE(has(s, "ip6")) << s;
}

TEST(NetPublish6, OnlyIPv6MappingsNeedNoIPv4Hairpin) {
  Plan p = dual_plan();
  p.publish = {{"2001:db8::1", 80, 80, "tcp"}};
  std::string s = nft_add_script(p);
  EXPECT_FALSE(has(s, "dnat ip to")) << s;
  EXPECT_FALSE(has(s, "127.0.0.0/8")) << s;
  EXPECT_TRUE(has(s, "ct status dnat ip6 saddr fd00:96::/64 masquerade")) << s;
}

TEST(NetPublish6, PlanJsonKeepsIPv6HostAddress) {
  Plan p = dual_plan();
  p.publish = {{"2001:db8::1", 8080, 80, "tcp"}};
  auto q = Plan::from_json(p.to_json());
  ASSERT_TRUE(q);
  EXPECT_EQ(q->publish, p.publish);
  EXPECT_EQ(nft_add_script(*q), nft_add_script(p));
}
