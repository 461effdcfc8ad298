// runtime/mntns_handoff.h: `run`'s last trim, the container's mount namespace torn down beside
// our cleanup instead of before it.
//
// When the last reference to a mount namespace goes, every mount in it is unmounted and the
// kernel waits for an RCU grace period (namespace_unlock) before it frees them: ~0.25 ms here,
// measured. Left to the init, that wait sits between its exit and the wake-up of `run`, which
// does nothing but wait. So `run` takes a reference to the namespace (an nsfs fd) once the
// container runs and hands it to a helper that sleeps on the init's pidfd; the init's exit wakes
// it as it wakes us, and it drops the namespace while we remove the cgroups and state. It is
// pinned to another CPU (the scheduler mostly put such helpers on ours, where they ran only once
// we blocked). `run` waits for it before it returns, so when `run` returns the namespace is
// gone, as before. (Before, the helper was started only once the init was reaped: its start,
// ~25 µs, and its wake-up were on the path; release_in_helper() still does that where the early
// helper could not start.)
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
  // Takes a reference to the mount namespace of the live init behind `pidfd` and hands it to
  // a helper that waits for the init's exit and drops it then (`pidfd` must stay open until
  // wait()). Best effort: without a helper the reference stays here for release_in_helper();
  // on any failure nothing is held and the init tears its namespace down itself, as before.
  void hold(sys::borrowed_fd pidfd, pid_t pid);
  // After the init was reaped: a reference still held here goes to a new helper, which drops it.
  void release_in_helper();
  // Waits for the helper (the namespace is gone then); the destructor does too. Before
  // release_in_helper() (an error path, the init perhaps alive) the helper is killed instead.
  void wait();
  ~MountNsHandoff();

  struct Early {
    int ns = -1, pidfd = -1;
    pid_t parent = 0;
  };

 private:
  sys::unique_fd ns_;
  pid_t helper_ = -1;
  bool init_gone_ = false;
  Early early_;
};

}  // namespace vsrv::runtime
