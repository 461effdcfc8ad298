// runtime/cgroup_beside.cpp: see cgroup_beside.h.
#include "runtime/cgroup_beside.h"

#include <fcntl.h>
#include <linux/futex.h>
#include <linux/sched.h>
#include <sched.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <cerrno>
#include <cstdlib>
#include <utility>

#include "runtime/cgroup/hierarchy.h"
#include "runtime/sys/syscalls.h"

namespace vsrv::runtime {
namespace {

alignas(16) char helper_stack[16 * 1024];

long write_value(long fd, const CgroupBeside::Write& w) {
  long n;
  do n = sys::raw_syscall(SYS_write, fd, reinterpret_cast<long>(w.value), static_cast<long>(w.len));
  while (n == -EINTR);
  return n < 0 ? n : n == static_cast<long>(w.len) ? 0 : -EIO;
}

// Whether a cgroup file holds nothing ("\n", or no file at all): raw syscalls, as the helper.
bool file_empty(int dirfd, const char* path) {
  long fd = sys::raw_syscall(SYS_openat, dirfd, reinterpret_cast<long>(path), O_RDONLY | O_CLOEXEC);
  if (fd < 0) return true;
  char buf[8];
  long n = sys::raw_syscall(SYS_read, fd, reinterpret_cast<long>(buf), sizeof buf);
  sys::raw_syscall(SYS_close, fd);
  return n <= 0 || (n == 1 && buf[0] == '\n');
}

[[noreturn]] void finish(CgroupBeside::Work* w, long err, int failed) {
  w->err = err;
  w->failed = failed;
  __atomic_store_n(&w->wait.status, err == 0 ? 1 : -1, __ATOMIC_RELEASE);
  // The kernel clears w->wait.running and wakes the init as we exit (CLONE_CHILD_CLEARTID).
  for (;;) sys::raw_syscall(SYS_exit, 0);
}

[[noreturn]] void helper_main(void* arg) {
  auto* w = static_cast<CgroupBeside::Work*>(arg);
  if (w->after) {
    struct timespec half_ms = {0, 500000};
    for (int i = 0; i < 4 && __atomic_load_n(w->after, __ATOMIC_ACQUIRE) == 0; ++i)
      sys::raw_syscall(SYS_futex, reinterpret_cast<long>(w->after), FUTEX_WAIT_PRIVATE, 0, reinterpret_cast<long>(&half_ms));
  }
  int retries = 0;
  for (unsigned i = 0; i < w->n_mkdirs; ++i) {
    auto& d = w->mkdirs[i];
    long r = sys::raw_syscall(SYS_mkdirat, d.dirfd, reinterpret_cast<long>(d.path), 0755);
    if (r == 0) {
      d.made = true;
      continue;
    }
    // A parent that exists (or that a concurrent create made meanwhile) is used, as make() does,
    // and is not ours to remove. The container's own directory was new when resolve() looked:
    // if it exists now, it is somebody else's.
    if (r == -EEXIST && !d.leaf) continue;
    // A concurrent delete removed a shared parent between our mkdirs: this hierarchy again from
    // its mount (make_dirs() does the same). Entries run top-down and end with the leaf.
    if (r == -ENOENT && retries++ < 20) {
      while (i > 0 && !w->mkdirs[i - 1].leaf) --i;
      --i;  // unsigned: from 0 it wraps, and the loop's ++i brings it back to 0
      continue;
    }
    finish(w, r, static_cast<int>(i));
  }
  // Consecutive writes to one file (device rules: one per write, as the kernel parses them)
  // share one open. A cpuset seed goes where we made its directory, or into a file still empty
  // (never over a value someone set); one that fails is left, as make() leaves it.
  long fd = -1;
  const char* open_path = nullptr;
  for (unsigned i = 0; i < w->n_writes; ++i) {
    const auto& wr = w->writes[i];
    if (wr.seed_dir >= 0 && !w->mkdirs[wr.seed_dir].made && !file_empty(wr.dirfd, wr.path)) continue;
    if (wr.path != open_path) {
      if (fd >= 0) sys::raw_syscall(SYS_close, fd);
      fd = sys::raw_syscall(SYS_openat, wr.dirfd, reinterpret_cast<long>(wr.path), O_WRONLY | O_CLOEXEC);
      open_path = wr.path;
    }
    long r = fd < 0 ? fd : write_value(fd, wr);
    if (r < 0 && !wr.seed) {
      if (fd >= 0) sys::raw_syscall(SYS_close, fd);
      finish(w, r, static_cast<int>(w->n_mkdirs + i));
    }
  }
  if (fd >= 0) sys::raw_syscall(SYS_close, fd);
  // The init's joins: opened here, in the fd table we share with vsrv (cgroup_beside.h). One that
  // fails is left to the init, which opens the path itself and reports what goes wrong.
  for (unsigned i = 0; i < w->n_tasks; ++i) {
    long t = sys::raw_syscall(SYS_openat, w->tasks[i].dirfd, reinterpret_cast<long>(w->tasks[i].path), O_WRONLY | O_CLOEXEC);
    w->wait.fds[i] = t < 0 ? -1 : static_cast<int>(t);
  }
  finish(w, 0, -1);
}

}  // namespace

bool CgroupBeside::worthwhile() {
  if (const char* e = ::getenv("VSRV_CGROUP_BESIDE"); e && (e[0] == '0' || e[0] == '1') && !e[1]) return e[0] == '1';
  return sys::allowed_cpus() >= 2;
}

bool CgroupBeside::start(cgroup::Manager& cg, cgroup::Manager::V1Steps steps, const int* after) {
#if defined(__SANITIZE_ADDRESS__)
  (void)cg, (void)steps, (void)after;
  return false;  // ASan tracks one stack per thread: no helper on a stack of ours
#else
  steps_ = std::move(steps);
  // Below the cgroup root, from its fd (opened here, before the helper shares our fd table).
  for (const auto& d : steps_.mkdirs) {
    const cgroup::At a = cgroup::at(d.path);
    mkdirs_.push_back({a.dirfd, a.path, d.leaf, false});
  }
  // Pointers into steps_, whose strings no longer move: the helper compares paths by pointer.
  for (size_t i = 0; i < steps_.writes.size(); ++i) {
    const auto& wr = steps_.writes[i];
    const cgroup::At a = i > 0 && steps_.writes[i - 1].file == wr.file ? cgroup::At{writes_.back().dirfd, writes_.back().path}
                                                                         : cgroup::at(wr.file);
    int seed_dir = -1;
    for (size_t k = 0; !wr.dir.empty() && k < steps_.mkdirs.size() && seed_dir < 0; ++k)
      if (steps_.mkdirs[k].path == wr.dir) seed_dir = static_cast<int>(k);
    writes_.push_back({a.dirfd, a.path, wr.value.c_str(), wr.value.size(), wr.seed, seed_dir});
  }
  // The init takes the helper's opens of the tasks files from our fd table with pidfd_getfd,
  // through a pidfd of ours that it inherits at clone3 (a pid namespace of its own cannot name
  // us). Without one it opens the paths.
  for (const auto& t : steps_.tasks) {
    const cgroup::At a = cgroup::at(t);
    tasks_.push_back({a.dirfd, a.path});
  }
  task_fds_.assign(tasks_.size(), -1);
  // VSRV_CGROUP_JOIN_FDS=0: the init opens the paths (tests of that fallback).
  const char* e = ::getenv("VSRV_CGROUP_JOIN_FDS");
  if (!(e && e[0] == '0' && !e[1])) self_pidfd_ = sys::pidfd_open(::getpid());
  work_ = Work{};
  if (self_pidfd_ >= 0) {
    work_.tasks = tasks_.data();
    work_.n_tasks = static_cast<unsigned>(tasks_.size());
    work_.wait.fds = task_fds_.data();
    work_.wait.owner_pidfd = self_pidfd_;
  }
  work_.mkdirs = mkdirs_.data();
  work_.n_mkdirs = static_cast<unsigned>(mkdirs_.size());
  work_.writes = writes_.data();
  work_.after = after;
  work_.n_writes = static_cast<unsigned>(writes_.size());
  // The init waits on work_.wait.running, which the kernel clears at the helper's exit. Not on
  // our CPU: the init we clone next takes it, and the helper must run beside the init, not
  // queued behind it.
  pid_t p = sys::start_vm_helper(helper_main, &work_, helper_stack, sizeof helper_stack, CLONE_FILES, &work_.wait.running);
  if (p <= 0) return false;
  helper_ = p;
  sys::keep_off_this_cpu(p);
  cg_ = &cg;
  cg.v1_made_elsewhere();
  return true;
#endif
}

Result<void> CgroupBeside::wait() {
  if (helper_ > 0) {
    sys::reap(helper_);
    helper_ = -1;
    reaped_ = true;
    cg_->v1_made(made());
  }
  if (!reaped_) return {};
  if (__atomic_load_n(&work_.wait.status, __ATOMIC_ACQUIRE) == 1) return {};
  if (work_.failed < 0) return make_error(EINTR, "cgroup: its helper ended early");
  auto i = static_cast<size_t>(work_.failed);
  if (i < steps_.mkdirs.size()) {
    const auto& d = steps_.mkdirs[i];
    if (work_.err == -EEXIST)
      return make_error(EEXIST, "mkdir '" + d.path + "': made by someone else meanwhile (another container with this cgroupsPath?)");
    return make_error(static_cast<int>(-work_.err), "mkdir '" + d.path + "'");
  }
  const auto& wr = steps_.writes[i - steps_.mkdirs.size()];
  return make_error(static_cast<int>(-work_.err), "'" + wr.file + "' = " + wr.value);
}

std::vector<std::string> CgroupBeside::made() const {
  std::vector<std::string> out;
  for (size_t i = 0; i < mkdirs_.size(); ++i)
    if (mkdirs_[i].made) out.push_back(steps_.mkdirs[i].path);
  return out;
}

std::vector<sys::unique_fd> CgroupBeside::take_task_fds() {
  std::vector<sys::unique_fd> out;
  if (helper_ > 0) return out;  // it may still be opening them
  for (int& fd : task_fds_)
    if (fd >= 0) out.emplace_back(std::exchange(fd, -1));
  if (self_pidfd_ >= 0) out.emplace_back(std::exchange(self_pidfd_, -1));
  return out;
}

CgroupBeside::~CgroupBeside() {
  (void)wait();
  (void)take_task_fds();
}

}  // namespace vsrv::runtime
