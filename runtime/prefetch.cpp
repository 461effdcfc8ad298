// runtime/prefetch.cpp: see prefetch.h.
#include "runtime/prefetch.h"

#include <fcntl.h>
#include <linux/futex.h>
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

alignas(16) char helper_stack[2][16 * 1024];
const char kLicense[] = "GPL";

[[noreturn]] void helper_main(void* arg) {
  auto* w = static_cast<Prefetch::Work*>(arg);
  // The program first: the cgroup limits, which attach it, come before the plan, which joins
  // the namespace.
  if (w->insns) {
    union bpf_attr load {};
    load.prog_type = BPF_PROG_TYPE_CGROUP_DEVICE;
    load.insns = reinterpret_cast<std::uint64_t>(w->insns);
    load.insn_cnt = w->insn_cnt;
    load.license = reinterpret_cast<std::uint64_t>(kLicense);
    w->prog_result = sys::raw_syscall(SYS_bpf, BPF_PROG_LOAD, reinterpret_cast<long>(&load), sizeof load);
    __atomic_store_n(&w->prog_done, 1, __ATOMIC_RELEASE);
    sys::raw_syscall(SYS_futex, reinterpret_cast<long>(&w->prog_done), FUTEX_WAKE_PRIVATE, 1);
  }
  if (w->netns) {
    long r = sys::raw_syscall(SYS_unshare, CLONE_NEWNET);
    if (r == 0)
      r = sys::raw_syscall(SYS_openat, AT_FDCWD, reinterpret_cast<long>("/proc/self/ns/net"), O_RDONLY | O_CLOEXEC);
    w->netns_result = r;
    __atomic_store_n(&w->netns_done, 1, __ATOMIC_RELEASE);
    sys::raw_syscall(SYS_futex, reinterpret_cast<long>(&w->netns_done), FUTEX_WAKE_PRIVATE, 1);
  }
  for (;;) sys::raw_syscall(SYS_exit, 0);
}

}  // namespace

bool Prefetch::netns_applies(const oci::Spec& spec) {
  if (!spec.linux) return false;
  bool new_net = false;
  for (const auto& n : spec.linux->namespaces) {
    if (n.type == "user") return false;
    if (n.type == "network" && n.path.empty()) new_net = true;
  }
  return new_net;
}

bool Prefetch::netns_likely(std::string_view text) {
  auto at = text.find("\"namespaces\"");
  auto open = at == std::string_view::npos ? at : text.find('[', at);
  auto close = open == std::string_view::npos ? open : text.find(']', open);
  if (close == std::string_view::npos) return false;
  std::string_view list = text.substr(open, close - open);
  if (list.find("\"user\"") != std::string_view::npos) return false;
  bool net = false;
  for (size_t pos = 0; (pos = list.find('{', pos)) != std::string_view::npos;) {
    size_t end = list.find('}', pos);
    if (end == std::string_view::npos) return false;
    std::string_view entry = list.substr(pos, end - pos);
    if (entry.find("\"network\"") != std::string_view::npos) {
      if (entry.find("\"path\"") != std::string_view::npos) return false;  // joined, or unclear
      net = true;
    }
    pos = end;
  }
  return net;
}

// Starts helper i on its work, never on our CPU: a new task may be queued behind us there (the
// other CPUs looked busier, say with the previous container's network namespace being torn
// down), and then runs only when we block waiting for it, which is no overlap at all.
void Prefetch::launch(int i) {
  pid_t p = sys::start_vm_helper(helper_main, &work_[i], helper_stack[i], sizeof helper_stack[i], CLONE_FILES);
  if (p > 0) helper_[i] = p;
  sys::keep_off_this_cpu(p);
}

void Prefetch::start_netns_early() {
#if defined(__SANITIZE_ADDRESS__)
  return;  // ASan tracks one stack per thread: no helper on a stack of ours
#endif
  if (netns_early_ || helper_[1] > 0 || sys::allowed_cpus() < 2) return;
  work_[1].netns = true;  // the namespace's slot when there are two helpers
  launch(1);
  netns_early_ = helper_[1] > 0;
  if (!netns_early_) work_[1].netns = false;
}

