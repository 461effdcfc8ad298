// runtime/child/seccomp_load.cpp: the one syscall that installs the filter.
#include "runtime/child/seccomp_load.h"

#include <linux/filter.h>
#include <linux/seccomp.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <cerrno>

namespace vsrv::runtime {

int load_seccomp(const struct sock_filter* f, unsigned short len, unsigned flags, int* listener) noexcept {
  struct sock_fprog prog = {len, const_cast<struct sock_filter*>(f)};
  if (listener) flags |= SECCOMP_FILTER_FLAG_NEW_LISTENER;
  long rc = ::syscall(SYS_seccomp, SECCOMP_SET_MODE_FILTER, flags, &prog);
  if (rc < 0) return -errno;
  if (listener) *listener = static_cast<int>(rc);
  return 0;
}

}  // namespace vsrv::runtime
