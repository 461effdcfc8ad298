// runtime/seccomp_build.cpp: libseccomp filter construction and BPF export (see seccomp_build.h).
#include "runtime/seccomp_build.h"

#include <linux/seccomp.h>
#include <seccomp.h>
#include <sys/mman.h>
#include <unistd.h>

#include <cerrno>
#include <memory>

#include "runtime/sys/fd.h"
#include "runtime/sys/syscalls.h"

namespace vsrv::runtime {

namespace {

struct CtxDeleter {
  void operator()(scmp_filter_ctx c) const { seccomp_release(c); }
};
using Ctx = std::unique_ptr<void, CtxDeleter>;

Result<uint32_t> action_of(const std::string& name, std::optional<uint32_t> errno_ret, uint32_t default_errno,
                           const std::string& field) {
  if (name == "SCMP_ACT_ALLOW") return SCMP_ACT_ALLOW;
  if (name == "SCMP_ACT_ERRNO") return SCMP_ACT_ERRNO(errno_ret.value_or(default_errno));
  if (name == "SCMP_ACT_KILL" || name == "SCMP_ACT_KILL_THREAD") return SCMP_ACT_KILL_THREAD;
  if (name == "SCMP_ACT_KILL_PROCESS") return SCMP_ACT_KILL_PROCESS;
  if (name == "SCMP_ACT_TRAP") return SCMP_ACT_TRAP;
  if (name == "SCMP_ACT_TRACE") return SCMP_ACT_TRACE(errno_ret.value_or(default_errno));
  if (name == "SCMP_ACT_LOG") return SCMP_ACT_LOG;
  if (name == "SCMP_ACT_NOTIFY") return SCMP_ACT_NOTIFY;
  return fail(field + ": unknown action '" + name + "'");
}

Result<scmp_compare> op_of(const std::string& op, const std::string& field) {
  if (op == "SCMP_CMP_NE") return SCMP_CMP_NE;
  if (op == "SCMP_CMP_LT") return SCMP_CMP_LT;
  if (op == "SCMP_CMP_LE") return SCMP_CMP_LE;
  if (op == "SCMP_CMP_EQ") return SCMP_CMP_EQ;
  if (op == "SCMP_CMP_GE") return SCMP_CMP_GE;
  if (op == "SCMP_CMP_GT") return SCMP_CMP_GT;
  if (op == "SCMP_CMP_MASKED_EQ") return SCMP_CMP_MASKED_EQ;
  return fail(field + ": unknown operator '" + op + "'");
}

Result<uint32_t> arch_of(const std::string& a, const std::string& field) {
  static const std::pair<const char*, uint32_t> t[] = {
      {"SCMP_ARCH_X86", SCMP_ARCH_X86},       {"SCMP_ARCH_X86_64", SCMP_ARCH_X86_64},
      {"SCMP_ARCH_X32", SCMP_ARCH_X32},       {"SCMP_ARCH_ARM", SCMP_ARCH_ARM},
      {"SCMP_ARCH_AARCH64", SCMP_ARCH_AARCH64}, {"SCMP_ARCH_MIPS", SCMP_ARCH_MIPS},
      {"SCMP_ARCH_MIPS64", SCMP_ARCH_MIPS64}, {"SCMP_ARCH_MIPS64N32", SCMP_ARCH_MIPS64N32},
      {"SCMP_ARCH_MIPSEL", SCMP_ARCH_MIPSEL}, {"SCMP_ARCH_MIPSEL64", SCMP_ARCH_MIPSEL64},
      {"SCMP_ARCH_MIPSEL64N32", SCMP_ARCH_MIPSEL64N32}, {"SCMP_ARCH_PPC", SCMP_ARCH_PPC},
      {"SCMP_ARCH_PPC64", SCMP_ARCH_PPC64},   {"SCMP_ARCH_PPC64LE", SCMP_ARCH_PPC64LE},
      {"SCMP_ARCH_S390", SCMP_ARCH_S390},     {"SCMP_ARCH_S390X", SCMP_ARCH_S390X},
      {"SCMP_ARCH_RISCV64", SCMP_ARCH_RISCV64},
  };
  for (auto [n, v] : t)
    if (a == n) return v;
  return fail(field + ": unknown architecture '" + a + "'");
}

}  // namespace

Result<SeccompProgram> build_seccomp(const oci::Seccomp& s) {
  SeccompProgram prog;
  const uint32_t default_errno = s.default_errno_ret.value_or(EPERM);
  auto def = action_of(s.default_action, s.default_errno_ret, EPERM, "linux.seccomp.defaultAction");
  if (!def) return forward(std::move(def.error()));
  Ctx ctx(seccomp_init(*def));
  if (!ctx) return fail("linux.seccomp: seccomp_init failed");
  // Filters must be usable without no_new_privs when the config does not set it; the child
  // loads them while it still has CAP_SYS_ADMIN in that case.
  seccomp_attr_set(ctx.get(), SCMP_FLTATR_CTL_NNP, 0);
  for (size_t i = 0; i < s.architectures.size(); ++i) {
    auto a = arch_of(s.architectures[i], "linux.seccomp.architectures[" + std::to_string(i) + "]");
    if (!a) return forward(std::move(a.error()));
    int rc = seccomp_arch_add(ctx.get(), *a);
    if (rc < 0 && rc != -EEXIST) return make_error(-rc, "linux.seccomp: add architecture " + s.architectures[i]);
  }
  for (const auto& f : s.flags) {
    if (f == "SECCOMP_FILTER_FLAG_LOG") {
      prog.flags |= SECCOMP_FILTER_FLAG_LOG;
      prog.log = true;
    } else if (f == "SECCOMP_FILTER_FLAG_SPEC_ALLOW") {
      prog.flags |= SECCOMP_FILTER_FLAG_SPEC_ALLOW;
    } else if (f == "SECCOMP_FILTER_FLAG_WAIT_KILLABLE_RECV") {
      prog.flags |= (1UL << 5);
    } else if (f != "SECCOMP_FILTER_FLAG_TSYNC") {
      return fail("linux.seccomp.flags: unknown flag '" + f + "'");
    }
  }
  for (size_t i = 0; i < s.syscalls.size(); ++i) {
    const auto& sc = s.syscalls[i];
    std::string field = "linux.seccomp.syscalls[" + std::to_string(i) + "]";
    auto act = action_of(sc.action, sc.errno_ret, default_errno, field + ".action");
    if (!act) return forward(std::move(act.error()));
    if (*act == SCMP_ACT_NOTIFY) prog.uses_notify = true;
    if (*act == *def) continue;  // libseccomp refuses rules equal to the default action
    std::vector<scmp_arg_cmp> cmps;
    for (size_t k = 0; k < sc.args.size(); ++k) {
      auto op = op_of(sc.args[k].op, field + ".args[" + std::to_string(k) + "].op");
      if (!op) return forward(std::move(op.error()));
      cmps.push_back(scmp_arg_cmp{sc.args[k].index, *op, sc.args[k].value, sc.args[k].value_two});
    }
    // Several comparisons on the same argument cannot be ANDed by libseccomp; runc then adds
    // one rule per comparison (an OR), and so do we.
    bool same_index = false;
    for (size_t a = 0; a < cmps.size(); ++a)
      for (size_t b = a + 1; b < cmps.size(); ++b) same_index |= cmps[a].arg == cmps[b].arg;
    for (const auto& name : sc.names) {
      int nr = seccomp_syscall_resolve_name(name.c_str());
      if (nr == __NR_SCMP_ERROR) continue;  // unknown to this libseccomp: skipped, as runc does
      int rc;
      if (same_index) {
        rc = 0;
        for (const auto& c : cmps) {
          rc = seccomp_rule_add_exact_array(ctx.get(), *act, nr, 1, &c);
          if (rc < 0) break;
        }
      } else {
        rc = seccomp_rule_add_exact_array(ctx.get(), *act, nr, static_cast<unsigned>(cmps.size()), cmps.data());
      }
      // -EEXIST/-EDOM: a multiplexed or arch-specific syscall libseccomp cannot place exactly;
      // retry without the "exact" requirement.
      if (rc < 0) rc = seccomp_rule_add_array(ctx.get(), *act, nr, static_cast<unsigned>(cmps.size()), cmps.data());
      if (rc < 0) return make_error(-rc, field + ": add rule for '" + name + "'");
    }
  }
  // Export into a memfd, then copy the instructions out for the child.
  int mfd = ::memfd_create("vsrv-seccomp", MFD_CLOEXEC);
  if (mfd < 0) return errno_error("linux.seccomp: memfd_create");
  sys::unique_fd fd(mfd);
  int rc = seccomp_export_bpf(ctx.get(), fd.get());
  if (rc < 0) return make_error(-rc, "linux.seccomp: export BPF");
  off_t len = ::lseek(fd.get(), 0, SEEK_END);
  if (len <= 0 || len % sizeof(struct sock_filter)) return fail("linux.seccomp: bad BPF program size");
  prog.filter.resize(static_cast<size_t>(len) / sizeof(struct sock_filter));
  if (::pread(fd.get(), prog.filter.data(), static_cast<size_t>(len), 0) != len) return errno_error("linux.seccomp: read BPF");
  if (prog.filter.size() > 0xffff) return fail("linux.seccomp: program too long");
  return prog;
}

}  // namespace vsrv::runtime