void Prefetch::start(const oci::Spec& spec, const std::vector<bpf_insn>* device_prog) {
#if defined(__SANITIZE_ADDRESS__)
  return;  // ASan tracks one stack per thread: no helper on a stack of ours
#endif
  bool net = netns_applies(spec), prog = device_prog && !device_prog->empty();
  int cpus = sys::allowed_cpus();
  if ((!net && !prog) || cpus < 2) return;  // nothing to overlap with
  // On two CPUs one helper would make both, one after the other (~0.75 ms here), while we reach
  // the plan in ~0.35: the namespace alone goes to the helper, and the cgroup manager loads the
  // program itself, on our CPU, meanwhile (measured: the wait for the helper goes, ~0.1 ms).
  if (net && prog && cpus < 3) prog = false;
  // A namespace made early is that helper (slot 1): only the program is left to start. (One
  // the config turns out not to want is closed unused by stop().)
  if (netns_early_) net = false;
  int n = net && prog ? 2 : 1;
  if (prog) {
    work_[0].insns = device_prog->data();
    work_[0].insn_cnt = static_cast<unsigned>(device_prog->size());
  }
  if (net) work_[n - 1].netns = true;
  for (int i = 0; i < n; ++i)
    if ((i == 0 && prog) || (i == n - 1 && net)) launch(i);
}

// Takes the program helper i loaded, once, if it is done.
void Prefetch::take_prog(Work& w) {
  if (w.insns && __atomic_load_n(&w.prog_done, __ATOMIC_ACQUIRE) && w.prog_result >= 0 && prog_fd_ < 0)
    prog_fd_ = static_cast<int>(w.prog_result);
  w.prog_result = -1;
}

// Takes what helper i left (after it exited), once.
void Prefetch::take(int i) {
  Work& w = work_[i];
  if (w.netns && w.netns_result >= 0 && netns_fd_ < 0) netns_fd_ = static_cast<int>(w.netns_result);
  w.netns_result = -1;
  take_prog(w);
}

void Prefetch::wait(int i) {
  if (helper_[i] <= 0) return;
  sys::reap(helper_[i]);
  helper_[i] = -1;
  take(i);
}

int Prefetch::netns_fd() {
  for (int i = 0; i < 2; ++i)
    if (work_[i].netns) wait(i);
  return netns_fd_;
}

int Prefetch::device_prog_fd() {
  Work& w = work_[0];
  if (helper_[0] > 0 && w.insns) {
    // Only the program: the namespace may still be in the making. A helper gone without a word
    // (killed) is noticed within a millisecond.
    struct timespec ms = {0, 1000000};
    while (!__atomic_load_n(&w.prog_done, __ATOMIC_ACQUIRE)) {
      ::syscall(SYS_futex, &w.prog_done, FUTEX_WAIT_PRIVATE, 0, &ms, nullptr, 0);
      if (!__atomic_load_n(&w.prog_done, __ATOMIC_ACQUIRE) && ::waitpid(helper_[0], nullptr, WNOHANG) == helper_[0]) {
        helper_[0] = -1;
        take(0);
        return prog_fd_;
      }
    }
    take_prog(w);
    return prog_fd_;
  }
  // No program asked for (a v1 host, or no device rules): nothing to wait for here; the
  // namespace is waited for where the plan needs it.
  if (!w.insns) return prog_fd_;
  wait(0);
  return prog_fd_;
}

const int* Prefetch::netns_done_word() const {
  for (int i = 0; i < 2; ++i)
    if (work_[i].netns && helper_[i] > 0) return &work_[i].netns_done;
  return nullptr;
}

void Prefetch::stop() {
  wait(0);
  wait(1);
  if (netns_fd_ >= 0) ::close(netns_fd_);
  if (prog_fd_ >= 0) ::close(prog_fd_);
  netns_fd_ = prog_fd_ = -1;
}

Prefetch::~Prefetch() { stop(); }

}  // namespace vsrv::runtime
