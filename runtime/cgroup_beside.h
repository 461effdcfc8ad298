// runtime/cgroup_beside.h: the container's v1 cgroup directories and limits, made on another CPU
// while the init sets up its namespaces and first mounts.
//
// On a v1 (or hybrid) host a start makes a directory in every hierarchy: eight here, ~0.25 ms of
// mkdir (each builds its controller's files), plus cpuset seeds and limits, all before the init
// was cloned, while the init's first ~0.45 ms (namespaces, the rootfs, /proc, /dev, /sys, the
// device nodes) need no cgroup. So create hands the v1 part (Manager::v1_steps()) to a helper
// and goes on; the init joins once the helper is done, just before the first mount that shows the
// cgroup (plan.h, CgroupBesideWait). What the init did before that is charged to vsrv's own
// cgroup: its namespaces (made at clone3 already) and those mounts (docs/resources.md).
//
// A hybrid host's unified directory is still made before clone3, which places the init there
// (CLONE_INTO_CGROUP); a pure v2 host has nothing here (one directory, and the clone needs it).
//
// On two CPUs the helper first waits for the network namespace made ahead (runtime/prefetch.h)
// on the same other CPU: the plan needs that namespace before the clone, and two helpers
// sharing the CPU only delayed it (measured: no gain at all that way; 0.12-0.14 ms interleaved,
// 0.4 ms back to back, with the wait).
//
// Only with the init sharing our memory (CLONE_VM|CLONE_VFORK: it sees the helper's word);
// create otherwise waits for the helper before clone3 (wait()), which still overlaps the plan.
// If the helper fails (the container's directory made meanwhile by someone else, a limit the
// kernel refuses) the init stops before joining, and create reports the helper's error and
// removes what it made (Manager::v1_made() keeps the list exact).
//
// The init joins with fds the helper opened (CgroupBesideWait::fds), taken across with
// pidfd_getfd: the open of a cgroupfs file (its path walk, kernfs's open file and seq_file) and,
// above all, the release at the last close are then ours, after the init's execve and off the
// start's critical path; the init's own close only drops a reference. Measured: see
// docs/performance.md. Where pidfd_getfd is refused (it needs ptrace rights over vsrv, which an
// init sharing our memory has: same credentials, no user namespace of its own) or the helper's
// open failed, the init opens the path itself, as before; VSRV_CGROUP_JOIN_FDS=0 forces that.
//
// The helper shares our memory and fd table (CLONE_VM | CLONE_FILES), runs on its own small
// stack and makes raw syscalls only (no errno, no libc state: it runs beside the init, which
// uses both). The strings are ours and stay untouched until it is reaped.
#pragma once
#include <sys/types.h>

#include <string>
#include <vector>

#include "runtime/cgroup/manager.h"
#include "runtime/plan.h"
#include "runtime/sys/fd.h"
#include "runtime/sys/error.h"

namespace vsrv::runtime {

class CgroupBeside {
 public:
  CgroupBeside() = default;
  CgroupBeside(const CgroupBeside&) = delete;
  CgroupBeside& operator=(const CgroupBeside&) = delete;
  ~CgroupBeside();

  // Whether a helper has a CPU besides ours (two or more); VSRV_CGROUP_BESIDE=0/1 forces it
  // either way (tests, benchmarks).
  static bool worthwhile();
  // Starts the helper on `cg`'s v1 steps, never on our CPU, and leaves them to it
  // (Manager::v1_made_elsewhere()); it first waits (2 ms at most) for `after` to turn 1, when
  // given. False when none can start (a sanitizer build, clone3 refused): the caller makes them
  // the usual way. `cg` must outlive this object, which tells it what was made once the helper is
  // reaped (Manager::v1_made()), on every path.
  bool start(cgroup::Manager& cg, cgroup::Manager::V1Steps steps, const int* after = nullptr);
  bool started() const { return helper_ > 0 || reaped_; }
  // What the init waits on (plan.h); valid until this object goes.
  const CgroupBesideWait* shared() const { return &work_.wait; }
  // The tasks files the init writes itself.
  const std::vector<std::string>& tasks() const { return steps_.tasks; }
  // Reaps the helper: whether it made everything, or the first step it failed.
  Result<void> wait();
  // After wait(): the tasks files the helper opened for the init, and our pidfd. Closing them
  // releases the files (kernfs), so the caller does it at a moment it would otherwise wait, once
  // the init has joined; what is not taken is closed at destruction.
  std::vector<sys::unique_fd> take_task_fds();
  // After wait(): the directories it made.

  std::vector<std::string> made() const;

  // Paths are relative to `dirfd`: the cgroup root's fd for paths below it (cgroup::at()).
  struct Dir {
    int dirfd;
    const char* path;
    bool leaf;
    bool made;  // set by the helper
  };
  struct Write {
    int dirfd;
    const char* path;  // the same pointer as the previous write's for the same file
    const char* value;
    size_t len;
    bool seed;
    int seed_dir;  // a seed's directory in mkdirs: written if made there, else only into an empty file
  };
  struct TaskFile {
    int dirfd;
    const char* path;
  };
  struct Work {
    CgroupBesideWait wait;
    const TaskFile* tasks = nullptr;  // opened last, into wait.fds (-1 where it failed)
    unsigned n_tasks = 0;
    const int* after = nullptr;  // wait (up to 2 ms) for it to turn 1 first
    Dir* mkdirs = nullptr;
    unsigned n_mkdirs = 0;
    const Write* writes = nullptr;
    unsigned n_writes = 0;
    long err = 0;     // -errno of the failed step
    int failed = -1;  // its index: mkdirs first, then writes
  };

 private:
  cgroup::Manager::V1Steps steps_;
  std::vector<Dir> mkdirs_;
  std::vector<Write> writes_;
  std::vector<TaskFile> tasks_;
  std::vector<int> task_fds_;
  int self_pidfd_ = -1;
  Work work_;
  cgroup::Manager* cg_ = nullptr;
  pid_t helper_ = -1;
  bool reaped_ = false;
};

}  // namespace vsrv::runtime
