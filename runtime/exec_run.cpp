// runtime/exec_run.cpp: `exec` (a new process in a running container) and the foreground side of
// `run` (wait, forward signals, tear down).
// exec joins the init's namespaces through a pidfd: pid (and time) by vsrv itself before clone3
// (they apply to children), the rest by the child in one setns. Security: vsrv makes itself
// non-dumpable before cloning, and the child inherits that until execve, so processes already
// inside the container cannot open /proc/<pid>/exe (the host vsrv binary) or /proc/<pid>/fd of
// the joining process; the last execve goes through the sealed trampoline, or vsrv re-executes
// from a read-only copy first (choose_guard; runtime/exec_guard.h): the CVE-2019-5736 class of
// binary-overwrite attacks.
#include <fcntl.h>
#include <poll.h>
#include <sched.h>
#include <signal.h>
#include <sys/prctl.h>
#include <sys/signalfd.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <cstring>

#include "config/oci_spec.h"
#include "config/passwd.h"
#include "runtime/caps.h"
#include "runtime/cgroup/hierarchy.h"
#include "runtime/cgroup/manager.h"
#include "runtime/container.h"
#include "runtime/exec_guard.h"
#include "runtime/sys/cloned_binary.h"
#include "runtime/launcher.h"
#include "runtime/mntns_handoff.h"
#include "runtime/save_behind.h"
#include "runtime/seccomp_build.h"
#include "runtime/sys/log.h"
#include "runtime/sys/rootfs.h"
#include "runtime/sys/syscalls.h"
#include "runtime/terminal.h"

