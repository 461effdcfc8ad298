// runtime/caps.h: OCI capability names -> CapSets (parent side, libcap for the name table).
#pragma once
#include <string>
#include <vector>

#include "config/oci_spec.h"
#include "runtime/child/cap_sets.h"
#include "runtime/sys/error.h"

namespace vsrv::runtime {

// /proc/sys/kernel/cap_last_cap, read once per process (CAP_LAST_CAP of the headers if unreadable).
int kernel_last_cap();

// Unknown names are an error naming the set ("process.capabilities.bounding: unknown capability
// 'CAP_FOO'"); names the running kernel does not have (above cap_last_cap) are skipped, as runc.
Result<CapSets> plan_caps(const oci::Capabilities& caps);
std::vector<std::string> cap_names(std::uint64_t mask);

}  // namespace vsrv::runtime
