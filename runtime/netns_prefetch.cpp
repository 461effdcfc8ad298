// runtime/netns_prefetch.cpp: see netns_prefetch.h.
#include "runtime/netns_prefetch.h"

#include <fcntl.h>
#include <linux/sched.h>
#include <sched.h>
#include <signal.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <cstdint>

#include "runtime/sys/syscalls.h"

namespace vsrv::runtime {
namespace {

alignas(16) char helper_stack[16 * 1024];

[[noreturn]] void helper_main(void* arg) {
  auto* result = static_cast<long*>(arg);
  long r = sys::raw_syscall(SYS_unshare, CLONE_NEWNET);
  if (r == 0)
    r = sys::raw_syscall(SYS_openat, AT_FDCWD, reinterpret_cast<long>("/proc/self/ns/net"), O_RDONLY | O_CLOEXEC);
  *result = r;
  for (;;) sys::raw_syscall(SYS_exit, 0);
}

}  // namespace

bool NetnsPrefetch::applies(const oci::Spec& spec, int cpus) {
  if (cpus < 2 || !spec.linux) return false;
  bool new_net = false;
  for (const auto& n : spec.linux->namespaces) {
    if (n.type == "user") return false;
    if (n.type == "network" && n.path.empty()) new_net = true;
  }
  return new_net;
}

void NetnsPrefetch::start(const oci::Spec& spec) {
#if defined(__SANITIZE_ADDRESS__)
  return;  // ASan tracks one stack per thread: no helper on a stack of ours
#endif
  cpu_set_t set;
  int cpus = ::sched_getaffinity(0, sizeof set, &set) == 0 ? CPU_COUNT(&set) : 1;
  if (!applies(spec, cpus)) return;
  struct clone_args args {};
  args.flags = CLONE_VM | CLONE_FILES;
  args.exit_signal = SIGCHLD;
  args.stack = reinterpret_cast<std::uint64_t>(helper_stack);
  args.stack_size = sizeof helper_stack;
  pid_t p = sys::clone3_on_stack(&args, helper_main, &result_);
  if (p > 0) helper_ = p;
}

void NetnsPrefetch::wait() {
  if (helper_ <= 0) return;
  while (::waitpid(helper_, nullptr, 0) < 0 && errno == EINTR) {
  }
  helper_ = -1;
  if (result_ >= 0) fd_ = static_cast<int>(result_);
}

int NetnsPrefetch::fd() {
  wait();
  return fd_;
}

NetnsPrefetch::~NetnsPrefetch() {
  wait();
  if (fd_ >= 0) ::close(fd_);
}

}  // namespace vsrv::runtime
