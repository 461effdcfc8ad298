// Unit tests for runtime/cgroup/stats.cpp: the cgroup file parsers (v1 and v2 formats) and the
// `events --stats` JSON, whose keys must be runc's (libcontainer/types.Stats).
#include <gtest/gtest.h>

#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "runtime/cgroup/stats.h"

namespace vsrv::cgroup {
namespace {

TEST(CgroupStatsParse, FlatKeyed) {
  auto m = parse_flat_keyed("user 120\nsystem 35\n\nnr_periods 7\nbadline\nthrottled_time 99999999999\n");
  EXPECT_EQ(m.size(), 4u);
  EXPECT_EQ(m["user"], 120u);
  EXPECT_EQ(m["system"], 35u);
  EXPECT_EQ(m["nr_periods"], 7u);
  EXPECT_EQ(m["throttled_time"], 99999999999ull);
  EXPECT_FALSE(m.count("badline"));
  EXPECT_TRUE(parse_flat_keyed("").empty());
  // v2 memory.events
  auto ev = parse_flat_keyed("low 0\nhigh 0\nmax 12\noom 3\noom_kill 2\noom_group_kill 0\n");
  EXPECT_EQ(ev["max"], 12u);
  EXPECT_EQ(ev["oom_kill"], 2u);
}

TEST(CgroupStatsParse, Value) {
  EXPECT_EQ(parse_value("123\n"), 123u);
  EXPECT_EQ(parse_value("  42 \n"), 42u);
  EXPECT_EQ(parse_value("max\n"), 0u);
  EXPECT_EQ(parse_value("max", 77), 77u);
  EXPECT_EQ(parse_value(""), 0u);
  EXPECT_EQ(parse_value("9223372036854771712\n"), 9223372036854771712ull);  // v1 "unlimited"
}

TEST(CgroupStatsParse, BlkioV1DropsTotal) {
  auto v = parse_blkio_v1(
      "8:0 Read 4096\n8:0 Write 8192\n8:0 Sync 0\n8:0 Async 12288\n8:0 Discard 0\n8:0 Total 12288\n"
      "253:1 Read 10\nTotal 12298\n");
  std::vector<BlkioEntry> want = {{8, 0, "Read", 4096},  {8, 0, "Write", 8192}, {8, 0, "Sync", 0},
                                  {8, 0, "Async", 12288}, {8, 0, "Discard", 0}, {8, 0, "Total", 12288},
                                  {253, 1, "Read", 10}};
  EXPECT_EQ(v, want);
  EXPECT_TRUE(parse_blkio_v1("Total 0\n").empty());
  EXPECT_TRUE(parse_blkio_v1("").empty());
}

TEST(CgroupStatsParse, IoStatBytesAndIos) {
  std::vector<BlkioEntry> bytes, ios;
  parse_io_stat(
      "8:0 rbytes=4096 wbytes=8192 rios=1 wios=2 dbytes=512 dios=3\n"
      "259:0 rbytes=1 wbytes=0 rios=5 wios=0 dbytes=0 dios=0 cost.usage=9\n",
      bytes, ios);
  std::vector<BlkioEntry> want_bytes = {{8, 0, "Read", 4096},  {8, 0, "Write", 8192}, {8, 0, "Discard", 512},
                                        {259, 0, "Read", 1},   {259, 0, "Write", 0},  {259, 0, "Discard", 0}};
  std::vector<BlkioEntry> want_ios = {{8, 0, "Read", 1},   {8, 0, "Write", 2},   {8, 0, "Discard", 3},
                                      {259, 0, "Read", 5}, {259, 0, "Write", 0}, {259, 0, "Discard", 0}};
  EXPECT_EQ(bytes, want_bytes);
  EXPECT_EQ(ios, want_ios);

  std::vector<BlkioEntry> b2, i2;
  parse_io_stat("garbage\n\n", b2, i2);
  EXPECT_TRUE(b2.empty());
  EXPECT_TRUE(i2.empty());
}

TEST(CgroupStatsParse, List) {
  EXPECT_EQ(parse_list("100 200 0 300 \n"), (std::vector<std::uint64_t>{100, 200, 0, 300}));
  EXPECT_TRUE(parse_list("").empty());
  EXPECT_TRUE(parse_list("\n").empty());
}

TEST(CgroupEventsJson, RuncKeys) {
  Stats s;
  s.cpu.total = 123456789;
  s.cpu.user = 100;
  s.cpu.kernel = 50;
  s.cpu.percpu = {1, 2};
  s.cpu.periods = 10;
  s.cpu.throttled_periods = 3;
  s.cpu.throttled_time = 999;
  s.memory.cache = 4096;
  s.memory.usage = {1 << 20, 2 << 20, 64 << 20, 1};
  s.memory.swap = {3, 4, 5, 6};
  s.memory.kernel.usage = 77;
  s.memory.raw = {{"cache", 4096}, {"rss", 8192}};
  s.pids = {5, 100};
  s.blkio.service_bytes = {{8, 0, "Read", 4096}};
  s.blkio.serviced = {{8, 0, "Write", 2}};
  s.hugetlb["2MB"] = {2097152, 4194304, 1};
  s.oom_kills = 2;

  std::string text = events_stats_json("ctr1", s);
  EXPECT_EQ(text.find('\n'), std::string::npos);  // one line per event
  auto j = nlohmann::json::parse(text);
  EXPECT_EQ(j.at("type"), "stats");
  EXPECT_EQ(j.at("id"), "ctr1");
  const auto& d = j.at("data");
  EXPECT_EQ(d.at("cpu").at("usage").at("total"), 123456789u);
  EXPECT_EQ(d.at("cpu").at("usage").at("user"), 100u);
  EXPECT_EQ(d.at("cpu").at("usage").at("kernel"), 50u);
  EXPECT_EQ(d.at("cpu").at("usage").at("percpu"), nlohmann::json::array({1, 2}));
  EXPECT_EQ(d.at("cpu").at("throttling").at("periods"), 10u);
  EXPECT_EQ(d.at("cpu").at("throttling").at("throttled_periods"), 3u);
  EXPECT_EQ(d.at("cpu").at("throttling").at("throttled_time"), 999u);
  EXPECT_EQ(d.at("memory").at("cache"), 4096u);
  EXPECT_EQ(d.at("memory").at("usage").at("usage"), 1u << 20);
  EXPECT_EQ(d.at("memory").at("usage").at("max"), 2u << 20);
  EXPECT_EQ(d.at("memory").at("usage").at("limit"), 64u << 20);
  EXPECT_EQ(d.at("memory").at("usage").at("failcnt"), 1u);
  EXPECT_EQ(d.at("memory").at("swap").at("limit"), 5u);
  EXPECT_EQ(d.at("memory").at("kernel").at("usage"), 77u);
  EXPECT_TRUE(d.at("memory").contains("kernelTCP"));
  EXPECT_EQ(d.at("memory").at("raw").at("rss"), 8192u);
  EXPECT_EQ(d.at("pids").at("current"), 5u);
  EXPECT_EQ(d.at("pids").at("limit"), 100u);
  const auto& sb = d.at("blkio").at("ioServiceBytesRecursive");
  ASSERT_EQ(sb.size(), 1u);
  EXPECT_EQ(sb[0].at("major"), 8u);
  EXPECT_EQ(sb[0].at("minor"), 0u);
  EXPECT_EQ(sb[0].at("op"), "Read");
  EXPECT_EQ(sb[0].at("value"), 4096u);
  EXPECT_EQ(d.at("blkio").at("ioServicedRecursive")[0].at("op"), "Write");
  EXPECT_EQ(d.at("hugetlb").at("2MB").at("usage"), 2097152u);
  EXPECT_EQ(d.at("hugetlb").at("2MB").at("max"), 4194304u);
  EXPECT_EQ(d.at("hugetlb").at("2MB").at("failcnt"), 1u);
  // No interface made by vsrv: null, as runc's omitted network_interfaces reads.
  EXPECT_TRUE(d.at("network_interfaces").is_null());
}

TEST(CgroupEventsJson, EmptyStatsStillHaveEveryKey) {
  auto j = nlohmann::json::parse(events_stats_json("x", Stats{}));
  const auto& d = j.at("data");
  for (const char* k : {"cpu", "memory", "pids", "blkio", "hugetlb"}) EXPECT_TRUE(d.contains(k)) << k;
  EXPECT_TRUE(d.at("hugetlb").is_object());
  EXPECT_TRUE(d.at("blkio").at("ioServiceBytesRecursive").is_array());
  EXPECT_EQ(d.at("cpu").at("usage").at("total"), 0u);
  EXPECT_EQ(d.at("memory").at("usage").at("limit"), 0u);
}

TEST(CgroupEventsJson, NetworkInterfaces) {
  Stats s;
  s.net.push_back({"eth0", 10, 1, 20, 2});
  auto j = nlohmann::json::parse(events_stats_json("n", s));
  const auto& n = j.at("data").at("network_interfaces");
  ASSERT_TRUE(n.is_array());
  EXPECT_EQ(n[0].at("name"), "eth0");
  EXPECT_EQ(n[0].at("rx_bytes"), 10u);
  EXPECT_EQ(n[0].at("tx_packets"), 2u);
}

}  // namespace
}  // namespace vsrv::cgroup
