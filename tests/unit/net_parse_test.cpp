// tests/unit/net_parse_test.cpp: parsers of --publish, --network, CIDRs, MACs, rates, the
// annotations, network definitions and the nft batch (pure; no root, no kernel state).
#include <gtest/gtest.h>

#include "netns/nat.h"
#include "netns/network.h"
#include "netns/parse.h"
#include "netns/store.h"

using namespace vsrv::net;

TEST(NetParse, Cidr4) {
  auto c = parse_cidr4("10.90.0.0/24");
  ASSERT_TRUE(c);
  EXPECT_EQ(format_ipv4(c->network()), "10.90.0.0");
  EXPECT_EQ(format_ipv4(c->broadcast()), "10.90.0.255");
  EXPECT_TRUE(c->contains(*parse_ipv4("10.90.0.77")));
  EXPECT_FALSE(c->contains(*parse_ipv4("10.90.1.1")));
}

TEST(NetParse, InvalidCidrs) {
  for (const char* s : {"10.0.0.0", "10.0.0.0/33", "10.0.0.0/", "300.0.0.0/24", "10.0.0.5/24", "10.0.0.0/31", "abc/24", "10.0.0.0/2x"}) {
    auto c = parse_cidr4(s);
    ASSERT_FALSE(c) << s;
    EXPECT_NE(c.error().message().find(s), std::string::npos) << c.error().message();
  }
  EXPECT_NE(parse_cidr4("10.0.0.5/24").error().message().find("did you mean 10.0.0.0/24"), std::string::npos);
}

TEST(NetParse, Cidr6) {
  auto c = parse_cidr6("fd00:90::/64");
  ASSERT_TRUE(c);
  EXPECT_EQ(format_ipv6(ipv6_host(*c, 2)), "fd00:90::2");
  EXPECT_FALSE(parse_cidr6("fd00:90::1/64"));
  EXPECT_FALSE(parse_cidr6("10.0.0.0/24"));
}

TEST(NetParse, Publish) {
  auto p = parse_publish("8080:80");
  ASSERT_TRUE(p);
  EXPECT_EQ(*p, (PortMap{"", 8080, 80, "tcp"}));
  p = parse_publish("127.0.0.1:5353:53/udp");
  ASSERT_TRUE(p);
  EXPECT_EQ(*p, (PortMap{"127.0.0.1", 5353, 53, "udp"}));
}

TEST(NetParse, PublishErrors) {
  EXPECT_NE(parse_publish("70000:80").error().message().find("out of range"), std::string::npos);
  EXPECT_NE(parse_publish("80:0").error().message().find("out of range"), std::string::npos);
  EXPECT_NE(parse_publish("80").error().message().find("missing container port"), std::string::npos);
  EXPECT_NE(parse_publish("80:80/sctp").error().message().find("tcp or udp"), std::string::npos);
  EXPECT_NE(parse_publish("nohost:80:80").error().message().find("not an IPv4"), std::string::npos);
  EXPECT_FALSE(parse_publish("-1:80"));
  EXPECT_FALSE(parse_publish(":80"));
}

TEST(NetParse, Mode) {
  EXPECT_EQ(parse_mode("none")->kind, "none");
  EXPECT_EQ(parse_mode("host")->kind, "host");
  EXPECT_EQ(parse_mode("bridge")->arg, "");
  EXPECT_EQ(parse_mode("bridge:lab")->arg, "lab");
  EXPECT_EQ(parse_mode("macvlan:lan")->kind, "macvlan");
  EXPECT_EQ(parse_mode("ns:/run/netns/x")->arg, "/run/netns/x");
  EXPECT_FALSE(parse_mode("macvlan"));
  EXPECT_FALSE(parse_mode("ns:relative"));
  EXPECT_FALSE(parse_mode("bridge:../etc"));
  EXPECT_FALSE(parse_mode("slirp"));
  EXPECT_FALSE(parse_mode("host:x"));
}

TEST(NetParse, Mac) {
  EXPECT_EQ(*parse_mac("AA:bb:cc:00:11:22"), "aa:bb:cc:00:11:22");
  EXPECT_FALSE(parse_mac("01:00:5e:00:00:01"));  // multicast
  EXPECT_FALSE(parse_mac("00:00:00:00:00:00"));
  EXPECT_FALSE(parse_mac("aa:bb:cc:00:11"));
  EXPECT_FALSE(parse_mac("aa:bb:cc:00:11:22:33"));
}

