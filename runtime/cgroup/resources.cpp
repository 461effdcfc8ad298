// runtime/cgroup/resources.cpp: see resources.h.
#include "runtime/cgroup/resources.h"

#include <cctype>
#include <cmath>
#include <limits>

namespace vsrv::cgroup {
namespace {

constexpr const char* kRes = "linux.resources.";

std::string field(std::string_view f) { return std::string(kRes) + std::string(f); }

tl::unexpected<Error> bad(std::string_view f, std::string_view why) {
  return fail(field(f) + ": " + std::string(why));
}

std::string num(std::int64_t v) { return std::to_string(v); }
std::string unum(std::uint64_t v) { return std::to_string(v); }
// v2 notation: -1 -> "max".
std::string v2num(std::int64_t v) { return v == -1 ? "max" : std::to_string(v); }

Result<void> check_limit(const std::optional<std::int64_t>& v, std::string_view f) {
  if (v && *v < -1) return bad(f, "must be positive or -1");
  return {};
}

Result<void> check_memory(const oci::Memory& m) {
  VSRV_TRY(check_limit(m.limit, "memory.limit"));
  VSRV_TRY(check_limit(m.reservation, "memory.reservation"));
  VSRV_TRY(check_limit(m.swap, "memory.swap"));
  VSRV_TRY(check_limit(m.kernel, "memory.kernel"));
  VSRV_TRY(check_limit(m.kernel_tcp, "memory.kernelTCP"));
  if (m.swappiness && *m.swappiness > 100) return bad("memory.swappiness", "must be between 0 and 100");
  if (m.limit && m.swap && *m.limit > 0 && *m.swap > 0 && *m.swap < *m.limit)
    return bad("memory.swap", "must be at least memory.limit (it is the memory+swap limit)");
  return {};
}

Result<void> check_cpu(const oci::Cpu& c) {
  if (c.quota && *c.quota < -1) return bad("cpu.quota", "must be positive or -1");
  if (c.idle && *c.idle != 0 && *c.idle != 1) return bad("cpu.idle", "must be 0 or 1");
  if (c.realtime_runtime && *c.realtime_runtime < -1)
    return bad("cpu.realtimeRuntime", "must be positive or -1");
  return {};
}

Result<void> check_weight(const std::optional<std::uint16_t>& w, std::string_view f) {
  if (w && *w != 0 && (*w < 10 || *w > 1000)) return bad(f, "must be between 10 and 1000");
  return {};
}

Result<void> check_blkio(const oci::BlockIO& b) {
  VSRV_TRY(check_weight(b.weight, "blockIO.weight"));
  VSRV_TRY(check_weight(b.leaf_weight, "blockIO.leafWeight"));
  for (size_t i = 0; i < b.weight_device.size(); ++i) {
    const auto& d = b.weight_device[i];
    std::string f = "blockIO.weightDevice[" + std::to_string(i) + "]";
    if (d.major < 0 || d.minor < 0) return bad(f, "major and minor must not be negative");
    VSRV_TRY(check_weight(d.weight, f + ".weight"));
    VSRV_TRY(check_weight(d.leaf_weight, f + ".leafWeight"));
  }
  auto check_throttle = [](const std::vector<oci::ThrottleDevice>& v, std::string_view name) -> Result<void> {
    for (size_t i = 0; i < v.size(); ++i)
      if (v[i].major < 0 || v[i].minor < 0)
        return bad(std::string("blockIO.") + std::string(name) + "[" + std::to_string(i) + "]",
                   "major and minor must not be negative");
    return {};
  };
  VSRV_TRY(check_throttle(b.throttle_read_bps, "throttleReadBpsDevice"));
  VSRV_TRY(check_throttle(b.throttle_write_bps, "throttleWriteBpsDevice"));
  VSRV_TRY(check_throttle(b.throttle_read_iops, "throttleReadIOPSDevice"));
  VSRV_TRY(check_throttle(b.throttle_write_iops, "throttleWriteIOPSDevice"));
  return {};
}

// "2MB", "1GB", "64KB": digits then KB/MB/GB (the name the kernel uses in hugetlb.<size>.*).
Result<void> check_page_size(const std::string& s, size_t i) {
  size_t d = 0;
  while (d < s.size() && std::isdigit(static_cast<unsigned char>(s[d]))) ++d;
  std::string unit = s.substr(d);
  if (d == 0 || d > 12 || (unit != "KB" && unit != "MB" && unit != "GB"))
    return bad("hugepageLimits[" + std::to_string(i) + "].pageSize", "invalid page size '" + s + "'");
  return {};
}

Result<std::string> device_rule(const oci::DeviceRule& d, size_t i) {
  std::string f = "devices[" + std::to_string(i) + "]";
  std::string type = d.type.empty() ? "a" : d.type;
  if (type != "a" && type != "b" && type != "c") return bad(f + ".type", "must be 'a', 'b' or 'c', not '" + d.type + "'");
  std::string access = d.access.empty() ? "rwm" : d.access;
  for (char c : access)
    if (c != 'r' && c != 'w' && c != 'm')
      return bad(f + ".access", "must be a combination of 'r', 'w' and 'm', not '" + d.access + "'");
  if ((d.major && *d.major < -1) || (d.minor && *d.minor < -1))
    return bad(f, "major and minor must not be negative");
  auto n = [](const std::optional<std::int64_t>& v) { return !v || *v == -1 ? std::string("*") : std::to_string(*v); };
  return type + " " + n(d.major) + ":" + n(d.minor) + " " + access;
}

}  // namespace

std::vector<oci::DeviceRule> container_devices(const std::vector<oci::DeviceRule>& rules,
                                               const std::vector<oci::Device>& devices) {
  if (rules.empty()) return rules;
  std::vector<oci::DeviceRule> out = rules;
  auto allow = [&](const char* type, std::int64_t major, std::int64_t minor, const char* access) {
    out.push_back({true, type, major, minor, access});
  };
  allow("c", 1, 3, "rwm");    // null
  allow("c", 1, 5, "rwm");    // zero
  allow("c", 1, 7, "rwm");    // full
  allow("c", 5, 0, "rwm");    // tty
  allow("c", 1, 8, "rwm");    // random
  allow("c", 1, 9, "rwm");    // urandom
  allow("c", 5, 1, "rwm");    // console
  allow("c", 5, 2, "rwm");    // ptmx
  allow("c", 136, -1, "rwm"); // pts/*
  for (const auto& d : devices) {
    if (d.type != "c" && d.type != "b" && d.type != "u") continue;  // fifos need no rule
    allow(d.type == "b" ? "b" : "c", d.major, d.minor, "rwm");
  }
  return out;
}

namespace {

std::string devnum(std::int64_t major, std::int64_t minor) {
  return std::to_string(major) + ":" + std::to_string(minor);
}

Result<void> check_unified_key(const std::string& key, const std::set<std::string>* controllers) {
  std::string f = "unified[" + key + "]";
  if (key.find('/') != std::string::npos || key.empty() || key[0] == '.')
    return bad(f, "must be a file name of the form CONTROLLER.PARAMETER");
  auto dot = key.find('.');
  if (dot == std::string::npos) return bad(f, "must be a file name of the form CONTROLLER.PARAMETER");
  std::string c = key.substr(0, dot);
  if (controllers && c != "cgroup" && !controllers->count(c))
    return bad(f, "controller '" + c + "' is not enabled");
  return {};
}

}  // namespace

std::uint64_t shares_to_weight(std::uint64_t shares) {
  if (shares == 0) return 0;
  return 1 + ((shares - 2) * 9999) / 262142;
}

std::uint64_t blkio_weight_to_io_weight(std::uint64_t weight) {
  if (weight == 0) return 0;
  return 1 + (weight - 10) * 9999 / 990;
}

Result<std::int64_t> v2_swap_value(std::int64_t swap, std::int64_t limit) {
  // Like cgroup v1: lifting the memory limit without naming swap lifts swap too.
  if (limit == -1 && swap == 0) return -1;
  if (swap == -1 || swap == 0) return swap;
  if (limit == 0 || limit == -1) return bad("memory.swap", "cannot set a swap limit without a memory limit");
  if (swap < limit) return bad("memory.swap", "must be at least memory.limit (it is the memory+swap limit)");
  return swap - limit;
}

Result<std::vector<CgroupWrite>> v1_writes(const oci::Resources& r) {
  std::vector<CgroupWrite> w;
  if (!r.unified.empty()) return bad("unified", "requires cgroup v2");

  for (size_t i = 0; i < r.devices.size(); ++i) {
    auto rule = device_rule(r.devices[i], i);
    if (!rule) return forward(std::move(rule.error()));
    w.push_back({"devices", r.devices[i].allow ? "devices.allow" : "devices.deny", *rule});
  }

  if (r.memory) {
    const auto& m = *r.memory;
    VSRV_TRY(check_memory(m));
    std::int64_t limit = m.limit.value_or(0), swap = m.swap.value_or(0);
    if (limit == -1 && swap == 0) swap = -1;  // runc: unlimited memory lifts memsw too
    if (limit != 0) w.push_back({"memory", "memory.limit_in_bytes", num(limit)});
    if (swap != 0) w.push_back({"memory", "memory.memsw.limit_in_bytes", num(swap)});
    if (m.reservation && *m.reservation != 0)
      w.push_back({"memory", "memory.soft_limit_in_bytes", num(*m.reservation)});
    if (m.kernel && *m.kernel != 0) w.push_back({"memory", "memory.kmem.limit_in_bytes", num(*m.kernel)});
    if (m.kernel_tcp && *m.kernel_tcp != 0)
      w.push_back({"memory", "memory.kmem.tcp.limit_in_bytes", num(*m.kernel_tcp)});
    if (m.swappiness) w.push_back({"memory", "memory.swappiness", unum(*m.swappiness)});
    if (m.disable_oom_killer && *m.disable_oom_killer) w.push_back({"memory", "memory.oom_control", "1"});
  }

  if (r.cpu) {
    const auto& c = *r.cpu;
    VSRV_TRY(check_cpu(c));
    // Realtime first: the period must be set before a runtime that fits in it.
    if (c.realtime_period && *c.realtime_period != 0)
      w.push_back({"cpu", "cpu.rt_period_us", unum(*c.realtime_period)});
    if (c.realtime_runtime && *c.realtime_runtime != 0)
      w.push_back({"cpu", "cpu.rt_runtime_us", num(*c.realtime_runtime)});
    if (c.shares && *c.shares != 0) w.push_back({"cpu", "cpu.shares", unum(*c.shares)});
    if (c.period && *c.period != 0) w.push_back({"cpu", "cpu.cfs_period_us", unum(*c.period)});
    if (c.quota && *c.quota != 0) w.push_back({"cpu", "cpu.cfs_quota_us", num(*c.quota)});
    if (c.burst) w.push_back({"cpu", "cpu.cfs_burst_us", unum(*c.burst)});
    if (c.idle) w.push_back({"cpu", "cpu.idle", num(*c.idle)});
    if (!c.cpus.empty()) w.push_back({"cpuset", "cpuset.cpus", c.cpus});
    if (!c.mems.empty()) w.push_back({"cpuset", "cpuset.mems", c.mems});
  }

  if (r.pids && r.pids->limit != 0)
    w.push_back({"pids", "pids.max", r.pids->limit > 0 ? num(r.pids->limit) : "max"});

  if (r.block_io) {
    const auto& b = *r.block_io;
    VSRV_TRY(check_blkio(b));
    if (b.weight && *b.weight) w.push_back({"blkio", "blkio.weight", unum(*b.weight)});
    if (b.leaf_weight && *b.leaf_weight) w.push_back({"blkio", "blkio.leaf_weight", unum(*b.leaf_weight)});
    for (const auto& d : b.weight_device) {
      if (d.weight && *d.weight)
        w.push_back({"blkio", "blkio.weight_device", devnum(d.major, d.minor) + " " + unum(*d.weight)});
      if (d.leaf_weight && *d.leaf_weight)
        w.push_back({"blkio", "blkio.leaf_weight_device", devnum(d.major, d.minor) + " " + unum(*d.leaf_weight)});
    }
    auto thr = [&](const std::vector<oci::ThrottleDevice>& v, const char* file) {
      for (const auto& d : v) w.push_back({"blkio", file, devnum(d.major, d.minor) + " " + unum(d.rate)});
    };
    thr(b.throttle_read_bps, "blkio.throttle.read_bps_device");
    thr(b.throttle_write_bps, "blkio.throttle.write_bps_device");
    thr(b.throttle_read_iops, "blkio.throttle.read_iops_device");
    thr(b.throttle_write_iops, "blkio.throttle.write_iops_device");
  }

  for (size_t i = 0; i < r.hugepage_limits.size(); ++i) {
    const auto& h = r.hugepage_limits[i];
    VSRV_TRY(check_page_size(h.page_size, i));
    w.push_back({"hugetlb", "hugetlb." + h.page_size + ".limit_in_bytes", unum(h.limit)});
  }

  if (r.network) {
    if (r.network->class_id) w.push_back({"net_cls", "net_cls.classid", unum(*r.network->class_id)});
    for (const auto& p : r.network->priorities)
      w.push_back({"net_prio", "net_prio.ifpriomap", p.name + " " + unum(p.priority)});
  }

  for (const auto& [dev, lim] : r.rdma) {
    std::string v = dev;
    if (lim.hca_handles) v += " hca_handle=" + unum(*lim.hca_handles);
    if (lim.hca_objects) v += " hca_object=" + unum(*lim.hca_objects);
    if (v != dev) w.push_back({"rdma", "rdma.max", v});
  }
  return w;
}

Result<std::vector<CgroupWrite>> v2_writes(const oci::Resources& r, const std::set<std::string>* controllers) {
  std::vector<CgroupWrite> w;
  for (size_t i = 0; i < r.devices.size(); ++i) {  // validated here, enforced by the eBPF filter
    auto rule = device_rule(r.devices[i], i);
    if (!rule) return forward(std::move(rule.error()));
  }

  if (r.cpu) {
    const auto& c = *r.cpu;
    VSRV_TRY(check_cpu(c));
    if ((c.realtime_period && *c.realtime_period) || (c.realtime_runtime && *c.realtime_runtime))
      return bad("cpu.realtimeRuntime", "realtime scheduling is not supported on cgroup v2");
    if (c.shares && *c.shares != 0) {
      if (*c.shares < 2 || *c.shares > 262144) return bad("cpu.shares", "must be between 2 and 262144");
      w.push_back({"cpu", "cpu.weight", unum(shares_to_weight(*c.shares))});
    }
    std::int64_t quota = c.quota.value_or(0);
    std::uint64_t period = c.period.value_or(0);
    if (quota != 0 || period != 0) {
      std::string v = quota > 0 ? num(quota) : "max";
      if (period != 0) v += " " + unum(period);
      w.push_back({"cpu", "cpu.max", v});
    }
    if (c.burst) w.push_back({"cpu", "cpu.max.burst", unum(*c.burst)});
    if (c.idle) w.push_back({"cpu", "cpu.idle", num(*c.idle)});
    if (!c.cpus.empty()) w.push_back({"cpuset", "cpuset.cpus", c.cpus});
    if (!c.mems.empty()) w.push_back({"cpuset", "cpuset.mems", c.mems});
  }

  if (r.memory) {
    const auto& m = *r.memory;
    VSRV_TRY(check_memory(m));
    std::int64_t limit = m.limit.value_or(0);
    auto swap = v2_swap_value(m.swap.value_or(0), limit);
    if (!swap) return forward(std::move(swap.error()));
    // Swap before the limit, as runc: lowering both never passes through an invalid pair.
    // swap == limit > 0 means no swap: write 0 (as runc), not "leave swap unlimited".
    if (*swap != 0 || (m.swap && *m.swap > 0)) w.push_back({"memory", "memory.swap.max", v2num(*swap)});
    if (limit != 0) w.push_back({"memory", "memory.max", v2num(limit)});
    if (m.reservation && *m.reservation != 0)
      w.push_back({"memory", "memory.low", v2num(*m.reservation)});
    // kernel, kernelTCP, swappiness and disableOOMKiller have no v2 file: ignored, as runc does.
  }

  if (r.pids && r.pids->limit != 0)
    w.push_back({"pids", "pids.max", r.pids->limit > 0 ? num(r.pids->limit) : "max"});

  if (r.block_io) {
    const auto& b = *r.block_io;
    VSRV_TRY(check_blkio(b));
    if (b.weight && *b.weight)
      w.push_back({"io", "io.weight", "default " + unum(blkio_weight_to_io_weight(*b.weight))});
    for (const auto& d : b.weight_device)
      if (d.weight && *d.weight)
        w.push_back({"io", "io.weight", devnum(d.major, d.minor) + " " + unum(blkio_weight_to_io_weight(*d.weight))});
    auto thr = [&](const std::vector<oci::ThrottleDevice>& v, const char* key) {
      for (const auto& d : v)
        w.push_back({"io", "io.max", devnum(d.major, d.minor) + " " + key + "=" + unum(d.rate)});
    };
    thr(b.throttle_read_bps, "rbps");
    thr(b.throttle_write_bps, "wbps");
    thr(b.throttle_read_iops, "riops");
    thr(b.throttle_write_iops, "wiops");
  }

  for (size_t i = 0; i < r.hugepage_limits.size(); ++i) {
    const auto& h = r.hugepage_limits[i];
    VSRV_TRY(check_page_size(h.page_size, i));
    w.push_back({"hugetlb", "hugetlb." + h.page_size + ".max", unum(h.limit)});
  }

  if (r.network && (r.network->class_id || !r.network->priorities.empty()))
    return bad("network", "net_cls and net_prio do not exist on cgroup v2");

  for (const auto& [dev, lim] : r.rdma) {
    std::string v = dev;
    if (lim.hca_handles) v += " hca_handle=" + unum(*lim.hca_handles);
    if (lim.hca_objects) v += " hca_object=" + unum(*lim.hca_objects);
    if (v != dev) w.push_back({"rdma", "rdma.max", v});
  }

  // Unified entries last: they override what the typed fields wrote.
  for (const auto& [key, value] : r.unified) {
    VSRV_TRY(check_unified_key(key, controllers));
    w.push_back({key.substr(0, key.find('.')), key, value});
  }
  return w;
}

std::set<std::string> v1_controllers_used(const oci::Resources& r) {
  std::set<std::string> s;
  auto w = v1_writes(oci::Resources{r.devices, r.memory, r.cpu, r.pids, r.block_io, r.hugepage_limits,
                                    r.network, r.rdma, {}});
  if (w)
    for (const auto& x : *w) s.insert(x.controller);
  return s;
}

namespace {
// The part of `r` that the v1 controller `c` handles.
oci::Resources only(const oci::Resources& r, const std::string& c) {
  oci::Resources o;
  if (c == "devices") o.devices = r.devices;
  if (c == "memory") o.memory = r.memory;
  if (c == "cpu" && r.cpu) {
    o.cpu = *r.cpu;
    o.cpu->cpus.clear();
    o.cpu->mems.clear();
  }
  if (c == "cpuset" && r.cpu) {
    o.cpu = oci::Cpu{};
    o.cpu->cpus = r.cpu->cpus;
    o.cpu->mems = r.cpu->mems;
  }
  if (c == "pids") o.pids = r.pids;
  if (c == "blkio") o.block_io = r.block_io;
  if (c == "hugetlb") o.hugepage_limits = r.hugepage_limits;
  if (c == "net_cls" && r.network) o.network = oci::Network{r.network->class_id, {}};
  if (c == "net_prio" && r.network) o.network = oci::Network{std::nullopt, r.network->priorities};
  if (c == "rdma") o.rdma = r.rdma;
  return o;
}
std::string v2_name(const std::string& v1) { return v1 == "blkio" ? "io" : v1; }
}  // namespace

Result<Plan> plan_writes(const oci::Resources& r, const Hierarchies& h) {
  Plan p;
  if (h.layout == Layout::V2) {
    auto w = v2_writes(r, &h.v2_controllers);
    if (!w) return forward(std::move(w.error()));
    p.v2 = std::move(*w);
    return p;
  }
  oci::Resources typed = r;
  typed.unified.clear();
  auto w1 = v1_writes(typed);
  if (!w1) return forward(std::move(w1.error()));
  std::set<std::string> elsewhere;
  for (auto& w : *w1) {
    if (h.v1.count(w.controller)) p.v1.push_back(std::move(w));
    else elsewhere.insert(w.controller);
  }
  for (const auto& c : elsewhere) {
    if (h.layout != Layout::Hybrid || !h.v2_controllers.count(v2_name(c)))
      return fail(std::string(kRes) + ": the '" + c + "' controller is not mounted");
    auto w2 = v2_writes(only(r, c), &h.v2_controllers);
    if (!w2) return forward(std::move(w2.error()));
    for (auto& w : *w2) p.v2.push_back(std::move(w));
  }
  for (const auto& [key, value] : r.unified) {
    auto dot = key.find('.');
    std::string c = dot == std::string::npos ? key : key.substr(0, dot);
    if (h.layout != Layout::Hybrid || !h.v2_controllers.count(c) || h.v1.count(c))
      return bad("unified", "requires cgroup v2");
    VSRV_TRY(check_unified_key(key, &h.v2_controllers));
    p.v2.push_back({c, key, value});
  }
  return p;
}

Result<void> check_cpuset(const oci::Resources& r, std::string_view cpus_online, std::string_view mems_online) {
  if (!r.cpu) return {};
  auto check = [](const std::string& want, std::string_view online, const char* f, const char* what) -> Result<void> {
    if (want.empty()) return {};
    auto w = parse_cpu_list(want, field(f));
    if (!w) return forward(std::move(w.error()));
    if (w->empty()) return {};
    std::string on(online);
    while (!on.empty() && (on.back() == '\n' || on.back() == ' ')) on.pop_back();
    if (on.empty()) return {};
    auto o = parse_cpu_list(on, "online list");
    if (!o) return {};
    for (unsigned x : *w)
      if (!o->count(x))
        return bad(f, std::string(what) + " " + std::to_string(x) + " is not online (online: " + on + ")");
    return {};
  };
  VSRV_TRY(check(r.cpu->cpus, cpus_online, "cpu.cpus", "cpu"));
  VSRV_TRY(check(r.cpu->mems, mems_online, "cpu.mems", "memory node"));
  return {};
}

Result<std::int64_t> parse_bytes(std::string_view text) {
  std::string t(text);
  auto err = [&] { return fail("invalid size '" + std::string(text) + "' (use a number with an optional unit: 512m, 2g)"); };
  if (t == "-1") return -1;
  size_t i = 0;
  while (i < t.size() && (std::isdigit(static_cast<unsigned char>(t[i])) || t[i] == '.')) ++i;
  if (i == 0) return err();
  double v = 0;
  try {
    size_t used = 0;
    v = std::stod(t.substr(0, i), &used);
    if (used != i) return err();
  } catch (...) {
    return err();
  }
  std::string unit;
  for (char c : t.substr(i))
    if (c != ' ') unit += static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  if (unit.size() >= 2 && unit.back() == 'b') unit.pop_back();           // "mb" -> "m", "b" -> ""
  else if (unit.size() == 3 && unit[1] == 'i' && unit[2] == 'b') unit.resize(1);
  if (unit.size() == 2 && unit[1] == 'i') unit.resize(1);                 // "mi" -> "m"
  if (unit == "b") unit.clear();
  double mul = 1;
  if (unit.empty()) mul = 1;
  else if (unit == "k") mul = 1024.0;
  else if (unit == "m") mul = 1024.0 * 1024;
  else if (unit == "g") mul = 1024.0 * 1024 * 1024;
  else if (unit == "t") mul = 1024.0 * 1024 * 1024 * 1024;
  else if (unit == "p") mul = 1024.0 * 1024 * 1024 * 1024 * 1024;
  else return err();
  double bytes = v * mul;
  if (bytes > static_cast<double>(std::numeric_limits<std::int64_t>::max())) return err();
  return static_cast<std::int64_t>(bytes);
}

}  // namespace vsrv::cgroup
