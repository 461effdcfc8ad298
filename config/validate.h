// config/validate.h: checks an oci::Spec before `create` acts on it.
// Every check runs and every problem is reported at once, each named by its JSON path:
//   "config.json: 2 errors: process.cwd: must be absolute; linux.namespaces[1]: duplicate namespace type 'pid'"
// Rules follow runc's libcontainer/configs/validate where the spec leaves room (relative mount
// destinations are errors; sysctls must be namespaced). Checks that need the kernel or libcap
// (capability names known to this kernel, seccomp syscall names) are done where they are applied.
#pragma once
#include <string>
#include <vector>

#include "config/oci_spec.h"
#include "runtime/sys/error.h"

namespace vsrv::config {

// All diagnostics, in field order ("process.cwd: must be absolute"). Empty when the spec is valid.
// `bundle` is where a relative root.path is resolved; the rootfs must exist and be a directory.
std::vector<std::string> diagnostics(const oci::Spec& spec, const std::string& bundle);

// Fails with one Error listing every diagnostic:
// "config.json: process.cwd: must be absolute" or "config.json: N errors: a; b; ...".
Result<void> validate(const oci::Spec& spec, const std::string& bundle);

}  // namespace vsrv::config
