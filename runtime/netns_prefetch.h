// runtime/netns_prefetch.h: create's new network namespace, made on another CPU while create
// makes the state dir and the cgroups.
//
// Making a network namespace is the largest single kernel cost of a container start here
// (setup_net: loopback, sysctl tables, every protocol's per-namespace state: ~0.3 ms), and it
// needs nothing create computes. So right after the config is checked, a helper makes one
// (unshare + open of its nsfs file) while create goes on; the init then joins it with setns()
// instead of cloning a fresh one. It is the same namespace either way only when the container
// has no new user namespace (a network namespace belongs to the user namespace it was made
// in), so only then; and only with a second CPU to run on.
//
// The helper shares our memory and fd table (CLONE_VM | CLONE_FILES: its fd is ours), runs on
// its own small stack and makes raw syscalls only (no errno, no libc state). If anything fails,
// the init clones a fresh namespace as before. Nothing outlives create: the namespace lives as
// long as the fd, which is closed when create returns (the init holds it by then).
#pragma once
#include <sys/types.h>

#include "config/oci_spec.h"

namespace vsrv::runtime {

class NetnsPrefetch {
 public:
  NetnsPrefetch() = default;
  NetnsPrefetch(const NetnsPrefetch&) = delete;
  NetnsPrefetch& operator=(const NetnsPrefetch&) = delete;
  ~NetnsPrefetch();

  // Whether a prefetched namespace would be the one the container asks for (pure; unit-tested).
  static bool applies(const oci::Spec& spec, int cpus);
  // Starts the helper when applies(); best effort.
  void start(const oci::Spec& spec);
  // Waits for the helper: the namespace's fd (still owned here), or -1.
  int fd();

 private:
  void wait();
  pid_t helper_ = -1;
  long result_ = -1;  // written by the helper: the fd, or -errno
  int fd_ = -1;
};

}  // namespace vsrv::runtime
