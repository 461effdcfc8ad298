// runtime/exec_guard.cpp: the choice of exec guard, the trampoline memfd, and arming a plan with
// it (exec_guard.h).
#include "runtime/exec_guard.h"

#include <sys/socket.h>
#include <sys/syscall.h>

#include <fcntl.h>
#include <sys/mman.h>
#include <unistd.h>

#include <algorithm>
#include <cstdint>
#include <cstdlib>

#include "runtime/child/trampoline_abi.h"
#include "runtime/seccomp_eval.h"
#include "runtime/sys/cloned_binary.h"
#include "runtime/sys/log.h"
#include "runtime/sys/syscalls.h"

extern "C" {
extern const unsigned char vsrv_trampoline_start[];
extern const unsigned char vsrv_trampoline_end[];
}

namespace vsrv::runtime {

const char* exec_guard_name(ExecGuard g) noexcept {
  switch (g) {
    case ExecGuard::Direct: return "direct";
    case ExecGuard::Trampoline: return "trampoline";
    case ExecGuard::Reexec: return "re-exec";
  }
  return "?";
}

ExecGuard choose_exec_guard(const ExecGuardFacts& f) noexcept {
  if (f.already_protected || f.disabled) return ExecGuard::Direct;
  if (!f.trampoline_built || f.early_filter_refuses_trampoline || f.paused || f.suid_dumpable) return ExecGuard::Reexec;
  // In its own user namespace no container process holds a capability in the host's, which is
  // where vsrv's child (created there) is owned: /proc/<child>/exe stays closed to all of them.
  if (f.own_userns) return ExecGuard::Trampoline;
  if (f.init_may_reach || f.earlier_exec_may_reach || f.this_exec_may_reach) return ExecGuard::Reexec;
  return ExecGuard::Trampoline;
}

ExecGuard choose_init_guard(const InitGuardFacts& f) noexcept {
  if (f.already_protected || f.disabled) return ExecGuard::Direct;
  if (!f.trampoline_built || !f.new_pid_ns || f.early_filter_refuses_trampoline || f.suid_dumpable)
    return ExecGuard::Reexec;
  return ExecGuard::Trampoline;
}

bool caps_reach_host_binary(bool present, const std::vector<std::string>& bounding) noexcept {
  if (!present) return true;
  for (const char* c : {"CAP_SYS_PTRACE", "CAP_SYS_ADMIN", "CAP_CHECKPOINT_RESTORE"})
    if (std::find(bounding.begin(), bounding.end(), c) != bounding.end()) return true;
  return false;
}

bool trampoline_built() noexcept {
  return reinterpret_cast<std::uintptr_t>(vsrv_trampoline_end) > reinterpret_cast<std::uintptr_t>(vsrv_trampoline_start);
}

Result<sys::unique_fd> trampoline_memfd() {
  if (!trampoline_built()) return make_error(ENOSYS, "exec trampoline: not built for this architecture");
  // MFD_EXEC (6.3+): executable even where vm.memfd_noexec=1 makes memfds non-executable by default.
  int fd = ::memfd_create("vsrv-exec", MFD_CLOEXEC | MFD_ALLOW_SEALING | 0x0010U /* MFD_EXEC */);
  if (fd < 0 && errno == EINVAL) fd = ::memfd_create("vsrv-exec", MFD_CLOEXEC | MFD_ALLOW_SEALING);
  if (fd < 0) return errno_error("exec trampoline: memfd_create");
  sys::unique_fd m(fd);
  VSRV_TRYC(sys::write_all(m, std::string_view(reinterpret_cast<const char*>(vsrv_trampoline_start),
                                                static_cast<size_t>(vsrv_trampoline_end - vsrv_trampoline_start))),
            "exec trampoline");
  // Sealed: neither the container (through /proc/<pid>/exe) nor anything else can change it.
  if (::fcntl(m.get(), F_ADD_SEALS, F_SEAL_SEAL | F_SEAL_SHRINK | F_SEAL_GROW | F_SEAL_WRITE) < 0)
    return errno_error("exec trampoline: seal");
  return m;
}

namespace {

// A filter loaded before the uid switch (without no_new_privs it needs CAP_SYS_ADMIN) also judges
// the trampoline's own calls: the child's execveat of it and its fcntl; for an init also its
// ChildReady (sendto) and the exec.fifo wait (openat, write, close). Ask the filter
// (seccomp_eval.h); fd numbers and pointers vary, so try several of each.
bool filter_lets_trampoline_through(const SeccompProgram& s, bool init) {
  const std::vector<std::uint64_t> fds = {3, 255}, ptrs = {0x1000, 0x7ffffffff000};
  bool ok = seccomp_allows(s.filter, SYS_execveat, {fds, ptrs, ptrs, ptrs, {AT_EMPTY_PATH}}) &&
            seccomp_allows(s.filter, SYS_fcntl, {fds, {F_SETFD}, {FD_CLOEXEC}});
  if (ok && init) {
    const std::uint64_t at_fdcwd = static_cast<std::uint32_t>(AT_FDCWD);
    ok = seccomp_allows(s.filter, SYS_sendto, {fds, ptrs, {256}, {MSG_NOSIGNAL}}) &&
         seccomp_allows(s.filter, SYS_openat, {{at_fdcwd, static_cast<std::uint64_t>(AT_FDCWD)}, ptrs,
                                               {O_WRONLY | O_CLOEXEC}}) &&
         seccomp_allows(s.filter, SYS_write, {fds, ptrs, {1}}) && seccomp_allows(s.filter, SYS_close, {fds});
  }
  return ok;
}

// A Trampoline choice gets its sealed memfd in `trampoline`; where none can be made
// (vm.memfd_noexec=2, say) the re-exec still protects. Logs the outcome for `--debug`.
ExecGuard with_memfd(ExecGuard guard, const std::string& who, sys::unique_fd& trampoline) {
  if (guard == ExecGuard::Trampoline) {
    if (auto t = trampoline_memfd(); t) {
      trampoline = std::move(*t);
    } else {
      log::debug(who + ": " + t.error().message());
      guard = ExecGuard::Reexec;
    }
  }
  log::debug(who + ": guard " + exec_guard_name(guard));
  return guard;
}

bool suid_dumpable() {
  auto d = sys::read_file("/proc/sys/fs/suid_dumpable");
  return !d || std::atoi(d->c_str()) != 0;
}

}  // namespace

Result<ExecGuard> choose_guard(const std::string& root, const std::string& id, const oci::Spec& spec,
                               const oci::Process& proc, const ChildPlan& plan,
                               const std::optional<SeccompProgram>& seccomp, Status status, const Lock& lk,
                               sys::unique_fd& trampoline) {
  ExecGuardFacts facts;
  facts.disabled = ::getenv("VSRV_NO_CLONED_BINARY") != nullptr;
  facts.already_protected = sys::running_from_sealed_copy();
  facts.trampoline_built = trampoline_built();
  facts.own_userns = std::any_of(plan.joins.begin(), plan.joins.end(),
                                 [](const NsJoin& j) { return (j.nstype & CLONE_NEWUSER) != 0; });
  const auto* init_caps = spec.process && spec.process->capabilities ? &*spec.process->capabilities : nullptr;
  facts.init_may_reach = caps_reach_host_binary(init_caps != nullptr, init_caps ? init_caps->bounding : std::vector<std::string>{});
  facts.this_exec_may_reach = caps_reach_host_binary(proc.capabilities.has_value(),
                                                     proc.capabilities ? proc.capabilities->bounding : std::vector<std::string>{});
  if (seccomp && !plan.no_new_privs) facts.early_filter_refuses_trampoline = !filter_lets_trampoline_through(*seccomp, false);
  facts.paused = status == Status::Paused;
  facts.suid_dumpable = suid_dumpable();
  facts.earlier_exec_may_reach = has_exec_caps(root, id);
  if (facts.this_exec_may_reach && !facts.own_userns && !facts.earlier_exec_may_reach) {
    // Record it before the process exists, under the exclusive lock: that waits out every exec
    // that checked the mark earlier and is still in its trampoline window.
    VSRV_TRY(lock_upgrade(lk));
    VSRV_TRY(mark_exec_caps(root, id));
    facts.earlier_exec_may_reach = true;
  }
  return with_memfd(choose_exec_guard(facts), "exec '" + id + "'", trampoline);
}

Result<ExecGuard> choose_guard_for_init(const std::string& id, const oci::Spec& spec,
                                        const std::optional<SeccompProgram>& seccomp, sys::unique_fd& trampoline) {
  InitGuardFacts facts;
  facts.disabled = ::getenv("VSRV_NO_CLONED_BINARY") != nullptr;
  facts.already_protected = sys::running_from_sealed_copy();
  facts.trampoline_built = trampoline_built();
  if (spec.linux)
    for (const auto& ns : spec.linux->namespaces)
      if (ns.type == "pid" && ns.path.empty()) facts.new_pid_ns = true;
  const bool no_new_privs = spec.process && spec.process->no_new_privileges;
  if (seccomp && (!no_new_privs || seccomp->uses_notify))  // loaded early (child_main.cpp)
    facts.early_filter_refuses_trampoline = !filter_lets_trampoline_through(*seccomp, true);
  facts.suid_dumpable = suid_dumpable();
  return with_memfd(choose_init_guard(facts), "create '" + id + "'", trampoline);
}

Result<void> arm_trampoline(ChildPlan& plan, const sys::unique_fd& trampoline,
                            const std::optional<SeccompProgram>& seccomp, sys::unique_fd& filter_memfd) {
  plan.trampoline_fd = trampoline.get();
  if (seccomp && plan.no_new_privs && !plan.seccomp_notify) {
    // A late filter: the trampoline loads it after its own execve (with no_new_privs, no
    // capability is needed). An early one stays with the child (and allows the trampoline:
    // choose_guard).
    int mfd = ::memfd_create("vsrv-seccomp", MFD_CLOEXEC);
    if (mfd < 0) return errno_error("exec: memfd_create");
    filter_memfd.reset(mfd);
    VSRV_TRY(sys::write_all(filter_memfd, std::string_view(reinterpret_cast<const char*>(seccomp->filter.data()),
                                                           seccomp->filter.size() * sizeof(sock_filter))));
    plan.seccomp_memfd = filter_memfd.get();
    plan.seccomp_filter = nullptr;  // not loaded by the child
  }
  plan.trampoline_nums[0] = std::to_string(plan.seccomp_memfd);
  plan.trampoline_nums[1] = std::to_string(plan.seccomp_memfd >= 0 ? seccomp->filter.size() : 0);
  plan.trampoline_nums[2] = std::to_string(plan.seccomp_memfd >= 0 ? seccomp->flags : 0);
  static char name[] = "vsrv-exec";
  plan.trampoline_argv.assign(VSRV_TR_ARGV, nullptr);
  plan.trampoline_argv[VSRV_TR_NAME] = name;
  plan.trampoline_argv[VSRV_TR_FILTER_FD] = plan.trampoline_nums[0].data();
  plan.trampoline_argv[VSRV_TR_FILTER_LEN] = plan.trampoline_nums[1].data();
  plan.trampoline_argv[VSRV_TR_FILTER_FLAGS] = plan.trampoline_nums[2].data();
  plan.trampoline_nums[3] = std::to_string(plan.is_exec             ? -1
                                           : plan.exec_fifo_fd >= 0 ? plan.exec_fifo_fd
                                                                    : VSRV_TR_INIT_NO_FIFO);
  plan.trampoline_argv[VSRV_TR_FIFO_FD] = plan.trampoline_nums[3].data();
  plan.trampoline_argv.insert(plan.trampoline_argv.end(), plan.argv.begin(), plan.argv.end());  // with its null
  return {};
}


}  // namespace vsrv::runtime
