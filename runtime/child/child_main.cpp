// runtime/child/child_main.cpp: the ordered steps of the container's init, from clone3() to
// execve(). No threads, no locks, no file logging: everything was computed into ChildPlan by the
// parent. vsrv is single-threaded when it clones, so malloc is consistent here on error paths,
// but the success path allocates nothing. Any failure is sent to the parent as errno + text and
// the child exits; EOF on the channel means the parent died, and we die with it.
#include "runtime/child/child_main.h"
#include "runtime/child/trampoline_abi.h"

#include <fcntl.h>
#include <linux/limits.h>
#include <sched.h>
#include <signal.h>
#include <linux/futex.h>
#include <linux/keyctl.h>
#include <sys/prctl.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <cstring>

#include "runtime/child/caps_apply.h"
#include "runtime/child/seccomp_load.h"
#include "runtime/child/steps.h"
#include "runtime/sys/rootfs.h"
#include "runtime/sys/syscalls.h"


namespace vsrv::runtime::child {
namespace {

Result<void> join_namespaces(const ChildPlan& p) noexcept {
  for (const auto& j : p.joins)
    if (::setns(j.fd, j.nstype) < 0) return errno_error("setns '" + j.path + "'");
  if (p.unshare_flags && ::unshare(static_cast<int>(p.unshare_flags)) < 0) return errno_error("unshare");
  return {};
}

Result<void> late_namespaces(const ChildPlan& p) noexcept {
  // Become root of the new user namespace now that the parent wrote the maps.
  if (p.new_userns && (::setresgid(0, 0, 0) < 0 || ::setresuid(0, 0, 0) < 0))
    return errno_error("become root in the user namespace");
  // The cgroup namespace is unshared only now, after we moved into our cgroup (and clone3 put
  // us into the v2 one), so its root is the container's cgroup rather than the one vsrv ran in.
  // (With the cgroup made beside us, at the join instead: join_cgroup_made_beside().)
  if (p.unshare_cgroup && !p.cgroup_beside && ::unshare(CLONE_NEWCGROUP) < 0)
    return errno_error("unshare cgroup namespace");
  if (p.unshare_time) {
    if (::unshare(CLONE_NEWTIME) < 0) return errno_error("unshare time namespace");
    // Offsets can be written only before any process lives in the namespace; execve moves us in.
    if (!p.timens_offsets.empty()) {
      int fd = ::open("/proc/self/timens_offsets", O_WRONLY | O_CLOEXEC);
      if (fd < 0) return errno_error("open /proc/self/timens_offsets");
      sys::unique_fd g(fd);
      if (::write(fd, p.timens_offsets.data(), p.timens_offsets.size()) < 0)
        return errno_error("write timens_offsets");
    }
  }
  return {};
}

// The join when the v1 cgroup is made by a helper beside us (plan.h, CgroupBesideWait): wait
// for the helper to exit, move into each hierarchy (through the tasks files the helper opened
// after our fd table was copied, or by path: the host's cgroupfs is still where the parent saw
// it, since we have not pivoted), then unshare the cgroup namespace, rooted at the container's
// cgroup.
// A helper that did not finish stops us here, before any join; create reports its error.
Result<void> join_cgroup_made_beside(const ChildPlan& p) noexcept {
  auto* w = const_cast<CgroupBesideWait*>(p.cgroup_beside);
  // The helper is on another CPU and mostly done by now (measured: it finished first in 9 runs
  // of 10). If not, spin briefly (a few tens of µs) on its status, written just before it exits,
  // rather than sleep at once and pay for the wake-up (an IPI to a halted vCPU: ~50 µs in a VM,
  // measured); a long spin would only burn the CPU the helper may need. Then sleep until it is
  // gone; not FUTEX_PRIVATE: the kernel's wake at its exit is a shared one.
  constexpr int kSpins = 400;
  for (int i = 0; i < kSpins && __atomic_load_n(&w->status, __ATOMIC_ACQUIRE) == 0; ++i) {
#if defined(__x86_64__) || defined(__i386__)
    __builtin_ia32_pause();
#endif
  }
  while (__atomic_load_n(&w->status, __ATOMIC_ACQUIRE) == 0 && __atomic_load_n(&w->running, __ATOMIC_ACQUIRE) != 0)
    ::syscall(SYS_futex, &w->running, FUTEX_WAIT, 1, nullptr, nullptr, 0);
  if (__atomic_load_n(&w->status, __ATOMIC_ACQUIRE) != 1)
    return make_error(EAGAIN, "cgroup: the helper making it did not finish");
  // The helper's opens, taken from vsrv's fd table (runtime/cgroup_beside.h): our close below then
  // only drops a reference, and vsrv releases the file after our execve. Where one is missing or
  // refused, the path. (An init with a user namespace of its own is a copy and never joins here;
  // it would lack the ptrace right over vsrv that pidfd_getfd needs.)
  const bool take = w->owner_pidfd >= 0 && w->fds && !p.new_userns;
  for (size_t i = 0; i < p.cgroup_tasks.size(); ++i) {
    const auto& t = p.cgroup_tasks[i];
    int fd = take && w->fds[i] >= 0 ? static_cast<int>(::syscall(SYS_pidfd_getfd, w->owner_pidfd, w->fds[i], 0)) : -1;
    if (fd < 0) fd = ::open(t.path.c_str(), O_WRONLY | O_CLOEXEC);
    if (fd < 0) return errno_error("join '" + t.path + "': open");
    bool ok = ::write(fd, "0", 1) == 1;
    int e = errno;
    ::close(fd);
    if (!ok) return make_error(e, "join '" + t.path + "'");
  }
  // A pidfd of vsrv must never reach the container's code: with it a process could take any fd
  // of ours (pidfd_getfd: host directories, our lock; a way out of the rootfs) or signal us.
  // Closed here, before anything of the container's runs (and close-on-exec besides).
  if (w->owner_pidfd >= 0) ::close(w->owner_pidfd);
  if (p.unshare_cgroup && ::unshare(CLONE_NEWCGROUP) < 0) return errno_error("unshare cgroup namespace");
  return {};
}

// Writes the decimal `v` (>= 0) and a NUL at `out`: no snprintf locale machinery, no allocation.
void put_decimal(char* out, int v) noexcept {
  char d[12];
  int k = 0;
  do d[k++] = static_cast<char>('0' + v % 10); while ((v /= 10) > 0);
  while (k) *out++ = d[--k];
  *out = '\0';
}

Result<void> wait_exec_fifo(const ChildPlan& p) noexcept {
  // Reopen the O_PATH fd write-only through procfs: this blocks until `start` opens the fifo
  // for reading, which is what keeps the process from running before `start` (runc's design).
  char path[32] = "/proc/self/fd/";
  put_decimal(path + 14, p.exec_fifo_fd);
  int fd = ::open(path, O_WRONLY | O_CLOEXEC);
  if (fd < 0) return errno_error("open exec.fifo (is /proc mounted?)");
  if (::write(fd, "0", 1) != 1) {
    int e = errno;
    ::close(fd);
    return make_error(e, "write exec.fifo");
  }
  ::close(fd);
  return {};
}

Result<void> load_filter(const ChildPlan& p, Channel& ch) noexcept {
  if (!p.seccomp_filter) return {};
  int listener = -1;
  int rc = load_seccomp(p.seccomp_filter, p.seccomp_len, p.seccomp_flags, p.seccomp_notify ? &listener : nullptr);
  if (rc < 0) return make_error(-rc, "load seccomp filter");
  if (p.seccomp_notify) {
    sys::unique_fd l(listener);
    VSRV_TRY(ch.send_fd(Msg::SeccompListener, l));
  }
  return {};
}

Result<void> apply_capabilities(const ChildPlan& p) noexcept {
  if (p.set_caps) {
    const char* what = "capabilities";
    int rc = apply_caps(p.caps, p.last_cap, &what);
    if (rc < 0) return make_error(-rc, what);
  }
  if (p.no_new_privs && ::prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) < 0) return errno_error("prctl(PR_SET_NO_NEW_PRIVS)");
  return {};
}

// The last execve, through the sealed trampoline (runtime/exec_guard.h): /proc/self/exe is the
// trampoline, never the host's vsrv, when the kernel resolves the target (a "#!/proc/self/exe"
// script, say). The channel, the filter memfd and an init's exec.fifo fd must survive into it
// (close_range marked them close-on-exec); the trampoline marks the channel close-on-exec again
// before the target.
[[noreturn]] void exec_through_trampoline(const ChildPlan& p, Channel& ch, char* exe) noexcept {
  int chan = ch.get();
  if (::fcntl(chan, F_SETFD, 0) < 0 || (p.seccomp_memfd >= 0 && ::fcntl(p.seccomp_memfd, F_SETFD, 0) < 0) ||
      (!p.is_exec && p.exec_fifo_fd >= 0 && ::fcntl(p.exec_fifo_fd, F_SETFD, 0) < 0)) {
    ch.send_error(Step::Exec, errno, "exec trampoline: fcntl");
    _exit(kSetupFailed);
  }
  put_decimal(p.trampoline_chan, chan);
  p.trampoline_argv[VSRV_TR_CHANNEL] = p.trampoline_chan;
  p.trampoline_argv[VSRV_TR_EXE] = exe;
  ::syscall(SYS_execveat, p.trampoline_fd, "", p.trampoline_argv.data(), p.envp.data(), AT_EMPTY_PATH);
  ch.send_error(Step::Exec, errno, "exec trampoline");
  _exit(kExecFailed);
}

}  // namespace

