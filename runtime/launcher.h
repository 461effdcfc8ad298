// runtime/launcher.h: the parent half of starting a process inside a container: clone3 with
// CLONE_PIDFD (and CLONE_INTO_CGROUP on v2), then driving the handshake of runtime/sync.h. The
// callbacks are where create/exec plug in what happens around the child (id maps, cgroups,
// network, hooks, terminal). On any failure the child is killed and reaped before returning.
// This is "how the init process comes to exist"; everything around it (state, cgroups, network)
// lives in container.cpp, so a restore can produce the init another way.
#pragma once
#include <sys/types.h>

#include <functional>
#include <vector>

#include "config/oci_spec.h"
#include "runtime/plan.h"
#include "runtime/sync.h"
#include "runtime/sys/error.h"
#include "runtime/sys/fd.h"

namespace vsrv::runtime {

struct SpawnCallbacks {
  std::function<Result<void>(pid_t)> on_alive;                   // namespaces exist: maps, cgroup, network
  std::function<Result<void>(pid_t)> on_proceeded;               // host-side work in parallel with the child's set-up
  std::function<Result<void>(pid_t)> on_hooks;                   // prestart, createRuntime, createContainer
  std::function<Result<void>(sys::unique_fd)> on_console;        // pty master
  std::function<Result<void>(sys::unique_fd)> on_seccomp_listener;
};

struct Spawned {
  pid_t pid = 0;
  sys::unique_fd pidfd;
  Channel channel;  // still open: `exec` waits on it for the execve result
};

// Contract: the caller is single-threaded. `cgroup_dirfd` >= 0 clones straight into that v2 cgroup.
// `join_pidfd`/`join_flags`: for exec, the namespaces of the container's init to join (pid is
// joined by the parent, the rest by the child).
Result<Spawned> spawn(const ChildPlan& plan, int cgroup_dirfd, const SpawnCallbacks& cb);

// Whether spawn() may clone the child into our memory (CLONE_VM|CLONE_VFORK): it never waits
// for the parent before its execve or exit. Pure; exposed for unit tests.
bool can_share_memory(const ChildPlan& plan);
// Whether spawn() will clone this plan's child vfork-style, in our memory: can_share_memory(),
// not a sanitizer build, and its stack could be mapped. Only such a child can wait for a helper
// beside it (plan.cgroup_beside).
bool child_shares_memory(const ChildPlan& plan);

// Writes uid_map/gid_map for `pid` (directly as root, through newuidmap/newgidmap otherwise).
Result<void> write_id_maps(pid_t pid, const std::vector<oci::IdMapping>& uids, const std::vector<oci::IdMapping>& gids);

// Kills (SIGKILL) and reaps a child we spawned.
void kill_and_reap(pid_t pid, sys::borrowed_fd pidfd);

}  // namespace vsrv::runtime
