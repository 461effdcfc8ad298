// runtime/cgroup/stats.h: what a container's cgroup has used (cpu, memory, pids, block I/O,
// hugetlb, OOM kills), read from v1 or v2 files by Manager::stats(), and its JSON in runc's
// `events` format (libcontainer/types.Stats). The file parsers are pure, for the unit tests.
#pragma once
#include <cstdint>
#include <map>
#include <string>
#include <string_view>
#include <vector>

namespace vsrv::cgroup {

struct MemoryEntry {
  std::uint64_t usage = 0, max = 0, limit = 0, failcnt = 0;
};

struct BlkioEntry {
  std::uint64_t major = 0, minor = 0;
  std::string op;  // Read Write Sync Async Discard Total
  std::uint64_t value = 0;
  bool operator==(const BlkioEntry&) const = default;
};

struct HugetlbEntry {
  std::uint64_t usage = 0, max = 0, failcnt = 0;
};

struct Stats {
  struct {
    std::uint64_t total = 0, user = 0, kernel = 0;  // nanoseconds
    std::vector<std::uint64_t> percpu;
    std::uint64_t periods = 0, throttled_periods = 0, throttled_time = 0;
  } cpu;
  struct {
    std::uint64_t cache = 0;
    MemoryEntry usage, swap, kernel, kernel_tcp;
    std::map<std::string, std::uint64_t> raw;  // memory.stat
  } memory;
  struct {
    std::uint64_t current = 0, limit = 0;  // limit 0: no limit
  } pids;
  struct {
    std::vector<BlkioEntry> service_bytes, serviced;
  } blkio;
  std::map<std::string, HugetlbEntry> hugetlb;  // "2MB" -> usage
  std::uint64_t oom_kills = 0;
  // Network counters of the container's interface, when vsrv made it (set by the runtime).
  struct Net {
    std::string name;
    std::uint64_t rx_bytes = 0, rx_packets = 0, tx_bytes = 0, tx_packets = 0;
  };
  std::vector<Net> net;
};

// "key value\n" lines (memory.stat, cpu.stat, cpuacct.stat, memory.events) -> map.
std::map<std::string, std::uint64_t> parse_flat_keyed(std::string_view text);
// A single number; "max" (v2) gives `max_value`.
std::uint64_t parse_value(std::string_view text, std::uint64_t max_value = 0);
// v1 blkio "8:0 Read 4096\n...\nTotal 4096" -> entries (the Total line is dropped).
std::vector<BlkioEntry> parse_blkio_v1(std::string_view text);
// v2 io.stat "8:0 rbytes=1 wbytes=2 rios=3 wios=4 dbytes=0 dios=0" -> bytes and ios entries
// (ops Read, Write, Discard), as runc converts them.
void parse_io_stat(std::string_view text, std::vector<BlkioEntry>& bytes, std::vector<BlkioEntry>& ios);
// Space separated numbers (cpuacct.usage_percpu).
std::vector<std::uint64_t> parse_list(std::string_view text);

// {"type":"stats","id":ID,"data":{...}} on one line, as `runc events`.
std::string events_stats_json(const std::string& id, const Stats& s);

}  // namespace vsrv::cgroup
