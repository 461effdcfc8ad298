// runtime/exec_guard.h: how `vsrv exec` keeps the host's vsrv binary out of the container's
// reach (the CVE-2019-5736 class), and the exec trampoline that lets it do so without a second
// start of vsrv. The argument, its conditions and the lock protocol: docs/security.md,
// "exec without a re-exec".
#pragma once
#include <optional>
#include <string>
#include <vector>

#include "config/oci_spec.h"
#include "runtime/plan.h"
#include "runtime/seccomp_build.h"
#include "runtime/state.h"
#include "runtime/sys/error.h"
#include "runtime/sys/fd.h"

namespace vsrv::runtime {

enum class ExecGuard {
  Direct,      // vsrv already runs from a sealed or read-only copy (or protection is off)
  Trampoline,  // the child stays vsrv until its last execve, which goes through the trampoline
  Reexec,      // re-execute vsrv from a read-only copy first, as create and run always do
};
const char* exec_guard_name(ExecGuard g) noexcept;

struct ExecGuardFacts {
  bool already_protected = false;  // /proc/self/exe is sealed or on a read-only mount
  bool disabled = false;           // VSRV_NO_CLONED_BINARY
  bool trampoline_built = false;   // this build has one (x86-64)
  bool own_userns = false;         // the container's processes live in their own user namespace
  bool init_may_reach = false;     // the init's bounding set holds a cap of caps_reach_host_binary
  bool earlier_exec_may_reach = false;  // <state dir>/exec-caps: an earlier exec's did (state.h)
  bool this_exec_may_reach = false;     // this exec's does
  bool early_filter_refuses_trampoline = false;  // a filter loaded before the uid switch (no
      // no_new_privs) also judges the trampoline's execveat and fcntl, and would not allow them
  bool suid_dumpable = false;  // fs.suid_dumpable != 0: the child's uid switch (commit_creds)
                               // would make it dumpable again, open to same-uid processes
  bool paused = false;  // exec --ignore-paused: the child freezes on joining the cgroup, and the
                        // lock held through the trampoline window would keep `resume` out
};

// A container's init (create, run): no container process exists while it is still vsrv (a new
// pid namespace, and `exec` refuses a container still "creating"; the trampoline says ChildReady
// itself, so "created" is recorded only once the init is the trampoline). What remains is the
// filter and the dumpable question, as for exec.
struct InitGuardFacts {
  bool already_protected = false;
  bool disabled = false;
  bool trampoline_built = false;
  bool new_pid_ns = false;  // linux.namespaces has "pid" without a path
  bool early_filter_refuses_trampoline = false;  // also judging its fifo wait and ChildReady
  bool suid_dumpable = false;
};
ExecGuard choose_init_guard(const InitGuardFacts& f) noexcept;

// Pure: which guard the facts allow (unit-tested). The trampoline needs that no process in the
// container can open /proc/<child>/exe of vsrv's child while it is still the host binary.
ExecGuard choose_exec_guard(const ExecGuardFacts& f) noexcept;

// True when `bounding` (OCI names) holds a capability that reaches a non-dumpable process's
// executable from another process of the host user namespace: CAP_SYS_PTRACE (/proc/PID/exe,
// /proc/PID/mem, process_vm_writev, pidfd_getfd), CAP_SYS_ADMIN or CAP_CHECKPOINT_RESTORE
// (/proc/PID/map_files). `present` false (no capabilities object: all caps are kept) is true.
bool caps_reach_host_binary(bool present, const std::vector<std::string>& bounding) noexcept;

// The trampoline's bytes as a sealed, executable memfd (write, grow, shrink and seal sealed).
// Fails where it is not built in or memfds may not be executed (vm.memfd_noexec).
Result<sys::unique_fd> trampoline_memfd();
bool trampoline_built() noexcept;

// The facts above for one `exec` (its process, the container's stored config, the plan, the
// compiled filter, the status), and the choice. Makes <state dir>/exec-caps (under the exclusive
// lock `lk` is upgraded to, before the process exists) when this exec grants a capability that
// reaches the host binary. On Trampoline, `trampoline` holds the sealed memfd. Logs the choice
// at debug level ("exec 'ID': guard trampoline").
Result<ExecGuard> choose_guard(const std::string& root, const std::string& id, const oci::Spec& spec,
                               const oci::Process& proc, const ChildPlan& plan,
                               const std::optional<SeccompProgram>& seccomp, Status status, const Lock& lk,
                               sys::unique_fd& trampoline);

// The same for a container's init (`create`, `run`), from its stored config and compiled filter.
Result<ExecGuard> choose_guard_for_init(const std::string& id, const oci::Spec& spec,
                                        const std::optional<SeccompProgram>& seccomp, sys::unique_fd& trampoline);

// Points the child's last execve at the trampoline: its argv (the child fills in its channel fd
// and the executable; an init's exec.fifo fd goes in too), and a late filter handed over in
// `filter_memfd` for the trampoline to load.
Result<void> arm_trampoline(ChildPlan& plan, const sys::unique_fd& trampoline,
                            const std::optional<SeccompProgram>& seccomp, sys::unique_fd& filter_memfd);

}  // namespace vsrv::runtime
