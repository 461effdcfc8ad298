// runtime/cgroup/hierarchy.h: where the cgroup hierarchies are mounted, and the small parsers
// (mountinfo, /proc/<pid>/cgroup, cpu lists) behind detect_layout() and Manager::create().
// The parsers are pure so the unit tests feed them text; discover() reads the live machine.
#pragma once
#include <map>
#include <set>
#include <string>
#include <string_view>
#include <vector>

#include "runtime/cgroup/manager.h"
#include "runtime/sys/error.h"

namespace vsrv::cgroup {

// The v1 controllers vsrv creates directories for (name=systemd and others are left alone).
inline constexpr const char* kV1Controllers[] = {
    "cpu", "cpuacct", "cpuset", "memory", "devices", "freezer", "blkio", "pids",
    "hugetlb", "net_cls", "net_prio", "perf_event", "rdma", "misc"};

struct Hierarchies {
  Layout layout = Layout::V1;
  std::map<std::string, std::string> v1;   // controller -> mount point of its hierarchy
  std::string unified;                     // cgroup2 mount point; empty when none
  std::set<std::string> v2_controllers;    // <unified>/cgroup.controllers
};

// Maps v1 controllers to mount points and finds the cgroup2 mount, from /proc/self/mountinfo text.
// Only mounts of the hierarchy root (root field "/") are used.
Hierarchies parse_mountinfo(std::string_view text);
// Reads statfs(/sys/fs/cgroup), /proc/self/mountinfo and the unified cgroup.controllers.
Result<Hierarchies> discover();
// Whether cgroup2 is mounted where a v2 host (/sys/fs/cgroup) or a hybrid one
// (/sys/fs/cgroup/unified) has it: two statfs, for a guess made before discover() runs.
bool unified_mounted();

// The host's cgroup root (/sys/fs/cgroup, a tmpfs on v1 and hybrid hosts) as an O_PATH fd,
// opened once per process (O_CLOEXEC, kept until exit; a child entering a container closes it
// first: opened_root_fd()). Paths below it are resolved from there rather than through /sys: a
// lookup in sysfs leaves RCU path walk and takes sysfs's lock, which the network namespace being
// made beside us (runtime/prefetch.h) or the last container's, being torn down, holds for
// writing. resolve()'s 16 stats took 0.130 ms that way, 0.058 ms from the fd (medians of 200).
// -1 when it cannot be opened.
int root_fd();
int opened_root_fd();  // -1 until root_fd() opened it
// {root_fd(), path relative to it} for an absolute path below /sys/fs/cgroup, else {AT_FDCWD,
// path}: for the *at() calls. `path` must outlive the returned pointer.
struct At {
  int dirfd;
  const char* path;
};
At at(const std::string& path);

// /proc/<pid>/cgroup text -> controller -> path; the v2 entry ("0::/x") is keyed "".
// "cpu,cpuacct:/x" gives both "cpu" and "cpuacct".
std::map<std::string, std::string> parse_proc_cgroup(std::string_view text);

// "0-3,5,7-8" -> {0,1,2,3,5,7,8}. Empty text gives an empty set. Errors name `field`.
Result<std::set<unsigned>> parse_cpu_list(std::string_view text, std::string_view field);

// Normalises a cgroup path: collapses "//", removes "." and refuses "..".
Result<std::string> clean_cgroup_path(std::string_view p);

}  // namespace vsrv::cgroup
