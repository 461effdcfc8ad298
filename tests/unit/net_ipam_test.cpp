// tests/unit/net_ipam_test.cpp: the IPv4 allocator (allocation, exhaustion, static requests,
// reclaim) and the flock'ed lease file, including concurrent allocation from forked processes.
#include <gtest/gtest.h>
#include <sys/wait.h>
#include <unistd.h>

#include <filesystem>
#include <set>

#include "netns/ipam.h"

using namespace vsrv::net;

namespace {
Cidr4 subnet(const char* s) { return *parse_cidr4(s); }
uint32_t ip(const char* s) { return *parse_ipv4(s); }
}  // namespace

TEST(Ipam, SkipsNetworkGatewayBroadcast) {
  Pool p(subnet("10.0.0.0/29"), ip("10.0.0.1"));
  std::vector<std::string> got;
  for (int i = 0; i < 5; ++i) got.push_back(format_ipv4(*p.allocate("c" + std::to_string(i), std::nullopt, {})));
  EXPECT_EQ(got, (std::vector<std::string>{"10.0.0.2", "10.0.0.3", "10.0.0.4", "10.0.0.5", "10.0.0.6"}));
}

TEST(Ipam, Exhaustion) {
  Pool p(subnet("10.0.0.0/30"), ip("10.0.0.1"));
  ASSERT_TRUE(p.allocate("a", std::nullopt, {}));
  auto r = p.allocate("b", std::nullopt, {});
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error().errnum, ENOSPC);
  EXPECT_EQ(p.release("a"), 1);
  EXPECT_TRUE(p.allocate("b", std::nullopt, {}));
}

TEST(Ipam, StaticRequests) {
  Pool p(subnet("10.0.0.0/24"), ip("10.0.0.1"));
  EXPECT_EQ(*p.allocate("a", ip("10.0.0.50"), {}), ip("10.0.0.50"));
  auto taken = p.allocate("b", ip("10.0.0.50"), {});
  ASSERT_FALSE(taken);
  EXPECT_EQ(taken.error().errnum, EADDRINUSE);
  EXPECT_NE(taken.error().message().find("in use by container 'a'"), std::string::npos);
  EXPECT_FALSE(p.allocate("b", ip("10.0.1.5"), {}));    // outside
  EXPECT_FALSE(p.allocate("b", ip("10.0.0.1"), {}));    // gateway
  EXPECT_FALSE(p.allocate("b", ip("10.0.0.255"), {}));  // broadcast
  EXPECT_EQ(*p.allocate("b", std::nullopt, {}), ip("10.0.0.2"));
}

TEST(Ipam, Reclaim) {
  Pool p(subnet("10.0.0.0/24"), ip("10.0.0.1"));
  ASSERT_TRUE(p.allocate("dead", std::nullopt, {999999999, 1}));
  ASSERT_TRUE(p.allocate("live", std::nullopt, self_holder()));
  auto ids = p.reclaim([](const Lease& l) {
    for (const auto& h : l.holders)
      if (holder_alive(h)) return false;
    return true;
  });
  EXPECT_EQ(ids, std::vector<std::string>{"dead"});
  EXPECT_FALSE(p.address_of("dead"));
  EXPECT_TRUE(p.address_of("live"));
  EXPECT_FALSE(holder_alive({::getpid(), 12345}));  // same pid, other start time: recycled
}

TEST(Ipam, JsonRoundTrip) {
  Pool p(subnet("10.0.0.0/24"), ip("10.0.0.1"));
  ASSERT_TRUE(p.allocate("a", std::nullopt, {42, 7}));
  Pool q(subnet("10.0.0.0/24"), ip("10.0.0.1"));
  ASSERT_TRUE(pool_from_json(pool_to_json(p), q));
  ASSERT_EQ(q.leases().size(), 1u);
  EXPECT_EQ(q.leases().begin()->second.holders, (std::vector<Holder>{{42, 7}}));
  EXPECT_FALSE(pool_from_json("{\"x\": 1}", q));
}

TEST(Ipam, ConcurrentProcessesGetDistinctAddresses) {
  auto dir = std::filesystem::temp_directory_path() / ("vsrv-ipam-" + std::to_string(::getpid()));
  std::filesystem::create_directories(dir);
  std::vector<pid_t> kids;
  for (int i = 0; i < 20; ++i) {
    pid_t pid = ::fork();
    if (pid == 0) {
      auto r = with_pool(dir, "n", subnet("10.0.0.0/24"), ip("10.0.0.1"), [&](Pool& p) -> vsrv::Result<bool> {
        auto a = p.allocate("c" + std::to_string(i), std::nullopt, {::getppid(), 0});
        if (!a) return vsrv::forward(std::move(a.error()));
        return true;
      });
      _exit(r ? 0 : 1);
    }
    kids.push_back(pid);
  }
  for (pid_t k : kids) {
    int st = 0;
    ::waitpid(k, &st, 0);
    EXPECT_TRUE(WIFEXITED(st) && WEXITSTATUS(st) == 0);
  }
  std::set<uint32_t> addrs;
  ASSERT_TRUE(with_pool(dir, "n", subnet("10.0.0.0/24"), ip("10.0.0.1"), [&](Pool& p) -> vsrv::Result<bool> {
    for (const auto& [a, l] : p.leases()) addrs.insert(a);
    return false;
  }));
  EXPECT_EQ(addrs.size(), 20u);
  std::filesystem::remove_all(dir);
}
