// runtime/sys/cloned_binary.cpp: sealed-memfd self re-exec (see cloned_binary.h).
#include "runtime/sys/cloned_binary.h"

#include <cerrno>
#include <fcntl.h>
#include <sys/mman.h>
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
  ::close(fd);
  return seals >= 0 && (seals & kSeals) == kSeals;
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

}  // namespace vsrv::sys
