// runtime/prefetch.h: what create makes on another CPU while it makes the state dir and the
// cgroups: the kernel objects of a start that need nothing create computes after the config.
//
// - **A new network namespace** (setup_net: loopback, sysctl tables, every protocol's
//   per-namespace state: ~0.3 ms here, the largest single kernel cost of a start). The init
//   joins it with setns() instead of cloning a fresh one. It is the same namespace either way
//   only without a new user namespace (a network namespace belongs to the user namespace it was
//   made in), so only then.
// - **The eBPF device filter** of a cgroup v2 (or hybrid) host: BPF_PROG_LOAD, whose verifier
//   and JIT take ~0.12 ms here for the default rules (~0.3 ms before the program tested each
//   rule with one jump: runtime/cgroup/devices_bpf.cpp). The parent builds the program from the
//   rules first; the cgroup manager attaches the loaded program (runtime/cgroup/manager.h,
//   set_device_program).
//
// The namespace's helper starts before config.json is parsed when its text asks for a fresh
// network namespace and no user namespace (netns_likely(): ~0.1 ms earlier, the time of the
// parse); otherwise once the config is valid.
//
// A helper for each when there are three CPUs or more; on two, the namespace alone (the cgroup
// manager loads the program on our CPU meanwhile: one helper making both took longer than our
// own way to the plan); nothing on one CPU. A helper is never put on our own CPU. Each helper shares our memory
// and fd table (CLONE_VM | CLONE_FILES: its fds are ours), runs on its own small stack and makes
// raw syscalls only (no errno, no libc state). Whatever fails, create makes it the usual way (and
// reports that way's error). Nothing outlives create: the fds are closed when this object goes,
// by which time the init holds the namespace and the cgroup the program.
#pragma once
#include <linux/bpf.h>
#include <sys/types.h>

#include <string_view>
#include <vector>

#include "config/oci_spec.h"

namespace vsrv::runtime {

class Prefetch {
 public:
  Prefetch() = default;
  Prefetch(const Prefetch&) = delete;
  Prefetch& operator=(const Prefetch&) = delete;
  ~Prefetch();

  // Whether a network namespace made ahead would be the one the container asks for (pure).
  static bool netns_applies(const oci::Spec& spec);
  // The same guessed from config.json's text, before it is parsed (~0.1 ms): a scan of the
  // "namespaces" array for a network entry without a path and no user entry. A wrong yes costs a
  // namespace nobody joins (stop() closes it); a wrong no, only the head start.
  static bool netns_likely(std::string_view config_text);
  // Starts the namespace's helper alone, now; start() then adds only what is left.
  void start_netns_early();
  // Starts the helper for what applies; `device_prog` (the filter's instructions, or null) must
  // stay alive until the results are taken. Best effort; nothing on one CPU.
  void start(const oci::Spec& spec, const std::vector<bpf_insn>* device_prog);
  // Wait for the helper; the fds stay owned here. -1: none, make it the usual way.
  int netns_fd();
  // The word that turns 1 (futex-woken) once the network namespace is made; null when no
  // helper makes one.
  const int* netns_done_word() const;
  int device_prog_fd();
  // Waits for the helpers and closes what they made (the destructor does the same): before an
  // exec, which they must not see.
  void stop();

  // What the helper is asked to do and where it leaves the results (shared memory).
  struct Work {
    bool netns = false;
    const bpf_insn* insns = nullptr;
    unsigned insn_cnt = 0;
    long netns_result = -1, prog_result = -1;  // written by the helper: an fd, or -errno
    int netns_done = 0;  // 1 once netns_result is written (a futex: CgroupBeside's helper waits on it)
    int prog_done = 0;  // 1 once prog_result is written (a futex: the program is wanted first)
  };

 private:
  void launch(int i);
  void wait(int i);
  void take(int i);
  void take_prog(Work& w);
  pid_t helper_[2] = {-1, -1};
  bool netns_early_ = false;
  Work work_[2];
  int netns_fd_ = -1, prog_fd_ = -1;
};

}  // namespace vsrv::runtime
