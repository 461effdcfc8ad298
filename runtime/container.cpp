// runtime/container.cpp: create, start, run, kill, delete (see container.h).
// create's order: validate everything that can be validated without side effects, then make the
// state dir (the lock), the cgroup, the fifo, and finally clone. Every later failure unwinds
// through Rollback, so a failed create leaves no dir, cgroup, mount or process behind.
#include "runtime/container.h"

#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <ctime>
#include <optional>

#include "config/oci_spec.h"
#include "config/passwd.h"
#include "config/validate.h"
#include "runtime/cgroup/hierarchy.h"
#include "runtime/cgroup/manager.h"
#include "runtime/cgroup/devices_bpf.h"
#include "runtime/cgroup/resources.h"
#include "runtime/cgroup_beside.h"
#include "runtime/control.h"
#include "runtime/exec_guard.h"
#include "runtime/hooks.h"
#include "runtime/launcher.h"
#include "runtime/prefetch.h"
#include "runtime/network_glue.h"
#include "runtime/seccomp_build.h"
#include "runtime/sys/cloned_binary.h"
#include "runtime/sys/log.h"
#include "runtime/sys/syscalls.h"
#include "runtime/terminal.h"

namespace vsrv::runtime {

namespace {

std::string now_rfc3339() {
  struct timespec ts;
  clock_gettime(CLOCK_REALTIME, &ts);
  return log::utc_rfc3339(ts);
}

std::string owner_name() {
  // root is root everywhere: nothing to read on the create path. Others: the host's /etc/passwd
  // with our own parser, never NSS (getpwuid would dlopen NSS modules, which a static vsrv
  // cannot do portably; runc also reads /etc/passwd itself).
  uid_t uid = ::geteuid();
  if (uid == 0) return "root";
  if (auto text = sys::read_file("/etc/passwd"); text)
    for (const auto& e : config::parse_passwd(*text))
      if (e.uid == uid) return e.name;
  return std::to_string(uid);
}

Result<std::string> absolute(const std::string& path, const std::string& what) {
  char buf[PATH_MAX];
  if (!::realpath(path.c_str(), buf)) return errno_error(what + " '" + path + "'");
  return std::string(buf);
}

// Undoes a partial create. Disarmed once the container exists.
struct Rollback {
  std::string root, id;
  // Owned here (not borrowed from create's locals, which are destroyed before this runs).
  std::optional<cgroup::Manager> cg;
  NetworkGlue* net = nullptr;
  pid_t pid = 0;
  sys::unique_fd pidfd;
  bool armed = true;
  ~Rollback() {
    if (!armed) return;
    if (pid > 0) kill_and_reap(pid, pidfd);
    if (net) (void)net->release();
    if (cg) (void)cg->destroy();
    (void)remove_dir(root, id);
  }
};

// Whether a mount of the config binds something from the host's cgroup tree, which may be the
// container's own cgroup: the plan then needs it made before the init is cloned.
bool binds_host_cgroup(const oci::Spec& spec) {
  for (const auto& m : spec.mounts)
    if (m.type != "cgroup" && m.type != "cgroup2" && m.source.rfind("/sys/fs/cgroup", 0) == 0) return true;
  return false;
}

Result<oci::Spec> spec_from_state(const State& st) {
  auto spec = oci::parse_spec(st.config_json);
  if (!spec) return forward(std::move(spec.error()), "stored config of '" + st.id + "'");
  return spec;
}

State hook_state(const State& st, Status status) {
  State s = st;
  s.status = status;
  return s;
}

// Opens a pidfd for the state's pid and checks it is still the same process (start time).
Result<sys::unique_fd> open_init(const State& st) {
  int fd = sys::pidfd_open(st.pid);
  if (fd < 0) return make_error(ESRCH, "container '" + st.id + "' is not running");
  sys::unique_fd pidfd(fd);
  auto t = sys::process_start_time(st.pid);
  if (!t || *t != st.start_time) return make_error(ESRCH, "container '" + st.id + "' is not running");
  return pidfd;
}

// OCI "seccomp listener": the notify fd goes to listenerPath together with the container
// process state (runtime-spec config-linux.md#seccomp, containerProcessState).
Result<void> send_seccomp_listener(const std::string& path, sys::borrowed_fd fd, const State& st,
                                   const std::string& metadata) {
  std::string msg = "{\"ociVersion\":\"1.2.0\",\"fds\":[\"seccompFd\"],\"pid\":" + std::to_string(st.pid) +
                    ",\"metadata\":\"" + log::json_escape(metadata) + "\",\"state\":" + oci_state_json(st) + "}";
  return send_fd_with(path, fd, msg).map_error([](Error e) { return std::move(e).wrap("seccomp listenerPath"); });
}

// The init is blocked opening exec.fifo for writing; our open lets it through, and its one byte
// tells us it is about to execve. If it died instead, the pidfd says so.
Result<void> release_init(const std::string& root, const std::string& id, sys::borrowed_fd pidfd) {
  std::string fifo = state_dir(root, id) + "/exec.fifo";
  auto fd = sys::open(fifo, O_RDONLY | O_NONBLOCK);
  if (!fd) return forward(std::move(fd.error()), "start");
  for (;;) {
    struct pollfd p[2] = {{fd->get(), POLLIN, 0}, {pidfd.get(), POLLIN, 0}};
    if (::poll(p, 2, -1) < 0) {
      if (errno == EINTR) continue;
      return errno_error("start: poll");
    }
    char c;
    if (p[0].revents & POLLIN) {
      if (::read(fd->get(), &c, 1) == 1) break;
    }
    if (p[1].revents & POLLIN) return fail("cannot start container '" + id + "': its init process exited");
    if (p[0].revents & POLLHUP) ::usleep(1000);
  }
  ::unlink(fifo.c_str());
  return {};
}

void wait_gone(sys::borrowed_fd pidfd, int ms) {
  struct pollfd p = {pidfd.get(), POLLIN, 0};
  while (::poll(&p, 1, ms) < 0 && errno == EINTR) {
  }
}

}  // namespace

Result<Created> create(const CreateOptions& o) {
  VSRV_TRY(validate_id(o.id));
  if (o.systemd_cgroup)
    return fail("--systemd-cgroup is not supported yet: vsrv manages cgroupfs directly; drop the flag");
  auto bundle = absolute(o.bundle.empty() ? "." : o.bundle, "bundle");
  if (!bundle) return forward(std::move(bundle.error()));
  auto text = sys::read_file(*bundle + "/config.json");
  if (!text) return forward(std::move(text.error()), "bundle");
  // The network namespace, the costliest object of a start, is begun on another CPU before the
  // config is even parsed when its text asks for one (runtime/prefetch.h). (The device program
  // is declared first: a helper loading it is waited for when `ahead` goes, before it does.)
  std::optional<std::vector<oci::DeviceRule>> devices;
  std::vector<bpf_insn> device_prog;
  Prefetch ahead;
  if (Prefetch::netns_likely(*text)) ahead.start_netns_early();
  auto spec = oci::parse_spec(*text);
  if (!spec) return forward(std::move(spec.error()), "config.json");
  VSRV_TRY(config::validate(*spec, *bundle));
  // The devices the cgroup will allow, and on a cgroup2 host their eBPF filter. The network
  // namespace (and, with three CPUs or more, the program) is made on another CPU while we check
  // and build the rest and make the state dir and cgroups (runtime/prefetch.h), started as soon
  // as the config is known to be valid.
  if (spec->linux && spec->linux->resources) {
    devices = cgroup::container_devices(spec->linux->resources->devices, spec->linux->devices);
    if (!devices->empty() && cgroup::unified_mounted()) device_prog = cgroup::device_filter(*devices);
  }
  ahead.start(*spec, &device_prog);
  std::string root_path = spec->root.path.empty() ? "rootfs" : spec->root.path;
  if (root_path[0] != '/') root_path = *bundle + "/" + root_path;
  auto rootfs = absolute(root_path, "root.path");
  if (!rootfs) return forward(std::move(rootfs.error()));
  const auto& proc = *spec->process;
  if (proc.terminal && o.console_socket.empty() && !o.foreground)
    return fail("process.terminal is true but no --console-socket was given (cannot detach a tty)");
  std::optional<SeccompProgram> seccomp;
  if (spec->linux && spec->linux->seccomp) {
    auto prog = build_seccomp(*spec->linux->seccomp);
    if (!prog) return forward(std::move(prog.error()));
    seccomp = std::move(*prog);
  }
  // The init's guard against the CVE-2019-5736 class (runtime/exec_guard.h), decided before
  // anything is made: the re-exec starts vsrv over.
  sys::unique_fd trampoline, filter_memfd;
  auto guard = choose_guard_for_init(o.id, *spec, seccomp, trampoline);
  if (!guard) return forward(std::move(guard.error()));
  if (*guard == ExecGuard::Reexec) {
    ahead.stop();  // its helpers share our memory and fd table: none may see the exec
    sys::reexec_protected();  // returns only if it could not (then carry on unprotected)
    log::debug("create '" + o.id + "': could not re-execute from a read-only copy of vsrv");
  }
  NetworkGlue net;
  VSRV_TRY(net.prepare(o.network, *spec, o.id, o.root));

  // --- from here on, everything made is undone by Rollback on failure ---
  auto lock = create_dir_locked(o.root, o.id);
  if (!lock) return forward(std::move(lock.error()));
  Rollback rb{o.root, o.id};
  std::string dir = state_dir(o.root, o.id);
  State st;
  st.id = o.id;
  st.bundle = *bundle;
  st.rootfs = *rootfs;
  st.created = now_rfc3339();
  st.owner = owner_name();
  st.annotations = spec->annotations;
  st.config_json = *text;

  // The cgroup is recorded (in the first save) before it is made, so a create killed between the
  // two still leaves delete --force what it needs to remove the directories. resolve() only reads.
  auto resolved = cgroup::Manager::resolve(spec->linux ? spec->linux->cgroups_path : "", o.id);
  if (!resolved) return forward(std::move(resolved.error()), "cgroup");
  cgroup::Manager* cg = &rb.cg.emplace(std::move(*resolved));
  st.cgroup = cg->to_json();
  // st.cgroup is serialized again only when what it records can have changed: the list of
  // directories this create made (all else is fixed by resolve()).
  std::vector<std::string> recorded = cg->created();
  auto record_cgroup = [&] {
    if (cg->created() == recorded) return false;
    st.cgroup = cg->to_json();
    recorded = cg->created();
    return true;
  };
  VSRV_TRY(save(o.root, st));
  log::step("create", o.id, "state saved");
  std::optional<oci::Resources> res;
  if (spec->linux && spec->linux->resources) {
    res = *spec->linux->resources;
    res->devices = std::move(*devices);
  }
  // The v1 directories and limits, on another CPU while we go on and the init sets up its
  // namespaces and first mounts (runtime/cgroup_beside.h); on two CPUs after the network
  // namespace, on that same CPU. Declared after rb: reaped before rb removes what it made.
  CgroupBeside beside;
  if (CgroupBeside::worthwhile() && !binds_host_cgroup(*spec))
    if (auto steps = cg->v1_steps(res ? &*res : nullptr)) {
      const int* after = sys::allowed_cpus() < 3 ? ahead.netns_done_word() : nullptr;
      if (!beside.start(*cg, std::move(*steps), after))
        log::debug("cgroup: no helper could start beside the init (a sanitizer build, or clone3 refused): made here");
    }
  VSRV_TRY(cg->make());
  log::step("create", o.id, "cgroup made");
  if (res) {
    cg->set_device_program(ahead.device_prog_fd());
    VSRV_TRYC(cg->apply(*res, /*fresh=*/cg->made_all()), "cgroup");
  }
  log::step("create", o.id, "limits written");
  // Saved again only if something changed since the first save: the directories make() found
  // made already (a concurrent create: only the list of those it made changes), or a network
  // lease to record.
  const bool cgroup_changed = record_cgroup();
  VSRV_TRY(net.allocate());
  rb.net = &net;
  st.network = net.to_json();
  if (cgroup_changed || !st.network.empty()) VSRV_TRY(save(o.root, st));

  const bool use_fifo = !o.start_at_once || !spec->hooks.start_container.empty();
  sys::unique_fd fifo_fd;
  if (use_fifo) {
    std::string fifo = dir + "/exec.fifo";
    // 0622: the init opens it for writing after switching to the container's user (and, in a
    // user namespace, as a uid that does not own the file); only root can open it for reading.
    if (::mkfifo(fifo.c_str(), 0622) < 0 || ::chmod(fifo.c_str(), 0622) < 0) return errno_error("mkfifo '" + fifo + "'");
    auto f = sys::open(fifo, O_PATH);
    if (!f) return forward(std::move(f.error()));
    fifo_fd = std::move(*f);
  }

  PlanInputs in;
  in.bundle = *bundle;
  in.rootfs = *rootfs;
  in.no_pivot = o.no_pivot;
  in.preserve_fds = o.preserve_fds;
  in.exec_fifo_fd = fifo_fd.get();
  in.cgroup_v2 = cg->v2_dirfd() >= 0;
  for (const auto& [ctrl, path] : cg->paths())
    if (ctrl != "unified" || in.cgroup_v2) in.cgroup_dirs.emplace_back(ctrl, path);
  if (const char* ns = ::getenv("NOTIFY_SOCKET"); ns && ns[0] == '/') in.notify_socket = ns;
  if (const char* lf = ::getenv("LISTEN_FDS"); lf) in.listen_fds = std::atoi(lf);
  in.extra_binds = net.bind_files();
  in.netns_fd = ahead.netns_fd();
  auto plan = build_plan(*spec, in);
  if (!plan) return forward(std::move(plan.error()));
  net.adjust_plan(*plan);
  // VSRV_CGROUP_TREE_DETACHED=0: the v1 cgroup tree mount by mount, as on kernels before 6.15
  // (runtime/child/mounts.cpp, mount_tree), for tests.
  if (const char* e = ::getenv("VSRV_CGROUP_TREE_DETACHED"); e && e[0] == '0' && !e[1])
    for (auto& m : plan->mounts) m.tree_binds = 0;
  plan->alive_handshake = plan->new_userns || net.attaches();
  plan->close_in_child.push_back(lock->fd());
  if (cgroup::opened_root_fd() >= 0) plan->close_in_child.push_back(cgroup::opened_root_fd());
  // The v2 cgroup dir fd is only for clone3 (CLONE_INTO_CGROUP): a host directory the
  // container's cwd must never reach through /proc/self/fd.
  if (cg->clone_into_fd() >= 0) plan->close_in_child.push_back(cg->clone_into_fd());
  plan->new_keyring = !o.no_new_keyring;
  plan->keyring_name = "_ses." + o.id;
  if (seccomp) {
    plan->seccomp_filter = seccomp->filter.data();
    plan->seccomp_len = static_cast<unsigned short>(seccomp->filter.size());
    plan->seccomp_flags = seccomp->flags;
    plan->seccomp_notify = seccomp->uses_notify;
  }
  if (*guard == ExecGuard::Trampoline) VSRV_TRY(arm_trampoline(*plan, trampoline, seccomp, filter_memfd));
  // The helper's outcome decides what the cgroup holds: wait for it here unless the init can
  // wait for it itself (it shares our memory), after the mounts that need no cgroup.
  auto helper_done = [&]() -> Result<void> {
    auto r = beside.wait();
    record_cgroup();
    if (!r) return forward(std::move(r.error()), "cgroup");
    return {};
  };
  const bool join_beside = beside.started() && child_shares_memory(*plan);
  if (beside.started() && !join_beside) {
    VSRV_TRY(helper_done());
    (void)beside.take_task_fds();  // the init joins through fds of ours (cgroup_tasks): no pidfd to inherit
  }
  std::vector<cgroup::Manager::TaskFile> tasks;
  if (join_beside) {
    // (Not "create '<id>': ...": bench/phases.py reads those lines as steps.)
    log::debug("cgroup: the v1 part of '" + o.id + "' is made beside the init, which joins it after its first mounts");
    if (beside.shared()->owner_pidfd >= 0 && !plan->new_userns)
      log::debug("cgroup: the init joins through the tasks files the helper opens (pidfd_getfd)");
    plan->cgroup_beside = beside.shared();
    for (const auto& t : beside.tasks()) plan->cgroup_tasks.push_back({-1, t});
  } else {
    auto t = cg->task_files();
    if (!t) return forward(std::move(t.error()), "cgroup");
    tasks = std::move(*t);
    for (const auto& f : tasks) plan->cgroup_tasks.push_back({f.fd.get(), f.path});
  }
  struct CloseOwned {
    std::vector<int>& fds;
    ~CloseOwned() {
      for (int fd : fds) ::close(fd);
    }
  } close_owned{plan->owned_fds};

  Created out;
  SpawnCallbacks cb;
  const oci::Linux* lx = spec->linux ? &*spec->linux : nullptr;
  pid_t child_pid = 0;
  cb.on_alive = [&](pid_t pid) -> Result<void> {
    child_pid = pid;
    if (plan->new_userns && lx) VSRV_TRY(write_id_maps(pid, lx->uid_mappings, lx->gid_mappings));
    VSRV_TRY(net.attach(pid));
    return {};
  };
  // NAT (nftables: ~10-20 ms, mostly closing its netlink socket) overlaps the child's mounts.
  cb.on_proceeded = [&](pid_t) -> Result<void> { return net.attach_nat(); };
  cb.on_hooks = [&](pid_t pid) -> Result<void> {
    State hs = hook_state(st, Status::Creating);
    hs.pid = pid;
    std::string js = oci_state_json(hs);
    VSRV_TRY(run_hooks(spec->hooks.prestart, "prestart", js));
    VSRV_TRY(run_hooks(spec->hooks.create_runtime, "createRuntime", js));
    VSRV_TRY(run_hooks(spec->hooks.create_container, "createContainer", js, pid));
    return {};
  };
  cb.on_console = [&](sys::unique_fd master) -> Result<void> {
    if (!o.console_socket.empty()) return send_console(o.console_socket, master);
    out.console = std::move(master);
    return {};
  };
  cb.on_seccomp_listener = [&](sys::unique_fd listener) -> Result<void> {
    State hs = hook_state(st, Status::Creating);
    hs.pid = child_pid;
    return send_seccomp_listener(lx->seccomp->listener_path, listener, hs, lx->seccomp->listener_metadata);
  };
  log::step("create", o.id, "plan built, cloning the init");
  auto sp = spawn(*plan, cg->clone_into_fd(), cb);
  // The init waited for the helper (or failed before it got there): reap the helper now. Its
  // error comes first, since the init stopped because of it.
  if (join_beside)
    if (auto h = helper_done(); !h) {
      if (sp) kill_and_reap(sp->pid, sp->pidfd);  // not reached: an init joins only a whole cgroup
      return forward(std::move(h.error()));
    }
  if (!sp) return forward(std::move(sp.error()));
  log::step("create", o.id, "init ready");
  rb.pid = sp->pid;
  rb.pidfd.reset(::fcntl(sp->pidfd.get(), F_DUPFD_CLOEXEC, 0));
  st.pid = sp->pid;
  auto t = sys::process_start_time(sp->pid);
  if (!t) return forward(std::move(t.error()));
  st.start_time = *t;
  st.status = Status::Created;
  if (!o.defer_created_save) VSRV_TRY(save(o.root, st));
  if (!o.pid_file.empty()) VSRV_TRYC(sys::write_file_atomic(o.pid_file, std::to_string(sp->pid), 0644), "pid file");
  rb.armed = false;
  out.state = st;
  out.pidfd = std::move(sp->pidfd);
  out.spec = std::make_shared<const oci::Spec>(std::move(*spec));
  out.fifo = use_fifo;
  out.cgroup = std::move(rb.cg);  // the manager itself: `run` removes through it, no from_json
  out.joined_fds = beside.take_task_fds();
  return out;
}

Result<void> start(const std::string& root, const std::string& id) {
  auto locked = lock_live(root, id);
  if (!locked) return forward(std::move(locked.error()));
  State& st = locked->st;
  if (st.status != Status::Created)
    return fail("cannot start container '" + id + "': it is " + status_name(st.status) + ", not created");
  auto spec = spec_from_state(st);
  if (!spec) return forward(std::move(spec.error()));
  return start_loaded(root, st, *spec);
}

Result<void> start_loaded(const std::string& root, State& st, const oci::Spec& spec, sys::borrowed_fd init, bool fifo) {
  sys::unique_fd opened;
  if (init.get() < 0) {
    auto p = open_init(st);
    if (!p) return forward(std::move(p.error()));
    opened = std::move(*p);
    init = opened;
  }
  if (fifo) {
    std::string js = oci_state_json(st);
    if (auto r = run_hooks(spec.hooks.start_container, "startContainer", js, st.pid); !r) {
      sys::pidfd_send_signal(init.get(), SIGKILL);
      return forward(std::move(r.error()));
    }
    VSRV_TRY(release_init(root, st.id, init));
  }
  st.status = Status::Running;
  VSRV_TRY(save(root, st));
  if (!spec.hooks.poststart.empty())
    if (auto r = run_hooks(spec.hooks.poststart, "poststart", oci_state_json(st)); !r) log::warn(r.error().message());
  return {};
}

Result<void> kill(const std::string& root, const std::string& id, int sig, bool all) {
  auto st = load_live(root, id);
  if (!st) return forward(std::move(st.error()));
  if (st->status == Status::Stopped || st->pid == 0) return fail("container '" + id + "' is not running");
  // A paused container keeps other signals pending until resume (runc does the same); SIGKILL
  // also thaws it, since a frozen process never gets to die.
  const bool thaw = st->status == Status::Paused && sig == SIGKILL;
  std::optional<cgroup::Manager> cg;
  if (all || thaw) {
    auto m = cgroup_of(*st);
    if (!m) return forward(std::move(m.error()));
    cg = std::move(*m);
  }
  if (all) {
    VSRV_TRY(cg->kill_all(sig));
  } else {
    auto pidfd = open_init(*st);
    if (!pidfd) return forward(std::move(pidfd.error()));
    if (sys::pidfd_send_signal(pidfd->get(), sig) < 0) return errno_error("kill container '" + id + "'");
  }
  if (thaw) return cg->freeze(false);
  return {};
}

Result<void> remove(const std::string& root, const std::string& id, bool force) {
  auto lk = lock(root, id);
  if (!lk) {
    if (force && lk.error().errnum == ENOENT) return {};  // runc: delete --force of no container is a no-op
    return forward(std::move(lk.error()));
  }
  auto st = load_live(root, id);
  if (!st) {
    if (!force) return forward(std::move(st.error()));
    return remove_dir(root, id);  // unreadable state: --force removes it anyway
  }
  std::optional<oci::Spec> spec;
  if (!st->config_json.empty())
    if (auto s = spec_from_state(*st); s) spec = std::move(*s);
  return remove_loaded(root, *st, spec ? &*spec : nullptr, force);
}

Result<void> remove_loaded(const std::string& root, const State& st, const oci::Spec* spec, bool force,
                          std::optional<cgroup::Manager> cg) {
  const std::string& id = st.id;
  if (!cg && !st.cgroup.empty()) {
    auto m = cgroup::Manager::from_json(st.cgroup);
    if (m) cg = std::move(*m);
  }
  if (st.status != Status::Stopped && st.pid > 0) {
    if (!force && st.status != Status::Created)
      return fail("cannot delete container '" + id + "' that is not stopped: " + status_name(st.status));
    if (cg && st.status == Status::Paused) (void)cg->freeze(false);
    if (auto pidfd = open_init(st); pidfd) {
      sys::pidfd_send_signal(pidfd->get(), SIGKILL);
      wait_gone(*pidfd, 5000);
    }
  }
  if (cg) {
    if (auto r = cg->destroy(); !r) return forward(std::move(r.error()), "delete '" + id + "'");
  }
  if (!st.network.empty()) {
    if (auto r = NetworkGlue::release_saved(st.network, id); !r) log::warn(r.error().message());
  }
  if (spec && !spec->hooks.poststop.empty()) {
    if (auto r = run_hooks(spec->hooks.poststop, "poststop", oci_state_json(hook_state(st, Status::Stopped))); !r)
      log::warn(r.error().message());
  }
  return remove_dir(root, id);
}

Result<std::vector<pid_t>> container_pids(const std::string& root, const std::string& id) {
  auto st = load_live(root, id);
  if (!st) return forward(std::move(st.error()));
  if (st->cgroup.empty()) return std::vector<pid_t>{};
  auto cg = cgroup_of(*st);
  if (!cg) return forward(std::move(cg.error()));
  return cg->pids();
}

}  // namespace vsrv::runtime