namespace vsrv::runtime {

namespace {

constexpr int kForwarded[] = {SIGHUP, SIGINT, SIGQUIT, SIGTERM, SIGUSR1, SIGUSR2, SIGWINCH, SIGCONT, SIGALRM};

struct ForwardCtx {
  int pidfd;
};
void forward_signal(int sig, void* ctx) {
  sys::pidfd_send_signal(static_cast<ForwardCtx*>(ctx)->pidfd, sig);
}

int status_code(const siginfo_t& si) {
  if (si.si_code == CLD_EXITED) return si.si_status;
  return 128 + si.si_status;
}

Result<void> apply_user(const std::string& user, pid_t init_pid, oci::User& u) {
  if (user.empty()) return {};
  // Names resolve in the container's /etc/passwd and /etc/group, opened inside its root (never
  // the host's, never through NSS).
  auto root = sys::RootFs::open(("/proc/" + std::to_string(init_pid) + "/root").c_str());
  std::string passwd, group;
  if (root) {
    if (auto fd = root->open_at("/etc/passwd", O_RDONLY); fd)
      if (auto t = sys::read_fd(*fd); t) passwd = *t;
    if (auto fd = root->open_at("/etc/group", O_RDONLY); fd)
      if (auto t = sys::read_fd(*fd); t) group = *t;
  }
  auto r = config::resolve_user(user, passwd, group);
  if (!r) return forward(std::move(r.error()), "--user");
  u.uid = r->uid;
  u.gid = r->gid;
  u.additional_gids = r->additional_gids;
  return {};
}

// The init's namespaces, joined through one pidfd of it: the child enters all of its own in a
// single setns(pidfd, mask) (atomic, user namespace handled first by the kernel); pid and time
// are joined by the parent, for its child. Which to join comes from the stored config: a type it
// lists without a path is a namespace of the container's own; one with a path was joined at
// create and may be ours (then it is skipped: a second setns into our own user namespace is
// EINVAL), which readlink tells ("mnt:[4026531840]"; not stat, which makes and frees an nsfs
// inode per call).
Result<void> plan_joins(const oci::Spec& spec, pid_t pid, int pidfd, ChildPlan& p) {
  static const struct { const char* oci; const char* proc; int flag; } kinds[] = {
      {"user", "user", CLONE_NEWUSER}, {"mount", "mnt", CLONE_NEWNS},      {"uts", "uts", CLONE_NEWUTS},
      {"ipc", "ipc", CLONE_NEWIPC},    {"network", "net", CLONE_NEWNET},   {"cgroup", "cgroup", CLONE_NEWCGROUP},
      {"pid", "pid", CLONE_NEWPID},    {"time", "time", CLONE_NEWTIME}};
  if (!spec.linux) return {};
  auto same_as_ours = [&](const char* proc) {
    char theirs[64], ours[64];
    ssize_t a = ::readlink(("/proc/" + std::to_string(pid) + "/ns/" + proc).c_str(), theirs, sizeof theirs);
    ssize_t b = ::readlink((std::string("/proc/self/ns/") + proc).c_str(), ours, sizeof ours);
    return a > 0 && a == b && std::memcmp(theirs, ours, static_cast<size_t>(a)) == 0;
  };
  int child_mask = 0;
  std::vector<int> parent_types;
  for (const auto& ns : spec.linux->namespaces) {
    for (const auto& k : kinds) {
      if (ns.type != k.oci) continue;
      if (!ns.path.empty() && same_as_ours(k.proc)) break;
      if (k.flag == CLONE_NEWPID || k.flag == CLONE_NEWTIME)
        parent_types.push_back(k.flag);
      else
        child_mask |= k.flag;
      break;
    }
  }
  std::string what = "namespaces of pid " + std::to_string(pid);
  if (child_mask) p.joins.push_back(NsJoin{pidfd, child_mask, what});
  for (int t : parent_types) p.parent_joins.push_back(NsJoin{pidfd, t, what});
  return {};
}

void set_env(std::vector<std::string>& env, const std::string& kv) {
  auto eq = kv.find('=');
  std::string key = kv.substr(0, eq == std::string::npos ? kv.size() : eq + 1);
  for (auto& e : env)
    if (e.rfind(key, 0) == 0) {
      e = kv;
      return;
    }
  env.push_back(kv);
}

// `exec --cap`, as runc: bounding, effective and permitted; ambient only when the process has
// inheritable capabilities already (an ambient capability must be inheritable, and --cap adds
// none to that set: CVE-2022-29162).
void add_caps(oci::Capabilities& c, const std::vector<std::string>& caps) {
  std::vector<std::vector<std::string>*> sets = {&c.bounding, &c.effective, &c.permitted};
  if (!c.inheritable.empty()) sets.push_back(&c.ambient);
  for (auto* set : sets)
    for (const auto& cap : caps)
      if (std::find(set->begin(), set->end(), cap) == set->end()) set->push_back(cap);
}

}  // namespace

Result<int> wait_foreground(pid_t pid, sys::borrowed_fd pidfd, sys::borrowed_fd master) {
  sigset_t set;
  sigemptyset(&set);
  for (int s : kForwarded) sigaddset(&set, s);
  sigset_t old;
  ::sigprocmask(SIG_BLOCK, &set, &old);
  int sfd = ::signalfd(-1, &set, SFD_CLOEXEC);
  sys::unique_fd sigfd(sfd);
  ForwardCtx ctx{pidfd.get()};
  if (master.get() >= 0) {
    VSRV_TRY(attach_console(master, pidfd, sigfd, forward_signal, &ctx));
  } else {
    for (;;) {
      struct pollfd p[2] = {{pidfd.get(), POLLIN, 0}, {sigfd.get(), POLLIN, 0}};
      if (::poll(p, 2, -1) < 0) {
        if (errno == EINTR) continue;
        return errno_error("poll");
      }
      if (p[0].revents & POLLIN) break;
      if (p[1].revents & POLLIN) {
        struct signalfd_siginfo si;
        if (::read(sigfd.get(), &si, sizeof si) == sizeof si && si.ssi_signo != SIGWINCH)
          forward_signal(static_cast<int>(si.ssi_signo), &ctx);
      }
    }
  }
  siginfo_t si{};
  while (::waitid(P_PID, static_cast<id_t>(pid), &si, WEXITED) < 0)
    if (errno != EINTR) return errno_error("wait for container");
  ::sigprocmask(SIG_SETMASK, &old, nullptr);
  return status_code(si);
}

Result<int> run(const CreateOptions& o, bool detach, bool keep) {
  CreateOptions co = o;
  co.foreground = !detach;
  co.defer_created_save = true;  // start records "running" right after
  co.start_at_once = true;        // nothing waits for a `start`: no exec.fifo
  auto c = create(co);
  if (!c) return forward(std::move(c.error()));
  // create() left the container created and unlocked; start and remove it from what it
  // returned rather than reading state.json back (each step still takes the lock).
  auto under_lock = [&](auto&& step) -> Result<void> {
    auto lk = lock(o.root, o.id);
    if (!lk) return forward(std::move(lk.error()));
    return step();
  };
  // In the foreground with nothing to follow the save, "running" is written by a helper while
  // the program runs (runtime/save_behind.h); otherwise here, before we go on.
  SaveBehind behind;
  bool saved_behind = false;
  if (!detach && !c->fifo && c->spec->hooks.poststart.empty() && SaveBehind::worthwhile()) {
    auto lk = lock(o.root, o.id);
    if (!lk) {
      (void)remove(o.root, o.id, true);
      return forward(std::move(lk.error()));
    }
    State running = c->state;
    running.status = Status::Running;
    saved_behind = behind.start(state_file_path(o.root, o.id), state_file_text(running), lk->owned());
    if (saved_behind) c->state.status = Status::Running;
  }
  if (!saved_behind) {
    if (auto r = under_lock([&] { return start_loaded(o.root, c->state, *c->spec, c->pidfd, c->fifo); }); !r) {
      (void)remove(o.root, o.id, true);
      return forward(std::move(r.error()));
    }
  }
  log::step("run", o.id, "running");
  if (detach) return 0;
  MountNsHandoff mntns;  // declared before the removal below: its wait comes after it
  if (!keep && c->spec->linux &&
      std::any_of(c->spec->linux->namespaces.begin(), c->spec->linux->namespaces.end(),
                  [](const oci::Namespace& n) { return n.type == "mount" && n.path.empty(); }))
    mntns.hold(c->pidfd, c->state.pid);
  c->joined_fds.clear();  // released while the program runs, not on the way to it
  auto code = wait_foreground(c->state.pid, c->pidfd, c->console.get() >= 0 ? sys::borrowed_fd(c->console) : sys::borrowed_fd(-1));
  log::step("run", o.id, "init exited");
  mntns.release_in_helper();
  if (auto r = behind.wait(); !r) log::warn("run '" + o.id + "': could not record the running state: " + r.error().message());
  if (!keep) {
    c->state.status = Status::Stopped;  // the init has been reaped: nothing to kill, only to remove
    if (auto r = under_lock([&] { return remove_loaded(o.root, c->state, c->spec.get(), true, std::move(c->cgroup)); }); !r)
      log::warn(r.error().message());
    log::step("run", o.id, "removed");
  }
  mntns.wait();
  log::step("run", o.id, "mount namespace gone");
  return code;
}

Result<int> exec(const ExecOptions& o) {
  // Shared: held until the process has exec'd (or failed), so that no exec can give a process
  // the capabilities that reach vsrv's child while that child is still the host binary (the
  // trampoline window: exec_guard.h). Other execs share it; start, delete and the rest wait at
  // most for that window.
  auto lk = lock_shared(o.root, o.id);
  if (!lk) return forward(std::move(lk.error()));
  sys::unique_fd init_pidfd;
  auto st = load_live(o.root, o.id, &init_pidfd);
  if (!st) return forward(std::move(st.error()));
  if (st->status == Status::Paused && !o.ignore_paused)
    return fail("cannot exec in a paused container '" + o.id + "' (resume it, or pass --ignore-paused)");
  if (st->status != Status::Running && st->status != Status::Created && st->status != Status::Paused)
    return fail("cannot exec in container '" + o.id + "': it is " + status_name(st->status));
  auto spec = oci::parse_spec(st->config_json);
  if (!spec) return forward(std::move(spec.error()), "stored config");

  oci::Process proc;
  if (!o.process_file.empty()) {
    auto text = sys::read_file(o.process_file);
    if (!text) return forward(std::move(text.error()), "--process");
    auto wrapped = oci::parse_spec("{\"ociVersion\":\"1.2.0\",\"process\":" + *text + "}");
    if (!wrapped || !wrapped->process) return forward(std::move(wrapped.error()), "--process '" + o.process_file + "'");
    proc = *wrapped->process;
  } else {
    if (o.args.empty()) return fail("exec: no command given");
    proc = spec->process ? *spec->process : oci::Process{};
    proc.args = o.args;
    proc.terminal = o.tty;
    if (!o.cwd.empty()) proc.cwd = o.cwd;
    for (const auto& e : o.env) set_env(proc.env, e);
    VSRV_TRY(apply_user(o.user, st->pid, proc.user));
    for (auto gid : o.additional_gids)
      if (std::find(proc.user.additional_gids.begin(), proc.user.additional_gids.end(), gid) == proc.user.additional_gids.end())
        proc.user.additional_gids.push_back(gid);
    if (!o.add_caps.empty()) {
      if (!proc.capabilities) proc.capabilities = oci::Capabilities{};
      add_caps(*proc.capabilities, o.add_caps);
    }
    if (o.no_new_privs) proc.no_new_privileges = true;
  }
  if (proc.cwd.empty() || proc.cwd[0] != '/') return fail("exec: cwd '" + proc.cwd + "' must be absolute");
  if (proc.terminal && o.console_socket.empty() && o.detach)
    return fail("exec: --tty with --detach needs --console-socket");

  ChildPlan plan;
  plan.is_exec = true;
  plan.alive_handshake = false;
  plan.parent_pid = ::getpid();
  VSRV_TRY(plan_process(proc, plan));
  plan.finalize();
  plan.preserve_fds = o.preserve_fds;
  plan.last_cap = kernel_last_cap();
  VSRV_TRY(plan_joins(*spec, st->pid, init_pidfd.get(), plan));
  struct CloseOwned {
    std::vector<int>& fds;
    ~CloseOwned() {
      for (int fd : fds) ::close(fd);
    }
  } close_owned{plan.owned_fds};
  std::optional<SeccompProgram> seccomp;
  if (spec->linux && spec->linux->seccomp) {
    auto prog = build_seccomp(*spec->linux->seccomp);
    if (!prog) return forward(std::move(prog.error()));
    seccomp = std::move(*prog);
    plan.seccomp_filter = seccomp->filter.data();
    plan.seccomp_len = static_cast<unsigned short>(seccomp->filter.size());
    plan.seccomp_flags = seccomp->flags;
    // A second notify listener would have nobody to talk to: exec'd processes share the filter
    // semantics but not the listener.
    plan.seccomp_notify = false;
  }
  // How the host binary stays out of the container's reach (CVE-2019-5736 class): exec_guard.h.
  sys::unique_fd trampoline, filter_memfd;
  auto guard = choose_guard(o.root, o.id, *spec, proc, plan, seccomp, st->status, *lk, trampoline);
  if (!guard) return forward(std::move(guard.error()));
  if (*guard == ExecGuard::Reexec) {
    *lk = Lock{};  // the re-executed vsrv takes its own
    sys::reexec_protected();  // returns only if it could not (then carry on unprotected, as create)
    log::warn("exec '" + o.id + "': could not re-execute from a read-only copy of vsrv");
  }
  // Only the trampoline window needs the lock; the other guards never leave the host binary in
  // the container.
  if (*guard != ExecGuard::Trampoline) *lk = Lock{};
  // Held through the trampoline window by us, not by the child: the lock is a host directory's
  // fd, which must not reach the container (runtime/state.h).
  if (lk->fd() >= 0) plan.close_in_child.push_back(lk->fd());
  if (cgroup::opened_root_fd() >= 0) plan.close_in_child.push_back(cgroup::opened_root_fd());
  if (*guard == ExecGuard::Trampoline) VSRV_TRY(arm_trampoline(plan, trampoline, seccomp, filter_memfd));
  std::optional<cgroup::Manager> cg;
  std::vector<cgroup::Manager::TaskFile> tasks;
  if (!st->cgroup.empty()) {
    auto m = cgroup::Manager::from_json(st->cgroup);
    if (!m) return forward(std::move(m.error()));
    cg = std::move(*m);
    // Only for clone3: a host directory must not be reachable as the process's cwd.
    if (cg->clone_into_fd() >= 0) plan.close_in_child.push_back(cg->clone_into_fd());
    auto t = cg->task_files();
    if (!t) return forward(std::move(t.error()), "cgroup");
    tasks = std::move(*t);
    for (const auto& f : tasks) plan.cgroup_tasks.push_back({f.fd.get(), f.path});
  }
  // Inherited by the child until its execve: see the file comment.
  ::prctl(PR_SET_DUMPABLE, 0, 0, 0, 0);
  sys::unique_fd master;
  SpawnCallbacks cb;
  cb.on_console = [&](sys::unique_fd m) -> Result<void> {
    if (!o.console_socket.empty()) return send_console(o.console_socket, m);
    master = std::move(m);
    return {};
  };
  auto sp = spawn(plan, cg ? cg->clone_into_fd() : -1, cb);
  if (!sp) return forward(std::move(sp.error()), "exec");
  // ChildReady came just before execve: EOF now means execve succeeded (the socket is
  // close-on-exec); an Error message means it failed.
  if (auto w = sp->channel.recv(); w && w->type == Msg::Error) {
    kill_and_reap(sp->pid, sp->pidfd);
    return forward(error_from(*w), "exec");
  }
  *lk = Lock{};  // the window is over: the process runs the container's program
  if (!o.pid_file.empty()) VSRV_TRYC(sys::write_file_atomic(o.pid_file, std::to_string(sp->pid), 0644), "pid file");
  if (o.detach) return 0;
  return wait_foreground(sp->pid, sp->pidfd, master ? sys::borrowed_fd(master) : sys::borrowed_fd(-1));
}

}  // namespace vsrv::runtime
