// Unit tests for how spawn() clones the child (runtime/launcher.h): when it may share our memory
// (CLONE_VM|CLONE_VFORK), and sys::clone3_on_stack, the assembly that starts such a child on its
// own stack.
#include <gtest/gtest.h>
#include <linux/sched.h>
#include <signal.h>
#include <sys/mman.h>
#include <sys/wait.h>
#include <unistd.h>

#include <atomic>
#include <cerrno>
#include <cstdint>
#include <cstring>

#include "runtime/launcher.h"
#include "runtime/prefetch.h"
#include "runtime/sys/syscalls.h"

using namespace vsrv::runtime;

namespace {
ChildPlan shareable(bool exec) {
  ChildPlan p;
  p.is_exec = exec;
  p.alive_handshake = false;
  p.trampoline_fd = 7;
  return p;
}
}  // namespace

TEST(CanShareMemory, InitOrExecThroughTheTrampolineWithNothingToWaitFor) {
  EXPECT_TRUE(can_share_memory(shareable(false)));
  EXPECT_TRUE(can_share_memory(shareable(true)));
  ChildPlan p = shareable(false);
  p.terminal = true;  // ConsoleFd is one-way: it waits in the socket
  EXPECT_TRUE(can_share_memory(p));
}

TEST(CanShareMemory, NotWithoutTheTrampoline) {
  // Re-exec or direct: some container process may reach the child, and through it our memory.
  ChildPlan p = shareable(true);
  p.trampoline_fd = -1;
  EXPECT_FALSE(can_share_memory(p));
  p = shareable(false);
  p.trampoline_fd = -1;  // an init without it also waits on exec.fifo before its execve
  EXPECT_FALSE(can_share_memory(p));
}

TEST(CanShareMemory, NotWhenTheChildWaitsForTheParent) {
  ChildPlan p = shareable(false);
  p.alive_handshake = true;  // id maps or a network to make
  EXPECT_FALSE(can_share_memory(p));
  p = shareable(false);
  p.run_hooks_in_parent = true;  // HooksRequest / HooksDone
  EXPECT_FALSE(can_share_memory(p));
  p = shareable(true);
  p.seccomp_notify = true;  // its own calls could wait on a supervisor not yet told
  EXPECT_FALSE(can_share_memory(p));
}

namespace {
struct Shared {
  std::atomic<int> ran{0};
  std::uintptr_t sp = 0;
};
[[noreturn]] void child_fn(void* arg) {
  auto* s = static_cast<Shared*>(arg);
  int local = 0;
  s->sp = reinterpret_cast<std::uintptr_t>(&local);
  s->ran.store(42);
  _exit(3);
}
}  // namespace

TEST(Clone3OnStack, ChildRunsOnItsStackInOurMemoryAndWeWaitForItsExit) {
  constexpr size_t kSize = 256 * 1024;
  void* stack = ::mmap(nullptr, kSize, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_STACK, -1, 0);
  ASSERT_NE(stack, MAP_FAILED);
  Shared shared;
  struct clone_args args {};
  args.flags = CLONE_VM | CLONE_VFORK;
  args.exit_signal = SIGCHLD;
  args.stack = reinterpret_cast<std::uint64_t>(stack);
  args.stack_size = kSize;
  pid_t pid = vsrv::sys::clone3_on_stack(&args, child_fn, &shared);
#if defined(__x86_64__)
  ASSERT_GT(pid, 0) << std::strerror(errno);
  // CLONE_VFORK: by the time clone3 returns, the child has exited, and its write is ours (CLONE_VM).
  EXPECT_EQ(shared.ran.load(), 42);
  auto base = reinterpret_cast<std::uintptr_t>(stack);
  EXPECT_GT(shared.sp, base);
  EXPECT_LT(shared.sp, base + kSize);
  int status = 0;
  ASSERT_EQ(::waitpid(pid, &status, 0), pid);
  ASSERT_TRUE(WIFEXITED(status));
  EXPECT_EQ(WEXITSTATUS(status), 3);
#else
  EXPECT_EQ(pid, -1);
  EXPECT_EQ(errno, ENOSYS);
#endif
  ::munmap(stack, kSize);
}

TEST(Clone3OnStack, FailureIsMinusOneWithErrno) {
  struct clone_args args {};
  args.flags = CLONE_VM | CLONE_VFORK;
  args.exit_signal = SIGCHLD;
  args.flags |= CLONE_THREAD;  // CLONE_THREAD without CLONE_SIGHAND is always EINVAL
  pid_t pid = vsrv::sys::clone3_on_stack(&args, child_fn, nullptr);
  EXPECT_EQ(pid, -1);
#if defined(__x86_64__)
  EXPECT_EQ(errno, EINVAL);
#endif
}

TEST(Prefetch, NetnsOnlyForAFreshNetworkNamespaceWithoutAUserNamespace) {
  vsrv::oci::Spec s;
  s.linux = vsrv::oci::Linux{};
  s.linux->namespaces = {{"pid", ""}, {"mount", ""}, {"network", ""}};
  EXPECT_TRUE(Prefetch::netns_applies(s));
  s.linux->namespaces[2].path = "/run/netns/x";
  EXPECT_FALSE(Prefetch::netns_applies(s));  // joined, not made
  s.linux->namespaces[2].path.clear();
  s.linux->namespaces.push_back({"user", ""});
  EXPECT_FALSE(Prefetch::netns_applies(s));  // it would belong to the wrong user namespace
  s.linux.reset();
  EXPECT_FALSE(Prefetch::netns_applies(s));
}

