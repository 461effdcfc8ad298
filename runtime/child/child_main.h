// runtime/child/child_main.h: entry point of the container's init (and of `exec`'s process)
// after clone3(). Never returns: it ends in execve() or _exit().
#pragma once
#include "runtime/plan.h"
#include "runtime/sync.h"

namespace vsrv::runtime::child {

constexpr int kSetupFailed = 125;
constexpr int kExecFailed = 127;

// `cgroup_procs_fd` >= 0: a v2 cgroup.procs to write "0" to first, when clone3 could not place
// the process with CLONE_INTO_CGROUP (an exec into a cgroup at its pids limit: launcher.cpp).
[[noreturn]] void child_main(const ChildPlan& plan, Channel& ch, int cgroup_procs_fd = -1) noexcept;

}  // namespace vsrv::runtime::child
