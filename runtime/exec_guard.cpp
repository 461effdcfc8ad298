// runtime/exec_guard.cpp: the choice of exec guard and the trampoline memfd (exec_guard.h).
#include "runtime/exec_guard.h"

#include <fcntl.h>
#include <sys/mman.h>
#include <unistd.h>

#include <algorithm>
#include <cstdint>

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
  const unsigned char* p = vsrv_trampoline_start;
  size_t left = static_cast<size_t>(vsrv_trampoline_end - vsrv_trampoline_start);
  while (left > 0) {
    ssize_t n = ::write(m.get(), p, left);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) return errno_error("exec trampoline: write");
    p += n;
    left -= static_cast<size_t>(n);
  }
  // Sealed: neither the container (through /proc/<pid>/exe) nor anything else can change it.
  if (::fcntl(m.get(), F_ADD_SEALS, F_SEAL_SEAL | F_SEAL_SHRINK | F_SEAL_GROW | F_SEAL_WRITE) < 0)
    return errno_error("exec trampoline: seal");
  return m;
}

}  // namespace vsrv::runtime
