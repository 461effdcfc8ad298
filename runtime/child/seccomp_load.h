// runtime/child/seccomp_load.h: installing a prebuilt BPF filter in the child (noexcept).
#pragma once
struct sock_filter;

namespace vsrv::runtime {

// seccomp(SECCOMP_SET_MODE_FILTER, flags, prog). With `listener` non-null the filter is loaded
// with SECCOMP_FILTER_FLAG_NEW_LISTENER and *listener receives the notify fd. 0 or -errno.
int load_seccomp(const struct sock_filter* f, unsigned short len, unsigned flags, int* listener) noexcept;

}  // namespace vsrv::runtime
