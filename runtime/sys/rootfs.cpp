// runtime/sys/rootfs.cpp: openat2-based resolution inside a root (see rootfs.h).
#include "runtime/sys/rootfs.h"

#include <fcntl.h>
#include <linux/limits.h>
#include <linux/openat2.h>
#include <sys/stat.h>

#include <cstring>

#include "runtime/sys/syscalls.h"

namespace vsrv::sys {

namespace {
const char* skip_slashes(const char* p) {
  while (*p == '/') ++p;
  return *p ? p : ".";
}
}  // namespace

Result<unique_fd> open_in_root(borrowed_fd dirfd, const char* rel, int oflags, mode_t mode) noexcept {
  struct open_how how {};
  how.flags = static_cast<unsigned long long>(oflags | O_CLOEXEC);
  how.mode = (oflags & (O_CREAT | O_TMPFILE)) ? mode : 0;
  how.resolve = RESOLVE_IN_ROOT | RESOLVE_NO_MAGICLINKS;
  const char* p = skip_slashes(rel);
  for (int tries = 0;; ++tries) {
    int fd = openat2_raw(dirfd.get(), p, &how);
    if (fd >= 0) return unique_fd(fd);
    // EAGAIN: a rename raced with the lookup; the kernel asks us to retry.
    if (errno == EAGAIN && tries < 16) continue;
    if (errno == ENOSYS) return make_error(ENOSYS, std::string("openat2 '") + rel + "' (kernel >= 5.6 required)");
    return errno_error(std::string("openat2 '") + rel + "'");
  }
}

Result<RootFs> RootFs::open(const char* host_path) {
  int fd = ::open(host_path, O_PATH | O_DIRECTORY | O_CLOEXEC);
  if (fd < 0) return errno_error(std::string("open rootfs '") + host_path + "'");
  return RootFs(unique_fd(fd));
}

Result<unique_fd> RootFs::open_at(const char* rel, int oflags, mode_t mode) const noexcept {
  return open_in_root(root_, rel, oflags, mode);
}

Result<unique_fd> RootFs::mkdir_p(const char* rel, mode_t mode) const noexcept {
  // Most mount targets exist, or miss only their last component (/dev/pts, a cgroup hierarchy
  // under /sys/fs/cgroup): one or three calls then, instead of two per component.
  if (auto fd = open_in_root(root_, rel, O_PATH | O_DIRECTORY); fd || fd.error().errnum != ENOENT) return fd;
  char buf[PATH_MAX];
  size_t len = std::strlen(rel);
  if (len >= sizeof buf) return make_error(ENAMETOOLONG, std::string("mkdir '") + rel + "'");
  std::memcpy(buf, rel, len + 1);
  while (len > 1 && buf[len - 1] == '/') buf[--len] = 0;
  if (char* slash = std::strrchr(buf, '/'); slash && slash[1]) {
    *slash = 0;
    auto parent = open_in_root(root_, buf[0] ? buf : "/", O_PATH | O_DIRECTORY);
    *slash = '/';
    if (parent) {
      // mkdirat never follows a symlink in its last component; the open after it resolves the
      // whole path inside the root again.
      if (::mkdirat(parent->get(), slash + 1, mode) < 0 && errno != EEXIST)
        return errno_error(std::string("mkdir '") + buf + "'");
      return open_in_root(root_, buf, O_PATH | O_DIRECTORY);
    }
  }
  // Walk component by component: open the parent inside the root, mkdirat the child on that fd.
  // mkdirat never follows a symlink in its last component; the next open resolves it in-root.
  auto cur = open_in_root(root_, "/", O_PATH | O_DIRECTORY);
  if (!cur) return cur;
  char* p = buf;
  while (*p) {
    while (*p == '/') ++p;
    if (!*p) break;
    char* end = p;
    while (*end && *end != '/') ++end;
    char saved = *end;
    *end = 0;
    if (::mkdirat(cur->get(), p, mode) < 0 && errno != EEXIST)
      return errno_error(std::string("mkdir '") + buf + "'");
    // Resolve the prefix from the root again so a symlink component stays inside the root.
    auto next = open_in_root(root_, buf, O_PATH | O_DIRECTORY);
    if (!next) return next;
    cur = std::move(next);
    *end = saved;
    p = end;
  }
  return cur;
}

Result<unique_fd> RootFs::mkfile_p(const char* rel, mode_t mode) const noexcept {
  if (auto fd = open_at(rel, O_PATH); fd) return fd;
  char buf[PATH_MAX];
  size_t len = std::strlen(rel);
  if (len >= sizeof buf) return make_error(ENAMETOOLONG, std::string("create '") + rel + "'");
  std::memcpy(buf, rel, len + 1);
  while (len > 1 && buf[len - 1] == '/') buf[--len] = 0;
  char* slash = std::strrchr(buf, '/');
  const char* name = buf;
  unique_fd dir;
  if (slash) {
    *slash = 0;
    auto d = mkdir_p(buf[0] ? buf : "/", 0755);
    if (!d) return d;
    dir = std::move(*d);
    name = slash + 1;
  } else {
    auto d = open_in_root(root_, "/", O_PATH | O_DIRECTORY);
    if (!d) return d;
    dir = std::move(*d);
  }
  int fd = ::openat(dir.get(), name, O_CREAT | O_WRONLY | O_NOFOLLOW | O_CLOEXEC, mode);
  if (fd < 0 && errno != EEXIST) return errno_error(std::string("create '") + rel + "'");
  if (fd >= 0) ::close(fd);
  return open_at(rel, O_PATH);
}

}  // namespace vsrv::sys
