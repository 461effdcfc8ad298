// runtime/launcher.cpp: clone3 + handshake (see launcher.h).
#include "runtime/launcher.h"

#include <fcntl.h>
#include <linux/sched.h>
#include <sched.h>
#include <signal.h>
#include <spawn.h>
#include <sys/mman.h>
#include <sys/wait.h>
#include <unistd.h>

#include <utility>
#include <vector>

#include "runtime/child/child_main.h"
#include "runtime/sys/log.h"
#include "runtime/sys/syscalls.h"

extern char** environ;

namespace vsrv::runtime {

void kill_and_reap(pid_t pid, sys::borrowed_fd pidfd) {
  if (pid <= 0) return;
  if (pidfd.get() >= 0)
    sys::pidfd_send_signal(pidfd.get(), SIGKILL);
  else
    ::kill(pid, SIGKILL);
  while (::waitpid(pid, nullptr, 0) < 0 && errno == EINTR) {
  }
}

static Result<void> run_idmap_tool(const char* tool, pid_t pid, const std::vector<oci::IdMapping>& maps) {
  std::vector<std::string> args = {tool, std::to_string(pid)};
  for (const auto& m : maps) {
    args.push_back(std::to_string(m.container_id));
    args.push_back(std::to_string(m.host_id));
    args.push_back(std::to_string(m.size));
  }
  std::vector<char*> argv;
  for (auto& a : args) argv.push_back(a.data());
  argv.push_back(nullptr);
  pid_t child;
  int rc = ::posix_spawnp(&child, tool, nullptr, nullptr, argv.data(), environ);
  if (rc != 0) return make_error(rc, std::string("run ") + tool);
  int status = 0;
  while (::waitpid(child, &status, 0) < 0)
    if (errno != EINTR) return errno_error(std::string("wait for ") + tool);
  if (!WIFEXITED(status) || WEXITSTATUS(status) != 0) return fail(std::string(tool) + " failed");
  return {};
}

Result<void> write_id_maps(pid_t pid, const std::vector<oci::IdMapping>& uids, const std::vector<oci::IdMapping>& gids) {
  auto text = [](const std::vector<oci::IdMapping>& maps) {
    std::string s;
    for (const auto& m : maps)
      s += std::to_string(m.container_id) + " " + std::to_string(m.host_id) + " " + std::to_string(m.size) + "\n";
    return s;
  };
  std::string base = "/proc/" + std::to_string(pid);
  if (::geteuid() == 0) {
    if (!uids.empty()) VSRV_TRYC(sys::write_file(base + "/uid_map", text(uids)), "write uid_map");
    if (!gids.empty()) VSRV_TRYC(sys::write_file(base + "/gid_map", text(gids)), "write gid_map");
    return {};
  }
  // Unprivileged: a single mapping of our own ids can be written directly once setgroups is
  // denied; anything larger needs the setuid helpers from shadow's uidmap package.
  bool self_only = uids.size() == 1 && uids[0].size == 1 && uids[0].host_id == ::geteuid() && gids.size() == 1 &&
                   gids[0].size == 1 && gids[0].host_id == ::getegid();
  if (self_only) {
    VSRV_TRYC(sys::write_file(base + "/setgroups", "deny"), "write setgroups");
    VSRV_TRYC(sys::write_file(base + "/uid_map", text(uids)), "write uid_map");
    VSRV_TRYC(sys::write_file(base + "/gid_map", text(gids)), "write gid_map");
    return {};
  }
  if (!uids.empty()) VSRV_TRY(run_idmap_tool("newuidmap", pid, uids));
  if (!gids.empty()) VSRV_TRY(run_idmap_tool("newgidmap", pid, gids));
  return {};
}

namespace {
// Blocks every signal for the lifetime of the object, so that the child (a copy of us) cannot
// run one of vsrv's handlers between clone3 and its own sigprocmask reset.
struct SignalBlock {
  sigset_t old;
  SignalBlock() {
    sigset_t all;
    sigfillset(&all);
    ::sigprocmask(SIG_SETMASK, &all, &old);
  }
  ~SignalBlock() { ::sigprocmask(SIG_SETMASK, &old, nullptr); }
};
// The child's own stack when it shares our memory (CLONE_VM): untouched pages cost nothing
// (MAP_NORESERVE), and a PROT_NONE page below turns an overflow into a fault, not a write into
// whatever the kernel mapped next to it. Mapped once and kept until vsrv exits: the child is
// vfork-style, so the stack is free again when clone3 returns, and an munmap then would cost a
// TLB shootdown to the CPU the child ran on (an IPI: a VM exit in a VM) on the start's path.
constexpr size_t kChildStackSize = 1 << 20, kChildStackGuard = 4096;
void* child_stack() {
  static void* const mapped = [] {
    void* b = ::mmap(nullptr, kChildStackSize, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE | MAP_STACK, -1, 0);
    if (b != MAP_FAILED && ::mprotect(b, kChildStackGuard, PROT_NONE) < 0) {
      ::munmap(b, kChildStackSize);
      b = MAP_FAILED;
    }
    return b == MAP_FAILED ? nullptr : b;
  }();
  return mapped;
}

struct VmChild {
  const ChildPlan* plan;
  Channel* ch;
  int parent_fd, procs_fd;
};

[[noreturn]] void vm_child_main(void* arg) {
  auto* c = static_cast<VmChild*>(arg);
  // Our copy of the parent's end, by number: the Channel object is the parent's memory.
  ::close(c->parent_fd);
  child::child_main(*c->plan, *c->ch, c->procs_fd);
}

#if defined(__SANITIZE_ADDRESS__)
constexpr bool kSanitizer = true;  // ASan tracks one stack per thread: keep the child a copy
#else
constexpr bool kSanitizer = false;
#endif

}  // namespace

bool can_share_memory(const ChildPlan& p) {
  // Only with the trampoline: its conditions (runtime/exec_guard.h) are what keep every process
  // in the container from reaching the child (ptrace, /proc/PID/mem), and so our memory.
  if (p.trampoline_fd < 0) return false;
  // CLONE_VFORK suspends us until the child's execve or exit, so the child must never wait for
  // us before then. One-way messages (ConsoleFd, ChildReady, Error) wait in the socket. A notify
  // filter is out: the child's own calls could block on a supervisor we have not yet handed the
  // listener to.
  return !p.alive_handshake && !p.run_hooks_in_parent && !p.seccomp_notify;
}

bool child_shares_memory(const ChildPlan& p) { return !kSanitizer && can_share_memory(p) && child_stack() != nullptr; }

Result<Spawned> spawn(const ChildPlan& plan, int cgroup_dirfd, const SpawnCallbacks& cb) {
  // A copy of us would never see the helper's word change, and wait for it forever.
  if (plan.cgroup_beside && !child_shares_memory(plan))
    return fail("internal error: a child waiting for its cgroup must share our memory");
  auto chans = Channel::pair();
  if (!chans) return forward(std::move(chans.error()));
  auto& [parent_ch, child_ch] = *chans;

  // pid and time namespaces apply to children: join them here, before clone3, and go back to
  // our own right after it, so nothing this process forks later (the nft helper, hook runners,
  // a sanitizer's tracer) is born inside the container's pid namespace.
  struct Restore {
    std::vector<std::pair<sys::unique_fd, int>> ns;
    void now() {
      for (auto& [fd, type] : ns) (void)::setns(fd.get(), type);
      ns.clear();
    }
    ~Restore() { now(); }
  } restore;
  for (const auto& j : plan.parent_joins) {
    const char* mine = j.nstype == CLONE_NEWPID ? "/proc/self/ns/pid_for_children" : "/proc/self/ns/time_for_children";
    int own = ::open(mine, O_RDONLY | O_CLOEXEC);
    if (own < 0) return errno_error(std::string("open '") + mine + "'");
    restore.ns.emplace_back(sys::unique_fd(own), j.nstype);
    if (::setns(j.fd, j.nstype) < 0) return errno_error("setns '" + j.path + "'");
  }

  int pidfd = -1;
  struct clone_args args {};
  args.flags = plan.clone_flags | CLONE_PIDFD;
  args.pidfd = reinterpret_cast<std::uint64_t>(&pidfd);
  args.exit_signal = SIGCHLD;
  if (cgroup_dirfd >= 0) {
    args.flags |= CLONE_INTO_CGROUP;
    args.cgroup = static_cast<std::uint64_t>(cgroup_dirfd);
  }
  if (sys::thread_count() != 1) return fail("internal error: clone3 needs a single-threaded vsrv");
  // The kernel's features, which the child's mounts ask for: probed here, once, not in the child
  // (a static's first initialisation takes a guard; its probes would be the child's syscalls).
  (void)sys::features();
  // Owns the v2 cgroup.procs fd of the fallback below until the child has it (close-on-exec).
  sys::unique_fd procs;
  // vfork-style when the child never waits for us: no copy of our page tables at clone3, none
  // to tear down at its execve, no copy-on-write faults on either side (0.15-0.25 ms a start
  // here). The child runs on its own stack in our memory while we are suspended; the child
  // layer allocates nothing and ends in execve or _exit (runtime/child/child_main.h).
  if (kSanitizer && can_share_memory(plan)) log::debug("spawn: the child is a copy: a sanitizer build shares no stacks");
  void* stack = child_shares_memory(plan) ? child_stack() : nullptr;
  VmChild vm{&plan, &child_ch, parent_ch.get(), -1};
  auto clone_child = [&]() {
    SignalBlock block;
    if (stack) {
      struct clone_args a = args;
      a.flags |= CLONE_VM | CLONE_VFORK;
      a.stack = reinterpret_cast<std::uint64_t>(stack);
      a.stack_size = kChildStackSize;
      vm.procs_fd = procs.get();
      pid_t p = sys::clone3_on_stack(&a, vm_child_main, &vm);
      if (p >= 0) log::debug("spawn: the child shared vsrv's memory until its execve (CLONE_VM|CLONE_VFORK)");
      if (p >= 0 || errno != ENOSYS || plan.cgroup_beside) return p;
      stack = nullptr;
    }
    pid_t p = sys::clone3_raw(&args);
    if (p == 0) {
      parent_ch.close();
      child::child_main(plan, child_ch, procs.get());  // [[noreturn]]
    }
    return p;
  };
  pid_t pid = clone_child();
  // An exec into a v2 cgroup at its pids.max: CLONE_INTO_CGROUP is a fork into that cgroup, which
  // the pids controller refuses (EAGAIN); a migration is not counted against pids.max. So, as
  // runc's exec (which migrates through cgroup.procs) does, the process is cloned where we are and
  // moves itself in first thing: an admin can still `exec` into a container whose processes hit
  // their limit (a fork bomb, say). Only for exec: a new init's cgroup is empty.
  if (pid < 0 && errno == EAGAIN && plan.is_exec && (args.flags & CLONE_INTO_CGROUP)) {
    int fd = ::openat(cgroup_dirfd, "cgroup.procs", O_WRONLY | O_CLOEXEC);
    if (fd < 0) return errno_error("exec: open cgroup.procs");
    procs.reset(fd);
    args.flags &= ~static_cast<std::uint64_t>(CLONE_INTO_CGROUP);
    args.cgroup = 0;
    pid = clone_child();
  }
  if (pid < 0) return errno_error("clone3");
  procs.reset();
  restore.now();
  child_ch.close();
  Spawned s;
  s.pid = pid;
  s.pidfd.reset(pidfd);

  auto drive = [&]() -> Result<void> {
    // Without id maps or a network for us to make once the namespaces exist (an exec joins
    // what exists), no ChildAlive/Proceed round trip (two wake-ups) either.
    if (plan.alive_handshake) {
      VSRV_TRYC(parent_ch.expect(Msg::ChildAlive).map([](auto&&) {}), "container init");
      if (cb.on_alive) VSRV_TRY(cb.on_alive(pid));
      VSRV_TRY(parent_ch.send(Msg::Proceed));
      if (cb.on_proceeded) VSRV_TRY(cb.on_proceeded(pid));
    }
    for (;;) {
      sys::unique_fd fd;
      auto w = parent_ch.recv(&fd);
      if (!w) return forward(std::move(w.error()), "container init");
      switch (w->type) {
        case Msg::HooksRequest:
          if (cb.on_hooks) VSRV_TRY(cb.on_hooks(pid));
          VSRV_TRY(parent_ch.send(Msg::HooksDone));
          break;
        case Msg::ConsoleFd:
          if (!fd) return fail("container init: ConsoleFd carried no fd");
          if (cb.on_console) VSRV_TRY(cb.on_console(std::move(fd)));
          break;
        case Msg::SeccompListener:
          if (!fd) return fail("container init: SeccompListener carried no fd");
          if (cb.on_seccomp_listener) VSRV_TRY(cb.on_seccomp_listener(std::move(fd)));
          break;
        case Msg::ChildReady:
          return {};
        case Msg::Error:
          return forward(error_from(*w));
        default:
          return make_error(EPROTO, std::string("container init: unexpected ") + msg_name(w->type));
      }
    }
  };
  if (auto r = drive(); !r) {
    kill_and_reap(pid, s.pidfd);
    return forward(std::move(r.error()));
  }
  s.channel = std::move(parent_ch);
  return s;
}

}  // namespace vsrv::runtime
