// runtime/child/identity.cpp: who the container's init is and what it may use: sysctls,
// hostname, rlimits, oom_score_adj, personality, uid/gid/groups, the controlling terminal, and
// the lookup of the executable (done before ChildReady so "executable file not found" is reported
// by `create`, as runc does; podman maps that text to exit status 127).
#include <fcntl.h>
#include <linux/magic.h>
#include <sys/ioctl.h>
#include <sys/mount.h>
#include <sys/personality.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/statfs.h>
#include <termios.h>
#include <grp.h>
#include <unistd.h>

#include <cstring>

#include "runtime/child/steps.h"
#include "runtime/sys/syscalls.h"

namespace vsrv::runtime::child {

namespace {
Result<void> write_proc(const char* path, const char* value) noexcept {
  int fd = ::open(path, O_WRONLY | O_CLOEXEC | O_NOFOLLOW);
  if (fd < 0) return errno_error(std::string("open '") + path + "'");
  sys::unique_fd guard(fd);
  // The rootfs could have put something other than procfs at /proc (e.g. a tmpfs or a symlink
  // farm) to catch writes meant for the kernel; only procfs is accepted.
  struct statfs sfs;
  if (fstatfs(fd, &sfs) < 0 || sfs.f_type != PROC_SUPER_MAGIC)
    return make_error(EPERM, std::string("'") + path + "' is not on procfs");
  size_t len = std::strlen(value);
  if (::write(fd, value, len) != static_cast<ssize_t>(len)) return errno_error(std::string("write '") + path + "'");
  return {};
}
}  // namespace

Result<void> apply_sysctls(const ChildPlan& p) noexcept {
  for (const auto& [path, value] : p.sysctls) VSRV_TRYC(write_proc(path.c_str(), value.c_str()), "sysctl");
  return {};
}

Result<void> set_names(const ChildPlan& p) noexcept {
  if (p.set_hostname && ::sethostname(p.hostname.data(), p.hostname.size()) < 0)
    return errno_error("sethostname '" + p.hostname + "'");
  if (p.set_domainname && ::setdomainname(p.domainname.data(), p.domainname.size()) < 0)
    return errno_error("setdomainname '" + p.domainname + "'");
  return {};
}

Result<void> apply_rlimits(const ChildPlan& p) noexcept {
  for (const auto& r : p.rlimits) {
    struct rlimit64 lim = {r.soft, r.hard};
    if (::prlimit64(0, static_cast<__rlimit_resource>(r.resource), &lim, nullptr) < 0) {
      int e = errno;
      struct rlimit64 cur;
      ::prlimit64(0, static_cast<__rlimit_resource>(r.resource), nullptr, &cur);
      if (e == EPERM && r.hard > cur.rlim_max)
        return make_error(e, "setrlimit " + std::to_string(r.resource) + ": hard limit " + std::to_string(r.hard) +
                                 " is above the current hard limit " + std::to_string(cur.rlim_max) +
                                 " and raising it needs CAP_SYS_RESOURCE");
      return make_error(e, "setrlimit " + std::to_string(r.resource));
    }
  }
  return {};
}

Result<void> apply_misc(const ChildPlan& p) noexcept {
  if (p.set_oom_score_adj) {
    char buf[16];
    int v = p.oom_score_adj, i = 15;
    bool neg = v < 0;
    unsigned u = neg ? unsigned(-v) : unsigned(v);
    buf[i] = 0;
    do { buf[--i] = char('0' + u % 10); u /= 10; } while (u);
    if (neg) buf[--i] = '-';
    int fd = ::open("/proc/self/oom_score_adj", O_WRONLY | O_CLOEXEC);
    if (fd < 0) return errno_error("open /proc/self/oom_score_adj");
    sys::unique_fd g(fd);
    if (::write(fd, buf + i, 15 - i) < 0) return errno_error("write oom_score_adj");
  }
  if (p.set_personality && ::personality(p.personality) < 0) return errno_error("personality");
  return {};
}

Result<void> switch_user(const ChildPlan& p) noexcept {
  // Keep the permitted set across the uid change; apply_caps then sets exactly the planned sets.
  if (::prctl(PR_SET_KEEPCAPS, 1, 0, 0, 0) < 0) return errno_error("prctl(PR_SET_KEEPCAPS)");
  // In a user namespace whose setgroups is "deny" (rootless), setgroups fails with EPERM; it is
  // only an error when the config actually asks for supplementary groups.
  if (::setgroups(p.additional_gids.size(), p.additional_gids.data()) < 0 &&
      !(errno == EPERM && p.additional_gids.empty()))
    return errno_error("setgroups");
  if (::setresgid(p.gid, p.gid, p.gid) < 0) return errno_error("setresgid " + std::to_string(p.gid));
  if (::setresuid(p.uid, p.uid, p.uid) < 0) return errno_error("setresuid " + std::to_string(p.uid));
  if (::prctl(PR_SET_KEEPCAPS, 0, 0, 0, 0) < 0) return errno_error("prctl(PR_SET_KEEPCAPS)");
  if (p.set_umask) ::umask(p.umask);
  return {};
}

Result<void> setup_terminal(const ChildPlan& p, int* master_out) noexcept {
  // The pty comes from the container's own devpts instance, so the slave the process sees is
  // /dev/pts/N inside the container.
  int master = ::open("/dev/ptmx", O_RDWR | O_NOCTTY | O_CLOEXEC);
  if (master < 0) return errno_error("open /dev/ptmx");
  sys::unique_fd m(master);
  int unlock = 0;
  if (::ioctl(master, TIOCSPTLCK, &unlock) < 0) return errno_error("unlockpt");
  int slave = ::ioctl(master, TIOCGPTPEER, O_RDWR | O_NOCTTY);
  if (slave < 0) return errno_error("open pty slave");
  if (p.console_rows && p.console_cols) {
    struct winsize ws = {p.console_rows, p.console_cols, 0, 0};
    ::ioctl(slave, TIOCSWINSZ, &ws);
  }
  // /dev/console is the pty slave, as runc and crun set it up (getty, systemd and sulogin look
  // there). The bind target is created on the container's /dev (a tmpfs in the usual configs).
  {
    char path[32] = "/proc/self/fd/";
    int n = 14, v = slave;
    char d[12];
    int k = 0;
    do { d[k++] = char('0' + v % 10); v /= 10; } while (v);
    while (k) path[n++] = d[--k];
    path[n] = 0;
    int c = ::open("/dev/console", O_CREAT | O_WRONLY | O_NOFOLLOW | O_CLOEXEC, 0600);
    if (c >= 0) ::close(c);
    if (c >= 0 && ::mount(path, "/dev/console", nullptr, MS_BIND, nullptr) < 0) return errno_error("bind /dev/console");
  }
  if (::setsid() < 0) return errno_error("setsid");
  if (::ioctl(slave, TIOCSCTTY, 0) < 0) return errno_error("set controlling terminal");
  for (int i = 0; i < 3; ++i)
    if (::dup2(slave, i) < 0) return errno_error("dup2 pty");
  if (slave > 2) ::close(slave);
  *master_out = m.release();
  return {};
}

Result<void> find_executable(const ChildPlan& p, char* out, size_t out_size) noexcept {
  const std::string& exe = p.exe;
  if (exe.empty()) return make_error(EINVAL, "process.args is empty");
  struct stat st;
  if (exe.find('/') != std::string::npos) {
    if (exe.size() >= out_size) return make_error(ENAMETOOLONG, exe);
    std::memcpy(out, exe.c_str(), exe.size() + 1);
    if (::stat(out, &st) < 0) return errno_error("exec '" + exe + "': stat");
    if (S_ISDIR(st.st_mode)) return make_error(EACCES, "exec '" + exe + "': is a directory");
    // podman maps "permission denied" to exit status 126: report it here, while create can.
    if (::access(out, X_OK) < 0) return errno_error("exec '" + exe + "'");
    return {};
  }
  for (const auto& dir : p.path_dirs) {
    size_t n = dir.size();
    if (n + 1 + exe.size() >= out_size) continue;
    std::memcpy(out, dir.data(), n);
    out[n] = '/';
    std::memcpy(out + n + 1, exe.c_str(), exe.size() + 1);
    if (::stat(out, &st) == 0 && S_ISREG(st.st_mode) && ::access(out, X_OK) == 0) return {};
  }
  return make_error(ENOENT, "exec: \"" + exe + "\": executable file not found in $PATH");
}

}  // namespace vsrv::runtime::child
