// Unit tests for runtime/cgroup/resources.cpp: the v1<->v2 conversions (as runc's fs/fs2 and
// crun), the v1 and v2 write planners for every linux.resources field, the layout-aware plan,
// the cpuset check against the online lists, size parsing and the default device rules.
// Pure functions: nothing here touches a cgroup filesystem.
#include <gtest/gtest.h>

#include <algorithm>
#include <ostream>
#include <string>
#include <vector>

#include "runtime/cgroup/hierarchy.h"
#include "runtime/cgroup/resources.h"

namespace vsrv::cgroup {

// Readable failure output for EXPECT_EQ on writes (found by ADL).
void PrintTo(const CgroupWrite& w, std::ostream* os) {
  *os << "{" << w.controller << ", " << w.file << ", '" << w.value << "'}";
}

namespace {

using W = CgroupWrite;
using Ws = std::vector<CgroupWrite>;

std::string err_of(const Result<Ws>& r) { return r ? std::string("<ok>") : r.error().message(); }
template <class T>
std::string err_msg(const Result<T>& r) {
  return r ? std::string("<ok>") : r.error().message();
}

bool contains(const std::string& hay, std::string_view needle) { return hay.find(needle) != std::string::npos; }

std::string dump(const Ws& ws) {
  std::string s;
  for (const auto& w : ws) s += "\n  " + w.controller + " " + w.file + " = '" + w.value + "'";
  return s;
}

oci::Resources with_memory(oci::Memory m) {
  oci::Resources r;
  r.memory = m;
  return r;
}
oci::Resources with_cpu(oci::Cpu c) {
  oci::Resources r;
  r.cpu = c;
  return r;
}
oci::Resources with_blkio(oci::BlockIO b) {
  oci::Resources r;
  r.block_io = b;
  return r;
}
oci::Resources with_pids(std::int64_t limit) {
  oci::Resources r;
  r.pids = oci::Pids{limit};
  return r;
}

// ---------------------------------------------------------------- conversions

TEST(CgroupConvert, SharesToWeightAsRunc) {
  // runc: 1 + ((shares - 2) * 9999) / 262142
  EXPECT_EQ(shares_to_weight(2), 1u);
  EXPECT_EQ(shares_to_weight(1024), 39u);
  EXPECT_EQ(shares_to_weight(262144), 10000u);
  EXPECT_EQ(shares_to_weight(512), 1u + (510u * 9999u) / 262142u);
  EXPECT_EQ(shares_to_weight(0), 0u);  // unset stays unset
}

TEST(CgroupConvert, BlkioWeightToIoWeight) {
  // 1 + (weight - 10) * 9999 / 990
  EXPECT_EQ(blkio_weight_to_io_weight(10), 1u);
  EXPECT_EQ(blkio_weight_to_io_weight(100), 910u);
  EXPECT_EQ(blkio_weight_to_io_weight(500), 4950u);
  EXPECT_EQ(blkio_weight_to_io_weight(1000), 10000u);
  EXPECT_EQ(blkio_weight_to_io_weight(0), 0u);
}

TEST(CgroupConvert, V2SwapValue) {
  // Unlimited memory without a swap value lifts swap too.
  EXPECT_EQ(*v2_swap_value(0, -1), -1);
  // -1 and 0 pass through.
  EXPECT_EQ(*v2_swap_value(-1, 1000), -1);
  EXPECT_EQ(*v2_swap_value(-1, -1), -1);
  EXPECT_EQ(*v2_swap_value(-1, 0), -1);
  EXPECT_EQ(*v2_swap_value(0, 1000), 0);
  EXPECT_EQ(*v2_swap_value(0, 0), 0);
  // memory+swap minus memory.
  EXPECT_EQ(*v2_swap_value(3000, 1000), 2000);
  EXPECT_EQ(*v2_swap_value(1000, 1000), 0);
  // Errors.
  auto no_limit = v2_swap_value(2000, 0);
  ASSERT_FALSE(no_limit);
  EXPECT_TRUE(contains(no_limit.error().message(), "linux.resources.memory.swap")) << no_limit.error().message();
  EXPECT_TRUE(contains(no_limit.error().message(), "without a memory limit"));
  auto unlimited = v2_swap_value(2000, -1);
  ASSERT_FALSE(unlimited);
  EXPECT_TRUE(contains(unlimited.error().message(), "without a memory limit"));
  auto smaller = v2_swap_value(500, 1000);
  ASSERT_FALSE(smaller);
  EXPECT_TRUE(contains(smaller.error().message(), "linux.resources.memory.swap"));
  EXPECT_TRUE(contains(smaller.error().message(), "at least memory.limit"));
}

// ---------------------------------------------------------------- v1 writes

TEST(CgroupV1Writes, EmptyResourcesWriteNothing) {
  auto w = v1_writes(oci::Resources{});
  ASSERT_TRUE(w) << err_of(w);
  EXPECT_TRUE(w->empty());
}

TEST(CgroupV1Writes, MemoryEveryField) {
  oci::Memory m;
  m.limit = 1 << 30;
  m.reservation = 512 << 20;
  m.swap = 2LL << 30;
  m.kernel = 64 << 20;
  m.kernel_tcp = 16 << 20;
  m.swappiness = 30;
  m.disable_oom_killer = true;
  m.use_hierarchy = true;
  m.check_before_update = true;
  auto w = v1_writes(with_memory(m));
  ASSERT_TRUE(w) << err_of(w);
  Ws want = {{"memory", "memory.limit_in_bytes", "1073741824"},
             {"memory", "memory.memsw.limit_in_bytes", "2147483648"},
             {"memory", "memory.soft_limit_in_bytes", "536870912"},
             {"memory", "memory.kmem.limit_in_bytes", "67108864"},
             {"memory", "memory.kmem.tcp.limit_in_bytes", "16777216"},
             {"memory", "memory.swappiness", "30"},
             {"memory", "memory.oom_control", "1"}};
  EXPECT_EQ(*w, want) << dump(*w);
}

TEST(CgroupV1Writes, MemoryUnlimitedLiftsMemsw) {
  oci::Memory m;
  m.limit = -1;
  auto w = v1_writes(with_memory(m));
  ASSERT_TRUE(w) << err_of(w);
  Ws want = {{"memory", "memory.limit_in_bytes", "-1"}, {"memory", "memory.memsw.limit_in_bytes", "-1"}};
  EXPECT_EQ(*w, want) << dump(*w);
}

TEST(CgroupV1Writes, MemoryZeroMeansUnsetAndOomKillerFalseWritesNothing) {
  oci::Memory m;
  m.limit = 0;
  m.reservation = 0;
  m.swap = 0;
  m.disable_oom_killer = false;
  auto w = v1_writes(with_memory(m));
  ASSERT_TRUE(w) << err_of(w);
  EXPECT_TRUE(w->empty()) << dump(*w);
}

TEST(CgroupV1Writes, MemoryBadValuesNameTheField) {
  oci::Memory neg;
  neg.limit = -2;
  auto a = v1_writes(with_memory(neg));
  ASSERT_FALSE(a);
  EXPECT_TRUE(contains(err_of(a), "linux.resources.memory.limit")) << err_of(a);
  EXPECT_TRUE(contains(err_of(a), "must be positive or -1"));

  for (auto set : {+[](oci::Memory& m) { m.reservation = -5; }, +[](oci::Memory& m) { m.swap = -5; },
                   +[](oci::Memory& m) { m.kernel = -5; }, +[](oci::Memory& m) { m.kernel_tcp = -5; }}) {
    oci::Memory m;
    set(m);
    auto r = v1_writes(with_memory(m));
    EXPECT_FALSE(r);
    EXPECT_TRUE(contains(err_of(r), "linux.resources.memory.")) << err_of(r);
  }
  oci::Memory sw;
  sw.swappiness = 101;
  EXPECT_TRUE(contains(err_of(v1_writes(with_memory(sw))), "linux.resources.memory.swappiness"));
  oci::Memory small;
  small.limit = 2000;
  small.swap = 1000;
  EXPECT_TRUE(contains(err_of(v1_writes(with_memory(small))), "linux.resources.memory.swap"));
}

TEST(CgroupV1Writes, CpuEveryField) {
  oci::Cpu c;
  c.shares = 512;
  c.quota = 50000;
  c.period = 100000;
  c.burst = 10000;
  c.realtime_runtime = 95000;
  c.realtime_period = 1000000;
  c.cpus = "0-1";
  c.mems = "0";
  c.idle = 1;
  auto w = v1_writes(with_cpu(c));
  ASSERT_TRUE(w) << err_of(w);
  Ws want = {{"cpu", "cpu.rt_period_us", "1000000"}, {"cpu", "cpu.rt_runtime_us", "95000"},
             {"cpu", "cpu.shares", "512"},           {"cpu", "cpu.cfs_period_us", "100000"},
             {"cpu", "cpu.cfs_quota_us", "50000"},   {"cpu", "cpu.cfs_burst_us", "10000"},
             {"cpu", "cpu.idle", "1"},               {"cpuset", "cpuset.cpus", "0-1"},
             {"cpuset", "cpuset.mems", "0"}};
  EXPECT_EQ(*w, want) << dump(*w);
}

TEST(CgroupV1Writes, CpuQuotaUnlimitedAndBadValues) {
  oci::Cpu c;
  c.quota = -1;
  auto w = v1_writes(with_cpu(c));
  ASSERT_TRUE(w) << err_of(w);
  EXPECT_EQ(*w, (Ws{{"cpu", "cpu.cfs_quota_us", "-1"}}));

  oci::Cpu q;
  q.quota = -7;
  EXPECT_TRUE(contains(err_of(v1_writes(with_cpu(q))), "linux.resources.cpu.quota"));
  oci::Cpu idle;
  idle.idle = 2;
  EXPECT_TRUE(contains(err_of(v1_writes(with_cpu(idle))), "linux.resources.cpu.idle"));
  oci::Cpu rt;
  rt.realtime_runtime = -3;
  EXPECT_TRUE(contains(err_of(v1_writes(with_cpu(rt))), "linux.resources.cpu.realtimeRuntime"));
}

TEST(CgroupV1Writes, Pids) {
  EXPECT_EQ(*v1_writes(with_pids(100)), (Ws{{"pids", "pids.max", "100"}}));
  EXPECT_EQ(*v1_writes(with_pids(-1)), (Ws{{"pids", "pids.max", "max"}}));
  EXPECT_EQ(*v1_writes(with_pids(-5)), (Ws{{"pids", "pids.max", "max"}}));
  EXPECT_TRUE(v1_writes(with_pids(0))->empty());  // 0 leaves it alone, as runc
}

TEST(CgroupV1Writes, BlockIOEveryField) {
  oci::BlockIO b;
  b.weight = 500;
  b.leaf_weight = 300;
  b.weight_device = {{8, 0, 600, 700}, {8, 16, 200, std::nullopt}};
  b.throttle_read_bps = {{8, 0, 1048576}};
  b.throttle_write_bps = {{8, 0, 2097152}};
  b.throttle_read_iops = {{8, 16, 100}};
  b.throttle_write_iops = {{8, 16, 200}};
  auto w = v1_writes(with_blkio(b));
  ASSERT_TRUE(w) << err_of(w);
  Ws want = {{"blkio", "blkio.weight", "500"},
             {"blkio", "blkio.leaf_weight", "300"},
             {"blkio", "blkio.weight_device", "8:0 600"},
             {"blkio", "blkio.leaf_weight_device", "8:0 700"},
             {"blkio", "blkio.weight_device", "8:16 200"},
             {"blkio", "blkio.throttle.read_bps_device", "8:0 1048576"},
             {"blkio", "blkio.throttle.write_bps_device", "8:0 2097152"},
             {"blkio", "blkio.throttle.read_iops_device", "8:16 100"},
             {"blkio", "blkio.throttle.write_iops_device", "8:16 200"}};
  EXPECT_EQ(*w, want) << dump(*w);
}

TEST(CgroupV1Writes, BlockIOBadValues) {
  oci::BlockIO low;
  low.weight = 5;
  EXPECT_TRUE(contains(err_of(v1_writes(with_blkio(low))), "linux.resources.blockIO.weight"));
  oci::BlockIO high;
  high.leaf_weight = 1001;
  EXPECT_TRUE(contains(err_of(v1_writes(with_blkio(high))), "linux.resources.blockIO.leafWeight"));
  oci::BlockIO dev;
  dev.weight_device = {{-1, 0, 100, std::nullopt}};
  EXPECT_TRUE(contains(err_of(v1_writes(with_blkio(dev))), "linux.resources.blockIO.weightDevice[0]"));
  oci::BlockIO devw;
  devw.weight_device = {{8, 0, 100, std::nullopt}, {8, 1, 2000, std::nullopt}};
  EXPECT_TRUE(contains(err_of(v1_writes(with_blkio(devw))), "linux.resources.blockIO.weightDevice[1].weight"));
  oci::BlockIO thr;
  thr.throttle_write_iops = {{8, -2, 10}};
  EXPECT_TRUE(
      contains(err_of(v1_writes(with_blkio(thr))), "linux.resources.blockIO.throttleWriteIOPSDevice[0]"));
}

TEST(CgroupV1Writes, Hugepages) {
  oci::Resources r;
  r.hugepage_limits = {{"2MB", 1 << 30}, {"1GB", 2ULL << 30}};
  auto w = v1_writes(r);
  ASSERT_TRUE(w) << err_of(w);
  Ws want = {{"hugetlb", "hugetlb.2MB.limit_in_bytes", "1073741824"},
             {"hugetlb", "hugetlb.1GB.limit_in_bytes", "2147483648"}};
  EXPECT_EQ(*w, want) << dump(*w);

  for (const char* bad : {"2mb", "MB", "2M", "../2MB", ""}) {
    oci::Resources b;
    b.hugepage_limits = {{"2MB", 1}, {bad, 1}};
    auto e = v1_writes(b);
    EXPECT_FALSE(e) << bad;
    EXPECT_TRUE(contains(err_of(e), "linux.resources.hugepageLimits[1].pageSize")) << err_of(e);
  }
}

TEST(CgroupV1Writes, DevicesAllowAndDeny) {
  oci::Resources r;
  r.devices = {{false, "a", std::nullopt, std::nullopt, "rwm"},
               {true, "c", 1, 3, "rwm"},
               {true, "b", 8, -1, "r"},
               {false, "", std::nullopt, std::nullopt, ""},
               {true, "c", 136, std::nullopt, "rw"}};
  auto w = v1_writes(r);
  ASSERT_TRUE(w) << err_of(w);
  Ws want = {{"devices", "devices.deny", "a *:* rwm"},
             {"devices", "devices.allow", "c 1:3 rwm"},
             {"devices", "devices.allow", "b 8:* r"},
             {"devices", "devices.deny", "a *:* rwm"},
             {"devices", "devices.allow", "c 136:* rw"}};
  EXPECT_EQ(*w, want) << dump(*w);
}

TEST(CgroupV1Writes, DeviceRuleBadTypeOrAccess) {
  oci::Resources r;
  r.devices = {{true, "c", 1, 3, "rwm"}, {true, "x", 1, 3, "rwm"}};
  auto e = v1_writes(r);
  ASSERT_FALSE(e);
  EXPECT_TRUE(contains(err_of(e), "linux.resources.devices[1].type")) << err_of(e);
  EXPECT_TRUE(contains(err_of(e), "'x'"));

  oci::Resources acc;
  acc.devices = {{true, "c", 1, 3, "rwx"}};
  EXPECT_TRUE(contains(err_of(v1_writes(acc)), "linux.resources.devices[0].access"));

  oci::Resources neg;
  neg.devices = {{true, "c", -4, 3, "rwm"}};
  EXPECT_TRUE(contains(err_of(v1_writes(neg)), "linux.resources.devices[0]"));
}

TEST(CgroupV1Writes, NetworkClassIdAndPriorities) {
  oci::Resources r;
  r.network = oci::Network{0x100001, {{"eth0", 5}, {"lo", 1}}};
  auto w = v1_writes(r);
  ASSERT_TRUE(w) << err_of(w);
  Ws want = {{"net_cls", "net_cls.classid", "1048577"},
             {"net_prio", "net_prio.ifpriomap", "eth0 5"},
             {"net_prio", "net_prio.ifpriomap", "lo 1"}};
  EXPECT_EQ(*w, want) << dump(*w);
}

TEST(CgroupV1Writes, Rdma) {
  oci::Resources r;
  r.rdma["mlx5_0"] = oci::Rdma{3, 4};
  r.rdma["mlx5_1"] = oci::Rdma{std::nullopt, 7};
  r.rdma["mlx5_2"] = oci::Rdma{};  // nothing to limit
  auto w = v1_writes(r);
  ASSERT_TRUE(w) << err_of(w);
  Ws want = {{"rdma", "rdma.max", "mlx5_0 hca_handle=3 hca_object=4"}, {"rdma", "rdma.max", "mlx5_1 hca_object=7"}};
  EXPECT_EQ(*w, want) << dump(*w);
}

TEST(CgroupV1Writes, UnifiedIsRefused) {
  oci::Resources r;
  r.unified["memory.high"] = "1G";
  auto e = v1_writes(r);
  ASSERT_FALSE(e);
  EXPECT_TRUE(contains(err_of(e), "linux.resources.unified")) << err_of(e);
  EXPECT_TRUE(contains(err_of(e), "cgroup v2"));
}

// ---------------------------------------------------------------- v2 writes

TEST(CgroupV2Writes, EmptyResourcesWriteNothing) {
  auto w = v2_writes(oci::Resources{});
  ASSERT_TRUE(w) << err_of(w);
  EXPECT_TRUE(w->empty());
}

TEST(CgroupV2Writes, MemoryLimitSwapReservation) {
  oci::Memory m;
  m.limit = 1 << 30;
  m.swap = 3LL << 30;
  m.reservation = 256 << 20;
  // No v2 file: ignored as runc does.
  m.kernel = 64 << 20;
  m.kernel_tcp = 1 << 20;
  m.swappiness = 10;
  m.disable_oom_killer = true;
  auto w = v2_writes(with_memory(m));
  ASSERT_TRUE(w) << err_of(w);
  Ws want = {{"memory", "memory.swap.max", "2147483648"},  // swap before the limit
             {"memory", "memory.max", "1073741824"},
             {"memory", "memory.low", "268435456"}};
  EXPECT_EQ(*w, want) << dump(*w);
}

TEST(CgroupV2Writes, MemoryUnlimited) {
  oci::Memory m;
  m.limit = -1;
  auto w = v2_writes(with_memory(m));
  ASSERT_TRUE(w) << err_of(w);
  EXPECT_EQ(*w, (Ws{{"memory", "memory.swap.max", "max"}, {"memory", "memory.max", "max"}})) << dump(*w);

  oci::Memory both;
  both.limit = 1000;
  both.swap = -1;
  auto b = v2_writes(with_memory(both));
  ASSERT_TRUE(b) << err_of(b);
  EXPECT_EQ(*b, (Ws{{"memory", "memory.swap.max", "max"}, {"memory", "memory.max", "1000"}})) << dump(*b);

  oci::Memory res;
  res.reservation = -1;
  EXPECT_EQ(*v2_writes(with_memory(res)), (Ws{{"memory", "memory.low", "max"}}));
}

TEST(CgroupV2Writes, MemorySwapEqualToLimitDisablesSwap) {
  // runc (fs2 setMemory): memory == memorySwap > 0 writes memory.swap.max = 0 (no swap at all);
  // skipping the write would leave the container's swap unlimited.
  oci::Memory m;
  m.limit = 1 << 30;
  m.swap = 1 << 30;
  auto w = v2_writes(with_memory(m));
  ASSERT_TRUE(w) << err_of(w);
  EXPECT_EQ(*w, (Ws{{"memory", "memory.swap.max", "0"}, {"memory", "memory.max", "1073741824"}})) << dump(*w);
}

TEST(CgroupV2Writes, MemoryErrorsNameTheField) {
  oci::Memory neg;
  neg.limit = -2;
  auto e = v2_writes(with_memory(neg));
  ASSERT_FALSE(e);
  EXPECT_TRUE(contains(err_of(e), "linux.resources.memory.limit")) << err_of(e);
  oci::Memory swap_only;
  swap_only.swap = 1000;
  EXPECT_TRUE(contains(err_of(v2_writes(with_memory(swap_only))), "linux.resources.memory.swap"));
}

TEST(CgroupV2Writes, CpuEveryField) {
  oci::Cpu c;
  c.shares = 1024;
  c.quota = 50000;
  c.period = 100000;
  c.burst = 20000;
  c.cpus = "0-3";
  c.mems = "0";
  c.idle = 0;
  auto w = v2_writes(with_cpu(c));
  ASSERT_TRUE(w) << err_of(w);
  Ws want = {{"cpu", "cpu.weight", "39"},        {"cpu", "cpu.max", "50000 100000"},
             {"cpu", "cpu.max.burst", "20000"},  {"cpu", "cpu.idle", "0"},
             {"cpuset", "cpuset.cpus", "0-3"},   {"cpuset", "cpuset.mems", "0"}};
  EXPECT_EQ(*w, want) << dump(*w);
}

TEST(CgroupV2Writes, CpuMaxForms) {
  oci::Cpu quota_only;
  quota_only.quota = 25000;
  EXPECT_EQ(*v2_writes(with_cpu(quota_only)), (Ws{{"cpu", "cpu.max", "25000"}}));
  oci::Cpu unlimited;
  unlimited.quota = -1;
  EXPECT_EQ(*v2_writes(with_cpu(unlimited)), (Ws{{"cpu", "cpu.max", "max"}}));
  oci::Cpu period_only;
  period_only.period = 200000;
  EXPECT_EQ(*v2_writes(with_cpu(period_only)), (Ws{{"cpu", "cpu.max", "max 200000"}}));
  oci::Cpu none;
  none.quota = 0;
  none.period = 0;
  EXPECT_TRUE(v2_writes(with_cpu(none))->empty());
}

TEST(CgroupV2Writes, CpuSharesRangeAndRealtimeRefused) {
  for (std::uint64_t s : {1ull, 262145ull}) {
    oci::Cpu c;
    c.shares = s;
    auto e = v2_writes(with_cpu(c));
    EXPECT_FALSE(e) << s;
    EXPECT_TRUE(contains(err_of(e), "linux.resources.cpu.shares")) << err_of(e);
  }
  oci::Cpu c;
  c.shares = 2;
  EXPECT_EQ(*v2_writes(with_cpu(c)), (Ws{{"cpu", "cpu.weight", "1"}}));
  c.shares = 262144;
  EXPECT_EQ(*v2_writes(with_cpu(c)), (Ws{{"cpu", "cpu.weight", "10000"}}));

  oci::Cpu rt;
  rt.realtime_runtime = 1000;
  auto e = v2_writes(with_cpu(rt));
  ASSERT_FALSE(e);
  EXPECT_TRUE(contains(err_of(e), "linux.resources.cpu.realtime")) << err_of(e);
  oci::Cpu rtp;
  rtp.realtime_period = 1000;
  EXPECT_FALSE(v2_writes(with_cpu(rtp)));
}

TEST(CgroupV2Writes, Pids) {
  EXPECT_EQ(*v2_writes(with_pids(64)), (Ws{{"pids", "pids.max", "64"}}));
  EXPECT_EQ(*v2_writes(with_pids(-1)), (Ws{{"pids", "pids.max", "max"}}));
  EXPECT_TRUE(v2_writes(with_pids(0))->empty());
}

TEST(CgroupV2Writes, BlockIOConvertedToIo) {
  oci::BlockIO b;
  b.weight = 500;
  b.leaf_weight = 300;  // no v2 equivalent
  b.weight_device = {{8, 0, 1000, 10}};
  b.throttle_read_bps = {{8, 0, 1048576}};
  b.throttle_write_bps = {{8, 0, 2097152}};
  b.throttle_read_iops = {{8, 16, 100}};
  b.throttle_write_iops = {{8, 16, 200}};
  auto w = v2_writes(with_blkio(b));
  ASSERT_TRUE(w) << err_of(w);
  Ws want = {{"io", "io.weight", "default 4950"},   {"io", "io.weight", "8:0 10000"},
             {"io", "io.max", "8:0 rbps=1048576"},  {"io", "io.max", "8:0 wbps=2097152"},
             {"io", "io.max", "8:16 riops=100"},    {"io", "io.max", "8:16 wiops=200"}};
  EXPECT_EQ(*w, want) << dump(*w);

  oci::BlockIO bad;
  bad.weight = 9;
  EXPECT_TRUE(contains(err_of(v2_writes(with_blkio(bad))), "linux.resources.blockIO.weight"));
}

TEST(CgroupV2Writes, Hugepages) {
  oci::Resources r;
  r.hugepage_limits = {{"2MB", 4096}};
  EXPECT_EQ(*v2_writes(r), (Ws{{"hugetlb", "hugetlb.2MB.max", "4096"}}));
  r.hugepage_limits = {{"2XB", 4096}};
  EXPECT_TRUE(contains(err_of(v2_writes(r)), "linux.resources.hugepageLimits[0].pageSize"));
}

TEST(CgroupV2Writes, DevicesValidatedButNotWritten) {
  oci::Resources r;
  r.devices = {{false, "a", std::nullopt, std::nullopt, "rwm"}, {true, "c", 1, 3, "rwm"}};
  auto w = v2_writes(r);
  ASSERT_TRUE(w) << err_of(w);
  EXPECT_TRUE(w->empty()) << dump(*w);

  r.devices.push_back({true, "p", 1, 3, "rwm"});
  auto e = v2_writes(r);
  ASSERT_FALSE(e);
  EXPECT_TRUE(contains(err_of(e), "linux.resources.devices[2].type")) << err_of(e);
}

TEST(CgroupV2Writes, NetworkRefused) {
  oci::Resources r;
  r.network = oci::Network{7, {}};
  EXPECT_TRUE(contains(err_of(v2_writes(r)), "linux.resources.network"));
  oci::Resources p;
  p.network = oci::Network{std::nullopt, {{"eth0", 1}}};
  EXPECT_FALSE(v2_writes(p));
  oci::Resources empty;
  empty.network = oci::Network{};
  EXPECT_TRUE(v2_writes(empty)->empty());
}

TEST(CgroupV2Writes, Rdma) {
  oci::Resources r;
  r.rdma["mlx4_0"] = oci::Rdma{10, std::nullopt};
  EXPECT_EQ(*v2_writes(r), (Ws{{"rdma", "rdma.max", "mlx4_0 hca_handle=10"}}));
}

TEST(CgroupV2Writes, UnifiedKeysLastAndChecked) {
  std::set<std::string> ctl = {"cpu", "memory", "pids", "io"};
  oci::Resources r;
  r.pids = oci::Pids{10};
  r.unified["memory.high"] = "1073741824";
  r.unified["cgroup.max.depth"] = "3";  // cgroup.* core files always exist
  auto w = v2_writes(r, &ctl);
  ASSERT_TRUE(w) << err_of(w);
  Ws want = {{"pids", "pids.max", "10"}, {"cgroup", "cgroup.max.depth", "3"}, {"memory", "memory.high", "1073741824"}};
  EXPECT_EQ(*w, want) << dump(*w);

  oci::Resources unknown;
  unknown.unified["foo.bar"] = "1";
  auto e = v2_writes(unknown, &ctl);
  ASSERT_FALSE(e);
  EXPECT_TRUE(contains(err_of(e), "linux.resources.unified[foo.bar]")) << err_of(e);
  EXPECT_TRUE(contains(err_of(e), "'foo'"));
  // Without a controller list only the form is checked.
  EXPECT_TRUE(v2_writes(unknown, nullptr));

  for (const char* bad : {"nodot", "../memory.max", "memory/max", ".hidden", ""}) {
    oci::Resources b;
    b.unified[bad] = "1";
    auto be = v2_writes(b, nullptr);
    EXPECT_FALSE(be) << bad;
    EXPECT_TRUE(contains(err_of(be), "linux.resources.unified[")) << err_of(be);
  }
}

// ---------------------------------------------------------------- layout-aware plan

Hierarchies hybrid() {
  Hierarchies h;
  h.layout = Layout::Hybrid;
  for (const char* c : {"cpu", "cpuacct", "cpuset", "memory", "devices", "freezer", "blkio", "pids", "net_cls",
                        "net_prio"})
    h.v1[c] = std::string("/sys/fs/cgroup/") + c;
  h.unified = "/sys/fs/cgroup/unified";
  h.v2_controllers = {"hugetlb", "rdma"};
  return h;
}

TEST(CgroupPlan, HybridSendsHugetlbToUnifiedOnly) {
  oci::Resources r;
  r.memory = oci::Memory{};
  r.memory->limit = 1000;
  r.pids = oci::Pids{5};
  r.hugepage_limits = {{"2MB", 2097152}};
  auto p = plan_writes(r, hybrid());
  ASSERT_TRUE(p) << err_msg(p);
  Ws v1 = {{"memory", "memory.limit_in_bytes", "1000"}, {"pids", "pids.max", "5"}};
  EXPECT_EQ(p->v1, v1) << dump(p->v1);
  EXPECT_EQ(p->v2, (Ws{{"hugetlb", "hugetlb.2MB.max", "2097152"}})) << dump(p->v2);
}

TEST(CgroupPlan, HybridUnifiedKeyOnlyForUnifiedControllers) {
  oci::Resources ok;
  ok.unified["hugetlb.2MB.max"] = "0";
  auto p = plan_writes(ok, hybrid());
  ASSERT_TRUE(p) << err_msg(p);
  EXPECT_TRUE(p->v1.empty());
  EXPECT_EQ(p->v2, (Ws{{"hugetlb", "hugetlb.2MB.max", "0"}}));

  oci::Resources v1_owned;  // memory lives on v1 here
  v1_owned.unified["memory.high"] = "1";
  auto e = plan_writes(v1_owned, hybrid());
  ASSERT_FALSE(e);
  EXPECT_TRUE(contains(err_msg(e), "linux.resources.unified")) << err_msg(e);

  oci::Resources unknown;
  unknown.unified["foo.bar"] = "1";
  EXPECT_TRUE(contains(err_msg(plan_writes(unknown, hybrid())), "linux.resources.unified"));
}

TEST(CgroupPlan, ControllerMountedNowhereIsAnError) {
  Hierarchies h = hybrid();
  h.v2_controllers.clear();
  oci::Resources r;
  r.hugepage_limits = {{"2MB", 1}};
  auto e = plan_writes(r, h);
  ASSERT_FALSE(e);
  EXPECT_TRUE(contains(err_msg(e), "'hugetlb'")) << err_msg(e);
  EXPECT_TRUE(contains(err_msg(e), "not mounted"));

  Hierarchies v1 = hybrid();
  v1.layout = Layout::V1;
  v1.unified.clear();
  v1.v2_controllers = {"hugetlb"};  // ignored without a unified hierarchy
  EXPECT_FALSE(plan_writes(r, v1));
}

TEST(CgroupPlan, PureV1AndPureV2) {
  oci::Resources r;
  r.cpu = oci::Cpu{};
  r.cpu->shares = 1024;
  r.cpu->cpus = "0";
  Hierarchies v1 = hybrid();
  v1.layout = Layout::V1;
  v1.unified.clear();
  v1.v2_controllers.clear();
  auto p1 = plan_writes(r, v1);
  ASSERT_TRUE(p1) << err_msg(p1);
  EXPECT_EQ(p1->v1, (Ws{{"cpu", "cpu.shares", "1024"}, {"cpuset", "cpuset.cpus", "0"}}));
  EXPECT_TRUE(p1->v2.empty());

  Hierarchies v2;
  v2.layout = Layout::V2;
  v2.unified = "/sys/fs/cgroup";
  v2.v2_controllers = {"cpu", "cpuset", "memory"};
  r.unified["memory.high"] = "5";
  auto p2 = plan_writes(r, v2);
  ASSERT_TRUE(p2) << err_msg(p2);
  EXPECT_TRUE(p2->v1.empty());
  EXPECT_EQ(p2->v2, (Ws{{"cpu", "cpu.weight", "39"}, {"cpuset", "cpuset.cpus", "0"}, {"memory", "memory.high", "5"}}));
  r.unified = {{"pids.max", "5"}};  // pids not offered by this unified root
  EXPECT_TRUE(contains(err_msg(plan_writes(r, v2)), "linux.resources.unified[pids.max]"));
}

TEST(CgroupPlan, HybridCpusetOnUnifiedWhenNotOnV1) {
  Hierarchies h = hybrid();
  h.v1.erase("cpuset");
  h.v2_controllers.insert("cpuset");
  oci::Resources r;
  r.cpu = oci::Cpu{};
  r.cpu->shares = 100;
  r.cpu->cpus = "1";
  auto p = plan_writes(r, h);
  ASSERT_TRUE(p) << err_msg(p);
  EXPECT_EQ(p->v1, (Ws{{"cpu", "cpu.shares", "100"}}));
  EXPECT_EQ(p->v2, (Ws{{"cpuset", "cpuset.cpus", "1"}}));
}

TEST(CgroupPlan, V1ControllersUsed) {
  oci::Resources r;
  r.memory = oci::Memory{};
  r.memory->limit = 5;
  r.cpu = oci::Cpu{};
  r.cpu->mems = "0";
  r.unified["x.y"] = "1";  // ignored here
  EXPECT_EQ(v1_controllers_used(r), (std::set<std::string>{"memory", "cpuset"}));
}

// ---------------------------------------------------------------- cpuset, sizes, devices

TEST(CgroupCpuset, InsideTheOnlineListsIsAccepted) {
  oci::Resources r = with_cpu(oci::Cpu{});
  r.cpu->cpus = "0-1,3";
  r.cpu->mems = "0";
  EXPECT_TRUE(check_cpuset(r, "0-3\n", "0\n"));
  EXPECT_TRUE(check_cpuset(r, "", ""));  // unknown online lists skip the check
  EXPECT_TRUE(check_cpuset(oci::Resources{}, "0", "0"));
}

TEST(CgroupCpuset, OutsideTheMachineIsRefused) {
  oci::Resources r = with_cpu(oci::Cpu{});
  r.cpu->cpus = "0-7";
  auto e = check_cpuset(r, "0-3", "0");
  ASSERT_FALSE(e);
  EXPECT_TRUE(contains(e.error().message(), "linux.resources.cpu.cpus")) << e.error().message();
  EXPECT_TRUE(contains(e.error().message(), "cpu 4 is not online"));
  EXPECT_TRUE(contains(e.error().message(), "0-3"));

  oci::Resources m = with_cpu(oci::Cpu{});
  m.cpu->mems = "1";
  auto em = check_cpuset(m, "0-3", "0");
  ASSERT_FALSE(em);
  EXPECT_TRUE(contains(em.error().message(), "linux.resources.cpu.mems")) << em.error().message();

  oci::Resources junk = with_cpu(oci::Cpu{});
  junk.cpu->cpus = "0-x";
  auto ej = check_cpuset(junk, "0-3", "0");
  ASSERT_FALSE(ej);
  EXPECT_TRUE(contains(ej.error().message(), "linux.resources.cpu.cpus")) << ej.error().message();
}

TEST(CgroupParseBytes, UnitsAsRunc) {
  EXPECT_EQ(*parse_bytes("1024"), 1024);
  EXPECT_EQ(*parse_bytes("512m"), 512LL << 20);
  EXPECT_EQ(*parse_bytes("512M"), 512LL << 20);
  EXPECT_EQ(*parse_bytes("2g"), 2LL << 30);
  EXPECT_EQ(*parse_bytes("2GB"), 2LL << 30);
  EXPECT_EQ(*parse_bytes("1.5GiB"), 3LL << 29);
  EXPECT_EQ(*parse_bytes("1MiB"), 1LL << 20);
  EXPECT_EQ(*parse_bytes("4k"), 4096);
  EXPECT_EQ(*parse_bytes("4 kb"), 4096);
  EXPECT_EQ(*parse_bytes("10b"), 10);
  EXPECT_EQ(*parse_bytes("1t"), 1LL << 40);
  EXPECT_EQ(*parse_bytes("1p"), 1LL << 50);
  EXPECT_EQ(*parse_bytes("-1"), -1);
  for (const char* bad : {"", "m", "-2", "abc", "5x", "1.2.3", "1e3", "99999999999999999999999g"}) {
    auto r = parse_bytes(bad);
    EXPECT_FALSE(r) << bad;
    if (!r) {
      EXPECT_TRUE(contains(r.error().message(), "invalid size")) << r.error().message();
    }
  }
}

TEST(CgroupDevices, NoRulesMeansNoDefaults) {
  std::vector<oci::Device> devs = {{"c", "/dev/fuse", 10, 229, {}, {}, {}}};
  EXPECT_TRUE(container_devices({}, devs).empty());
}

TEST(CgroupDevices, DefaultAllowRulesAppendedAfterTheConfigs) {
  std::vector<oci::DeviceRule> rules = {{false, "a", std::nullopt, std::nullopt, "rwm"}};
  std::vector<oci::Device> devs = {{"c", "/dev/fuse", 10, 229, {}, {}, {}},
                                   {"b", "/dev/loop0", 7, 0, {}, {}, {}},
                                   {"u", "/dev/u", 99, 1, {}, {}, {}},
                                   {"p", "/dev/fifo", 0, 0, {}, {}, {}}};
  auto out = container_devices(rules, devs);
  ASSERT_EQ(out.size(), 1u + 9u + 3u);
  EXPECT_FALSE(out[0].allow);
  EXPECT_EQ(out[0].type, "a");
  auto has = [&](const char* type, std::int64_t major, std::int64_t minor) {
    return std::any_of(out.begin() + 1, out.end(), [&](const oci::DeviceRule& d) {
      return d.allow && d.type == type && d.major == major && d.minor == minor && d.access == "rwm";
    });
  };
  EXPECT_TRUE(has("c", 1, 3));     // null
  EXPECT_TRUE(has("c", 1, 5));     // zero
  EXPECT_TRUE(has("c", 1, 7));     // full
  EXPECT_TRUE(has("c", 5, 0));     // tty
  EXPECT_TRUE(has("c", 1, 8));     // random
  EXPECT_TRUE(has("c", 1, 9));     // urandom
  EXPECT_TRUE(has("c", 5, 1));     // console
  EXPECT_TRUE(has("c", 5, 2));     // ptmx
  EXPECT_TRUE(has("c", 136, -1));  // pts/*
  EXPECT_TRUE(has("c", 10, 229));
  EXPECT_TRUE(has("b", 7, 0));
  EXPECT_TRUE(has("c", 99, 1));  // unbuffered char device
  // Every rule is one the v1 writer accepts.
  oci::Resources r;
  r.devices = out;
  auto w = v1_writes(r);
  ASSERT_TRUE(w) << err_of(w);
  EXPECT_EQ(w->front(), (W{"devices", "devices.deny", "a *:* rwm"}));
  EXPECT_EQ(w->back(), (W{"devices", "devices.allow", "c 99:1 rwm"}));
}

}  // namespace
}  // namespace vsrv::cgroup
