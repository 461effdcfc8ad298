// runtime/mntns_handoff.cpp: see mntns_handoff.h.
#include "runtime/mntns_handoff.h"

#include <fcntl.h>
#include <linux/sched.h>
#include <signal.h>
#include <poll.h>
#include <sys/ioctl.h>
#include <sys/prctl.h>
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

#if !defined(__SANITIZE_ADDRESS__)  // no helpers there (hold())
void close_all_but(int a, int b) {
  int lo = a < b ? a : b, hi = a < b ? b : a;
  if (lo > 0) sys::raw_syscall(SYS_close_range, 0, lo - 1, 0);
  if (hi > lo + 1) sys::raw_syscall(SYS_close_range, lo + 1, hi - 1, 0);
  sys::raw_syscall(SYS_close_range, hi + 1, ~0U, 0);
}

// Started once the container runs: keeps only the namespace and the init's pidfd (a copy of
// anything else, a lock's fd above all, must not outlive our own), dies with us, waits for the
// init's exit (woken by it as we are, on its own CPU) and drops the namespace at once, so the
// teardown runs beside our removal of the cgroups and state rather than after our wake-up and a
// helper's start.
[[noreturn]] void early_helper_main(void* arg) {
  auto* a = static_cast<MountNsHandoff::Early*>(arg);
  close_all_but(a->ns, a->pidfd);
  sys::raw_syscall(SYS_prctl, PR_SET_PDEATHSIG, SIGKILL);
  if (sys::raw_syscall(SYS_getppid) == a->parent) {
    struct pollfd p = {a->pidfd, POLLIN, 0};
    while (sys::raw_syscall(SYS_poll, reinterpret_cast<long>(&p), 1, -1) == -EINTR) {
    }
  }
  sys::raw_syscall(SYS_close_range, 0, ~0U, 0);
  for (;;) sys::raw_syscall(SYS_exit, 0);
}
#endif

}  // namespace

void MountNsHandoff::hold(sys::borrowed_fd pidfd, pid_t pid) {
  // Both come close-on-exec (pidfs opens its namespace fds O_CLOEXEC).
  int fd = ::ioctl(pidfd.get(), kPidfdGetMntNamespace, 0);
  if (fd < 0) fd = ::open(("/proc/" + std::to_string(pid) + "/ns/mnt").c_str(), O_RDONLY | O_CLOEXEC);
  ns_.reset(fd);
#if !defined(__SANITIZE_ADDRESS__)
  if (!ns_) return;
  // Every signal blocked in the helper from its first instruction (it inherits our mask): it
  // lives as long as the container, shares our memory but not our handlers' assumptions, and a
  // terminal's SIGINT to our process group is the container's business, which we forward.
  sigset_t all, old;
  sigfillset(&all);
  ::sigprocmask(SIG_SETMASK, &all, &old);
  early_ = {ns_.get(), pidfd.get(), ::getpid()};
  pid_t p = sys::start_vm_helper(early_helper_main, &early_, helper_stack, sizeof helper_stack);
  ::sigprocmask(SIG_SETMASK, &old, nullptr);
  if (p > 0) {
    helper_ = p;
    sys::keep_off_this_cpu(p);
    ns_.reset();  // the helper's reference is the last one but the init's
  }
#else
  (void)pidfd;
#endif
}

void MountNsHandoff::release_in_helper() {
  init_gone_ = true;
#if defined(__SANITIZE_ADDRESS__)
  ns_.reset();  // ASan tracks one stack per thread: no helper on a stack of ours
  return;
#endif
  if (!ns_ || helper_ > 0) return;
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
  // An error path with the container still running: the early helper would wait for it.
  if (helper_ > 0 && !init_gone_) ::kill(helper_, SIGKILL);
  sys::reap(helper_);
  helper_ = -1;
}

MountNsHandoff::~MountNsHandoff() { wait(); }

}  // namespace vsrv::runtime
