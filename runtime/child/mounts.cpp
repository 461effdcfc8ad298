// runtime/child/mounts.cpp: the container's mount table, built in its new mount namespace.
// Every target is resolved inside the rootfs with openat2(RESOLVE_IN_ROOT) and the mount is made
// onto the resulting fd ("/proc/self/fd/N"), never onto a joined path string: a rootfs that
// holds symlinks to "/" or "/proc" cannot redirect a mount onto the host (CVE-2021-30465 class).
// After pivot_root, masked paths are covered with /dev/null only once /dev/null is verified to be
// the real character device 1:3, and /proc/sys writes are checked to land on procfs. Binds with
// flags (ro, nosuid, ...) are made detached and moved in with their flags already set
// (bind_with_attrs), so none is ever writable in between.
#include <fcntl.h>
#include <linux/magic.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <sys/statfs.h>
#include <sys/statvfs.h>
#include <sys/sysmacros.h>
#include <unistd.h>

#include <algorithm>
#include <cstring>

#include "runtime/child/steps.h"
#include "runtime/sys/syscalls.h"

namespace vsrv::runtime::child {
namespace {

// "/proc/self/fd/N" into a stack buffer (no allocation).
struct FdPath {
  char buf[32];
  explicit FdPath(int fd) noexcept {
    char digits[12];
    int n = 0;
    unsigned v = static_cast<unsigned>(fd);
    do {
      digits[n++] = static_cast<char>('0' + v % 10);
      v /= 10;
    } while (v);
    std::memcpy(buf, "/proc/self/fd/", 14);
    int i = 14;
    while (n) buf[i++] = digits[--n];
    buf[i] = 0;
  }
  const char* c_str() const noexcept { return buf; }
};

// Flags a bind remount must keep: in a user namespace the kernel refuses to clear "locked"
// nosuid/nodev/noexec/ro flags, so a remount has to carry the ones already set.
unsigned long locked_flags(int fd) noexcept {
  struct statvfs sv;
  if (fstatvfs(fd, &sv) < 0) return 0;
  unsigned long f = 0;
  if (sv.f_flag & ST_NOSUID) f |= MS_NOSUID;
  if (sv.f_flag & ST_NODEV) f |= MS_NODEV;
  if (sv.f_flag & ST_NOEXEC) f |= MS_NOEXEC;
  if (sv.f_flag & ST_RDONLY) f |= MS_RDONLY;
  return f;
}

// A bind of `source` onto `target` that is read-only (nosuid, ...) from the moment it appears:
// the copy is made detached (open_tree), given its flags there (mount_setattr: only sets them, so
// flags the kernel locked in a user namespace never need carrying over), then moved onto the
// target fd (move_mount). Three calls and no /proc/self/fd lookups, where bind + remount took
// five and left a moment in which the bind was writable. Returns false with nothing done when
// the kernel lacks these calls (before 5.12) or a flag has no mount_setattr equivalent: the
// caller falls back to bind + remount.
constexpr std::uint64_t kAttrRdonly = 0x1, kAttrNosuid = 0x2, kAttrNodev = 0x4, kAttrNoexec = 0x8,
                        kAttrNoatime = 0x10, kAttrStrictatime = 0x20, kAttrNodiratime = 0x80,
                        kAttrAtimeMask = 0x70;
constexpr unsigned kOpenTreeClone = 1, kAtRecursive = 0x8000, kAtEmptyPath = 0x1000,
                   kMoveFEmpty = 0x4, kMoveTEmpty = 0x40;

bool attrs_of(unsigned long flags, std::uint64_t* out, std::uint64_t* clear) noexcept {
  const unsigned long known = MS_RDONLY | MS_NOSUID | MS_NODEV | MS_NOEXEC | MS_NOATIME | MS_NODIRATIME | MS_STRICTATIME;
  if (flags & ~known) return false;
  std::uint64_t a = 0;
  if (flags & MS_RDONLY) a |= kAttrRdonly;
  if (flags & MS_NOSUID) a |= kAttrNosuid;
  if (flags & MS_NODEV) a |= kAttrNodev;
  if (flags & MS_NOEXEC) a |= kAttrNoexec;
  if (flags & MS_NOATIME) a |= kAttrNoatime;
  if (flags & MS_STRICTATIME) a |= kAttrStrictatime;
  if (flags & MS_NODIRATIME) a |= kAttrNodiratime;
  // The atime mode is one field: setting one means clearing the field (MOUNT_ATTR__ATIME).
  *clear = (flags & (MS_NOATIME | MS_STRICTATIME)) ? kAttrAtimeMask : 0;
  *out = a;
  return true;
}

// Result: true = done; false = not available here (nothing done); error = it failed.
Result<bool> bind_with_attrs(int src_dirfd, const char* src_path, int target_fd, bool recursive, unsigned long flags) noexcept {
  sys::MountAttr attr;
  if (!sys::features().new_mount_api || !attrs_of(flags, &attr.attr_set, &attr.attr_clr)) return false;
  unsigned of = kOpenTreeClone | O_CLOEXEC | (recursive ? kAtRecursive : 0) | (src_path[0] ? 0 : kAtEmptyPath);
  int tree = sys::open_tree_raw(src_dirfd, src_path, of);
  if (tree < 0) {
    if (errno == ENOSYS) return false;
    return errno_error("open_tree");
  }
  sys::unique_fd t(tree);
  // Only the top mount, as the remount this replaces: submounts keep their own flags.
  if (sys::mount_setattr_raw(tree, "", kAtEmptyPath, &attr) < 0) {
    if (errno == ENOSYS) return false;
    return errno_error("mount_setattr");
  }
  if (sys::move_mount_raw(tree, "", target_fd, "", kMoveFEmpty | kMoveTEmpty) < 0) return errno_error("move_mount");
  return true;
}

// The v1 cgroup tree (plan.h, tree_binds): a tmpfs and one bind per hierarchy below it, built as
// a detached mount (fsmount) that nothing can see, made read-only (nosuid, ...) in one recursive
// mount_setattr, and attached to its target by one move_mount. Per hierarchy that is mkdirat,
// open_tree and move_mount, where the mounts one by one took ten calls (three of them openat2
// walks of the target), and the tmpfs's read-only remount goes too: 0.12 against 0.17 ms for
// eight hierarchies in a C probe of both (200 trees each). `consumed` is how many plan ops it
// covered. false (nothing done, nothing visible) where the kernel cannot attach to a detached
// tree (before 6.15: EINVAL): the caller runs the ops one by one.
constexpr unsigned kFsopenCloexec = 1, kFsconfigSetFlag = 0, kFsconfigSetString = 1, kFsconfigCmdCreate = 6,
                   kFsmountCloexec = 1;

Result<bool> mount_tree(const ChildPlan& p, const sys::RootFs& root, std::size_t i, std::size_t to,
                        std::size_t* consumed) noexcept {
  const MountOp& t = p.mounts[i];
  const std::size_t n = t.tree_binds;
  if (!sys::features().attach_to_detached || i + n >= to || t.bind || t.fstype.empty()) return false;
  const MountOp& last = p.mounts[i + n];
  const bool ro = i + n + 1 < to && p.mounts[i + n + 1].remount_only && p.mounts[i + n + 1].target == t.target;
  std::uint64_t fs_attrs = 0, tree_attrs = 0, clear = 0;
  if (!attrs_of(t.flags, &fs_attrs, &clear) || !attrs_of(last.flags | (t.flags & ~MS_RDONLY) | (ro ? MS_RDONLY : 0), &tree_attrs, &clear))
    return false;
  int f = sys::fsopen_raw(t.fstype.c_str(), kFsopenCloexec);
  if (f < 0) return errno_error("fsopen " + t.fstype);
  sys::unique_fd fs(f);
  // The data ("mode=755"), one parameter at a time, from a copy on our stack.
  char data[256];
  if (t.data.size() >= sizeof data) return false;
  std::memcpy(data, t.data.c_str(), t.data.size() + 1);
  for (char* opt = data; *opt;) {
    char* end = std::strchr(opt, ',');
    if (end) *end = 0;
    char* eq = std::strchr(opt, '=');
    if (eq) *eq = 0;
    if (*opt && sys::fsconfig_raw(fs.get(), eq ? kFsconfigSetString : kFsconfigSetFlag, opt, eq ? eq + 1 : nullptr, 0) < 0)
      return errno_error(std::string("mount ") + t.fstype + " on '" + t.target + "': " + opt);
    if (!end) break;
    opt = end + 1;
  }
  if (sys::fsconfig_raw(fs.get(), kFsconfigCmdCreate, nullptr, nullptr, 0) < 0)
    return errno_error("mount " + t.fstype + " on '" + t.target + "'");
  int m = sys::fsmount_raw(fs.get(), kFsmountCloexec, static_cast<unsigned>(fs_attrs));
  if (m < 0) return errno_error("mount " + t.fstype + " on '" + t.target + "': fsmount");
  sys::unique_fd tree(m);
  for (std::size_t k = 1; k <= n; ++k) {
    const MountOp& b = p.mounts[i + k];
    // plan.cpp made every target "<t.target>/<name>", one level down.
    if (!b.bind || b.target.size() <= t.target.size() + 1 || b.target.compare(0, t.target.size(), t.target) != 0) return false;
    const char* name = b.target.c_str() + t.target.size() + 1;
    if (::mkdirat(tree.get(), name, 0755) < 0 && errno != EEXIST) return errno_error("mkdir '" + b.target + "'");
    int src = sys::open_tree_raw(AT_FDCWD, b.source.c_str(), kOpenTreeClone | O_CLOEXEC | (b.recursive ? kAtRecursive : 0));
    if (src < 0) return errno_error("bind '" + b.source + "' to '" + b.target + "': open_tree");
    sys::unique_fd s(src);
    if (sys::move_mount_raw(src, "", tree.get(), name, kMoveFEmpty) < 0) {
      if (k == 1 && errno == EINVAL) return false;  // no attaching to a detached tree here
      return errno_error("bind '" + b.source + "' to '" + b.target + "'");
    }
  }
  sys::MountAttr attr;
  attr.attr_set = tree_attrs;
  if (sys::mount_setattr_raw(tree.get(), "", kAtEmptyPath | kAtRecursive, &attr) < 0)
    return errno_error("mount '" + t.target + "': mount_setattr");
  auto target = root.mkdir_p(t.target.c_str());
  if (!target) return forward(std::move(target.error()), "mount '" + t.target + "'");
  if (sys::move_mount_raw(tree.get(), "", target->get(), "", kMoveFEmpty | kMoveTEmpty) < 0)
    return errno_error("mount '" + t.target + "': move_mount");
  *consumed = 1 + n + (ro ? 1 : 0);
  return true;
}

Result<void> remount_bind(const sys::RootFs& root, const char* target, unsigned long flags) noexcept {
  // Reopen: the fd used for the bind points below the new mount, not at it.
  auto fd = root.open_at(target, O_PATH);
  if (!fd) return forward(std::move(fd.error()));
  unsigned long f = MS_REMOUNT | MS_BIND | flags | (locked_flags(fd->get()) & ~MS_RDONLY);
  if (::mount(nullptr, FdPath(fd->get()).c_str(), nullptr, f, nullptr) < 0)
    return errno_error(std::string("remount '") + target + "'");
  return {};
}

Result<void> mount_one(const MountOp& m, const sys::RootFs& root) noexcept {
  if (m.remount_only) {
    auto fd = root.open_at(m.target.c_str(), O_PATH);
    if (!fd) return forward(std::move(fd.error()), "remount '" + m.target + "'");
    if (::mount(nullptr, FdPath(fd->get()).c_str(), nullptr, MS_REMOUNT | m.flags, m.data.empty() ? nullptr : m.data.c_str()) < 0)
      return errno_error("remount '" + m.target + "'");
    return {};
  }
  auto target = m.source_is_file ? root.mkfile_p(m.target.c_str()) : root.mkdir_p(m.target.c_str());
  if (!target) return forward(std::move(target.error()), "mount '" + m.target + "'");
  FdPath tpath(target->get());
  bool done = false;
  if (m.bind && m.remount) {
    auto r = bind_with_attrs(AT_FDCWD, m.source.c_str(), target->get(), m.recursive, m.flags);
    if (!r) return forward(std::move(r.error()), "bind '" + m.source + "' to '" + m.target + "'");
    done = *r;
  }
  if (!done && m.bind) {
    unsigned long f = MS_BIND | (m.recursive ? MS_REC : 0);
    if (::mount(m.source.c_str(), tpath.c_str(), nullptr, f, nullptr) < 0)
      return errno_error("bind '" + m.source + "' to '" + m.target + "'");
    if (m.remount) VSRV_TRYC(remount_bind(root, m.target.c_str(), m.flags), "mount '" + m.target + "'");
  } else if (!done) {
    const char* data = m.data.empty() ? nullptr : m.data.c_str();
    if (::mount(m.source.c_str(), tpath.c_str(), m.fstype.c_str(), m.flags, data) < 0)
      return errno_error("mount " + m.fstype + " on '" + m.target + "'");
    if (m.is_proc) {
      // Whatever we mounted must really be procfs now: writes to /proc/sys and /proc/self/attr
      // go through it later.
      auto fd = root.open_at(m.target.c_str(), O_PATH | O_DIRECTORY);
      struct statfs sfs;
      if (!fd || fstatfs(fd->get(), &sfs) < 0 || sfs.f_type != PROC_SUPER_MAGIC)
        return make_error(EPERM, "mount '" + m.target + "': not procfs after mount");
    }
  }
  if (m.propagation) {
    auto fd = root.open_at(m.target.c_str(), O_PATH);
    if (!fd) return forward(std::move(fd.error()), "mount '" + m.target + "'");
    if (::mount(nullptr, FdPath(fd->get()).c_str(), nullptr, m.propagation, nullptr) < 0)
      return errno_error("set propagation of '" + m.target + "'");
  }
  return {};
}

}  // namespace

Result<void> prepare_root(const ChildPlan& p, sys::RootFs& root) noexcept {
  // Stop our mounts propagating back to the host (and host mounts from reaching us, unless the
  // config asks for shared): MS_REC|MS_SLAVE by default, as runc.
  if (::mount(nullptr, "/", nullptr, p.root_propagation, nullptr) < 0) return errno_error("make '/' private/slave");
  // pivot_root needs the new root to be a mount point: bind the rootfs onto itself.
  if (::mount(p.rootfs.c_str(), p.rootfs.c_str(), nullptr, MS_BIND | MS_REC, nullptr) < 0)
    return errno_error("bind rootfs '" + p.rootfs + "'");
  auto r = sys::RootFs::open(p.rootfs.c_str());
  if (!r) return forward(std::move(r.error()));
  root = std::move(*r);
  return {};
}

Result<void> do_mounts(const ChildPlan& p, const sys::RootFs& root, std::size_t from, std::size_t to) noexcept {
  for (std::size_t i = from; i < to && i < p.mounts.size(); ++i) {
    if (p.mounts[i].tree_binds) {
      std::size_t consumed = 0;
      auto r = mount_tree(p, root, i, std::min(to, p.mounts.size()), &consumed);
      if (!r) return forward(std::move(r.error()));
      if (*r) {
        i += consumed - 1;
        continue;
      }
      // Not on this kernel: one by one.
    }
    VSRV_TRY(mount_one(p.mounts[i], root));
  }
  return {};
}

Result<void> create_devices(const ChildPlan& p, const sys::RootFs& root) noexcept {
  // Every device and link lives in /dev (or below): its directory is opened once and reused
  // while the next entry is in the same one (nothing in the container runs yet to change it).
  sys::unique_fd pdir;
  std::string pdir_path;
  auto dir_of = [&](const std::string& path) -> Result<void> {
    const char* slash = std::strrchr(path.c_str(), '/');
    std::string dir(path.c_str(), slash == path.c_str() ? 1 : size_t(slash - path.c_str()));
    if (pdir && dir == pdir_path) return {};
    // O_PATH fds cannot be used with mknodat: open the directory for real.
    auto f = root.open_at(dir.c_str(), O_RDONLY | O_DIRECTORY);
    if (!f && f.error().errnum == ENOENT) {
      VSRV_TRY(root.mkdir_p(dir.c_str()).map([](auto&&) {}));
      f = root.open_at(dir.c_str(), O_RDONLY | O_DIRECTORY);
    }
    if (!f) return forward(std::move(f.error()));
    pdir = std::move(*f);
    pdir_path = std::move(dir);
    return {};
  };
  // Nodes are made with the exact mode (umask 0 meanwhile, put back after), chowned only when
  // the kernel would not give them the owner asked for anyway, and chmodded only where the mode
  // may differ: on the default /dev, six nodes take six syscalls instead of twenty-four.
  const uid_t euid = ::geteuid();
  const gid_t egid = ::getegid();
  struct stat dir_st {};
  const mode_t old_umask = ::umask(0);
  struct PutBack {
    mode_t m;
    ~PutBack() { ::umask(m); }
  } put_back{old_umask};
  for (const auto& d : p.devices) {
    if (d.bind) {
      auto target = root.mkfile_p(d.path.c_str(), 0600);
      if (!target) return forward(std::move(target.error()), "device '" + d.path + "'");
      if (::mount(d.path.c_str(), FdPath(target->get()).c_str(), nullptr, MS_BIND, nullptr) < 0)
        return errno_error("bind device '" + d.path + "'");
      continue;
    }
    int dir_before = pdir.get();
    if (auto r = dir_of(d.path); !r) return forward(std::move(r.error()), "device '" + d.path + "'");
    if (pdir.get() != dir_before && ::fstat(pdir.get(), &dir_st) < 0) return errno_error("stat '" + pdir_path + "'");
    const char* name = std::strrchr(d.path.c_str(), '/') + 1;
    mode_t type = d.type == 'b' ? S_IFBLK : d.type == 'p' ? S_IFIFO : S_IFCHR;
    mode_t mode = d.mode & 07777;
    int rc = ::mknodat(pdir.get(), name, type | mode, makedev(d.major, d.minor));
    if (rc < 0 && errno == EEXIST) {  // replace whatever the image had there
      ::unlinkat(pdir.get(), name, 0);
      rc = ::mknodat(pdir.get(), name, type | mode, makedev(d.major, d.minor));
    }
    if (rc < 0) return errno_error("mknod '" + d.path + "'");
    // A new node belongs to our euid, and to our egid unless the directory is setgid.
    gid_t given_gid = (dir_st.st_mode & S_ISGID) ? dir_st.st_gid : egid;
    if ((d.uid != euid || d.gid != given_gid) && ::fchownat(pdir.get(), name, d.uid, d.gid, AT_SYMLINK_NOFOLLOW) < 0)
      return errno_error("chown '" + d.path + "'");
    // With umask 0 the mode is exact, unless a default ACL of the directory decides it (only our
    // own fresh /dev tmpfs is known to have none) or chown cleared set-id bits.
    bool exact = p.dev_fresh_tmpfs && pdir_path == "/dev" && !(mode & 07000);
    if (!exact && ::fchmodat(pdir.get(), name, mode, 0) < 0) return errno_error("chmod '" + d.path + "'");
  }
  for (const auto& [target, link] : p.dev_symlinks) {
    if (auto r = dir_of(link); !r) return forward(std::move(r.error()), "symlink '" + link + "'");
    if (::symlinkat(target.c_str(), pdir.get(), std::strrchr(link.c_str(), '/') + 1) < 0 && errno != EEXIST)
      return errno_error("symlink '" + link + "'");
  }
  return {};
}

Result<void> pivot_to(const ChildPlan& p, const sys::RootFs& root) noexcept {
  if (::fchdir(root.fd().get()) < 0) return errno_error("chdir to rootfs");
  if (p.no_pivot) {
    // --no-pivot: move the rootfs mount over "/" and chroot (for ramfs roots where pivot_root
    // is refused). Weaker: the old root stays reachable to a process with CAP_SYS_CHROOT.
    if (::mount(".", "/", nullptr, MS_MOVE, nullptr) < 0) return errno_error("move rootfs to '/'");
    if (::chroot(".") < 0) return errno_error("chroot");
  } else {
    // pivot_root(".", "."): the old root ends up stacked under the new one; detach it at once.
    if (sys::pivot_root_raw(".", ".") < 0) return errno_error("pivot_root");
    if (::umount2(".", MNT_DETACH) < 0) return errno_error("detach old root");
  }
  if (::chdir("/") < 0) return errno_error("chdir '/'");
  if (p.final_propagation && ::mount(nullptr, "/", nullptr, p.final_propagation, nullptr) < 0)
    return errno_error("set rootfs propagation");
  return {};
}

Result<void> finish_rootfs(const ChildPlan& p) noexcept {
  sys::RootFs root;
  {
    int fd = ::open("/", O_PATH | O_DIRECTORY | O_CLOEXEC);
    if (fd < 0) return errno_error("open '/'");
    root = sys::RootFs(sys::unique_fd(fd));
  }
  if (!p.masked_paths.empty()) {
    auto null = root.open_at("/dev/null", O_PATH);
    struct stat st;
    // /dev/null comes from the (untrusted) rootfs or a config mount: binding a regular file or
    // another device over /proc/kcore would unmask it, so insist on the real char device 1:3.
    if (!null || fstat(null->get(), &st) < 0 || !S_ISCHR(st.st_mode) || st.st_rdev != makedev(1, 3))
      return make_error(EPERM, "masked paths: /dev/null is not the null device (1:3)");
    for (const auto& path : p.masked_paths) {
      auto fd = root.open_at(path.c_str(), O_PATH);
      if (!fd) {
        if (fd.error().errnum == ENOENT) continue;
        return forward(std::move(fd.error()), "mask '" + path + "'");
      }
      struct stat ts;
      if (fstat(fd->get(), &ts) < 0) return errno_error("stat '" + path + "'");
      if (S_ISDIR(ts.st_mode)) {
        if (::mount("tmpfs", FdPath(fd->get()).c_str(), "tmpfs", MS_RDONLY, nullptr) < 0)
          return errno_error("mask '" + path + "'");
      } else if (::mount(FdPath(null->get()).c_str(), FdPath(fd->get()).c_str(), nullptr, MS_BIND, nullptr) < 0) {
        return errno_error("mask '" + path + "'");
      }
    }
  }
  for (const auto& path : p.readonly_paths) {
    auto fd = root.open_at(path.c_str(), O_PATH);
    if (!fd) {
      if (fd.error().errnum == ENOENT) continue;
      return forward(std::move(fd.error()), "readonly '" + path + "'");
    }
    auto done = bind_with_attrs(fd->get(), "", fd->get(), true, MS_RDONLY);
    if (!done) return forward(std::move(done.error()), "readonly '" + path + "'");
    if (*done) continue;
    if (::mount(FdPath(fd->get()).c_str(), FdPath(fd->get()).c_str(), nullptr, MS_BIND | MS_REC, nullptr) < 0)
      return errno_error("readonly '" + path + "'");
    VSRV_TRYC(remount_bind(root, path.c_str(), MS_RDONLY | MS_REC), "readonly '" + path + "'");
  }
  if (p.readonly_root) {
    auto fd = root.open_at("/", O_PATH);
    unsigned long f = MS_REMOUNT | MS_BIND | MS_RDONLY | (fd ? locked_flags(fd->get()) : 0);
    if (::mount(nullptr, "/", nullptr, f, nullptr) < 0) return errno_error("remount root read-only");
  }
  return {};
}

}  // namespace vsrv::runtime::child