// The guess from config.json's text, before it is parsed: a fresh network namespace and no user
// namespace; anything joined, or unclear, says no (the usual start after parsing then applies).
TEST(Prefetch, NetnsGuessedFromTheConfigText) {
  EXPECT_TRUE(Prefetch::netns_likely(R"({"linux":{"namespaces":[{"type":"pid"},{"type": "network"},{"type":"mount"}]}})"));
  EXPECT_TRUE(Prefetch::netns_likely("{\"linux\": {\"namespaces\": [\n  {\"type\": \"network\"}\n]}}"));
  EXPECT_FALSE(Prefetch::netns_likely(R"({"linux":{"namespaces":[{"type":"pid"},{"type":"mount"}]}})")) << "host network";
  EXPECT_FALSE(Prefetch::netns_likely(R"({"linux":{"namespaces":[{"type":"network","path":"/run/netns/x"}]}})")) << "joined";
  EXPECT_FALSE(Prefetch::netns_likely(R"({"linux":{"namespaces":[{"type":"user"},{"type":"network"}]}})"))
      << "it would belong to the wrong user namespace";
  EXPECT_FALSE(Prefetch::netns_likely(R"({"linux":{"namespaces":[{"type":"network"})")) << "truncated";
  EXPECT_FALSE(Prefetch::netns_likely(""));
  EXPECT_FALSE(Prefetch::netns_likely(R"({"annotations":{"network":"x"}})"));
}

#include <fcntl.h>
#include <sched.h>
#include <sys/stat.h>

#include "runtime/cgroup/devices_bpf.h"

namespace {

// What the helper makes ahead (runtime/prefetch.h): a network namespace of its own, and the
// device program only when there is a CPU to spare for it (three or more); stop() closes both.
TEST(Prefetch, MakesTheNamespaceAndTheProgramOnlyWithACpuToSpare) {
#if defined(__SANITIZE_ADDRESS__)
  GTEST_SKIP() << "a sanitizer build starts no helper (ASan tracks one stack per thread)";
#endif
  if (::geteuid() != 0) GTEST_SKIP() << "needs root: unshare(CLONE_NEWNET) and BPF_PROG_LOAD";
  const int cpus = vsrv::sys::allowed_cpus();
  if (cpus < 2) GTEST_SKIP() << "one CPU: nothing is made ahead";
  vsrv::oci::Spec s;
  s.linux = vsrv::oci::Linux{};
  s.linux->namespaces = {{"pid", ""}, {"network", ""}};
  vsrv::oci::DeviceRule all;
  all.allow = true;
  all.access = "rwm";
  std::vector<bpf_insn> prog = vsrv::cgroup::device_filter({all});
  Prefetch p;
  p.start(s, &prog);
  // The word CgroupBeside's helper waits on turns 1 once the namespace is made (a futex).
  const int* done = p.netns_done_word();
  ASSERT_NE(done, nullptr);
  for (int i = 0; i < 2000 && !__atomic_load_n(done, __ATOMIC_ACQUIRE); ++i) ::usleep(1000);
  EXPECT_EQ(__atomic_load_n(done, __ATOMIC_ACQUIRE), 1);
  const int prog_fd = p.device_prog_fd();
  if (cpus >= 3) {
    EXPECT_GE(prog_fd, 0) << "a helper of its own loads the program";
  } else {
    EXPECT_EQ(prog_fd, -1) << "on two CPUs the cgroup manager loads it";
  }
  const int ns = p.netns_fd();
  ASSERT_GE(ns, 0);
  struct stat mine {}, made {};
  ASSERT_EQ(::stat("/proc/self/ns/net", &mine), 0);
  ASSERT_EQ(::fstat(ns, &made), 0);
  EXPECT_NE(mine.st_ino, made.st_ino) << "a new namespace, not ours";
  EXPECT_EQ(::fcntl(ns, F_GETFD) & FD_CLOEXEC, FD_CLOEXEC);
  p.stop();
  EXPECT_EQ(::fcntl(ns, F_GETFD), -1) << "stop() closes what the helper made";
  if (prog_fd >= 0) {
    EXPECT_EQ(::fcntl(prog_fd, F_GETFD), -1);
  }
  EXPECT_EQ(p.netns_fd(), -1);
  EXPECT_EQ(p.netns_done_word(), nullptr) << "no helper left to wait for";
}

// A namespace started early is the one start() then uses: no second helper makes another.
TEST(Prefetch, ANamespaceStartedEarlyIsTheOneUsed) {
#if defined(__SANITIZE_ADDRESS__)
  GTEST_SKIP() << "a sanitizer build starts no helper (ASan tracks one stack per thread)";
#endif
  if (::geteuid() != 0) GTEST_SKIP() << "needs root: unshare(CLONE_NEWNET)";
  if (vsrv::sys::allowed_cpus() < 2) GTEST_SKIP() << "one CPU: nothing is made ahead";
  vsrv::oci::Spec s;
  s.linux = vsrv::oci::Linux{};
  s.linux->namespaces = {{"pid", ""}, {"network", ""}};
  Prefetch p;
  p.start_netns_early();
  ASSERT_NE(p.netns_done_word(), nullptr);
  p.start(s, nullptr);
  const int ns = p.netns_fd();
  ASSERT_GE(ns, 0);
  struct stat mine {}, made {};
  ASSERT_EQ(::stat("/proc/self/ns/net", &mine), 0);
  ASSERT_EQ(::fstat(ns, &made), 0);
  EXPECT_NE(mine.st_ino, made.st_ino);
  EXPECT_EQ(p.netns_done_word(), nullptr) << "one helper, reaped";
  p.stop();
  EXPECT_EQ(::fcntl(ns, F_GETFD), -1);
}

}  // namespace
