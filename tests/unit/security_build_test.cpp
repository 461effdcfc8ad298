// Unit tests for the parent-side security planners: capability names -> masks (runtime/caps.h)
// and OCI seccomp -> BPF (runtime/seccomp_build.h), including the filter's effect in a forked
// child (unprivileged: the child sets no_new_privs first).
#include <gtest/gtest.h>
#include <linux/capability.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "runtime/caps.h"
#include "runtime/child/seccomp_load.h"
#include "runtime/seccomp_build.h"

using namespace vsrv;
using namespace vsrv::runtime;

TEST(CapsPlan, NamesBecomeBits) {
  oci::Capabilities c;
  c.bounding = {"CAP_KILL", "CAP_NET_BIND_SERVICE"};
  c.effective = {"CAP_KILL"};
  auto s = plan_caps(c);
  ASSERT_TRUE(s) << s.error().message();
  EXPECT_EQ(s->bounding, (1ULL << CAP_KILL) | (1ULL << CAP_NET_BIND_SERVICE));
  EXPECT_EQ(s->effective, 1ULL << CAP_KILL);
  EXPECT_EQ(s->inheritable, 0u);
  EXPECT_EQ(s->ambient, 0u);
}

TEST(CapsPlan, UnknownNameNamesTheSet) {
  oci::Capabilities c;
  c.permitted = {"CAP_FOO"};
  auto s = plan_caps(c);
  ASSERT_FALSE(s);
  EXPECT_EQ(s.error().context, "process.capabilities.permitted: unknown capability 'CAP_FOO'");
}

TEST(CapsPlan, NamesRoundTrip) {
  EXPECT_EQ(cap_names((1ULL << CAP_CHOWN) | (1ULL << CAP_KILL)), (std::vector<std::string>{"CAP_CHOWN", "CAP_KILL"}));
}

namespace {
oci::Seccomp allow_all_but(const std::string& name, std::optional<uint32_t> ret = {}) {
  oci::Seccomp s;
  s.default_action = "SCMP_ACT_ALLOW";
  s.architectures = {"SCMP_ARCH_X86_64", "SCMP_ARCH_X86"};
  s.syscalls = {{{name}, "SCMP_ACT_ERRNO", ret, {}}};
  return s;
}
// Runs `body` in a forked child under `prog`; returns the child's exit status.
int under_filter(const SeccompProgram& prog, int (*body)()) {
  pid_t pid = fork();
  if (pid == 0) {
    prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0);
    if (load_seccomp(prog.filter.data(), static_cast<unsigned short>(prog.filter.size()), prog.flags, nullptr) < 0)
      _exit(100);
    _exit(body());
  }
  int st = 0;
  waitpid(pid, &st, 0);
  return WIFEXITED(st) ? WEXITSTATUS(st) : 200;
}
}  // namespace

TEST(SeccompBuild, ErrnoRuleTakesEffect) {
  auto prog = build_seccomp(allow_all_but("getcwd", 42));
  ASSERT_TRUE(prog) << prog.error().message();
  EXPECT_FALSE(prog->uses_notify);
  int rc = under_filter(*prog, [] {
    char buf[64];
    return (getcwd(buf, sizeof buf) == nullptr && errno == 42) ? 0 : 1;
  });
  EXPECT_EQ(rc, 0);
}

TEST(SeccompBuild, DefaultErrnoRetApplies) {
  oci::Seccomp s = allow_all_but("getcwd");
  s.default_errno_ret = 38;
  auto prog = build_seccomp(s);
  ASSERT_TRUE(prog);
  int rc = under_filter(*prog, [] {
    char buf[64];
    return (getcwd(buf, sizeof buf) == nullptr && errno == 38) ? 0 : 1;
  });
  EXPECT_EQ(rc, 0);
}

TEST(SeccompBuild, ArgumentFilter) {
  // personality(0xffffffff) (a query) is refused, every other personality() call allowed.
  oci::Seccomp s;
  s.default_action = "SCMP_ACT_ALLOW";
  s.syscalls = {{{"personality"}, "SCMP_ACT_ERRNO", 1, {{0, 0xffffffffULL, 0, "SCMP_CMP_EQ"}}}};
  auto prog = build_seccomp(s);
  ASSERT_TRUE(prog) << prog.error().message();
  int rc = under_filter(*prog, [] {
    long q = syscall(SYS_personality, 0xffffffffUL);
    if (!(q < 0 && errno == 1)) return 1;
    return syscall(SYS_personality, 0UL) >= 0 ? 0 : 2;
  });
  EXPECT_EQ(rc, 0);
}

TEST(SeccompBuild, NotifyIsDetected) {
  oci::Seccomp s;
  s.default_action = "SCMP_ACT_ALLOW";
  s.listener_path = "/tmp/x";
  s.syscalls = {{{"mkdir"}, "SCMP_ACT_NOTIFY", {}, {}}};
  auto prog = build_seccomp(s);
  ASSERT_TRUE(prog);
  EXPECT_TRUE(prog->uses_notify);
}

TEST(SeccompBuild, ErrorsNameTheField) {
  oci::Seccomp s;
  s.default_action = "SCMP_ACT_ALLOW";
  s.syscalls = {{{"getcwd"}, "SCMP_ACT_ALLOW", {}, {}}, {{"read"}, "SCMP_ACT_BOGUS", {}, {}}};
  auto prog = build_seccomp(s);
  ASSERT_FALSE(prog);
  EXPECT_EQ(prog.error().context, "linux.seccomp.syscalls[1].action: unknown action 'SCMP_ACT_BOGUS'");
  s.syscalls = {{{"read"}, "SCMP_ACT_ERRNO", {}, {{0, 1, 0, "SCMP_CMP_WHAT"}}}};
  auto p2 = build_seccomp(s);
  ASSERT_FALSE(p2);
  EXPECT_EQ(p2.error().context, "linux.seccomp.syscalls[0].args[0].op: unknown operator 'SCMP_CMP_WHAT'");
  s.syscalls.clear();
  s.architectures = {"SCMP_ARCH_Z80"};
  auto p3 = build_seccomp(s);
  ASSERT_FALSE(p3);
  EXPECT_NE(p3.error().context.find("linux.seccomp.architectures[0]"), std::string::npos);
}

TEST(SeccompBuild, UnknownSyscallNamesAreSkipped) {
  auto prog = build_seccomp(allow_all_but("no_such_syscall_xyz"));
  EXPECT_TRUE(prog);
}
