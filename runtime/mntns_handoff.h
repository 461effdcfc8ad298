// runtime/mntns_handoff.h: `run`'s last trim, the container's mount namespace torn down beside
// our cleanup instead of before it.
//
// When the last reference to a mount namespace goes, every mount in it is unmounted and the
// kernel waits for an RCU grace period (namespace_unlock) before it frees them: ~0.25 ms here,
// measured. Left to the init, that wait sits between its exit and the wake-up of `run`, which
// does nothing but wait. So `run` holds the namespace (an nsfs fd) while the init runs; once the
// init is reaped it hands the last reference to a helper that only drops it, and removes the
// cgroups and state meanwhile, the helper pinned to another CPU (the scheduler mostly put it on
// ours, where it ran only once we blocked waiting for it). It waits for the helper before it
// returns, so when `run` returns the namespace is gone, as before.
//
// The helper shares our memory (CLONE_VM, no copy of page tables), runs on its own small stack,
// and makes raw syscalls only: no errno, no libc state, so it cannot disturb us meanwhile.
#pragma once
#include <sys/types.h>

#include "runtime/sys/fd.h"

namespace vsrv::runtime {

class MountNsHandoff {
 public:
  MountNsHandoff() = default;
  MountNsHandoff(const MountNsHandoff&) = delete;
  MountNsHandoff& operator=(const MountNsHandoff&) = delete;
  // Takes a reference to the mount namespace of the live init behind `pidfd`. Best effort: on
  // any failure nothing is held and the init tears its namespace down itself, as before.
  void hold(sys::borrowed_fd pidfd, pid_t pid);
  // After the init was reaped: the helper gets the last reference and drops it.
  void release_in_helper();
  // Waits for the helper (the namespace is gone then); the destructor does too.
  void wait();
  ~MountNsHandoff();

 private:
  sys::unique_fd ns_;
  pid_t helper_ = -1;
};

}  // namespace vsrv::runtime
