// cli/cmd_resources.cpp: the cgroup verbs: update (runc's flags and --resources), pause, resume,
// events (runc's JSON: --stats once, or a stream with OOM events) and stats (a top-like table
// for people, or JSON). Thin adapters over runtime/control.h.
#include <signal.h>
#include <unistd.h>

#include <chrono>
#include <cmath>
#include <cstdio>
#include <iostream>
#include <nlohmann/json.hpp>
#include <sstream>
#include <thread>

#include "cli/commands.h"
#include "cli/table.h"
#include "config/oci_spec.h"
#include "runtime/cgroup/resources.h"
#include "runtime/control.h"
#include "runtime/state.h"
#include "runtime/sys/syscalls.h"

namespace vsrv::cli {
namespace {

using Clock = std::chrono::steady_clock;

volatile sig_atomic_t g_stop = 0;
void on_stop(int) { g_stop = 1; }
void catch_stop() {
  struct sigaction sa = {};
  sa.sa_handler = on_stop;
  ::sigaction(SIGINT, &sa, nullptr);
  ::sigaction(SIGTERM, &sa, nullptr);
}

// "5s", "250ms", "1m", "1.5s", "2" (seconds) -> milliseconds.
Result<long> parse_duration(const std::string& text, const std::string& flag) {
  std::size_t pos = 0;
  double v = 0;
  try {
    v = std::stod(text, &pos);
  } catch (...) {
    return fail(flag + ": '" + text + "' is not a duration (e.g. 500ms, 5s, 1m)");
  }
  std::string unit = text.substr(pos);
  double ms = unit == "ms" ? v : unit == "s" || unit.empty() ? v * 1000 : unit == "m" ? v * 60000 : unit == "h" ? v * 3600000 : -1;
  if (ms <= 0 || !std::isfinite(ms)) return fail(flag + ": '" + text + "' is not a positive duration (e.g. 500ms, 5s, 1m)");
  return static_cast<long>(ms);
}

Result<std::int64_t> parse_int(const std::string& text, const std::string& flag) {
  std::size_t pos = 0;
  long long v = 0;
  try {
    v = std::stoll(text, &pos);
  } catch (...) {
    pos = 0;
  }
  if (pos == 0 || pos != text.size()) return fail(flag + ": '" + text + "' is not an integer");
  return v;
}

Result<std::uint64_t> parse_uint(const std::string& text, const std::string& flag) {
  auto v = parse_int(text, flag);
  if (!v) return forward(std::move(v.error()));
  if (*v < 0) return fail(flag + ": must not be negative, got " + text);
  return static_cast<std::uint64_t>(*v);
}

Result<std::int64_t> parse_mem(const std::string& text, const std::string& flag) {
  auto v = cgroup::parse_bytes(text);
  if (!v) return forward(std::move(v.error()), flag);
  return v;
}

struct UpdateFlags {
  std::string id, resources;
  std::string memory, memory_swap, memory_reservation, kernel_memory, kernel_memory_tcp;
  std::string cpu_quota, cpu_period, cpu_shares, cpu_rt_period, cpu_rt_runtime, cpu_burst, cpu_idle;
  std::string cpuset_cpus, cpuset_mems, pids_limit, blkio_weight;
};

// --resources first, then each flag given on top of it (as runc).
Result<oci::Resources> build_update(const UpdateFlags& f) {
  oci::Resources r;
  if (!f.resources.empty()) {
    Result<std::string> text = f.resources == "-" ? sys::read_fd(sys::borrowed_fd(0)) : sys::read_file(f.resources);
    if (!text) return forward(std::move(text.error()), "--resources");
    auto parsed = oci::parse_resources(*text, "--resources");
    if (!parsed) return forward(std::move(parsed.error()));
    r = std::move(*parsed);
  }
  auto mem = [&]() -> oci::Memory& { return r.memory ? *r.memory : r.memory.emplace(); };
  auto cpu = [&]() -> oci::Cpu& { return r.cpu ? *r.cpu : r.cpu.emplace(); };
#define VSRV_SET(flag_value, flag_name, parser, target) \
  if (!(flag_value).empty()) {                          \
    auto v = parser(flag_value, flag_name);             \
    if (!v) return forward(std::move(v.error()));       \
    target = *v;                                        \
  }
  VSRV_SET(f.memory, "--memory", parse_mem, mem().limit);
  VSRV_SET(f.memory_swap, "--memory-swap", parse_mem, mem().swap);
  VSRV_SET(f.memory_reservation, "--memory-reservation", parse_mem, mem().reservation);
  VSRV_SET(f.kernel_memory, "--kernel-memory", parse_mem, mem().kernel);
  VSRV_SET(f.kernel_memory_tcp, "--kernel-memory-tcp", parse_mem, mem().kernel_tcp);
  VSRV_SET(f.cpu_quota, "--cpu-quota", parse_int, cpu().quota);
  VSRV_SET(f.cpu_period, "--cpu-period", parse_uint, cpu().period);
  VSRV_SET(f.cpu_shares, "--cpu-shares", parse_uint, cpu().shares);
  VSRV_SET(f.cpu_rt_period, "--cpu-rt-period", parse_uint, cpu().realtime_period);
  VSRV_SET(f.cpu_rt_runtime, "--cpu-rt-runtime", parse_int, cpu().realtime_runtime);
  VSRV_SET(f.cpu_burst, "--cpu-burst", parse_uint, cpu().burst);
  VSRV_SET(f.cpu_idle, "--cpu-idle", parse_int, cpu().idle);
  if (!f.pids_limit.empty()) {
    auto v = parse_int(f.pids_limit, "--pids-limit");
    if (!v) return forward(std::move(v.error()));
    r.pids = oci::Pids{*v};
  }
  if (!f.blkio_weight.empty()) {
    auto v = parse_uint(f.blkio_weight, "--blkio-weight");
    if (!v) return forward(std::move(v.error()));
    if (*v < 10 || *v > 1000) return fail("--blkio-weight: must be between 10 and 1000, got " + f.blkio_weight);
    if (!r.block_io) r.block_io.emplace();
    r.block_io->weight = static_cast<std::uint16_t>(*v);
  }
#undef VSRV_SET
  if (!f.cpuset_cpus.empty()) cpu().cpus = f.cpuset_cpus;
  if (!f.cpuset_mems.empty()) cpu().mems = f.cpuset_mems;
  return r;
}

std::string human_bytes(double b) {
  const char* units[] = {"B", "KiB", "MiB", "GiB", "TiB"};
  int u = 0;
  while (b >= 1024 && u < 4) {
    b /= 1024;
    ++u;
  }
  char buf[32];
  std::snprintf(buf, sizeof buf, u == 0 ? "%.0f%s" : "%.2f%s", b, units[u]);
  return buf;
}

std::uint64_t host_memory() {
  auto t = sys::read_file("/proc/meminfo");
  if (!t) return 0;
  auto pos = t->find("MemTotal:");
  if (pos == std::string::npos) return 0;
  return std::strtoull(t->c_str() + pos + 9, nullptr, 10) * 1024;
}

// One row of `stats`, computed from two samples `dt` apart.
struct Row {
  std::string id;
  double cpu_percent = 0;
  std::uint64_t mem_usage = 0, mem_limit = 0;
  double mem_percent = 0;
  std::uint64_t pids = 0, blk_read = 0, blk_write = 0, net_rx = 0, net_tx = 0;
  bool has_net = false;
};

Row make_row(const std::string& id, const cgroup::Stats& a, const cgroup::Stats& b, double dt_ns, std::uint64_t host_mem) {
  Row r;
  r.id = id;
  if (dt_ns > 0 && b.cpu.total >= a.cpu.total) r.cpu_percent = 100.0 * static_cast<double>(b.cpu.total - a.cpu.total) / dt_ns;
  // As docker: the page cache that could be dropped at once is not "used".
  std::uint64_t inactive = 0;
  for (const char* k : {"total_inactive_file", "inactive_file"})
    if (auto it = b.memory.raw.find(k); it != b.memory.raw.end()) {
      inactive = it->second;
      break;
    }
  r.mem_usage = b.memory.usage.usage > inactive ? b.memory.usage.usage - inactive : b.memory.usage.usage;
  r.mem_limit = b.memory.usage.limit == 0 || b.memory.usage.limit > host_mem ? host_mem : b.memory.usage.limit;
  if (r.mem_limit) r.mem_percent = 100.0 * static_cast<double>(r.mem_usage) / static_cast<double>(r.mem_limit);
  r.pids = b.pids.current;
  for (const auto& e : b.blkio.service_bytes) {
    if (e.op == "Read") r.blk_read += e.value;
    if (e.op == "Write") r.blk_write += e.value;
  }
  for (const auto& n : b.net) {
    r.has_net = true;
    r.net_rx += n.rx_bytes;
    r.net_tx += n.tx_bytes;
  }
  return r;
}

nlohmann::json row_json(const Row& r) {
  nlohmann::json j = {{"id", r.id},
                      {"cpu_percent", std::round(r.cpu_percent * 100) / 100},
                      {"memory_usage", r.mem_usage},
                      {"memory_limit", r.mem_limit},
                      {"memory_percent", std::round(r.mem_percent * 100) / 100},
                      {"pids", r.pids},
                      {"block_read", r.blk_read},
                      {"block_write", r.blk_write}};
  if (r.has_net) {
    j["net_rx"] = r.net_rx;
    j["net_tx"] = r.net_tx;
  } else {
    j["net_rx"] = nullptr;
    j["net_tx"] = nullptr;
  }
  return j;
}

std::string row_table(const std::vector<Row>& rows) {
  std::vector<std::vector<std::string>> t = {
      {"ID", "CPU %", "MEM USAGE / LIMIT", "MEM %", "PIDS", "BLOCK I/O", "NET I/O"}};
  char buf[64];
  for (const auto& r : rows) {
    std::vector<std::string> line;
    line.push_back(r.id);
    std::snprintf(buf, sizeof buf, "%.2f%%", r.cpu_percent);
    line.push_back(buf);
    line.push_back(human_bytes(static_cast<double>(r.mem_usage)) + " / " + human_bytes(static_cast<double>(r.mem_limit)));
    std::snprintf(buf, sizeof buf, "%.2f%%", r.mem_percent);
    line.push_back(buf);
    line.push_back(std::to_string(r.pids));
    line.push_back(human_bytes(static_cast<double>(r.blk_read)) + " / " + human_bytes(static_cast<double>(r.blk_write)));
    line.push_back(r.has_net ? human_bytes(static_cast<double>(r.net_rx)) + " / " + human_bytes(static_cast<double>(r.net_tx))
                             : std::string("--"));
    t.push_back(std::move(line));
  }
  return format_table(t, 3);
}

// The containers `stats` shows: the ones named, or every running/paused one.
std::vector<std::string> stats_targets(const std::string& root, const std::vector<std::string>& named) {
  if (!named.empty()) return named;
  std::vector<std::string> out;
  auto ids = runtime::list_ids(root);
  if (!ids) return out;
  for (const auto& id : *ids) {
    auto st = runtime::load_live(root, id);
    if (st && (st->status == runtime::Status::Running || st->status == runtime::Status::Paused)) out.push_back(id);
  }
  return out;
}

int run_stats(const Globals& g, const std::vector<std::string>& named, bool no_stream, const std::string& format,
              long interval_ms) {
  const bool tty = ::isatty(1);
  const std::uint64_t host_mem = host_memory();
  std::map<std::string, std::pair<cgroup::Stats, Clock::time_point>> prev;
  auto sample = [&](const std::vector<std::string>& ids, bool strict) -> Result<std::map<std::string, cgroup::Stats>> {
    std::map<std::string, cgroup::Stats> out;
    for (const auto& id : ids) {
      auto u = runtime::usage(g.root, id);
      if (!u) {
        if (strict) return forward(std::move(u.error()));
        continue;  // gone since: drop it from the table
      }
      out[id] = std::move(u->stats);
    }
    return out;
  };
  // The first sample is strict: a named container that does not exist is an error.
  auto ids = stats_targets(g.root, named);
  auto first = sample(ids, true);
  if (!first) return report_error(first.error());
  auto t0 = Clock::now();
  for (auto& [id, s] : *first) prev[id] = {s, t0};
  catch_stop();
  long wait_ms = no_stream ? std::min(interval_ms, 500L) : interval_ms;
  while (!g_stop) {
    std::this_thread::sleep_for(std::chrono::milliseconds(wait_ms));
    if (g_stop) break;
    ids = stats_targets(g.root, named);
    auto cur = sample(ids, false);
    auto now = Clock::now();
    std::vector<Row> rows;
    for (auto& [id, s] : *cur) {
      auto it = prev.find(id);
      if (it == prev.end()) {
        prev[id] = {s, now};
        rows.push_back(make_row(id, s, s, 0, host_mem));
        continue;
      }
      double dt = std::chrono::duration<double, std::nano>(now - it->second.second).count();
      rows.push_back(make_row(id, it->second.first, s, dt, host_mem));
      it->second = {s, now};
    }
    if (format == "json") {
      nlohmann::json a = nlohmann::json::array();
      for (const auto& r : rows) a.push_back(row_json(r));
      std::cout << a.dump() << std::endl;
    } else {
      if (tty && !no_stream) std::cout << "\033[H\033[2J";
      std::cout << row_table(rows) << std::flush;
      if (!tty && !no_stream) std::cout << "\n";
    }
    if (no_stream) break;
    wait_ms = interval_ms;
  }
  return 0;
}

int run_events(const Globals& g, const std::string& id, bool once, long interval_ms) {
  auto u = runtime::usage(g.root, id);
  if (!u) return report_error(u.error());
  if (once) {
    std::cout << cgroup::events_stats_json(id, u->stats) << std::endl;
    return 0;
  }
  catch_stop();
  std::uint64_t ooms = u->stats.oom_kills;
  std::cout << cgroup::events_stats_json(id, u->stats) << std::endl;
  auto next = Clock::now() + std::chrono::milliseconds(interval_ms);
  const auto tick = std::chrono::milliseconds(std::min(interval_ms, 100L));
  while (!g_stop) {
    std::this_thread::sleep_for(tick);
    auto cur = runtime::usage(g.root, id);
    if (!cur) return 0;  // stopped or deleted: the stream ends, as runc's
    if (cur->stats.oom_kills > ooms) {
      ooms = cur->stats.oom_kills;
      std::cout << nlohmann::json{{"type", "oom"}, {"id", id}}.dump() << std::endl;
    }
    if (Clock::now() >= next) {
      std::cout << cgroup::events_stats_json(id, cur->stats) << std::endl;
      next += std::chrono::milliseconds(interval_ms);
    }
  }
  return 0;
}

}  // namespace

void register_resources(CLI::App& app, Globals& g) {
  // --- update ---
  if (g.wants("update")) {
    static UpdateFlags uf;
    auto* up = app.add_subcommand("update", "change the resource limits of a container in place");
    up->add_option("container-id", uf.id)->required();
    up->add_option("-r,--resources", uf.resources, "linux.resources JSON file, or - for stdin");
    up->add_option("--memory", uf.memory, "memory limit (bytes, or 512m, 2g; -1 for none)");
    up->add_option("--memory-swap", uf.memory_swap, "memory+swap limit (-1 for none)");
    up->add_option("--memory-reservation", uf.memory_reservation, "memory soft limit");
    up->add_option("--kernel-memory", uf.kernel_memory, "kernel memory limit (v1 only)");
    up->add_option("--kernel-memory-tcp", uf.kernel_memory_tcp, "kernel TCP buffer limit (v1 only)");
    up->add_option("--cpu-quota", uf.cpu_quota, "CPU time per period in microseconds (-1 for none)");
    up->add_option("--cpu-period", uf.cpu_period, "CFS period in microseconds");
    up->add_option("--cpu-shares", uf.cpu_shares, "relative CPU weight (v1 shares; converted on v2)");
    up->add_option("--cpu-rt-period", uf.cpu_rt_period, "realtime period in microseconds");
    up->add_option("--cpu-rt-runtime", uf.cpu_rt_runtime, "realtime runtime in microseconds");
    up->add_option("--cpu-burst", uf.cpu_burst, "CFS burst in microseconds");
    up->add_option("--cpu-idle", uf.cpu_idle, "1 makes the cgroup SCHED_IDLE");
    up->add_option("--cpuset-cpus", uf.cpuset_cpus, "CPUs to run on, e.g. 0-1,3");
    up->add_option("--cpuset-mems", uf.cpuset_mems, "memory nodes, e.g. 0");
    up->add_option("--pids-limit", uf.pids_limit, "maximum number of tasks (-1 for none)");
    up->add_option("--blkio-weight", uf.blkio_weight, "block I/O weight, 10 to 1000");
    up->callback([&] {
      init_logging(g);
      auto r = build_update(uf);
      if (!r) {
        g.exit_code = report_error(r.error());
        return;
      }
      auto u = runtime::update(g.root, uf.id, *r);
      g.exit_code = u ? 0 : report_error(u.error());
    });
  }

  // --- pause / resume ---
  if (g.wants("pause") || g.wants("resume")) {
    static std::string pause_id, resume_id;
    auto* pa = app.add_subcommand("pause", "freeze every process of a container");
    pa->add_option("container-id", pause_id)->required();
    pa->callback([&] {
      init_logging(g);
      auto r = runtime::pause(g.root, pause_id);
      g.exit_code = r ? 0 : report_error(r.error());
    });
    auto* re = app.add_subcommand("resume", "thaw a paused container");
    re->add_option("container-id", resume_id)->required();
    re->callback([&] {
      init_logging(g);
      auto r = runtime::resume(g.root, resume_id);
      g.exit_code = r ? 0 : report_error(r.error());
    });
  }

  // --- events ---
  if (g.wants("events")) {
    static std::string ev_id, ev_interval = "5s";
    static bool ev_stats = false;
    auto* ev = app.add_subcommand("events", "print a container's usage and OOM events as JSON lines");
    ev->add_option("container-id", ev_id)->required();
    ev->add_flag("--stats", ev_stats, "print one stats object and exit");
    ev->add_option("--interval", ev_interval, "time between stats objects (default 5s)");
    ev->callback([&] {
      init_logging(g);
      auto ms = parse_duration(ev_interval, "--interval");
      if (!ms) {
        g.exit_code = report_error(ms.error());
        return;
      }
      g.exit_code = run_events(g, ev_id, ev_stats, *ms);
    });
  }

  // --- stats ---
  if (g.wants("stats")) {
    static std::vector<std::string> st_ids;
    static bool st_no_stream = false;
    static std::string st_format = "table", st_interval = "1s";
    auto* st = app.add_subcommand("stats", "live CPU, memory, pids, block and network I/O of containers");
    st->add_option("container-id", st_ids, "containers to show (default: every running one)");
    st->add_flag("--no-stream", st_no_stream, "print one snapshot and exit");
    st->add_option("--format", st_format, "table or json")->check(CLI::IsMember({"table", "json"}));
    st->add_option("--interval", st_interval, "refresh interval (default 1s)");
    st->callback([&] {
      init_logging(g);
      auto ms = parse_duration(st_interval, "--interval");
      if (!ms) {
        g.exit_code = report_error(ms.error());
        return;
      }
      g.exit_code = run_stats(g, st_ids, st_no_stream, st_format, *ms);
    });
  }
}

}  // namespace vsrv::cli
