// runtime/child/caps_apply.cpp: capability sets in the child: raw prctl/capset, no libcap calls
// (libcap's cap_t API allocates), no allocation.
#include "runtime/child/caps_apply.h"

#include <linux/capability.h>
#include <sys/prctl.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <cerrno>

namespace vsrv::runtime {

int apply_caps(const CapSets& s, int last_cap, const char** what) noexcept {
  struct __user_cap_header_struct hdr = {_LINUX_CAPABILITY_VERSION_3, 0};
  struct __user_cap_data_struct data[2] = {};
  // After setresuid to a non-root uid (with PR_SET_KEEPCAPS) only the permitted set is left;
  // dropping from the bounding set needs CAP_SETPCAP effective, so raise effective to permitted
  // first.
  if (::syscall(SYS_capget, &hdr, data) < 0) {
    *what = "capget";
    return -errno;
  }
  data[0].effective = data[0].permitted;
  data[1].effective = data[1].permitted;
  if (::syscall(SYS_capset, &hdr, data) < 0) {
    *what = "capset (raise effective)";
    return -errno;
  }
  for (int cap = 0; cap <= last_cap && cap < 64; ++cap) {
    if (s.bounding & (1ULL << cap)) continue;
    if (::prctl(PR_CAPBSET_DROP, cap, 0, 0, 0) < 0 && errno != EINVAL) {
      *what = "drop from the bounding set";
      return -errno;
    }
  }
  for (int i = 0; i < 2; ++i) {
    data[i].effective = static_cast<__u32>(s.effective >> (32 * i));
    data[i].permitted = static_cast<__u32>(s.permitted >> (32 * i));
    data[i].inheritable = static_cast<__u32>(s.inheritable >> (32 * i));
  }
  if (::syscall(SYS_capset, &hdr, data) < 0) {
    *what = "capset";
    return -errno;
  }
  if (::prctl(PR_CAP_AMBIENT, PR_CAP_AMBIENT_CLEAR_ALL, 0, 0, 0) < 0 && errno != EINVAL) {
    *what = "clear ambient capabilities";
    return -errno;
  }
  for (int cap = 0; cap <= last_cap && cap < 64; ++cap) {
    if (!(s.ambient & (1ULL << cap))) continue;
    if (::prctl(PR_CAP_AMBIENT, PR_CAP_AMBIENT_RAISE, cap, 0, 0) < 0) {
      *what = "raise ambient capability";
      return -errno;
    }
  }
  return 0;
}

}  // namespace vsrv::runtime
