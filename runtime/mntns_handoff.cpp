// runtime/mntns_handoff.cpp: see mntns_handoff.h.
#include "runtime/mntns_handoff.h"

#include <fcntl.h>
#include <linux/sched.h>
#include <signal.h>
#include <sys/ioctl.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <cstdint>
#include <string>

#include "runtime/sys/syscalls.h"

namespace vsrv::runtime {
namespace {

// pidfs (Linux 6.11): an nsfs fd of the process's mount namespace, without a /proc path walk.
constexpr unsigned long kPidfdGetMntNamespace = _IO(0xFF, 3);

// The helper's stack: it closes its fds and exits, so a few KiB is plenty.
alignas(16) char helper_stack[16 * 1024];

[[noreturn]] void helper_main(void*) {
  // Every fd, the namespace's among them, closed by a syscall and not by the exit: the last
  // fput then runs (as task work) before close_range returns, and the unmounts it makes finish
  // their own cleanup the same way, so every superblock the namespace held is gone before we
  // exit, and so before `run`, which waits for us, returns. Left to the exit, that cleanup is
  // handed to a kworker (an exiting task takes no new task work) and may come later.
  sys::raw_syscall(SYS_close_range, 0, ~0U, 0);
  for (;;) sys::raw_syscall(SYS_exit, 0);
}

}  // namespace

void MountNsHandoff::hold(sys::borrowed_fd pidfd, pid_t pid) {
  // Both come close-on-exec (pidfs opens its namespace fds O_CLOEXEC).
  int fd = ::ioctl(pidfd.get(), kPidfdGetMntNamespace, 0);
  if (fd < 0) fd = ::open(("/proc/" + std::to_string(pid) + "/ns/mnt").c_str(), O_RDONLY | O_CLOEXEC);
  ns_.reset(fd);
}

void MountNsHandoff::release_in_helper() {
#if defined(__SANITIZE_ADDRESS__)
  ns_.reset();  // ASan tracks one stack per thread: no helper on a stack of ours
  return;
#endif
  if (!ns_) return;
  pid_t p = sys::start_vm_helper(helper_main, nullptr, helper_stack, sizeof helper_stack);
  if (p > 0) {
    helper_ = p;
    // On the other CPU, beside our cleanup. Placed on ours (as the scheduler did in 20 runs of
    // 26 here), it ran only once we blocked waiting for it: after our cleanup, not beside it.
    sys::keep_off_this_cpu(p);
  }
  ns_.reset();  // no helper: the teardown is ours, here, as it would have been the init's
}

void MountNsHandoff::wait() {
  ns_.reset();
  sys::reap(helper_);
  helper_ = -1;
}

MountNsHandoff::~MountNsHandoff() { wait(); }

}  // namespace vsrv::runtime
