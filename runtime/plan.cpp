// runtime/plan.cpp: OciSpec -> ChildPlan. Pure translation plus the few host facts a plan needs
// (stat of bind sources, /proc/kcore, cap_last_cap). All validation errors name the config field.
// Namespace strategy: with no namespace joined by path, every new namespace is created by clone3
// itself (one syscall, the fast path). When some are joined, clone3 creates only the pid
// namespace; the child setns()es the joins (user first) and unshare()s the rest, so new
// namespaces are owned by the right user namespace (runc's nsexec order).
#include "runtime/plan.h"

#include <fcntl.h>
#include <sched.h>
#include <sys/mount.h>
#include <sys/personality.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cstring>
#include <map>

#include "runtime/caps.h"
#include "runtime/sys/syscalls.h"

namespace vsrv::runtime {

void ChildPlan::finalize() {
  argv.clear();
  envp.clear();
  for (auto& a : args_store) argv.push_back(a.data());
  argv.push_back(nullptr);
  for (auto& e : env_store) envp.push_back(e.data());
  envp.push_back(nullptr);
  exe = args_store.empty() ? std::string() : args_store[0];
  path_dirs.clear();
  std::string path = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin";
  for (auto& e : env_store)
    if (e.rfind("PATH=", 0) == 0) path = e.substr(5);
  size_t pos = 0;
  while (pos <= path.size()) {
    size_t end = path.find(':', pos);
    if (end == std::string::npos) end = path.size();
    std::string dir = path.substr(pos, end - pos);
    path_dirs.push_back(dir.empty() ? "." : dir);
    pos = end + 1;
  }
}

namespace {

struct MountFlag {
  const char* name;
  bool clear;
  unsigned long flag;
};
constexpr MountFlag kMountFlags[] = {
    {"ro", false, MS_RDONLY},        {"rw", true, MS_RDONLY},          {"nosuid", false, MS_NOSUID},
    {"suid", true, MS_NOSUID},       {"nodev", false, MS_NODEV},       {"dev", true, MS_NODEV},
    {"noexec", false, MS_NOEXEC},    {"exec", true, MS_NOEXEC},        {"sync", false, MS_SYNCHRONOUS},
    {"async", true, MS_SYNCHRONOUS}, {"dirsync", false, MS_DIRSYNC},   {"remount", false, MS_REMOUNT},
    {"mand", false, MS_MANDLOCK},    {"nomand", true, MS_MANDLOCK},    {"atime", true, MS_NOATIME},
    {"noatime", false, MS_NOATIME},  {"diratime", true, MS_NODIRATIME}, {"nodiratime", false, MS_NODIRATIME},
    {"relatime", false, MS_RELATIME}, {"norelatime", true, MS_RELATIME}, {"strictatime", false, MS_STRICTATIME},
    {"nostrictatime", true, MS_STRICTATIME},
};
constexpr std::pair<const char*, unsigned long> kPropagation[] = {
    {"private", MS_PRIVATE},   {"rprivate", MS_PRIVATE | MS_REC},       {"shared", MS_SHARED},
    {"rshared", MS_SHARED | MS_REC}, {"slave", MS_SLAVE},               {"rslave", MS_SLAVE | MS_REC},
    {"unbindable", MS_UNBINDABLE}, {"runbindable", MS_UNBINDABLE | MS_REC},
};

const std::map<std::string, int>& rlimit_table() {
  static const std::map<std::string, int> t = {
      {"RLIMIT_AS", RLIMIT_AS},         {"RLIMIT_CORE", RLIMIT_CORE},       {"RLIMIT_CPU", RLIMIT_CPU},
      {"RLIMIT_DATA", RLIMIT_DATA},     {"RLIMIT_FSIZE", RLIMIT_FSIZE},     {"RLIMIT_LOCKS", RLIMIT_LOCKS},
      {"RLIMIT_MEMLOCK", RLIMIT_MEMLOCK}, {"RLIMIT_MSGQUEUE", RLIMIT_MSGQUEUE}, {"RLIMIT_NICE", RLIMIT_NICE},
      {"RLIMIT_NOFILE", RLIMIT_NOFILE}, {"RLIMIT_NPROC", RLIMIT_NPROC},     {"RLIMIT_RSS", RLIMIT_RSS},
      {"RLIMIT_RTPRIO", RLIMIT_RTPRIO}, {"RLIMIT_RTTIME", RLIMIT_RTTIME},   {"RLIMIT_SIGPENDING", RLIMIT_SIGPENDING},
      {"RLIMIT_STACK", RLIMIT_STACK},
  };
  return t;
}

int ns_flag(const std::string& type) {
  if (type == "pid") return CLONE_NEWPID;
  if (type == "network") return CLONE_NEWNET;
  if (type == "mount") return CLONE_NEWNS;
  if (type == "ipc") return CLONE_NEWIPC;
  if (type == "uts") return CLONE_NEWUTS;
  if (type == "user") return CLONE_NEWUSER;
  if (type == "cgroup") return CLONE_NEWCGROUP;
  if (type == "time") return CLONE_NEWTIME;
  return 0;
}

bool under_proc(const std::string& dest) { return dest == "/proc" || dest.rfind("/proc/", 0) == 0; }

// Bind mounts over these /proc files are allowed (lxcfs and similar); anything else under /proc
// could hide the real procfs from the checks that guard /proc writes.
bool proc_bind_allowed(const std::string& dest) {
  static const char* const ok[] = {"/proc/cpuinfo", "/proc/diskstats", "/proc/meminfo", "/proc/stat",
                                   "/proc/swaps", "/proc/uptime", "/proc/loadavg", "/proc/slabinfo",
                                   "/proc/sys/kernel/ns_last_pid"};
  for (auto* p : ok)
    if (dest == p) return true;
  return false;
}

std::string clean_dest(const std::string& d) {
  std::string out;
  for (size_t i = 0; i < d.size(); ++i) {
    if (d[i] == '/' && !out.empty() && out.back() == '/') continue;
    out += d[i];
  }
  while (out.size() > 1 && out.back() == '/') out.pop_back();
  return out.empty() ? "/" : out;
}

Result<void> plan_mount(const oci::Mount& m, size_t idx, const PlanInputs& in, bool new_userns, bool new_netns,
                        ChildPlan& p) {
  std::string field = "mounts[" + std::to_string(idx) + "]";
  MountOp op;
  op.target = clean_dest(m.destination);
  op.fstype = m.type;
  op.source = m.source;
  std::string data;
  bool bind_opt = false;
  for (const auto& o : m.options) {
    if (o == "bind" || o == "rbind") {
      bind_opt = true;
      op.recursive |= (o == "rbind");
      continue;
    }
    bool matched = false;
    for (const auto& f : kMountFlags)
      if (o == f.name) {
        op.flags = f.clear ? (op.flags & ~f.flag) : (op.flags | f.flag);
        matched = true;
      }
    for (const auto& [name, flag] : kPropagation)
      if (o == name) {
        op.propagation = flag;
        matched = true;
      }
    if (matched || o == "tmpcopyup") continue;
    if (o == "idmap" || o == "ridmap") return fail(field + ".options: idmapped mounts are not supported yet");
    if (!data.empty()) data += ',';
    data += o;
  }
  op.data = data;
  op.bind = bind_opt || m.type == "bind";
  if (under_proc(op.target) && m.type != "proc" && !(op.bind && proc_bind_allowed(op.target)))
    return fail(field + ": mounting over '" + op.target + "' is not allowed (it would hide procfs)");

  if (op.bind) {
    if (op.source.empty()) return fail(field + ".source: a bind mount needs a source");
    if (op.source[0] != '/') op.source = in.bundle + "/" + op.source;
    struct stat st;
    if (::stat(op.source.c_str(), &st) < 0)
      return make_error(errno, field + ".source: '" + op.source + "'");
    op.source_is_file = !S_ISDIR(st.st_mode);
    op.fstype.clear();
    op.remount = (op.flags & (MS_RDONLY | MS_NOSUID | MS_NODEV | MS_NOEXEC)) != 0;
    p.mounts.push_back(std::move(op));
    return {};
  }
  if (m.type == "cgroup" || m.type == "cgroup2") {
    bool ro = op.flags & MS_RDONLY;
    if (in.cgroup_v2 || in.cgroup_dirs.empty()) {
      MountOp b;
      b.target = op.target;
      b.bind = true;
      b.recursive = true;
      b.source = in.cgroup_dirs.empty() ? "/sys/fs/cgroup" : in.cgroup_dirs.front().second;
      b.flags = op.flags | MS_NOSUID | MS_NODEV | MS_NOEXEC;
      b.remount = true;
      b.needs_cgroup = true;
      p.mounts.push_back(std::move(b));
      return {};
    }
    // v1 / hybrid: a tmpfs with one bind per hierarchy, each showing only the container's own
    // cgroup (as runc does without a cgroup namespace mount), then the tmpfs is made read-only.
    MountOp t;
    t.target = op.target;
    t.fstype = "tmpfs";
    t.source = "tmpfs";
    t.data = "mode=755";
    t.flags = MS_NOSUID | MS_NODEV | MS_NOEXEC;
    t.needs_cgroup = true;
    bool one_level = in.cgroup_dirs.size() < 0xffff;
    for (const auto& [name, dir] : in.cgroup_dirs)
      one_level = one_level && !name.empty() && name.find('/') == std::string::npos && name != "." && name != "..";
    if (one_level) t.tree_binds = static_cast<std::uint16_t>(in.cgroup_dirs.size());
    p.mounts.push_back(t);
    for (const auto& [name, dir] : in.cgroup_dirs) {
      MountOp b;
      b.target = op.target + "/" + name;
      b.source = dir;
      b.bind = true;
      b.flags = MS_NOSUID | MS_NODEV | MS_NOEXEC | (ro ? MS_RDONLY : 0);
      b.remount = true;
      b.needs_cgroup = true;
      p.mounts.push_back(std::move(b));
    }
    if (ro) {
      MountOp r;
      r.target = op.target;
      r.remount_only = true;
      r.flags = MS_RDONLY | MS_NOSUID | MS_NODEV | MS_NOEXEC;
      r.data = "mode=755";
      r.needs_cgroup = true;
      p.mounts.push_back(std::move(r));
    }
    return {};
  }
  if (m.type == "sysfs" && new_userns && !new_netns) {
    // sysfs can be mounted in a user namespace only together with a new network namespace;
    // fall back to a read-only recursive bind of the host's /sys, as runc does.
    MountOp b;
    b.target = op.target;
    b.source = "/sys";
    b.bind = b.recursive = true;
    b.flags = op.flags | MS_RDONLY | MS_NOSUID | MS_NODEV | MS_NOEXEC;
    b.remount = true;
    p.mounts.push_back(std::move(b));
    return {};
  }
  if (op.fstype.empty()) return fail(field + ".type: required for a non-bind mount");
  op.is_proc = m.type == "proc";
  if (op.source.empty()) op.source = op.fstype;
  if (m.type == "devpts" && op.target == "/dev/pts") p.dev_symlinks.emplace_back("pts/ptmx", "/dev/ptmx");
  p.mounts.push_back(std::move(op));
  return {};
}

void plan_devices(const oci::Spec& spec, bool userns, ChildPlan& p) {
  struct Def {
    const char* path;
    unsigned major, minor;
  };
  static const Def defaults[] = {{"/dev/null", 1, 3},    {"/dev/zero", 1, 5}, {"/dev/full", 1, 7},
                                 {"/dev/random", 1, 8},  {"/dev/urandom", 1, 9}, {"/dev/tty", 5, 0}};
  auto add = [&](DeviceOp d) {
    for (auto& e : p.devices)
      if (e.path == d.path) {
        e = d;
        return;
      }
    p.devices.push_back(std::move(d));
  };
  for (const auto& d : defaults) add(DeviceOp{d.path, 'c', d.major, d.minor, 0666, 0, 0, userns});
  if (spec.linux)
    for (const auto& d : spec.linux->devices) {
      DeviceOp op;
      op.path = clean_dest(d.path);
      op.type = d.type.empty() ? 'c' : (d.type[0] == 'u' ? 'c' : d.type[0]);
      op.major = static_cast<std::uint32_t>(d.major);
      op.minor = static_cast<std::uint32_t>(d.minor);
      op.mode = d.file_mode.value_or(0666);
      op.uid = d.uid.value_or(0);
      op.gid = d.gid.value_or(0);
      op.bind = userns;  // mknod is refused in a user namespace: bind the host node
      add(std::move(op));
    }
  p.dev_symlinks.emplace_back("/proc/self/fd", "/dev/fd");
  p.dev_symlinks.emplace_back("/proc/self/fd/0", "/dev/stdin");
  p.dev_symlinks.emplace_back("/proc/self/fd/1", "/dev/stdout");
  p.dev_symlinks.emplace_back("/proc/self/fd/2", "/dev/stderr");
  if (::access("/proc/kcore", F_OK) == 0) p.dev_symlinks.emplace_back("/proc/kcore", "/dev/core");
}

}  // namespace

Result<int> rlimit_resource(const std::string& name) {
  auto it = rlimit_table().find(name);
  if (it == rlimit_table().end()) return fail("unknown rlimit '" + name + "'");
  return it->second;
}

Result<void> plan_process(const oci::Process& proc, ChildPlan& p) {
  p.terminal = proc.terminal;
  if (proc.console_size) {
    p.console_rows = static_cast<unsigned short>(proc.console_size->height);
    p.console_cols = static_cast<unsigned short>(proc.console_size->width);
  }
  p.uid = proc.user.uid;
  p.gid = proc.user.gid;
  p.additional_gids.assign(proc.user.additional_gids.begin(), proc.user.additional_gids.end());
  if (proc.user.umask) {
    p.set_umask = true;
    p.umask = static_cast<mode_t>(*proc.user.umask);
  }
  p.cwd = proc.cwd.empty() ? "/" : proc.cwd;
  p.args_store = proc.args;
  p.env_store = proc.env;
  p.rlimits.clear();
  for (size_t i = 0; i < proc.rlimits.size(); ++i) {
    auto res = rlimit_resource(proc.rlimits[i].type);
    if (!res) return forward(std::move(res.error()), "process.rlimits[" + std::to_string(i) + "].type");
    p.rlimits.push_back({*res, proc.rlimits[i].soft, proc.rlimits[i].hard});
  }
  if (proc.oom_score_adj) {
    p.set_oom_score_adj = true;
    p.oom_score_adj = *proc.oom_score_adj;
  }
  p.set_caps = true;
  if (proc.capabilities) {
    auto caps = plan_caps(*proc.capabilities);
    if (!caps) return forward(std::move(caps.error()));
    p.caps = *caps;
  } else {
    p.caps = CapSets{};
  }
  p.no_new_privs = proc.no_new_privileges;
  return {};
}

Result<ChildPlan> build_plan(const oci::Spec& spec, const PlanInputs& in) {
  ChildPlan p;
  if (!spec.process) return fail("config.json: process: required to run a container");
  const oci::Linux empty_linux;
  const oci::Linux& lx = spec.linux ? *spec.linux : empty_linux;
  p.rootfs = in.rootfs;
  p.no_pivot = in.no_pivot;
  p.preserve_fds = in.preserve_fds + in.listen_fds;
  p.exec_fifo_fd = in.exec_fifo_fd;
  p.parent_pid = ::getpid();
  p.readonly_root = spec.root.readonly;

  // --- namespaces ---
  unsigned long fresh = 0;
  bool any_join = false;
  for (const auto& ns : lx.namespaces) {
    int flag = ns_flag(ns.type);
    if (!flag) return fail("linux.namespaces: unknown namespace type '" + ns.type + "'");
    if (ns.path.empty()) {
      fresh |= static_cast<unsigned long>(flag);
      continue;
    }
    int fd = ::open(ns.path.c_str(), O_RDONLY | O_CLOEXEC);
    if (fd < 0) return make_error(errno, "linux.namespaces: open '" + ns.path + "'");
    p.owned_fds.push_back(fd);
    NsJoin j{fd, flag, ns.path};
    if (flag == CLONE_NEWPID || flag == CLONE_NEWTIME) {
      p.parent_joins.push_back(j);
    } else if (flag == CLONE_NEWUSER) {
      p.joins.insert(p.joins.begin(), j);
      any_join = true;
    } else {
      p.joins.push_back(j);
      any_join = true;
    }
  }
  if ((fresh & CLONE_NEWNET) && in.netns_fd >= 0 && !(fresh & CLONE_NEWUSER)) {
    // Made ahead, in our user namespace (which is the container's: it has none of its own).
    // Joined like a path: the order of joins matters only for user namespaces, so the rest is
    // still cloned fresh.
    fresh &= ~static_cast<unsigned long>(CLONE_NEWNET);
    p.joins.push_back(NsJoin{in.netns_fd, CLONE_NEWNET, "network namespace made ahead"});
    p.netns_prefetched = true;
  }
  p.new_userns = fresh & CLONE_NEWUSER;
  p.unshare_cgroup = fresh & CLONE_NEWCGROUP;
  p.unshare_time = fresh & CLONE_NEWTIME;
  unsigned long base = fresh & (CLONE_NEWUSER | CLONE_NEWNS | CLONE_NEWNET | CLONE_NEWIPC | CLONE_NEWUTS);
  if (any_join) {
    p.clone_flags = fresh & CLONE_NEWPID;
    p.unshare_flags = base;
  } else {
    p.clone_flags = base | (fresh & CLONE_NEWPID);
  }
  if (!(fresh & CLONE_NEWNS)) return fail("linux.namespaces: a new mount namespace is required");
  for (const auto& [clock, off] : lx.time_offsets)
    p.timens_offsets += clock + " " + std::to_string(off.secs) + " " + std::to_string(off.nanosecs) + "\n";

  // --- process ---
  VSRV_TRY(plan_process(*spec.process, p));
  if (!in.notify_socket.empty()) {
    // systemd notify passthrough: the host socket is bound into the container and the process
    // is told where; READY=1 then reaches systemd directly (units need NotifyAccess=all).
    p.env_store.push_back("NOTIFY_SOCKET=/run/notify/notify.sock");
  }
  if (in.listen_fds > 0) {
    p.env_store.push_back("LISTEN_FDS=" + std::to_string(in.listen_fds));
    p.env_store.push_back("LISTEN_PID=1");
  }
  p.finalize();

  // --- filesystem ---
  p.root_propagation = MS_REC | MS_SLAVE;
  if (!lx.rootfs_propagation.empty()) {
    unsigned long f = 0;
    for (const auto& [name, flag] : kPropagation)
      if (lx.rootfs_propagation == name) f = flag;
    if (!f) return fail("linux.rootfsPropagation: unknown value '" + lx.rootfs_propagation + "'");
    if (f & MS_SHARED)
      p.final_propagation = f;  // keep rslave while setting up; pivot_root refuses shared parents
    else
      p.root_propagation = f | MS_REC;
  }
  bool new_netns = (fresh & CLONE_NEWNET) != 0 || p.netns_prefetched;
  for (size_t i = 0; i < spec.mounts.size(); ++i)
    VSRV_TRY(plan_mount(spec.mounts[i], i, in, p.new_userns, new_netns, p));
  auto add_bind = [&](const std::string& src, const std::string& dst) {
    MountOp b;
    b.source = src;
    b.target = dst;
    b.bind = true;
    b.source_is_file = true;
    b.flags = MS_RDONLY | MS_NOSUID | MS_NODEV | MS_NOEXEC;
    b.remount = true;
    p.mounts.push_back(std::move(b));
  };
  if (!in.notify_socket.empty()) {
    MountOp b;
    b.source = in.notify_socket;
    b.target = "/run/notify/notify.sock";
    b.bind = true;
    b.source_is_file = true;
    p.mounts.push_back(std::move(b));
  }
  for (const auto& [src, dst] : in.extra_binds) add_bind(src, dst);
  p.cgroup_join_mount = p.mounts.size();
  for (size_t i = 0; i < p.mounts.size() && p.cgroup_join_mount == p.mounts.size(); ++i)
    if (p.mounts[i].needs_cgroup) p.cgroup_join_mount = i;
  for (const auto& m : p.mounts)
    if (m.target == "/dev" || m.target == "/dev/") p.dev_fresh_tmpfs = !m.bind && !m.remount_only && m.fstype == "tmpfs";
  plan_devices(spec, p.new_userns, p);
  p.devices_before_cgroup = true;
  for (size_t i = p.cgroup_join_mount; i < p.mounts.size(); ++i) {
    const std::string& t = p.mounts[i].target;
    if (!p.mounts[i].needs_cgroup) p.devices_before_cgroup = false;
    for (const auto& d : p.devices)
      if (d.path.size() > t.size() && d.path.compare(0, t.size(), t) == 0 && d.path[t.size()] == '/')
        p.devices_before_cgroup = false;
    for (const auto& [target, link] : p.dev_symlinks)
      if (link.size() > t.size() && link.compare(0, t.size(), t) == 0 && link[t.size()] == '/')
        p.devices_before_cgroup = false;
  }
  p.masked_paths = lx.masked_paths;
  p.readonly_paths = lx.readonly_paths;
  for (const auto& [key, value] : lx.sysctl) {
    std::string path = "/proc/sys/";
    for (char c : key) path += (c == '.') ? '/' : c;
    p.sysctls.emplace_back(path, value);
  }
  p.run_hooks_in_parent = !spec.hooks.prestart.empty() || !spec.hooks.create_runtime.empty() ||
                          !spec.hooks.create_container.empty();

  // --- identity ---
  if (!spec.hostname.empty()) {
    if (!(fresh & CLONE_NEWUTS)) return fail("hostname: requires a new uts namespace");
    p.set_hostname = true;
    p.hostname = spec.hostname;
  }
  if (!spec.domainname.empty()) {
    if (!(fresh & CLONE_NEWUTS)) return fail("domainname: requires a new uts namespace");
    p.set_domainname = true;
    p.domainname = spec.domainname;
  }
  if (lx.personality) {
    p.set_personality = true;
    if (lx.personality->domain == "LINUX")
      p.personality = PER_LINUX;
    else if (lx.personality->domain == "LINUX32")
      p.personality = PER_LINUX32;
    else
      return fail("linux.personality.domain: unknown domain '" + lx.personality->domain + "'");
  }
  p.last_cap = kernel_last_cap();
  return p;
}

}  // namespace vsrv::runtime
