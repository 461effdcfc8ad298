// runtime/cgroup/resources.h: linux.resources -> the cgroup files to write, as pure planners.
// Conversions follow runc (libcontainer/cgroups/fs, fs2) and crun:
//   cpu.shares -> cpu.weight            1 + ((shares - 2) * 9999) / 262142
//   blockIO.weight -> io.weight         1 + (weight - 10) * 9999 / 990
//   memory.swap (memory+swap) -> v1 memory.memsw.limit_in_bytes = swap,
//                                v2 memory.swap.max = swap - limit
//   -1 -> "max" on v2 (v1 takes "-1"); 0 means "unset" for numeric limits, as in runc.
//   pids.limit: > 0 the limit, < 0 "max", 0 leaves it alone (runc).
// Errors name the field: "linux.resources.memory.limit: must be positive or -1".
#pragma once
#include <cstdint>
#include <set>
#include <string>
#include <string_view>
#include <vector>

#include "config/oci_spec.h"
#include "runtime/cgroup/hierarchy.h"
#include "runtime/sys/error.h"

namespace vsrv::cgroup {

// One write of `value` to `file` in the directory of `controller` (v1), or in the unified
// directory (v2; `controller` then names the v2 controller: "io", "memory", ..., "cgroup").
struct CgroupWrite {
  std::string controller, file, value;
  bool operator==(const CgroupWrite&) const = default;
};

// The v1 writes, in the order runc writes them. Refuses `unified` (needs cgroup v2).
Result<std::vector<CgroupWrite>> v1_writes(const oci::Resources& r);
// The v2 writes. `controllers` (the unified hierarchy's available controllers) checks the
// controller of each `unified` key; nullptr skips that check. Device rules are not files on v2
// (an eBPF program); they produce no writes here.
Result<std::vector<CgroupWrite>> v2_writes(const oci::Resources& r,
                                           const std::set<std::string>* controllers = nullptr);

struct Plan {
  std::vector<CgroupWrite> v1;  // into the v1 controller directories
  std::vector<CgroupWrite> v2;  // into the unified directory
  bool operator==(const Plan&) const = default;
};
// Layout-aware plan. On v1 and hybrid a field whose controller has no v1 hierarchy goes to the
// unified hierarchy when that one offers the controller (hybrid), and is an error otherwise;
// `unified` keys are accepted on hybrid only for controllers the unified hierarchy offers.
Result<Plan> plan_writes(const oci::Resources& r, const Hierarchies& h);

// The device rules a new container gets: the config's rules, then allow rules for the devices
// every container has (/dev/null, zero, full, tty, random, urandom, the pty ones) and for each
// linux.devices entry, as runc and crun do: a config that denies everything ("a *:* rwm") still
// lets the runtime mknod and the container open its own /dev. Unchanged when the config has no
// device rules (the cgroup then inherits its parent's list).
std::vector<oci::DeviceRule> container_devices(const std::vector<oci::DeviceRule>& rules,
                                               const std::vector<oci::Device>& devices);

// The controllers (v1 names) that a resources block touches.
std::set<std::string> v1_controllers_used(const oci::Resources& r);

// Conversions (exposed for tests and for `stats`).
std::uint64_t shares_to_weight(std::uint64_t shares);
std::uint64_t blkio_weight_to_io_weight(std::uint64_t weight);
// memory.swap.max from OCI swap (memory+swap) and limit; error text as runc's.
Result<std::int64_t> v2_swap_value(std::int64_t swap, std::int64_t limit);

// Checks linux.resources.cpu.cpus / .mems against the online lists (text of
// /sys/devices/system/cpu/online and /sys/devices/system/node/online; empty online skips).
Result<void> check_cpuset(const oci::Resources& r, std::string_view cpus_online,
                          std::string_view mems_online);

// "512m", "2g", "1024", "1.5GiB", "-1" -> bytes (binary units, as runc's units.RAMInBytes).
Result<std::int64_t> parse_bytes(std::string_view text);

}  // namespace vsrv::cgroup
