// runtime/cgroup/devices_bpf.h: linux.resources.devices on cgroup v2, where there is no devices
// controller: a BPF_PROG_TYPE_CGROUP_DEVICE program built from the rules and attached to the
// container's cgroup. Security: without it a container on v2 could mknod and open any device
// node (a raw disk, /dev/mem, /dev/kmsg) it can reach; this is the v2 equivalent of the v1
// devices.deny "a" line every default config starts with.
#pragma once
#include <linux/bpf.h>

#include <vector>

#include "config/oci_spec.h"
#include "runtime/sys/error.h"

namespace vsrv::cgroup {

// The program, rules checked from the last to the first as the spec orders them (a later rule
// overrides an earlier one); the first that matches the device type, major, minor and covers
// every access bit asked for decides; no match denies. Same semantics as runc's devicefilter.
// Each rule is one test: its fields' differences (XOR) and the access bits it lacks are ORed
// into one register and compared with zero once. With a jump per field, as runc emits it, the
// kernel's verifier walked each rule once per way into it (up to four): 298 instructions
// processed for a 79-instruction program of the default rules, ~0.29 ms a load here; now 151
// for 151, ~0.12 ms (tests/unit/devices_bpf_test.cpp checks the decisions against the rules').
// Rules must already be validated (device_rule() in resources.cpp).
std::vector<bpf_insn> device_filter(const std::vector<oci::DeviceRule>& rules);

// Loads device_filter(rules) and attaches it to the cgroup directory `cgroup_fd`
// (BPF_F_ALLOW_MULTI: a request must pass every attached program, so a later update only narrows).
// `loaded` >= 0: that program, already loaded from device_filter(rules) (runtime/prefetch.h).
Result<void> attach_device_filter(int cgroup_fd, const std::vector<oci::DeviceRule>& rules, int loaded = -1);

}  // namespace vsrv::cgroup
