// runtime/sys/cloned_binary.cpp: sealed-memfd self re-exec (see cloned_binary.h).
#include "runtime/sys/cloned_binary.h"

#include <cerrno>
#include <cstdlib>
#include <fcntl.h>
#include <linux/mount.h>
#include <sys/mman.h>
#include <sys/statvfs.h>
#include <sys/syscall.h>
#include <sys/sendfile.h>
#include <sys/stat.h>
#include <unistd.h>

extern char** environ;

namespace vsrv::sys {

namespace {
constexpr int kSeals = F_SEAL_SEAL | F_SEAL_SHRINK | F_SEAL_GROW | F_SEAL_WRITE;
}

bool running_from_sealed_copy() noexcept {
  int fd = ::open("/proc/self/exe", O_RDONLY | O_CLOEXEC);
  if (fd < 0) return false;
  int seals = ::fcntl(fd, F_GET_SEALS);
  // A binary on a read-only mount (ours from reexec_from_readonly_mount, or an installation on
  // a read-only /usr) cannot be reopened for writing either: EROFS.
  struct statvfs vfs;
  bool readonly = ::fstatvfs(fd, &vfs) == 0 && (vfs.f_flag & ST_RDONLY);
  ::close(fd);
  return readonly || (seals >= 0 && (seals & kSeals) == kSeals);
}

void reexec_from_readonly_mount(char** argv) noexcept {
  // A detached, read-only bind mount of the binary itself: open_tree(OPEN_TREE_CLONE) makes the
  // mount without attaching it anywhere, mount_setattr() makes it read-only, and execveat() runs
  // from it. No copy (the page cache is shared with the installed file) and no mount namespace.
  // Needs CAP_SYS_ADMIN; a container that has it could clone the mount read-write again, but a
  // container with CAP_SYS_ADMIN is not confined anyway (docs/security.md).
  int tree = static_cast<int>(::syscall(SYS_open_tree, AT_FDCWD, "/proc/self/exe", OPEN_TREE_CLONE | OPEN_TREE_CLOEXEC));
  if (tree < 0) return;
  struct mount_attr attr = {};
  attr.attr_set = MOUNT_ATTR_RDONLY | MOUNT_ATTR_NOSUID | MOUNT_ATTR_NODEV;
  if (::syscall(SYS_mount_setattr, tree, "", AT_EMPTY_PATH, &attr, sizeof attr) == 0)
    ::syscall(SYS_execveat, tree, "", argv, environ, AT_EMPTY_PATH);
  ::close(tree);
}

void reexec_from_sealed_copy(char** argv) noexcept {
  int src = ::open("/proc/self/exe", O_RDONLY | O_CLOEXEC);
  if (src < 0) return;
  struct stat st;
  if (::fstat(src, &st) < 0) {
    ::close(src);
    return;
  }
  // MFD_EXEC (6.3+) keeps the copy executable where vm.memfd_noexec would forbid it; fall back
  // without it on older kernels.
  int mfd = ::memfd_create("vsrv", MFD_CLOEXEC | MFD_ALLOW_SEALING | 0x0010U /* MFD_EXEC */);
  if (mfd < 0) mfd = ::memfd_create("vsrv", MFD_CLOEXEC | MFD_ALLOW_SEALING);
  if (mfd < 0) {
    ::close(src);
    return;
  }
  off_t left = st.st_size;
  while (left > 0) {
    ssize_t n = ::sendfile(mfd, src, nullptr, static_cast<size_t>(left));
    if (n <= 0) {
      if (n < 0 && errno == EINTR) continue;
      ::close(src);
      ::close(mfd);
      return;
    }
    left -= n;
  }
  ::close(src);
  if (::fcntl(mfd, F_ADD_SEALS, kSeals) < 0) {
    ::close(mfd);
    return;
  }
  ::fexecve(mfd, argv, environ);
  ::close(mfd);
}

namespace {
char** g_argv = nullptr;
}

void remember_argv(char** argv) noexcept { g_argv = argv; }

void reexec_protected() noexcept {
  if (!g_argv) return;
  if (!::getenv("VSRV_SEALED_MEMFD")) reexec_from_readonly_mount(g_argv);
  reexec_from_sealed_copy(g_argv);
}

}  // namespace vsrv::sys
