// config/validate.cpp: see validate.h.
#include "config/validate.h"

#include <sys/stat.h>

#include <algorithm>
#include <array>
#include <set>
#include <string_view>

namespace vsrv::config {
namespace {

using namespace std::string_literals;

class Diag {
 public:
  void add(std::string path, std::string_view msg) { out_.push_back(std::move(path) + ": " + std::string(msg)); }
  std::vector<std::string> take() && { return std::move(out_); }

 private:
  std::vector<std::string> out_;
};

std::string at(std::string_view base, std::size_t i) { return std::string(base) + "[" + std::to_string(i) + "]"; }
bool absolute(std::string_view p) { return !p.empty() && p.front() == '/'; }

template <std::size_t N>
bool one_of(std::string_view s, const std::array<std::string_view, N>& set) {
  return std::find(set.begin(), set.end(), s) != set.end();
}

constexpr std::array<std::string_view, 8> kNamespaces = {"pid", "network", "mount", "ipc", "uts", "user", "cgroup", "time"};
constexpr std::array<std::string_view, 16> kRlimits = {
    "RLIMIT_AS",     "RLIMIT_CORE",   "RLIMIT_CPU",    "RLIMIT_DATA",   "RLIMIT_FSIZE",      "RLIMIT_LOCKS",
    "RLIMIT_MEMLOCK", "RLIMIT_MSGQUEUE", "RLIMIT_NICE", "RLIMIT_NOFILE", "RLIMIT_NPROC",      "RLIMIT_RSS",
    "RLIMIT_RTPRIO", "RLIMIT_RTTIME", "RLIMIT_SIGPENDING", "RLIMIT_STACK"};
constexpr std::array<std::string_view, 9> kSeccompActions = {
    "SCMP_ACT_KILL", "SCMP_ACT_KILL_PROCESS", "SCMP_ACT_KILL_THREAD", "SCMP_ACT_TRAP", "SCMP_ACT_ERRNO",
    "SCMP_ACT_TRACE", "SCMP_ACT_ALLOW",        "SCMP_ACT_LOG",         "SCMP_ACT_NOTIFY"};
constexpr std::array<std::string_view, 7> kSeccompOps = {"SCMP_CMP_NE", "SCMP_CMP_LT", "SCMP_CMP_LE", "SCMP_CMP_EQ",
                                                         "SCMP_CMP_GE", "SCMP_CMP_GT", "SCMP_CMP_MASKED_EQ"};
constexpr std::array<std::string_view, 4> kSeccompFlags = {"SECCOMP_FILTER_FLAG_TSYNC", "SECCOMP_FILTER_FLAG_LOG",
                                                           "SECCOMP_FILTER_FLAG_SPEC_ALLOW",
                                                           "SECCOMP_FILTER_FLAG_WAIT_KILLABLE_RECV"};
constexpr std::array<std::string_view, 8> kPropagation = {"shared",  "slave",  "private",  "unbindable",
                                                          "rshared", "rslave", "rprivate", "runbindable"};
constexpr std::array<std::string_view, 8> kIpcSysctls = {"kernel.msgmax", "kernel.msgmnb", "kernel.msgmni",
                                                         "kernel.sem",    "kernel.shmall", "kernel.shmmax",
                                                         "kernel.shmmni", "kernel.shm_rmid_forced"};

// Index of the namespace entry of `type`, or nullptr.
const oci::Namespace* find_ns(const oci::Linux* l, std::string_view type) {
  if (!l) return nullptr;
  for (const auto& n : l->namespaces)
    if (n.type == type) return &n;
  return nullptr;
}

bool same_file(const std::string& a, const std::string& b) {
  struct stat sa{}, sb{};
  return ::stat(a.c_str(), &sa) == 0 && ::stat(b.c_str(), &sb) == 0 && sa.st_dev == sb.st_dev && sa.st_ino == sb.st_ino;
}

bool cap_syntax_ok(std::string_view c) {
  if (!c.starts_with("CAP_") || c.size() == 4) return false;
  return std::all_of(c.begin() + 4, c.end(), [](char ch) { return (ch >= 'A' && ch <= 'Z') || ch == '_'; });
}

void check_process(const oci::Process& p, Diag& d) {
  if (p.args.empty()) d.add("process.args", "must not be empty");
  if (p.cwd.empty())
    d.add("process.cwd", "must not be empty");
  else if (!absolute(p.cwd))
    d.add("process.cwd", "must be absolute, got '" + p.cwd + "'");
  for (std::size_t i = 0; i < p.env.size(); ++i) {
    const auto& e = p.env[i];
    auto eq = e.find('=');
    if (e.find('\0') != std::string::npos)
      d.add(at("process.env", i), "contains a NUL byte");
    else if (eq == std::string::npos)
      d.add(at("process.env", i), "missing '=' in '" + e + "'");
    else if (eq == 0)
      d.add(at("process.env", i), "variable name must not be empty");
  }
  if (p.user.umask && *p.user.umask > 07777) d.add("process.user.umask", "must be at most 07777");
  if (p.capabilities) {
    auto check = [&](const char* set, const std::vector<std::string>& caps) {
      for (std::size_t i = 0; i < caps.size(); ++i)
        if (!cap_syntax_ok(caps[i]))
          d.add(at("process.capabilities."s + set, i), "malformed capability name '" + caps[i] + "'");
    };
    check("bounding", p.capabilities->bounding);
    check("effective", p.capabilities->effective);
    check("inheritable", p.capabilities->inheritable);
    check("permitted", p.capabilities->permitted);
    check("ambient", p.capabilities->ambient);
  }
  std::set<std::string> seen;
  for (std::size_t i = 0; i < p.rlimits.size(); ++i) {
    const auto& r = p.rlimits[i];
    auto path = at("process.rlimits", i);
    if (!one_of(r.type, kRlimits)) {
      d.add(path + ".type", "unknown rlimit type '" + r.type + "'");
    } else if (!seen.insert(r.type).second) {
      d.add(path + ".type", "duplicate rlimit type '" + r.type + "'");
    }
    if (r.soft > r.hard)
      d.add(path, "soft limit " + std::to_string(r.soft) + " exceeds hard limit " + std::to_string(r.hard));
  }
  if (p.oom_score_adj && (*p.oom_score_adj < -1000 || *p.oom_score_adj > 1000))
    d.add("process.oomScoreAdj", "must be between -1000 and 1000");
}

void check_root(const oci::Spec& s, const std::string& bundle, Diag& d) {
  if (s.root.path.empty()) {
    d.add("root.path", "must not be empty (root is required on Linux)");
    return;
  }
  std::string full = absolute(s.root.path) || bundle.empty() ? s.root.path : bundle + "/" + s.root.path;
  struct stat st{};
  if (::stat(full.c_str(), &st) != 0)
    d.add("root.path", "rootfs directory '" + full + "' does not exist");
  else if (!S_ISDIR(st.st_mode))
    d.add("root.path", "rootfs '" + full + "' is not a directory");
}

void check_mounts(const oci::Spec& s, Diag& d) {
  for (std::size_t i = 0; i < s.mounts.size(); ++i) {
    const auto& m = s.mounts[i];
    if (m.destination.empty())
      d.add(at("mounts", i) + ".destination", "must not be empty");
    else if (!absolute(m.destination))
      d.add(at("mounts", i) + ".destination", "must be absolute, got '" + m.destination + "'");
  }
}

void check_hooks(const oci::Hooks& h, Diag& d) {
  auto check = [&](const char* name, const std::vector<oci::Hook>& hooks) {
    for (std::size_t i = 0; i < hooks.size(); ++i) {
      auto path = at("hooks."s + name, i);
      if (!absolute(hooks[i].path)) d.add(path + ".path", "must be absolute, got '" + hooks[i].path + "'");
      if (hooks[i].timeout && *hooks[i].timeout <= 0) d.add(path + ".timeout", "must be greater than zero");
    }
  };
  check("prestart", h.prestart);
  check("createRuntime", h.create_runtime);
  check("createContainer", h.create_container);
  check("startContainer", h.start_container);
  check("poststart", h.poststart);
  check("poststop", h.poststop);
}

void check_namespaces(const oci::Spec& s, Diag& d) {
  const oci::Linux* l = s.linux ? &*s.linux : nullptr;
  std::set<std::string> seen;
  if (l) {
    for (std::size_t i = 0; i < l->namespaces.size(); ++i) {
      const auto& n = l->namespaces[i];
      auto path = at("linux.namespaces", i);
      if (!one_of(n.type, kNamespaces))
        d.add(path + ".type", "unknown namespace type '" + n.type + "'");
      else if (!seen.insert(n.type).second)
        d.add(path, "duplicate namespace type '" + n.type + "'");
      if (!n.path.empty() && !absolute(n.path)) d.add(path + ".path", "must be absolute, got '" + n.path + "'");
    }
  }

  // User namespace: a new one needs mappings to be useful; mappings need a user namespace.
  // Joining one (path set) with mappings is allowed: runc checks they match the joined namespace.
  const oci::Namespace* user = find_ns(l, "user");
  bool has_maps = l && (!l->uid_mappings.empty() || !l->gid_mappings.empty());
  if (!user && has_maps) {
    if (!l->uid_mappings.empty()) d.add("linux.uidMappings", "set, but there is no user namespace in linux.namespaces");
    if (!l->gid_mappings.empty()) d.add("linux.gidMappings", "set, but there is no user namespace in linux.namespaces");
  }
  if (user && user->path.empty()) {
    if (l->uid_mappings.empty()) d.add("linux.uidMappings", "a new user namespace needs uid mappings");
    if (l->gid_mappings.empty()) d.add("linux.gidMappings", "a new user namespace needs gid mappings");
  }
  if (l) {
    auto sizes = [&](const char* name, const std::vector<oci::IdMapping>& maps) {
      for (std::size_t i = 0; i < maps.size(); ++i)
        if (maps[i].size == 0) d.add(at("linux."s + name, i) + ".size", "must be greater than zero");
    };
    sizes("uidMappings", l->uid_mappings);
    sizes("gidMappings", l->gid_mappings);
  }

  // Like runc: the uts namespace may be new or joined (pods share the sandbox's).
  const oci::Namespace* uts = find_ns(l, "uts");
  if (!s.hostname.empty() && !uts) d.add("hostname", "setting the hostname needs a uts namespace");
  if (!s.domainname.empty() && !uts) d.add("domainname", "setting the domainname needs a uts namespace");

  if (l && !l->time_offsets.empty()) {
    const oci::Namespace* time = find_ns(l, "time");
    if (!time || !time->path.empty())
      d.add("linux.timeOffsets", "time offsets need a new time namespace");
    for (const auto& [clock, off] : l->time_offsets) {
      if (clock != "monotonic" && clock != "boottime")
        d.add("linux.timeOffsets." + clock, "unknown clock (expected monotonic or boottime)");
      if (off.nanosecs >= 1'000'000'000u) d.add("linux.timeOffsets." + clock + ".nanosecs", "must be below 1000000000");
    }
  }
}

void check_sysctl(const oci::Linux& l, Diag& d) {
  const oci::Namespace* ipc = find_ns(&l, "ipc");
  const oci::Namespace* net = find_ns(&l, "network");
  const oci::Namespace* uts = find_ns(&l, "uts");
  for (const auto& [key, value] : l.sysctl) {
    std::string path = "linux.sysctl." + key;
    std::string s = key;
    std::replace(s.begin(), s.end(), '/', '.');  // "net/ipv4/ip_forward" is accepted too
    if (one_of(std::string_view(s), kIpcSysctls) || s.starts_with("fs.mqueue.")) {
      if (!ipc) d.add(path, "needs an ipc namespace (not allowed in the host's ipc namespace)");
      continue;
    }
    if (s.starts_with("net.")) {
      if (!net)
        d.add(path, "needs a network namespace (not allowed in the host's network namespace)");
      else if (!net->path.empty() && same_file(net->path, "/proc/self/ns/net"))
        d.add(path, "not allowed: linux.namespaces joins the host's network namespace");
      continue;
    }
    if (uts && s == "kernel.domainname") continue;
    if (uts && s == "kernel.hostname") {
      d.add(path, "not allowed: it conflicts with the hostname field; set that instead");
      continue;
    }
    if (s == "kernel.hostname" || s == "kernel.domainname") {
      d.add(path, "needs a uts namespace");
      continue;
    }
    d.add(path, "sysctl is not namespaced and cannot be set in a container");
  }
}

void check_linux(const oci::Linux& l, Diag& d) {
  for (std::size_t i = 0; i < l.devices.size(); ++i) {
    const auto& dev = l.devices[i];
    auto path = at("linux.devices", i);
    if (dev.type != "c" && dev.type != "b" && dev.type != "u" && dev.type != "p")
      d.add(path + ".type", "unknown device type '" + dev.type + "' (expected c, b, u or p)");
    if (!absolute(dev.path)) d.add(path + ".path", "must be absolute, got '" + dev.path + "'");
  }
  if (l.resources) {
    for (std::size_t i = 0; i < l.resources->devices.size(); ++i) {
      const auto& r = l.resources->devices[i];
      auto path = at("linux.resources.devices", i);
      if (!r.type.empty() && r.type != "a" && r.type != "c" && r.type != "b")
        d.add(path + ".type", "unknown device type '" + r.type + "' (expected a, c or b)");
      if (r.access.find_first_not_of("rwm") != std::string::npos)
        d.add(path + ".access", "must be a combination of r, w and m, got '" + r.access + "'");
    }
  }
  if (!l.rootfs_propagation.empty() && !one_of(std::string_view(l.rootfs_propagation), kPropagation))
    d.add("linux.rootfsPropagation", "unknown propagation '" + l.rootfs_propagation + "'");

  if (l.seccomp) {
    const auto& sc = *l.seccomp;
    bool notify = false;
    if (!one_of(std::string_view(sc.default_action), kSeccompActions))
      d.add("linux.seccomp.defaultAction", "unknown action '" + sc.default_action + "'");
    notify = notify || sc.default_action == "SCMP_ACT_NOTIFY";
    for (std::size_t i = 0; i < sc.architectures.size(); ++i)
      if (!sc.architectures[i].starts_with("SCMP_ARCH_"))
        d.add(at("linux.seccomp.architectures", i), "malformed architecture '" + sc.architectures[i] + "'");
    for (std::size_t i = 0; i < sc.flags.size(); ++i)
      if (!one_of(std::string_view(sc.flags[i]), kSeccompFlags))
        d.add(at("linux.seccomp.flags", i), "unknown flag '" + sc.flags[i] + "'");
    for (std::size_t i = 0; i < sc.syscalls.size(); ++i) {
      const auto& call = sc.syscalls[i];
      auto path = at("linux.seccomp.syscalls", i);
      if (call.names.empty()) d.add(path + ".names", "must not be empty");
      if (!one_of(std::string_view(call.action), kSeccompActions))
        d.add(path + ".action", "unknown action '" + call.action + "'");
      notify = notify || call.action == "SCMP_ACT_NOTIFY";
      for (std::size_t k = 0; k < call.args.size(); ++k) {
        const auto& a = call.args[k];
        if (a.index > 5) d.add(at(path + ".args", k) + ".index", "must be between 0 and 5");
        if (!one_of(std::string_view(a.op), kSeccompOps))
          d.add(at(path + ".args", k) + ".op", "unknown operator '" + a.op + "'");
      }
    }
    if (notify && sc.listener_path.empty())
      d.add("linux.seccomp.listenerPath", "SCMP_ACT_NOTIFY needs a listenerPath");
    if (!sc.listener_path.empty() && !absolute(sc.listener_path))
      d.add("linux.seccomp.listenerPath", "must be absolute, got '" + sc.listener_path + "'");
  }

  check_sysctl(l, d);

  auto paths = [&](const char* name, const std::vector<std::string>& v) {
    for (std::size_t i = 0; i < v.size(); ++i)
      if (!absolute(v[i])) d.add(at("linux."s + name, i), "must be absolute, got '" + v[i] + "'");
  };
  paths("maskedPaths", l.masked_paths);
  paths("readonlyPaths", l.readonly_paths);

  if (l.personality && l.personality->domain != "LINUX" && l.personality->domain != "LINUX32")
    d.add("linux.personality.domain", "unknown domain '" + l.personality->domain + "' (expected LINUX or LINUX32)");
}

}  // namespace

std::vector<std::string> diagnostics(const oci::Spec& s, const std::string& bundle) {
  Diag d;
  if (s.oci_version.empty()) d.add("ociVersion", "must not be empty");
  if (!s.process)
    d.add("process", "required to create a container");
  else
    check_process(*s.process, d);
  check_root(s, bundle, d);
  check_mounts(s, d);
  check_hooks(s.hooks, d);
  check_namespaces(s, d);
  if (s.linux) check_linux(*s.linux, d);
  return std::move(d).take();
}

Result<void> validate(const oci::Spec& spec, const std::string& bundle) {
  auto all = diagnostics(spec, bundle);
  if (all.empty()) return {};
  std::string msg = "config.json: ";
  if (all.size() > 1) msg += std::to_string(all.size()) + " errors: ";
  for (std::size_t i = 0; i < all.size(); ++i) {
    if (i) msg += "; ";
    msg += all[i];
  }
  return fail(std::move(msg));
}

}  // namespace vsrv::config