TEST(NetParse, DerivedMacIsStableLocalUnicast) {
  std::string a = derive_mac("web1"), b = derive_mac("web1"), c = derive_mac("web2");
  EXPECT_EQ(a, b);
  EXPECT_NE(a, c);
  ASSERT_TRUE(parse_mac(a));
  unsigned first = std::stoul(a.substr(0, 2), nullptr, 16);
  EXPECT_EQ(first & 1, 0u);  // unicast
  EXPECT_EQ(first & 2, 2u);  // locally administered
}

TEST(NetParse, Rate) {
  EXPECT_EQ(*parse_rate("8mbit"), 1000000u);
  EXPECT_EQ(*parse_rate("1kbps"), 1000u);
  EXPECT_EQ(*parse_rate("125000"), 125000u);
  EXPECT_FALSE(parse_rate("fast"));
  EXPECT_FALSE(parse_rate("10parsecs"));
  EXPECT_FALSE(parse_rate("0mbit"));
}

TEST(NetParse, Annotations) {
  auto r = request_from_annotations({{kAnnMode, "bridge:lab"}, {kAnnIp, "10.1.0.5"}, {kAnnPublish, "80:80, 53:53/udp"}});
  ASSERT_TRUE(r);
  EXPECT_EQ(r->mode, "bridge:lab");
  EXPECT_EQ(r->ip, "10.1.0.5");
  EXPECT_EQ(r->publish, (std::vector<std::string>{"80:80", "53:53/udp"}));
  EXPECT_FALSE(request_from_annotations({{kAnnIp, "10.1.0.5"}}));
  EXPECT_TRUE(request_from_annotations({}));
}

TEST(NetStore, MakeNetworkDefaultsAndErrors) {
  NetworkFlags f;
  f.name = "lab";
  f.subnet = "10.91.0.0/24";
  auto n = make_network(f);
  ASSERT_TRUE(n);
  EXPECT_EQ(n->gateway, "10.91.0.1");
  EXPECT_EQ(n->bridge, "vsrv-lab");
  auto back = network_from_toml(network_to_toml(*n), "lab");
  ASSERT_TRUE(back);
  EXPECT_EQ(back->subnet, "10.91.0.0/24");
  EXPECT_EQ(back->bridge, "vsrv-lab");
  f.gateway = "10.92.0.1";
  EXPECT_FALSE(make_network(f));
  f.gateway = "";
  f.subnet = "10.91.0.0/99";
  EXPECT_FALSE(make_network(f));
  f.subnet = "10.91.0.0/24";
  f.driver = "macvlan";
  f.parent = "no-such-if0";
  auto e = make_network(f);
  ASSERT_FALSE(e);
  EXPECT_NE(e.error().message().find("does not exist"), std::string::npos);
  EXPECT_FALSE(network_from_toml("subnet = [", "bad"));
}

TEST(NetStore, UnknownNetwork) {
  auto n = load_network("/nonexistent-vsrv-state", "nope");
  ASSERT_FALSE(n);
  EXPECT_NE(n.error().message().find("network 'nope' does not exist"), std::string::npos);
  EXPECT_TRUE(load_network("/nonexistent-vsrv-state", "vsrv"));  // built in
}

TEST(NetNat, ScriptIsOneOwnedTable) {
  Plan p;
  p.ip = "10.90.0.2";
  p.subnet = "10.90.0.0/24";
  p.bridge = "vsrv0";
  p.nft_table = nft_table_name("c1");
  p.publish = {{"", 8080, 80, "tcp"}};
  p.isolate_from = {"vsrv-lab"};
  std::string s = nft_add_script(p);
  EXPECT_EQ(s.rfind("add table inet vsrv-c-", 0), 0u);
  EXPECT_NE(s.find("dnat ip to 10.90.0.2:80"), std::string::npos);
  EXPECT_NE(s.find("ip saddr 10.90.0.2 oifname != \"vsrv0\" masquerade"), std::string::npos);
  EXPECT_NE(s.find("oifname { \"vsrv-lab\" } drop"), std::string::npos);
  EXPECT_EQ(s.find("table ip "), std::string::npos);
  EXPECT_EQ(nft_table_name("c1"), nft_table_name("c1"));
}

TEST(NetPlan, JsonRoundTrip) {
  Plan p;
  p.mode = "bridge";
  p.network = "vsrv";
  p.ip = "10.90.0.9";
  p.publish = {{"127.0.0.1", 1, 2, "udp"}};
  p.bind_files = {{"/x/hosts", "/etc/hosts"}};
  auto q = Plan::from_json(p.to_json());
  ASSERT_TRUE(q);
  EXPECT_EQ(q->ip, "10.90.0.9");
  EXPECT_EQ(q->publish, p.publish);
  EXPECT_EQ(q->bind_files, p.bind_files);
  EXPECT_FALSE(Plan::from_json("[1]"));
}
