// Unit tests for the user-space seccomp evaluator (runtime/seccomp_eval.h): filters built by
// libseccomp from OCI profiles, with each answer checked against what the kernel does when the
// same filter is loaded.
#include <gtest/gtest.h>
#include <fcntl.h>
#include <linux/audit.h>
#include <sys/prctl.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include "runtime/child/seccomp_load.h"
#include "runtime/seccomp_build.h"
#include "runtime/seccomp_eval.h"

using namespace vsrv;
using namespace vsrv::runtime;

namespace {
oci::Seccomp profile(const std::string& deflt, std::vector<oci::SeccompSyscall> rules) {
  oci::Seccomp s;
  s.default_action = deflt;
  s.architectures = {"SCMP_ARCH_X86_64", "SCMP_ARCH_X86"};
  s.syscalls = std::move(rules);
  return s;
}
const std::vector<std::uint64_t> kFds = {3, 255}, kPtrs = {0x1000, 0x7ffffffff000};
bool trampoline_ok(const SeccompProgram& p) {
  return seccomp_allows(p.filter, SYS_execveat, {kFds, kPtrs, kPtrs, kPtrs, {AT_EMPTY_PATH}}) &&
         seccomp_allows(p.filter, SYS_fcntl, {kFds, {F_SETFD}, {FD_CLOEXEC}});
}
// What the kernel answers to fcntl(fd, F_SETFD, FD_CLOEXEC) under `p`: 0 allowed, else errno.
int kernel_fcntl(const SeccompProgram& p) {
  pid_t pid = fork();
  if (pid == 0) {
    prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0);
    if (load_seccomp(p.filter.data(), static_cast<unsigned short>(p.filter.size()), p.flags, nullptr) < 0) _exit(100);
    // exit_group directly: a sanitizer's _exit hook would make calls the filter refuses.
    syscall(SYS_exit_group, fcntl(0, F_SETFD, FD_CLOEXEC) == 0 ? 0 : errno);
  }
  int st = 0;
  waitpid(pid, &st, 0);
  return WIFEXITED(st) ? WEXITSTATUS(st) : 200;
}
}  // namespace

TEST(SeccompEval, AllowListWithTheCallsAllowsTheTrampoline) {
  // Like the engines' default profiles: deny by default, allow a list holding both calls.
  auto p = build_seccomp(profile("SCMP_ACT_ERRNO", {{{"execve", "execveat", "fcntl", "exit_group", "write"}, "SCMP_ACT_ALLOW", {}, {}}}));
  ASSERT_TRUE(p) << p.error().message();
  EXPECT_TRUE(trampoline_ok(*p));
  EXPECT_EQ(kernel_fcntl(*p), 0);
}

TEST(SeccompEval, ProfileWithoutExecveatRefusesTheTrampoline) {
  auto p = build_seccomp(profile("SCMP_ACT_ERRNO", {{{"execve", "fcntl", "exit_group", "write"}, "SCMP_ACT_ALLOW", {}, {}}}));
  ASSERT_TRUE(p);
  EXPECT_FALSE(trampoline_ok(*p));
  EXPECT_TRUE(seccomp_allows(p->filter, SYS_execve, {}));
  EXPECT_FALSE(seccomp_allows(p->filter, SYS_getpid, {}));
}

TEST(SeccompEval, DeniedFcntlMatchesTheKernel) {
  auto p = build_seccomp(profile("SCMP_ACT_ALLOW", {{{"fcntl"}, "SCMP_ACT_ERRNO", 13, {}}}));
  ASSERT_TRUE(p);
  EXPECT_FALSE(trampoline_ok(*p));
  EXPECT_EQ(kernel_fcntl(*p), 13);
  std::uint32_t r = seccomp_eval(p->filter.data(), p->filter.size(),
                                 seccomp_data{SYS_fcntl, AUDIT_ARCH_X86_64, 0, {3, F_SETFD, FD_CLOEXEC}});
  EXPECT_EQ(r & SECCOMP_RET_ACTION_FULL, SECCOMP_RET_ERRNO);
  EXPECT_EQ(r & SECCOMP_RET_DATA, 13u);
}

TEST(SeccompEval, ArgumentConditionsAreFollowed) {
  // fcntl is refused only for F_SETFD: the evaluator must read args[1], as the kernel does.
  auto p = build_seccomp(profile("SCMP_ACT_ALLOW", {{{"fcntl"}, "SCMP_ACT_ERRNO", 1, {{1, F_SETFD, 0, "SCMP_CMP_EQ"}}}}));
  ASSERT_TRUE(p);
  EXPECT_FALSE(seccomp_allows(p->filter, SYS_fcntl, {kFds, {F_SETFD}, {FD_CLOEXEC}}));
  EXPECT_TRUE(seccomp_allows(p->filter, SYS_fcntl, {kFds, {F_GETFD}}));
  EXPECT_EQ(kernel_fcntl(*p), 1);
}

TEST(SeccompEval, AnswerDependingOnAPointerIsNotTrusted) {
  // execveat refused when its pathname pointer is above 0x10000: one of the tried values is.
  auto p = build_seccomp(profile("SCMP_ACT_ALLOW", {{{"execveat"}, "SCMP_ACT_ERRNO", 1, {{1, 0x10000, 0, "SCMP_CMP_GT"}}}}));
  ASSERT_TRUE(p);
  EXPECT_FALSE(trampoline_ok(*p));
}

TEST(SeccompEval, OtherArchitectureAndMalformedProgramsAreRefused) {
  auto p = build_seccomp(profile("SCMP_ACT_ALLOW", {}));
  ASSERT_TRUE(p);
  // A 32-bit caller is judged as another architecture; libseccomp lets x86 through here.
  std::uint32_t r = seccomp_eval(p->filter.data(), p->filter.size(), seccomp_data{11, 0x12345678u, 0, {}});
  EXPECT_NE(r & SECCOMP_RET_ACTION_FULL, SECCOMP_RET_ALLOW);  // unknown arch: libseccomp's bad-arch action
  // A jump past the end, an out-of-range load, and an empty program all deny.
  std::vector<sock_filter> bad = {BPF_JUMP(BPF_JMP | BPF_JA, 5, 0, 0), BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_ALLOW)};
  EXPECT_EQ(seccomp_eval(bad.data(), bad.size(), seccomp_data{}), SECCOMP_RET_KILL_PROCESS);
  std::vector<sock_filter> load = {BPF_STMT(BPF_LD | BPF_W | BPF_ABS, 200), BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_ALLOW)};
  EXPECT_EQ(seccomp_eval(load.data(), load.size(), seccomp_data{}), SECCOMP_RET_KILL_PROCESS);
  EXPECT_EQ(seccomp_eval(nullptr, 0, seccomp_data{}), SECCOMP_RET_KILL_PROCESS);
}
