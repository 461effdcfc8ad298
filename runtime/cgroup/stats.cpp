// runtime/cgroup/stats.cpp: reads a container's usage from its cgroup files (v1 per controller,
// v2 from the unified directory; hybrid takes hugetlb from unified when v1 has none), and writes
// runc's events JSON. Missing files read as zero: not every kernel has every counter.
#include "runtime/cgroup/stats.h"

#include <unistd.h>

#include <charconv>
#include <filesystem>
#include <nlohmann/json.hpp>
#include <sstream>

#include "runtime/cgroup/manager.h"
#include "runtime/sys/syscalls.h"

namespace vsrv::cgroup {

namespace {

std::uint64_t to_u64(std::string_view s) {
  std::uint64_t v = 0;
  while (!s.empty() && (s.front() == ' ' || s.front() == '\t')) s.remove_prefix(1);
  std::from_chars(s.data(), s.data() + s.size(), v);
  return v;
}

std::string read_or_empty(const std::string& path) {
  auto t = sys::read_file(path);
  return t ? *t : std::string();
}

std::vector<std::string_view> lines(std::string_view text) {
  std::vector<std::string_view> out;
  while (!text.empty()) {
    auto nl = text.find('\n');
    auto line = text.substr(0, nl);
    if (!line.empty()) out.push_back(line);
    if (nl == std::string_view::npos) break;
    text.remove_prefix(nl + 1);
  }
  return out;
}

bool parse_devnum(std::string_view s, std::uint64_t& major, std::uint64_t& minor) {
  auto colon = s.find(':');
  if (colon == std::string_view::npos) return false;
  major = to_u64(s.substr(0, colon));
  minor = to_u64(s.substr(colon + 1));
  return true;
}

// Hugepage sizes as runc names them ("2MB", "1GB") from the sysfs directory names.
std::vector<std::string> hugepage_sizes() {
  std::vector<std::string> out;
  std::error_code ec;
  for (const auto& ent : std::filesystem::directory_iterator("/sys/kernel/mm/hugepages", ec)) {
    std::string n = ent.path().filename().string();  // hugepages-2048kB
    if (n.rfind("hugepages-", 0) != 0) continue;
    std::uint64_t kb = to_u64(std::string_view(n).substr(10));
    if (kb >= 1024 * 1024) out.push_back(std::to_string(kb / (1024 * 1024)) + "GB");
    else if (kb >= 1024) out.push_back(std::to_string(kb / 1024) + "MB");
    else out.push_back(std::to_string(kb) + "KB");
  }
  return out;
}

}  // namespace

std::map<std::string, std::uint64_t> parse_flat_keyed(std::string_view text) {
  std::map<std::string, std::uint64_t> out;
  for (auto line : lines(text)) {
    auto sp = line.find(' ');
    if (sp == std::string_view::npos) continue;
    out[std::string(line.substr(0, sp))] = to_u64(line.substr(sp + 1));
  }
  return out;
}

std::uint64_t parse_value(std::string_view text, std::uint64_t max_value) {
  while (!text.empty() && (text.back() == '\n' || text.back() == ' ')) text.remove_suffix(1);
  if (text == "max") return max_value;
  return to_u64(text);
}

std::vector<BlkioEntry> parse_blkio_v1(std::string_view text) {
  std::vector<BlkioEntry> out;
  for (auto line : lines(text)) {
    std::istringstream in{std::string(line)};
    std::string dev, op;
    std::uint64_t value = 0;
    if (!(in >> dev >> op >> value)) continue;  // "Total N"
    BlkioEntry e;
    if (!parse_devnum(dev, e.major, e.minor)) continue;
    e.op = op;
    e.value = value;
    out.push_back(e);
  }
  return out;
}

void parse_io_stat(std::string_view text, std::vector<BlkioEntry>& bytes, std::vector<BlkioEntry>& ios) {
  for (auto line : lines(text)) {
    std::istringstream in{std::string(line)};
    std::string dev, kv;
    if (!(in >> dev)) continue;
    std::uint64_t major = 0, minor = 0;
    if (!parse_devnum(dev, major, minor)) continue;
    while (in >> kv) {
      auto eq = kv.find('=');
      if (eq == std::string::npos) continue;
      std::string key = kv.substr(0, eq);
      std::uint64_t v = to_u64(std::string_view(kv).substr(eq + 1));
      static const std::map<std::string, std::pair<bool, const char*>> kMap = {
          {"rbytes", {true, "Read"}}, {"wbytes", {true, "Write"}}, {"dbytes", {true, "Discard"}},
          {"rios", {false, "Read"}},  {"wios", {false, "Write"}},  {"dios", {false, "Discard"}}};
      auto it = kMap.find(key);
      if (it == kMap.end()) continue;
      (it->second.first ? bytes : ios).push_back({major, minor, it->second.second, v});
    }
  }
}

std::vector<std::uint64_t> parse_list(std::string_view text) {
  std::vector<std::uint64_t> out;
  std::istringstream in{std::string(text)};
  std::uint64_t v;
  while (in >> v) out.push_back(v);
  return out;
}

Result<Stats> Manager::stats() const {
  Stats s;
  const bool v2 = layout_ == Layout::V2;
  auto file = [&](const char* controller, const std::string& name) {
    std::string d = dir_of(controller, v2);
    return d.empty() ? std::string() : read_or_empty(d + "/" + name);
  };
  constexpr std::uint64_t kUnlimited = 0;
  if (!v2) {
    s.cpu.total = parse_value(file("cpuacct", "cpuacct.usage"));
    s.cpu.percpu = parse_list(file("cpuacct", "cpuacct.usage_percpu"));
    // cpuacct.stat counts USER_HZ ticks.
    auto st = parse_flat_keyed(file("cpuacct", "cpuacct.stat"));
    const std::uint64_t tick_ns = 1000000000ull / static_cast<std::uint64_t>(::sysconf(_SC_CLK_TCK));
    s.cpu.user = st["user"] * tick_ns;
    s.cpu.kernel = st["system"] * tick_ns;
    auto th = parse_flat_keyed(file("cpu", "cpu.stat"));
    s.cpu.periods = th["nr_periods"];
    s.cpu.throttled_periods = th["nr_throttled"];
    s.cpu.throttled_time = th["throttled_time"];

    auto entry = [&](const std::string& prefix) {
      MemoryEntry e;
      e.usage = parse_value(file("memory", prefix + "usage_in_bytes"));
      e.max = parse_value(file("memory", prefix + "max_usage_in_bytes"));
      e.limit = parse_value(file("memory", prefix + "limit_in_bytes"));
      e.failcnt = parse_value(file("memory", prefix + "failcnt"));
      return e;
    };
    s.memory.usage = entry("memory.");
    s.memory.swap = entry("memory.memsw.");
    s.memory.kernel = entry("memory.kmem.");
    s.memory.kernel_tcp = entry("memory.kmem.tcp.");
    s.memory.raw = parse_flat_keyed(file("memory", "memory.stat"));
    s.memory.cache = s.memory.raw["cache"];

    s.pids.current = parse_value(file("pids", "pids.current"));
    s.pids.limit = parse_value(file("pids", "pids.max"), kUnlimited);

    s.blkio.service_bytes = parse_blkio_v1(file("blkio", "blkio.throttle.io_service_bytes_recursive"));
    s.blkio.serviced = parse_blkio_v1(file("blkio", "blkio.throttle.io_serviced_recursive"));
  } else {
    auto cs = parse_flat_keyed(file("cpu", "cpu.stat"));
    s.cpu.total = cs["usage_usec"] * 1000;
    s.cpu.user = cs["user_usec"] * 1000;
    s.cpu.kernel = cs["system_usec"] * 1000;
    s.cpu.periods = cs["nr_periods"];
    s.cpu.throttled_periods = cs["nr_throttled"];
    s.cpu.throttled_time = cs["throttled_usec"] * 1000;

    auto ev = parse_flat_keyed(file("memory", "memory.events"));
    s.memory.usage.usage = parse_value(file("memory", "memory.current"));
    s.memory.usage.max = parse_value(file("memory", "memory.peak"));
    s.memory.usage.limit = parse_value(file("memory", "memory.max"), kUnlimited);
    s.memory.usage.failcnt = ev["max"];
    s.memory.swap.usage = parse_value(file("memory", "memory.swap.current"));
    s.memory.swap.max = parse_value(file("memory", "memory.swap.peak"));
    s.memory.swap.limit = parse_value(file("memory", "memory.swap.max"), kUnlimited);
    s.memory.raw = parse_flat_keyed(file("memory", "memory.stat"));
    s.memory.cache = s.memory.raw["file"];
    s.memory.kernel.usage = s.memory.raw.count("kernel") ? s.memory.raw["kernel"]
                                                         : s.memory.raw["kernel_stack"] + s.memory.raw["slab"];

    s.pids.current = parse_value(file("pids", "pids.current"));
    s.pids.limit = parse_value(file("pids", "pids.max"), kUnlimited);

    parse_io_stat(file("io", "io.stat"), s.blkio.service_bytes, s.blkio.serviced);
  }
  // hugetlb: v1 when mounted there, else the unified directory (hybrid keeps it on cgroup2).
  std::string hv1 = dir_of("hugetlb", false), hv2 = dir_of("hugetlb", true);
  for (const auto& size : hugepage_sizes()) {
    HugetlbEntry e;
    if (!v2 && !hv1.empty()) {
      std::string p = hv1 + "/hugetlb." + size + ".";
      e.usage = parse_value(read_or_empty(p + "usage_in_bytes"));
      e.max = parse_value(read_or_empty(p + "max_usage_in_bytes"));
      e.failcnt = parse_value(read_or_empty(p + "failcnt"));
    } else if (!hv2.empty()) {
      std::string p = hv2 + "/hugetlb." + size + ".";
      e.usage = parse_value(read_or_empty(p + "current"));
      e.failcnt = parse_flat_keyed(read_or_empty(p + "events"))["max"];
    } else {
      continue;
    }
    s.hugetlb[size] = e;
  }
  // Without a pids controller (a v2 hierarchy that does not offer it), count the processes.
  if (dir_of("pids", v2).empty() || file("pids", "pids.current").empty())
    if (auto p = pids(); p) s.pids.current = p->size();
  if (auto o = oom_kills(); o) s.oom_kills = *o;
  return s;
}

std::string events_stats_json(const std::string& id, const Stats& s) {
  using json = nlohmann::ordered_json;
  auto mem = [](const MemoryEntry& e) {
    return json{{"limit", e.limit}, {"usage", e.usage}, {"max", e.max}, {"failcnt", e.failcnt}};
  };
  auto blk = [](const std::vector<BlkioEntry>& v) {
    json a = json::array();
    for (const auto& e : v) a.push_back({{"major", e.major}, {"minor", e.minor}, {"op", e.op}, {"value", e.value}});
    return a;
  };
  json hugetlb = json::object();
  for (const auto& [size, e] : s.hugetlb) hugetlb[size] = {{"usage", e.usage}, {"max", e.max}, {"failcnt", e.failcnt}};
  json raw = json::object();
  for (const auto& [k, v] : s.memory.raw) raw[k] = v;
  json net = nullptr;
  if (!s.net.empty()) {
    net = json::array();
    for (const auto& n : s.net)
      net.push_back({{"name", n.name}, {"rx_bytes", n.rx_bytes}, {"rx_packets", n.rx_packets},
                     {"tx_bytes", n.tx_bytes}, {"tx_packets", n.tx_packets}});
  }
  json data = {
      {"cpu",
       {{"usage", {{"total", s.cpu.total}, {"percpu", s.cpu.percpu}, {"kernel", s.cpu.kernel}, {"user", s.cpu.user}}},
        {"throttling",
         {{"periods", s.cpu.periods},
          {"throttled_periods", s.cpu.throttled_periods},
          {"throttled_time", s.cpu.throttled_time}}}}},
      {"memory",
       {{"cache", s.memory.cache},
        {"usage", mem(s.memory.usage)},
        {"swap", mem(s.memory.swap)},
        {"kernel", mem(s.memory.kernel)},
        {"kernelTCP", mem(s.memory.kernel_tcp)},
        {"raw", raw},
        {"oom_kill", s.oom_kills}}},
      {"pids", {{"current", s.pids.current}, {"limit", s.pids.limit}}},
      {"blkio", {{"ioServiceBytesRecursive", blk(s.blkio.service_bytes)}, {"ioServicedRecursive", blk(s.blkio.serviced)}}},
      {"hugetlb", hugetlb},
      {"network_interfaces", net}};
  json out = {{"type", "stats"}, {"id", id}, {"data", data}};
  return out.dump();
}

}  // namespace vsrv::cgroup