[[noreturn]] void child_main(const ChildPlan& p, Channel& ch, int cgroup_procs_fd) noexcept {
  auto must = [&](Step s, Result<void> r) {
    if (!r) {
      ch.send_error(s, r.error());
      _exit(kSetupFailed);
    }
  };
  // Die with the parent during setup, so a SIGKILLed `vsrv create` leaves no half-made init.
  // (If the parent died before this prctl, the next receive on the channel sees EOF and we exit;
  // getppid() cannot tell, since it reads 0 across a new pid namespace.)
  ::prctl(PR_SET_PDEATHSIG, SIGKILL, 0, 0, 0);
  // Non-dumpable until execve: a process already in a joined pid namespace cannot open
  // /proc/<us>/exe (the vsrv binary) or our fds (CVE-2019-5736 class). execve resets it.
  ::prctl(PR_SET_DUMPABLE, 0, 0, 0, 0);
  for (int fd : p.close_in_child) ::close(fd);
  // Signals blocked by the parent around clone are unblocked for the container's process.
  sigset_t none;
  sigemptyset(&none);
  ::sigprocmask(SIG_SETMASK, &none, nullptr);
  // vsrv ignores SIGPIPE for itself (cli/main.cpp); an ignored signal survives execve, and a
  // shell pipeline in the container relies on SIGPIPE's default.
  ::signal(SIGPIPE, SIG_DFL);

  // Into the cgroup first: before the namespaces, so the cgroup namespace unshared later is
  // rooted at the container's cgroup and every page the setup allocates is charged to it.
  // Unless the v1 cgroup is still being made beside us: then the namespaces and the mounts
  // before the cgroup's come first, charged to vsrv's own cgroup (runtime/cgroup_beside.h).
  if (cgroup_procs_fd >= 0) {
    if (::write(cgroup_procs_fd, "0", 1) != 1) {
      ch.send_error(Step::Cgroup, errno, "join cgroup2 'cgroup.procs'");
      _exit(kSetupFailed);
    }
    ::close(cgroup_procs_fd);
  }
  for (const auto& t : p.cgroup_tasks) {
    if (p.cgroup_beside) break;  // later: join_cgroup_made_beside()
    if (::write(t.fd, "0", 1) != 1) {
      ch.send_error(Step::Cgroup, errno, ("join '" + t.path + "'").c_str());
      _exit(kSetupFailed);
    }
    ::close(t.fd);
  }
  must(Step::Namespaces, join_namespaces(p));
  if (p.alive_handshake) {  // only when the parent has work here (plan.h)
    must(Step::Maps, ch.send(Msg::ChildAlive));
    must(Step::Maps, ch.expect(Msg::Proceed).map([](auto&&) {}));
  }
  must(Step::Namespaces, late_namespaces(p));

  int master = -1;
  if (!p.is_exec) {
    sys::RootFs root;
    must(Step::Mounts, prepare_root(p, root));
    if (p.cgroup_beside) {
      // Everything before the first mount that shows the cgroup overlaps the helper making it,
      // and the devices too when only such mounts come after (plan.h, devices_before_cgroup).
      must(Step::Mounts, do_mounts(p, root, 0, p.cgroup_join_mount));
      if (p.devices_before_cgroup) must(Step::Devices, create_devices(p, root));
      must(Step::Cgroup, join_cgroup_made_beside(p));
      must(Step::Mounts, do_mounts(p, root, p.cgroup_join_mount, p.mounts.size()));
      if (!p.devices_before_cgroup) must(Step::Devices, create_devices(p, root));
    } else {
      must(Step::Mounts, do_mounts(p, root, 0, p.mounts.size()));
      must(Step::Devices, create_devices(p, root));
    }
    if (p.run_hooks_in_parent) {
      must(Step::Hooks, ch.send(Msg::HooksRequest));
      must(Step::Hooks, ch.expect(Msg::HooksDone).map([](auto&&) {}));
    }
    must(Step::Pivot, pivot_to(p, root));
    must(Step::Sysctl, apply_sysctls(p));          // before /proc/sys goes read-only
    must(Step::Paths, finish_rootfs(p));
    must(Step::Hostname, set_names(p));
  }
  if (p.new_keyring && ::syscall(SYS_keyctl, KEYCTL_JOIN_SESSION_KEYRING, p.keyring_name.c_str()) < 0 &&
      errno != ENOSYS && errno != EPERM && errno != EDQUOT) {
    // ENOSYS/EPERM: keyrings are off or refused in this user namespace (runc also tolerates it).
    ch.send_error(Step::Namespaces, errno, "join session keyring");
    _exit(kSetupFailed);
  }
  must(Step::Rlimits, apply_rlimits(p));           // before CAP_SYS_RESOURCE is dropped
  must(Step::Rlimits, apply_misc(p));
  if (p.terminal) {
    must(Step::Terminal, setup_terminal(p, &master));
    sys::unique_fd m(master);
    must(Step::Terminal, ch.send_fd(Msg::ConsoleFd, m));
  }
  // Without no_new_privs, loading a filter needs CAP_SYS_ADMIN: do it while still root, before
  // the uid switch clears the effective set. A notify filter is loaded early in every case,
  // because its listener fd must reach the parent, which is gone once `create` returns.
  bool early_seccomp = !p.no_new_privs || p.seccomp_notify;
  if (early_seccomp) must(Step::Seccomp, load_filter(p, ch));
  must(Step::User, switch_user(p));
  must(Step::Caps, apply_capabilities(p));
  if (::chdir(p.cwd.c_str()) < 0) {
    ch.send_error(Step::Cwd, errno, ("chdir '" + p.cwd + "'").c_str());
    _exit(kSetupFailed);
  }
  // "Leaky vessels" (CVE-2024-21626): a cwd such as /proc/self/fd/N can land on a directory of
  // the host through any fd the child still holds. The kernel reports such a cwd as
  // "(unreachable)/..." (not below our root): refuse it, whatever fd it came through.
  {
    char cwd[PATH_MAX];
    long n = ::syscall(SYS_getcwd, cwd, sizeof cwd);
    if (n <= 0 || cwd[0] != '/') {
      ch.send_error(Step::Cwd, EPERM, ("cwd '" + p.cwd + "' is outside the container's root").c_str());
      _exit(kSetupFailed);
    }
  }
  char exe[PATH_MAX];
  must(Step::Exec, find_executable(p, exe, sizeof exe));
  // Nothing but stdio and the preserved fds may reach the container's process.
  if (sys::close_range_raw(3 + p.preserve_fds, ~0U, CLOSE_RANGE_CLOEXEC) < 0) {
    ch.send_error(Step::Fds, errno, "close_range");
    _exit(kSetupFailed);
  }
  // From here the parent (`create`, `exec --detach`) may exit: stop dying with it.
  ::prctl(PR_SET_PDEATHSIG, 0, 0, 0, 0);
  if (p.is_exec || p.trampoline_fd < 0) must(Step::Ready, ch.send(Msg::ChildReady));
  // An init going through the trampoline says ChildReady and waits on exec.fifo from there:
  // so it is never the host binary while its state says "created" (runtime/exec_guard.h).
  if (!p.is_exec && p.trampoline_fd < 0 && p.exec_fifo_fd >= 0) must(Step::Fifo, wait_exec_fifo(p));
  if (p.trampoline_fd >= 0) exec_through_trampoline(p, ch, exe);  // [[noreturn]]
  if (!early_seccomp) must(Step::Seccomp, load_filter(p, ch));  // last: the filter need not allow setup
  ::execve(exe, p.argv.data(), p.envp.data());
  int e = errno;
  if (p.is_exec) ch.send_error(Step::Exec, e, (std::string("exec '") + exe + "'").c_str());
  _exit(kExecFailed);
}

}  // namespace vsrv::runtime::child
