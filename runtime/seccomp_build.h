// runtime/seccomp_build.h: OCI linux.seccomp -> a BPF program, compiled in the parent with
// libseccomp (crun's approach): the child only hands the finished filter to seccomp(2), so it
// needs neither libseccomp nor allocation.
#pragma once
#include <linux/filter.h>

#include <vector>

#include "config/oci_spec.h"
#include "runtime/sys/error.h"

namespace vsrv::runtime {

struct SeccompProgram {
  std::vector<struct sock_filter> filter;
  unsigned flags = 0;        // SECCOMP_FILTER_FLAG_* for seccomp(SECCOMP_SET_MODE_FILTER)
  bool uses_notify = false;  // some rule is SCMP_ACT_NOTIFY: a listener fd must be requested
  bool log = false;
};

// Errors name the field: "linux.seccomp.syscalls[3].action: unknown action 'X'".
Result<SeccompProgram> build_seccomp(const oci::Seccomp& s);

}  // namespace vsrv::runtime
