// runtime/cgroup/detect.cpp: which cgroup layout the machine has and where it is mounted.
#include <fcntl.h>
#include <linux/magic.h>
#include <sys/statfs.h>

#include <sstream>

#include "runtime/cgroup/hierarchy.h"
#include "runtime/sys/syscalls.h"

namespace vsrv::cgroup {
namespace {

constexpr const char* kCgroupRoot = "/sys/fs/cgroup";

std::vector<std::string> split(std::string_view s, char sep) {
  std::vector<std::string> out;
  size_t start = 0;
  while (start <= s.size()) {
    size_t end = s.find(sep, start);
    if (end == std::string_view::npos) end = s.size();
    out.emplace_back(s.substr(start, end - start));
    start = end + 1;
  }
  return out;
}

// mountinfo escapes space, tab, newline and backslash as \ooo.
std::string unescape_octal(std::string_view s) {
  auto is_oct = [](char c) { return c >= '0' && c <= '7'; };
  std::string out;
  for (size_t i = 0; i < s.size(); ++i) {
    if (s[i] == '\\' && i + 3 < s.size() &&
        is_oct(s[i + 1]) && is_oct(s[i + 2]) && is_oct(s[i + 3])) {
      out += static_cast<char>((s[i + 1] - '0') * 64 + (s[i + 2] - '0') * 8 + (s[i + 3] - '0'));
      i += 3;
      continue;
    }
    out += s[i];
  }
  return out;
}

}  // namespace

const char* layout_name(Layout l) {
  switch (l) {
    case Layout::V1: return "v1";
    case Layout::Hybrid: return "hybrid";
    case Layout::V2: return "v2";
  }
  return "?";
}

namespace {
int root_fd_ = -2;  // -2: not tried yet (vsrv is single-threaded where it asks)
}  // namespace

int root_fd() {
  if (root_fd_ == -2) root_fd_ = ::open(kCgroupRoot, O_PATH | O_DIRECTORY | O_CLOEXEC);
  return root_fd_;
}

int opened_root_fd() { return root_fd_ >= 0 ? root_fd_ : -1; }

At at(const std::string& path) {
  constexpr std::string_view root = "/sys/fs/cgroup/";
  if (path.size() > root.size() && path.compare(0, root.size(), root) == 0 && root_fd() >= 0)
    return {root_fd(), path.c_str() + root.size()};
  return {AT_FDCWD, path.c_str()};
}

// Probed once per process, as sys::features(): create asks twice on its start path (whether a
// device program is wanted, then for the hierarchies), and vsrv never changes its own mount
// namespace, so the answer cannot change under it.
Layout detect_layout() {
  static const Layout layout = [] {
    struct statfs st {};
    if (::statfs(kCgroupRoot, &st) == 0 && st.f_type == CGROUP2_SUPER_MAGIC) return Layout::V2;
    struct statfs un {};
    if (::statfs("/sys/fs/cgroup/unified", &un) == 0 && un.f_type == CGROUP2_SUPER_MAGIC)
      return Layout::Hybrid;
    return Layout::V1;
  }();
  return layout;
}

Hierarchies parse_mountinfo(std::string_view text) {
  // One pass over the text without copying it: only cgroup lines are split into fields (the
  // whole table is read on every create, and most of its lines are other filesystems).
  Hierarchies h;
  auto field = [](std::string_view& rest) {  // the next space-separated field, consumed
    size_t sp = rest.find(' ');
    std::string_view f = rest.substr(0, sp);
    rest = sp == std::string_view::npos ? std::string_view() : rest.substr(sp + 1);
    return f;
  };
  while (!text.empty()) {
    size_t nl = text.find('\n');
    std::string_view line = text.substr(0, nl);
    text = nl == std::string_view::npos ? std::string_view() : text.substr(nl + 1);
    // id parent maj:min root mountpoint options [optional...] - fstype source superoptions
    size_t dash = line.find(" - ");
    if (dash == std::string_view::npos) continue;
    std::string_view post = line.substr(dash + 3);
    std::string_view fstype = field(post);
    if (fstype != "cgroup" && fstype != "cgroup2") continue;
    std::string_view pre = line.substr(0, dash);
    std::string_view f[5];
    for (auto& x : f) x = field(pre);
    if (f[4].empty()) continue;
    std::string_view root = f[3];
    field(post);  // source
    std::string_view super = field(post);
    if (super.empty() && fstype == "cgroup") continue;
    if (fstype == "cgroup2") {
      if (h.unified.empty() && root == "/") h.unified = unescape_octal(f[4]);
      continue;
    }
    if (root != "/") continue;
    while (!super.empty()) {
      size_t comma = super.find(',');
      std::string_view opt = super.substr(0, comma);
      super = comma == std::string_view::npos ? std::string_view() : super.substr(comma + 1);
      for (const char* c : kV1Controllers)
        if (opt == c && !h.v1.count(c)) h.v1[c] = unescape_octal(f[4]);
    }
  }
  if (h.v1.empty() && !h.unified.empty()) h.layout = Layout::V2;
  else if (!h.unified.empty()) h.layout = Layout::Hybrid;
  else h.layout = Layout::V1;
  return h;
}

bool unified_mounted() { return detect_layout() != Layout::V1; }

Result<Hierarchies> discover() {
  Hierarchies h;
  Layout l = detect_layout();
  if (l == Layout::V2) {
    // A pure v2 host has one hierarchy, at /sys/fs/cgroup: the mount table has nothing to add.
    h.layout = Layout::V2;
    h.unified = kCgroupRoot;
  } else {
    auto mi = sys::read_file("/proc/self/mountinfo");
    if (!mi) return forward(std::move(mi.error()), "detect cgroup hierarchies");
    h = parse_mountinfo(*mi);
    if (l == Layout::Hybrid) h.layout = Layout::Hybrid;
  }
  if (!h.unified.empty()) {
    auto ctl = sys::read_file(h.unified + "/cgroup.controllers");
    if (ctl) {
      std::istringstream cs(*ctl);
      std::string c;
      while (cs >> c) h.v2_controllers.insert(c);
    }
  }
  if (h.v1.empty() && h.unified.empty()) return fail("no cgroup hierarchy is mounted");
  return h;
}

std::map<std::string, std::string> parse_proc_cgroup(std::string_view text) {
  std::map<std::string, std::string> out;
  std::istringstream in{std::string(text)};
  std::string line;
  while (std::getline(in, line)) {
    auto c1 = line.find(':');
    if (c1 == std::string::npos) continue;
    auto c2 = line.find(':', c1 + 1);
    if (c2 == std::string::npos) continue;
    std::string ctrls = line.substr(c1 + 1, c2 - c1 - 1);
    std::string path = line.substr(c2 + 1);
    if (ctrls.empty()) {
      out[""] = path;
      continue;
    }
    for (const auto& c : split(ctrls, ',')) out[c] = path;
  }
  return out;
}

Result<std::set<unsigned>> parse_cpu_list(std::string_view text, std::string_view field) {
  std::set<unsigned> out;
  std::string t(text);
  while (!t.empty() && (t.back() == '\n' || t.back() == ' ')) t.pop_back();
  if (t.empty()) return out;
  auto bad = [&](const std::string& part) {
    return fail(std::string(field) + ": invalid cpu list '" + std::string(text) + "' at '" + part + "'");
  };
  auto num = [](const std::string& s, unsigned& v) {
    if (s.empty() || s.size() > 6) return false;
    for (char c : s) if (c < '0' || c > '9') return false;
    v = static_cast<unsigned>(std::stoul(s));
    return true;
  };
  for (const auto& part : split(t, ',')) {
    auto dash = part.find('-');
    unsigned a = 0, b = 0;
    if (dash == std::string::npos) {
      if (!num(part, a)) return bad(part);
      b = a;
    } else if (!num(part.substr(0, dash), a) || !num(part.substr(dash + 1), b) || b < a) {
      return bad(part);
    }
    for (unsigned i = a; i <= b; ++i) out.insert(i);
  }
  return out;
}

Result<std::string> clean_cgroup_path(std::string_view p) {
  std::string out;
  for (const auto& comp : split(p, '/')) {
    if (comp.empty() || comp == ".") continue;
    if (comp == "..") return fail("cgroupsPath '" + std::string(p) + "': must not contain '..'");
    out += "/" + comp;
  }
  return out.empty() ? std::string("/") : out;
}

}  // namespace vsrv::cgroup
