// runtime/child/steps.h: the steps the container's init runs between clone3() and execve().
// Each returns Result<void> (allocation only on the error path) and is called by child_main.cpp.
// Contract for every function here: noexcept, no threads, no locks, no stdio.
#pragma once
#include "runtime/plan.h"
#include "runtime/sys/error.h"
#include "runtime/sys/rootfs.h"

namespace vsrv::runtime::child {

// mounts.cpp
Result<void> prepare_root(const ChildPlan& p, sys::RootFs& root) noexcept;   // propagation + rootfs bind
// The mounts p.mounts[from, to).
Result<void> do_mounts(const ChildPlan& p, const sys::RootFs& root, std::size_t from, std::size_t to) noexcept;
Result<void> create_devices(const ChildPlan& p, const sys::RootFs& root) noexcept;
Result<void> pivot_to(const ChildPlan& p, const sys::RootFs& root) noexcept;
Result<void> finish_rootfs(const ChildPlan& p) noexcept;                      // after pivot: masked, ro paths, ro root

// identity.cpp
Result<void> apply_sysctls(const ChildPlan& p) noexcept;
Result<void> set_names(const ChildPlan& p) noexcept;
Result<void> apply_rlimits(const ChildPlan& p) noexcept;
Result<void> apply_misc(const ChildPlan& p) noexcept;                         // oom_score_adj, personality
Result<void> switch_user(const ChildPlan& p) noexcept;
Result<void> setup_terminal(const ChildPlan& p, int* master_out) noexcept;
// Resolves the executable like execvp would, inside the container, into `out` (PATH_MAX).
Result<void> find_executable(const ChildPlan& p, char* out, size_t out_size) noexcept;

}  // namespace vsrv::runtime::child
