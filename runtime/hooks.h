// runtime/hooks.h: OCI hooks. Each hook gets the container's state JSON on stdin, its own env and
// an optional timeout. Hooks for the "runtime namespace" run as plain children of vsrv; hooks for
// the "container namespace" (createContainer, startContainer) run in a forked child that first
// joins the container's namespaces through a pidfd, then execs the path there, as runc does.
#pragma once
#include <sys/types.h>

#include <string>
#include <vector>

#include "config/oci_spec.h"
#include "runtime/sys/error.h"

namespace vsrv::runtime {

// ns_pid > 0: run inside that process's namespaces (mount, uts, ipc, net, cgroup, user).
Result<void> run_hooks(const std::vector<oci::Hook>& hooks, const char* kind, const std::string& state_json,
                       pid_t ns_pid = 0);

}  // namespace vsrv::runtime
