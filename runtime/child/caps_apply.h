// runtime/child/caps_apply.h: applying CapSets in the container's init (child side, noexcept).
#pragma once
#include "runtime/child/cap_sets.h"

namespace vsrv::runtime {

// Called after setresuid (with PR_SET_KEEPCAPS): drops every capability not in `bounding` from
// the bounding set, sets effective/permitted/inheritable with capset(2), then clears and raises
// the ambient set. Returns 0, or -errno with *what naming the failing step.
int apply_caps(const CapSets& sets, int last_cap, const char** what) noexcept;

}  // namespace vsrv::runtime
