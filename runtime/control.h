// runtime/control.h: the verbs that act on a live container's cgroup: pause, resume, update
// (limits changed in place) and stats (usage read for `events` and `stats`). Each takes the
// container's lock where it changes anything, so it never races create, start or delete.
#pragma once
#include <string>

#include "config/oci_spec.h"
#include "runtime/cgroup/manager.h"
#include "runtime/cgroup/stats.h"
#include "runtime/state.h"
#include "runtime/sys/error.h"

namespace vsrv::runtime {

// Freezes every process of a running (or created) container: the freezer on v1, cgroup.freeze
// on v2. `state` then reports "paused".
Result<void> pause(const std::string& root, const std::string& id);
// Thaws a paused container.
Result<void> resume(const std::string& root, const std::string& id);
// Writes new limits to a created, running or paused container. A value the kernel refuses
// leaves the earlier limits in place; the accepted limits are merged into the stored config so
// that a later restore or `state` sees them.
Result<void> update(const std::string& root, const std::string& id, const oci::Resources& r);
// Usage of a container that has a cgroup (any state but stopped-and-deleted).
struct Usage {
  State state;
  cgroup::Stats stats;
};
Result<Usage> usage(const std::string& root, const std::string& id);

// The container's cgroup, rebuilt from its state ("has no cgroup" when none was recorded).
Result<cgroup::Manager> cgroup_of(const State& st);

// Merges the set fields of `update` into `base` (the fields runc's update can change).
void merge_resources(oci::Resources& base, const oci::Resources& update);

}  // namespace vsrv::runtime
