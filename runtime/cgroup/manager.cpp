// runtime/cgroup/manager.cpp: the container's cgroup directories in every hierarchy (v1, hybrid,
// v2): creation, placement of processes, limits, freeze, kill and removal. Writes go only to
// directories resolved from the container's own path; only directories vsrv itself created are
// ever removed. A limit the kernel refuses is rolled back to the value read before writing.
#include <fcntl.h>
#include <signal.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cstring>
#include <nlohmann/json.hpp>
#include <optional>
#include <set>
#include <sstream>
#include <thread>

#include "runtime/cgroup/devices_bpf.h"
#include "runtime/cgroup/hierarchy.h"
#include "runtime/cgroup/manager.h"
#include "runtime/cgroup/resources.h"
#include "runtime/json_text.h"
#include "runtime/sys/syscalls.h"

namespace vsrv::cgroup {

namespace {

std::string trim(std::string s) {
  while (!s.empty() && (s.back() == '\n' || s.back() == ' ')) s.pop_back();
  return s;
}

Result<void> write_value(const std::string& path, const std::string& value) {
  auto r = sys::write_file(path, value);
  if (!r) return forward(std::move(r.error()), "write '" + value + "'");
  return {};
}

// Puts back the values read before writing, newest first (Manager::Undo entries).
template <class U>
void put_back(const std::vector<U>& undo) {
  for (auto it = undo.rbegin(); it != undo.rend(); ++it) (void)sys::write_file(it->path, it->old);
}

// mount + "/a/b" -> {mount/a, mount/a/b}: every directory from the mount down to the leaf.
std::vector<std::string> dirs_below(const std::string& mount, const std::string& rel) {
  std::vector<std::string> out;
  std::string cur = mount;
  std::istringstream in(rel);
  std::string part;
  while (std::getline(in, part, '/')) {
    if (part.empty()) continue;
    cur += "/" + part;
    out.push_back(cur);
  }
  return out;
}

// Makes every missing component of `dir` below `mount`; records the ones made here.
Result<void> make_dirs_once(const std::string& mount, const std::string& rel, std::vector<std::string>& created) {
  for (const auto& cur : dirs_below(mount, rel)) {
    const At a = at(cur);
    if (::mkdirat(a.dirfd, a.path, 0755) == 0) {
      if (std::find(created.begin(), created.end(), cur) == created.end()) created.push_back(cur);
    } else if (errno != EEXIST) {
      return errno_error("mkdir '" + cur + "'");
    }
  }
  return {};
}

// A concurrent delete may remove the shared prefix between our mkdirs (ENOENT): start again.
Result<void> make_dirs(const std::string& mount, const std::string& rel, std::vector<std::string>& created) {
  for (int i = 0;; ++i) {
    auto r = make_dirs_once(mount, rel, created);
    if (r || r.error().errnum != ENOENT || i == 20) return r;
  }
}

// A new v1 cpuset cgroup starts with empty cpus/mems and refuses tasks: inherit the parent's.
void seed_cpuset(const std::string& dir) {
  if (dir.rfind('/') == std::string::npos) return;  // walked above "/": no parent to inherit from
  for (const char* f : {"cpuset.cpus", "cpuset.mems"}) {
    auto cur = sys::read_file(dir + "/" + f);
    if (cur && !trim(*cur).empty()) continue;
    std::string parent = dir.substr(0, dir.rfind('/'));
    seed_cpuset(parent);
    if (auto p = sys::read_file(parent + "/" + f); p) (void)sys::write_file(dir + "/" + f, trim(*p));
  }
}

// The same for the directories make_dirs() just made, top-down: the values are read once, from
// the deepest directory that was there before (or the mount), and written into each new one.
// Anything unexpected (that directory still empty: a concurrent create seeding it) falls back to
// seed_cpuset(), which reads its way up.
void seed_new_cpusets(const std::string& mount, const std::vector<std::string>& below,
                      const std::vector<std::string>& made) {
  // A directory someone else made (a cgroupsPath an admin prepared) may still be empty.
  if (below.empty() || std::find(made.begin(), made.end(), below.back()) == made.end()) return seed_cpuset(below.empty() ? mount : below.back());
  std::string src = mount;
  std::optional<std::pair<std::string, std::string>> vals;
  for (const auto& d : below) {
    if (std::find(made.begin(), made.end(), d) == made.end()) {
      src = d;
      vals.reset();
      continue;
    }
    if (!vals) {
      auto c = sys::read_file(src + "/cpuset.cpus"), m = sys::read_file(src + "/cpuset.mems");
      if (!c || !m || trim(*c).empty() || trim(*m).empty()) return seed_cpuset(below.back());
      vals.emplace(trim(*c), trim(*m));
    }
    (void)sys::write_file(d + "/cpuset.cpus", vals->first);
    (void)sys::write_file(d + "/cpuset.mems", vals->second);
  }
}

const char* layout_key(Layout l) { return l == Layout::V2 ? "v2" : l == Layout::Hybrid ? "hybrid" : "v1"; }
Layout layout_from(const std::string& s) { return s == "v2" ? Layout::V2 : s == "hybrid" ? Layout::Hybrid : Layout::V1; }

}  // namespace

Result<Manager> Manager::resolve(const std::string& cgroups_path, const std::string& id) {
  auto h = discover();
  if (!h) return forward(std::move(h.error()));
  // vsrv's own cgroups matter only to a relative cgroupsPath (resolve_at places it below them).
  std::map<std::string, std::string> own;
  if (!cgroups_path.empty() && cgroups_path[0] != '/')
    if (auto t = sys::read_file("/proc/self/cgroup"); t) own = parse_proc_cgroup(*t);
  return resolve_at(*h, cgroups_path, id, own);
}

Result<Manager> Manager::create(const std::string& cgroups_path, const std::string& id) {
  auto m = resolve(cgroups_path, id);
  if (!m) return m;
  VSRV_TRY(m->make());
  return m;
}

Result<Manager> Manager::create_at(const Hierarchies& h, const std::string& cgroups_path, const std::string& id,
                                   const std::map<std::string, std::string>& own) {
  auto m = resolve_at(h, cgroups_path, id, own);
  if (!m) return m;
  VSRV_TRY(m->make());
  return m;
}

Result<Manager> Manager::resolve_at(const Hierarchies& h, const std::string& cgroups_path, const std::string& id,
                                    const std::map<std::string, std::string>& own) {
  Manager m;
  m.layout_ = h.layout;
  m.v2_root_ = h.unified;
  m.v2_controllers_ = h.v2_controllers;
  std::string base = cgroups_path.empty() ? "/vsrv/" + id : cgroups_path;
  // systemd-style "slice:prefix:name" paths need the systemd driver, which vsrv does not have.
  if (base.find(':') != std::string::npos && base[0] != '/')
    return fail("linux.cgroupsPath: '" + base + "' is a systemd path; vsrv manages cgroupfs (drop --systemd-cgroup)");
  auto resolve = [&](const std::string& ctrl) -> Result<std::string> {
    std::string p = base;
    if (p[0] != '/') {  // relative: below the cgroup vsrv itself runs in, as runc
      auto it = own.find(ctrl);
      p = (it == own.end() ? std::string("/") : it->second) + "/" + p;
    }
    return clean_cgroup_path(p);
  };
  // The directories that do not exist yet are the ones make() will create: recorded now, so a
  // state saved before make() lets `delete --force` remove them after a SIGKILL mid-way.
  auto plan_dirs = [&](const std::string& mount, const std::string& rel) {
    m.to_make_.emplace_back(mount, rel);
    for (const auto& cur : dirs_below(mount, rel)) {
      struct stat sb;
      const At a = at(cur);
      if (::fstatat(a.dirfd, a.path, &sb, 0) < 0 && std::find(m.created_.begin(), m.created_.end(), cur) == m.created_.end())
        m.created_.push_back(cur);
    }
  };
  if (h.layout != Layout::V2) {
    std::set<std::string> seen_mounts;
    for (const char* ctrl : kV1Controllers) {
      auto it = h.v1.find(ctrl);
      if (it == h.v1.end()) continue;
      auto rel = resolve(ctrl);
      if (!rel) return forward(std::move(rel.error()), "linux.cgroupsPath");
      if (*rel == "/") return fail("linux.cgroupsPath: refusing to use the root cgroup");
      m.cgroup_path_ = *rel;
      m.paths_[ctrl] = it->second + *rel;
      if (seen_mounts.insert(it->second).second) plan_dirs(it->second, *rel);
    }
  }
  if (!h.unified.empty()) {
    auto rel = resolve("");
    if (!rel) return forward(std::move(rel.error()), "linux.cgroupsPath");
    if (*rel == "/") return fail("linux.cgroupsPath: refusing to use the root cgroup");
    if (m.cgroup_path_.empty()) m.cgroup_path_ = *rel;
    m.paths_["unified"] = h.unified + *rel;
    plan_dirs(h.unified, *rel);
  }
  if (m.paths_.empty()) return fail("no cgroup hierarchy is mounted (is /sys/fs/cgroup visible in this mount namespace?)");
  return m;
}

Result<void> Manager::make() {
  // From here on created_ lists exactly what this process made (a concurrent create may have
  // made a shared parent meanwhile; that one is not ours to remove).
  // (The v1 directories a helper makes stay listed: v1_made_elsewhere().)
  created_ = v1_elsewhere_;
  auto undo = [&](Error e) -> Result<void> {
    (void)destroy();
    return tl::unexpected(std::move(e));
  };
  for (const auto& [mount, rel] : to_make_) {
    size_t before = created_.size();
    if (auto r = make_dirs(mount, rel, created_); !r) return undo(std::move(r.error()).wrap("cgroup"));
    if (auto it = paths_.find("cpuset"); it != paths_.end() && it->second == mount + rel)
      seed_new_cpusets(mount, dirs_below(mount, rel), {created_.begin() + static_cast<std::ptrdiff_t>(before), created_.end()});
  }
  to_make_.clear();
  if (layout_ != Layout::V1 && paths_.count("unified")) {
    if (layout_ == Layout::V2)
      if (auto r = enable_v2_controllers(v2_controllers_); !r) return undo(std::move(r.error()).wrap("cgroup"));
    const std::string& dir = paths_.at("unified");
    int fd = ::open(dir.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (fd < 0) return undo(Error{errno, "open '" + dir + "'"});
    v2_dir_.reset(fd);
  }
  return {};
}

// The directories from `mount` down to rel that resolve() found missing (to be made), top-down.
std::vector<std::string> Manager::to_create(const std::string& mount, const std::string& rel) const {
  std::vector<std::string> out;
  for (auto& d : dirs_below(mount, rel))
    if (std::find(created_.begin(), created_.end(), d) != created_.end()) out.push_back(std::move(d));
  return out;
}

std::optional<Manager::V1Steps> Manager::v1_steps(const oci::Resources* r) const {
  if (layout_ == Layout::V2 || v1_taken_ || !made_all()) return std::nullopt;
  V1Steps s;
  std::set<std::string> leaves;
  for (const auto& [c, d] : paths_) leaves.insert(d);
  auto cpuset = paths_.find("cpuset");
  for (const auto& [mount, rel] : to_make_) {
    if (is_unified(mount)) continue;
    std::vector<std::string> fresh = to_create(mount, rel);
    if (fresh.empty()) return std::nullopt;
    if (cpuset != paths_.end() && cpuset->second == mount + rel) {
      // The values a new cpuset directory needs (seed_cpuset()), read now from the deepest
      // directory above that has them. Every level from the mount down gets a seed, top-down:
      // the helper writes it where it made the directory or finds the file empty (a parent
      // someone made without values, or "/vsrv" made again after a concurrent delete removed it
      // with its last container: an empty cpuset refuses tasks, ENOSPC), as seed_cpuset() does.
      std::string src = fresh.front().substr(0, fresh.front().rfind('/'));
      std::optional<std::string> c, m;
      for (;;) {
        auto cc = sys::read_file(src + "/cpuset.cpus"), mm = sys::read_file(src + "/cpuset.mems");
        if (!cc || !mm) return std::nullopt;
        if (!trim(*cc).empty() && !trim(*mm).empty()) {
          c = trim(*cc), m = trim(*mm);
          break;
        }
        if (src.size() <= mount.size()) return std::nullopt;  // the mount itself has none
        src = src.substr(0, src.rfind('/'));
      }
      for (const auto& d : dirs_below(mount, rel)) {
        s.writes.push_back({d + "/cpuset.cpus", *c, true, d});
        s.writes.push_back({d + "/cpuset.mems", *m, true, d});
      }
    }
    // Every level from the mount down, the existing ones too: a concurrent delete may remove a
    // shared parent ("/vsrv" goes with its last container) before the helper gets there.
    for (auto& d : dirs_below(mount, rel)) {
      bool leaf = leaves.count(d) > 0;
      s.mkdirs.push_back({std::move(d), leaf});
    }
  }
  if (s.mkdirs.empty()) return std::nullopt;
  if (r) {
    auto plan = plan_writes(*r, hierarchies());
    if (!plan) return std::nullopt;
    for (const auto& w : plan->v1) {
      std::string d = dir_of(w.controller, false);
      if (d.empty()) return std::nullopt;
      s.writes.push_back({d + "/" + w.file, w.value, false});
    }
  }
  std::set<std::string> done;  // co-mounted controllers (cpu,cpuacct) share one directory
  for (const auto& [c, d] : paths_)
    if (c != "unified" && done.insert(d).second) s.tasks.push_back(d + "/tasks");
  return s;
}

void Manager::v1_made_elsewhere() {
  std::vector<std::pair<std::string, std::string>> keep;
  for (auto& [mount, rel] : to_make_) {
    if (is_unified(mount)) {
      keep.emplace_back(std::move(mount), std::move(rel));
      continue;
    }
    for (auto& d : to_create(mount, rel)) v1_elsewhere_.push_back(std::move(d));
  }
  to_make_ = std::move(keep);
  v1_taken_ = true;
}

void Manager::v1_made(const std::vector<std::string>& dirs) {
  for (const auto& d : v1_elsewhere_) created_.erase(std::remove(created_.begin(), created_.end(), d), created_.end());
  v1_elsewhere_ = dirs;
  created_.insert(created_.end(), dirs.begin(), dirs.end());
}

Result<void> Manager::enable_v2_controllers(const std::set<std::string>& wanted) const {
  // Every ancestor between the mount and our directory must delegate the controllers.
  const std::string& leaf = paths_.at("unified");
  std::vector<std::string> dirs = {v2_root_};
  for (auto& d : dirs_below(v2_root_, leaf.substr(v2_root_.size()))) dirs.push_back(std::move(d));
  dirs.pop_back();  // not the leaf itself: "no internal processes"
  for (const auto& d : dirs) {
    // Only what is missing, in one write ("+cpu +memory"); usually nothing is.
    std::set<std::string> have;
    if (auto t = sys::read_file(d + "/cgroup.subtree_control"); t) {
      std::istringstream in(*t);
      for (std::string c; in >> c;) have.insert(c);
    }
    std::string all;
    for (const auto& c : wanted)
      if (!have.count(c)) all += (all.empty() ? "+" : " +") + c;
    if (all.empty() || sys::write_file(d + "/cgroup.subtree_control", all)) continue;
    for (const auto& c : wanted) {
      // A controller the parent cannot give (e.g. cpuset without delegation) is skipped here;
      // writing a limit for it later gives a clear error.
      if (!have.count(c)) (void)sys::write_file(d + "/cgroup.subtree_control", "+" + c);
    }
  }
  return {};
}

std::string Manager::to_json() const {
  // What nlohmann's dump() of these six keys writes (sorted keys), without its serializer
  // (runtime/json_text.h; json_text_test.cpp compares the two).
  namespace jt = runtime::json_text;
  std::string out;
  bool first = true;
  out += '{';
  jt::append_key(out, "created", first);
  jt::append_strings(out, created_);
  jt::append_member(out, "layout", layout_key(layout_), first);
  jt::append_member(out, "path", cgroup_path_, first);
  jt::append_key(out, "paths", first);
  jt::append_object(out, paths_);
  jt::append_key(out, "v2_controllers", first);
  jt::append_strings(out, v2_controllers_);
  jt::append_member(out, "v2_root", v2_root_, first);
  out += '}';
  return out;
}

Result<Manager> Manager::from_json(const std::string& saved) {
  auto j = nlohmann::json::parse(saved, nullptr, false);
  if (j.is_discarded() || !j.is_object()) return fail("corrupt cgroup state");
  Manager m;
  try {
    m.layout_ = layout_from(j.value("layout", "v1"));
    m.paths_ = j.value("paths", std::map<std::string, std::string>{});
    m.created_ = j.value("created", std::vector<std::string>{});
    m.cgroup_path_ = j.value("path", "");
    m.v2_root_ = j.value("v2_root", "");
    m.v2_controllers_ = j.value("v2_controllers", std::set<std::string>{});
  } catch (const nlohmann::json::exception& e) {
    return fail(std::string("corrupt cgroup state: ") + e.what());
  }
  if (m.layout_ != Layout::V1 && m.paths_.count("unified")) {
    int fd = ::open(m.paths_["unified"].c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (fd >= 0) m.v2_dir_.reset(fd);
  }
  return m;
}

Hierarchies Manager::hierarchies() const {
  Hierarchies h;
  h.layout = layout_;
  for (const auto& [c, d] : paths_)
    if (c != "unified") h.v1[c] = d;
  h.unified = v2_root_;
  h.v2_controllers = v2_controllers_;
  return h;
}

std::string Manager::dir_of(const std::string& controller, bool v2) const {
  auto it = paths_.find(v2 ? "unified" : controller);
  return it == paths_.end() ? std::string() : it->second;
}

std::string Manager::procs_dir() const {
  for (const char* c : {"pids", "memory", "freezer", "cpu", "unified"})
    if (auto it = paths_.find(c); it != paths_.end()) return it->second;
  return paths_.empty() ? std::string() : paths_.begin()->second;
}

std::string Manager::freezer_dir(bool& v2) const {
  if (auto it = paths_.find("freezer"); it != paths_.end()) {
    v2 = false;
    return it->second;
  }
  v2 = true;
  if (layout_ == Layout::V2) return dir_of("", true);
  return {};
}

bool Manager::made_all() const {
  for (const auto& [c, d] : paths_)
    if (std::find(created_.begin(), created_.end(), d) == created_.end()) return false;
  return !paths_.empty();
}

Result<std::vector<Manager::TaskFile>> Manager::task_files() const {
  std::vector<TaskFile> out;
  std::set<std::string> done;  // co-mounted controllers (cpu,cpuacct) share one directory
  for (const auto& [c, d] : paths_) {
    if (c == "unified" || !done.insert(d).second) continue;
    std::string p = d + "/tasks";
    int fd = ::open(p.c_str(), O_WRONLY | O_CLOEXEC);
    if (fd < 0) return errno_error("open '" + p + "'");
    out.push_back({sys::unique_fd(fd), std::move(p)});
  }
  return out;
}

Result<void> Manager::write_all(const std::vector<std::pair<std::string, std::string>>& writes,
                                std::vector<Undo>* undo) const {
  // Consecutive writes to one file (a fresh cgroup's device rules: one per write, as the kernel
  // parses them) share one open.
  sys::unique_fd same;
  for (size_t i = 0; i < writes.size(); ++i) {
    const auto& [path, value] = writes[i];
    std::optional<std::string> old;
    if (undo)
      if (auto t = sys::read_file(path); t) old = std::move(*t);
    bool repeated = i > 0 && writes[i - 1].first == path;
    bool next_same = i + 1 < writes.size() && writes[i + 1].first == path;
    if (!repeated) same.reset();
    if (!undo && next_same && !same) {
      same.reset(::open(path.c_str(), O_WRONLY | O_CLOEXEC));
      if (!same) return tl::make_unexpected(Error{errno, "'" + path + "' = " + value + ": open"});
    }
    auto r = same ? sys::write_all(same, value) : write_value(path, value);
    if (!r) {
      // Put back what was there, so a refused value leaves the old limits.
      if (undo) put_back(*undo);
      // "…/memory.limit_in_bytes = 1024: Device or resource busy": the file, the value, the
      // kernel's reason; nothing else, since the caller adds which container.
      std::string hint = r.error().errnum == EBUSY && path.find("memory.") != std::string::npos
                             ? " (the container uses more than that now)"
                             : "";
      return tl::make_unexpected(Error{r.error().errnum, "'" + path + "' = " + value + hint});
    }
    if (undo && old) undo->push_back({path, trim(*old)});
  }
  return {};
}

Result<void> Manager::apply(const oci::Resources& r, bool fresh) const {
  if (r.cpu && (!r.cpu->cpus.empty() || !r.cpu->mems.empty())) {  // only a cpuset has anything to check
    std::string cpus, mems;
    if (auto t = sys::read_file("/sys/devices/system/cpu/online"); t) cpus = trim(*t);
    if (auto t = sys::read_file("/sys/devices/system/node/online"); t) mems = trim(*t);
    VSRV_TRY(check_cpuset(r, cpus, mems));
  }
  auto plan = plan_writes(r, hierarchies());
  if (!plan) return forward(std::move(plan.error()));
  std::vector<std::pair<std::string, std::string>> writes;
  // (The v1 part of a fresh cgroup may be written by the helper that made it: v1_made_elsewhere().)
  for (const auto& w : plan->v1) {
    if (v1_taken_) break;
    std::string d = dir_of(w.controller, false);
    if (d.empty()) return fail("linux.resources: the " + w.controller + " controller is not mounted");
    writes.emplace_back(d + "/" + w.file, w.value);
  }
  for (const auto& w : plan->v2) {
    std::string d = dir_of(w.controller, true);
    if (d.empty()) return fail("linux.resources: no cgroup v2 hierarchy for '" + w.file + "'");
    writes.emplace_back(d + "/" + w.file, w.value);
  }
  std::vector<Undo> undo;
  VSRV_TRY(write_all(writes, fresh ? nullptr : &undo));
  // Device rules on the unified hierarchy: an eBPF filter. Required on v2 (no devices controller);
  // on hybrid the v1 controller already enforces them and the filter is a second, best-effort
  // fence (it is what makes the v2 path run on v1/hybrid machines too).
  if (!r.devices.empty() && paths_.count("unified")) {
    sys::unique_fd opened;
    int fd = v2_dir_.get();
    if (fd < 0) {
      opened.reset(::open(paths_.at("unified").c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC));
      fd = opened.get();
    }
    auto a = fd < 0 ? Result<void>(errno_error("open '" + paths_.at("unified") + "'")) : attach_device_filter(fd, r.devices, device_prog_);
    if (!a && layout_ == Layout::V2) {
      put_back(undo);
      return forward(std::move(a.error()));
    }
  }
  return {};
}

Result<std::vector<pid_t>> Manager::pids() const {
  std::string d = procs_dir();
  auto t = sys::read_file(d + "/cgroup.procs");
  if (!t) return forward(std::move(t.error()));
  std::vector<pid_t> out;
  std::istringstream in(*t);
  pid_t p;
  while (in >> p) out.push_back(p);
  return out;
}

Result<void> Manager::kill_all(int sig) const {
  // Freeze first so nothing forks past the snapshot of pids, then signal, then thaw.
  bool was_frozen = false;
  if (auto f = frozen(); f) was_frozen = *f;
  (void)freeze(true);
  auto p = pids();
  if (!p) {
    if (!was_frozen) (void)freeze(false);
    return forward(std::move(p.error()));
  }
  for (pid_t pid : *p) ::kill(pid, sig);
  if (!was_frozen) (void)freeze(false);
  return {};
}

Result<void> Manager::freeze(bool on) const {
  bool v2 = false;
  std::string d = freezer_dir(v2);
  if (d.empty()) return fail("cgroup: no freezer available");
  if (!v2) {
    const char* want = on ? "FROZEN" : "THAWED";
    for (int i = 0; i < 1000; ++i) {
      VSRV_TRY(write_value(d + "/freezer.state", want));
      auto s = sys::read_file(d + "/freezer.state");
      if (s && trim(*s) == want) return {};
      std::this_thread::sleep_for(std::chrono::milliseconds(1));
    }
    return fail(std::string("cgroup: freezer did not reach ") + want);
  }
  VSRV_TRY(write_value(d + "/cgroup.freeze", on ? "1" : "0"));
  for (int i = 0; i < 1000; ++i) {
    auto ev = sys::read_file(d + "/cgroup.events");
    if (ev && ev->find(on ? "frozen 1" : "frozen 0") != std::string::npos) return {};
    std::this_thread::sleep_for(std::chrono::milliseconds(1));
  }
  return fail("cgroup: cgroup.freeze did not take effect");
}

Result<bool> Manager::frozen() const {
  bool v2 = false;
  std::string d = freezer_dir(v2);
  if (d.empty()) return false;
  if (!v2) {
    auto s = sys::read_file(d + "/freezer.state");
    if (!s) return forward(std::move(s.error()));
    return trim(*s) == "FROZEN";
  }
  auto s = sys::read_file(d + "/cgroup.freeze");
  if (!s) return forward(std::move(s.error()));
  return trim(*s) == "1";
}

Result<std::uint64_t> Manager::oom_kills() const {
  std::string d = dir_of("memory", layout_ == Layout::V2);
  if (d.empty()) return std::uint64_t{0};
  auto t = sys::read_file(d + (layout_ == Layout::V2 ? "/memory.events" : "/memory.oom_control"));
  if (!t) return forward(std::move(t.error()));
  auto pos = t->find("oom_kill ");
  if (pos == std::string::npos) return std::uint64_t{0};
  return std::strtoull(t->c_str() + pos + 9, nullptr, 10);
}

Result<void> Manager::destroy() const {
  if (paths_.empty() && created_.empty()) return {};
  // Deepest first. A parent shared with other containers ("/vsrv") stays while it has children.
  std::vector<std::string> dirs = created_;
  std::sort(dirs.begin(), dirs.end(), [](const std::string& a, const std::string& b) { return a.size() > b.size(); });
  std::set<std::string> leaves;
  for (const auto& [c, d] : paths_) leaves.insert(d);
  auto remove_dirs = [&](bool patient) {
    std::string first_error;
    for (const auto& d : dirs) {
      bool leaf = leaves.count(d) > 0;
      const At a = at(d);
      int rc = ::unlinkat(a.dirfd, a.path, AT_REMOVEDIR);
      for (int i = 0; patient && leaf && i < 100 && rc < 0 && errno == EBUSY; ++i) {
        std::this_thread::sleep_for(std::chrono::milliseconds(5));
        rc = ::unlinkat(a.dirfd, a.path, AT_REMOVEDIR);
      }
      // Only the container's own directories must go; a shared parent ("/vsrv") stays while other
      // containers live below it (EBUSY/ENOTEMPTY there is expected).
      if (rc < 0 && errno != ENOENT && leaf && first_error.empty()) first_error = "rmdir '" + d + "': " + std::strerror(errno);
    }
    return first_error;
  };
  // Most often the cgroup is empty by now (the init of a PID namespace takes every process in it
  // along), and an empty cgroup goes whatever its freezer says: rmdir at once. Only a cgroup
  // still busy is thawed, has its stray processes killed, and is waited for.
  std::string first_error = remove_dirs(false);
  if (!first_error.empty()) {
    (void)freeze(false);
    for (int i = 0; i < 200; ++i) {
      auto p = pids();
      if (!p || p->empty()) break;
      for (pid_t pid : *p) ::kill(pid, SIGKILL);
      std::this_thread::sleep_for(std::chrono::milliseconds(5));
    }
    first_error = remove_dirs(true);
  }
  // The default prefix ("/vsrv") goes with its last container, so create/delete cycles leave no
  // directory behind. rmdir of a non-empty cgroup fails (EBUSY), so another container's prefix is
  // never taken from under it; make_dirs() retries when a concurrent delete removed it meanwhile.
  if (cgroup_path_.rfind("/vsrv/", 0) == 0 && cgroup_path_.find('/', 6) == std::string::npos) {
    for (const auto& d : leaves) {
      if (d.size() <= cgroup_path_.size() || d.compare(d.size() - cgroup_path_.size(), cgroup_path_.size(), cgroup_path_) != 0)
        continue;
      std::string prefix = d.substr(0, d.rfind('/'));
      if (std::find(created_.begin(), created_.end(), prefix) != created_.end()) continue;  // tried above
      const At a = at(prefix);
      (void)::unlinkat(a.dirfd, a.path, AT_REMOVEDIR);
    }
  }
  if (!first_error.empty()) return fail("cgroup: " + first_error);
  return {};
}

}  // namespace vsrv::cgroup
