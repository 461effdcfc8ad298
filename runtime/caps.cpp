// runtime/caps.cpp: capability names to bit masks through libcap's name table.
#include "runtime/caps.h"

#include <sys/capability.h>

#include <cstdlib>

#include "runtime/sys/syscalls.h"

namespace vsrv::runtime {

int kernel_last_cap() {
  static const int v = [] {
    auto t = sys::read_file("/proc/sys/kernel/cap_last_cap");
    return t ? std::atoi(t->c_str()) : CAP_LAST_CAP;
  }();
  return v;
}

namespace {
int last_cap() { return kernel_last_cap(); }

Result<std::uint64_t> mask_of(const std::vector<std::string>& names, const char* set) {
  std::uint64_t m = 0;
  for (const auto& n : names) {
    cap_value_t v;
    if (cap_from_name(n.c_str(), &v) < 0)
      return fail(std::string("process.capabilities.") + set + ": unknown capability '" + n + "'");
    if (v > last_cap() || v >= 64) continue;
    m |= 1ULL << v;
  }
  return m;
}
}  // namespace

Result<CapSets> plan_caps(const oci::Capabilities& c) {
  CapSets s;
  auto b = mask_of(c.bounding, "bounding");
  if (!b) return forward(std::move(b.error()));
  auto e = mask_of(c.effective, "effective");
  if (!e) return forward(std::move(e.error()));
  auto i = mask_of(c.inheritable, "inheritable");
  if (!i) return forward(std::move(i.error()));
  auto p = mask_of(c.permitted, "permitted");
  if (!p) return forward(std::move(p.error()));
  auto a = mask_of(c.ambient, "ambient");
  if (!a) return forward(std::move(a.error()));
  s.bounding = *b;
  s.effective = *e;
  s.inheritable = *i;
  s.permitted = *p;
  s.ambient = *a;
  return s;
}

std::vector<std::string> cap_names(std::uint64_t mask) {
  std::vector<std::string> out;
  for (int v = 0; v < 64; ++v) {
    if (!(mask & (1ULL << v))) continue;
    char* name = cap_to_name(v);
    if (name) {
      std::string s = name;
      cap_free(name);
      for (auto& ch : s) ch = static_cast<char>(toupper(static_cast<unsigned char>(ch)));
      out.push_back(s);
    }
  }
  return out;
}

}  // namespace vsrv::runtime
