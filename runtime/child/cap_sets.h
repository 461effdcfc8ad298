// runtime/child/cap_sets.h: the five capability sets as bit masks (bit N = capability N).
// Plain data shared by the parent (runtime/caps.cpp computes it) and the child (applies it).
#pragma once
#include <cstdint>

namespace vsrv::runtime {

struct CapSets {
  std::uint64_t bounding = 0, effective = 0, inheritable = 0, permitted = 0, ambient = 0;
  bool operator==(const CapSets&) const = default;
};

}  // namespace vsrv::runtime
