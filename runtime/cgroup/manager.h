// runtime/cgroup/manager.h: the container's cgroup, on v1, hybrid or v2 hierarchies.
// Contract used by the runtime (launcher, kill --all, ps, delete, update, pause, events):
// - create() makes the directories (and only those vsrv created are ever removed or written);
// - a new process joins without anyone writing its pid to cgroup.procs: the launcher clones it
//   with CLONE_INTO_CGROUP into clone_into_fd() (v2, and the unified part of hybrid), and the
//   process moves itself into each v1 hierarchy through task_files() (see there why);
// - to_json()/from_json() round-trip what later short-lived vsrv commands need (state.json).
#pragma once
#include <sys/types.h>

#include <map>
#include <memory>
#include <optional>
#include <set>
#include <cstdint>
#include <string>
#include <utility>
#include <vector>

#include "config/oci_spec.h"
#include "runtime/sys/error.h"
#include "runtime/sys/fd.h"

namespace vsrv::cgroup {

enum class Layout { V1, Hybrid, V2 };
Layout detect_layout();
const char* layout_name(Layout l);

struct Stats;        // defined in runtime/cgroup/stats.h
struct Hierarchies;  // defined in runtime/cgroup/hierarchy.h

class Manager {
 public:
  // Resolves `cgroups_path` (config linux.cgroupsPath; absolute, relative, or empty for the default
  // "/vsrv/<id>") against every mounted hierarchy and creates the directories.
  Manager() = default;
  Manager(Manager&&) = default;
  Manager& operator=(Manager&&) = default;
  static Result<Manager> create(const std::string& cgroups_path, const std::string& id);
  // create() against given hierarchies (tests pass a tmpdir laid out like cgroupfs). `own` is the
  // caller's /proc/self/cgroup (controller -> path, "" for v2), against which relative paths resolve.
  static Result<Manager> create_at(const Hierarchies& h, const std::string& cgroups_path,
                                   const std::string& id, const std::map<std::string, std::string>& own);
  // The two halves of create(): resolve() works out the directories without touching the
  // filesystem (created() then lists those that make() will create, for a state saved first);
  // make() creates them, seeds cpuset, delegates v2 controllers and opens the v2 fd. A failed
  // make() removes what it made.
  static Result<Manager> resolve(const std::string& cgroups_path, const std::string& id);
  static Result<Manager> resolve_at(const Hierarchies& h, const std::string& cgroups_path,
                                    const std::string& id, const std::map<std::string, std::string>& own);
  Result<void> make();
  const std::vector<std::string>& created() const { return created_; }
  // make() and a fresh apply() of the v1 hierarchies as plain steps, for a helper that makes
  // them beside the init (runtime/cgroup_beside.h). nullopt where the usual way must do it: a
  // v2 layout, a directory that exists already (made_all() false), an unseeded cpuset parent,
  // resources plan_writes() refuses.
  struct V1Steps {
    struct Dir {
      std::string path;
      bool leaf;  // the container's own: new (one that exists is someone else's: an error)
    };
    struct Write {
      std::string file, value;
      bool seed;  // a cpuset seed: best effort, as make() does
      // For a seed: the directory it is for. The helper writes it where it made that directory,
      // or where the file is still empty (a parent made again after a concurrent delete, or made
      // by a concurrent create that has not seeded it yet); never over a value someone set.
      std::string dir = {};
    };
    std::vector<Dir> mkdirs;        // top-down per hierarchy from its mount (parents may exist)
    std::vector<Write> writes;      // cpuset seeds, then limits
    std::vector<std::string> tasks; // one `tasks` file per directory
  };
  std::optional<V1Steps> v1_steps(const oci::Resources* r) const;
  // The helper has them: make() then makes only a hybrid's unified directory, and apply()
  // writes only the v2 part. created() keeps listing the v1 directories.
  void v1_made_elsewhere();
  // Once the helper is done: the v1 directories it did make, which replace those it was to
  // (one someone else made meanwhile is not ours to remove, nor those after a failure).
  void v1_made(const std::vector<std::string>& dirs);
  // True when make() created every leaf directory (none existed before).
  bool made_all() const;
  // Rebuilds a manager from what to_json() saved.
  static Result<Manager> from_json(const std::string& saved);
  std::string to_json() const;

  // The v2 directory on a pure v2 layout; -1 on v1 and hybrid.
  int v2_dirfd() const { return layout_ == Layout::V2 ? v2_dir_.get() : -1; }
  // The cgroup2 directory to clone3() into with CLONE_INTO_CGROUP: on v2, and the unified
  // hierarchy of a hybrid layout; -1 on pure v1.
  int clone_into_fd() const { return v2_dir_.get(); }
  // The `tasks` file of each v1 hierarchy, opened O_WRONLY|O_CLOEXEC. A new, still
  // single-threaded process writes "0" into each to move itself. Why not the parent writing the
  // pid into cgroup.procs: moving a whole thread group takes cgroup_threadgroup_rwsem for
  // writing, and that waits for an RCU grace period (5-15 ms on the reference machine, paid by
  // every container start and exec); a task moving only itself (pid 0, a per-thread file) is
  // migrated without that lock, in ~0.1 ms for nine hierarchies.
  struct TaskFile {
    sys::unique_fd fd;
    std::string path;
  };
  Result<std::vector<TaskFile>> task_files() const;
  // Writes linux.resources. Values the kernel refuses leave the earlier ones and say why.
  // `fresh`: every directory was just made for a container being created (made_all()), so a
  // refused value needs no rollback (create removes the whole cgroup) and the old values are
  // not read first.
  Result<void> apply(const oci::Resources& r, bool fresh = false) const;
  // The device filter program for r.devices, loaded ahead (runtime/prefetch.h); borrowed: it must
  // stay open until apply() returns. apply() attaches it instead of loading its own.
  void set_device_program(int fd) { device_prog_ = fd; }
  Result<std::vector<pid_t>> pids() const;
  Result<void> kill_all(int sig) const;
  Result<void> freeze(bool frozen) const;
  Result<bool> frozen() const;
  // Kills stray processes, then removes every directory vsrv created.
  Result<void> destroy() const;

  // controller name ("memory", "cpu", ..., "unified" for the v2 dir) -> absolute directory.
  const std::map<std::string, std::string>& paths() const { return paths_; }
  Layout layout() const { return layout_; }
  // The resolved cgroup path inside the hierarchies ("/vsrv/<id>"; per-controller for relative paths).
  const std::string& cgroup_path() const { return cgroup_path_; }
  // Number of OOM kills so far (v1 memory.oom_control oom_kill, v2 memory.events oom_kill).
  Result<std::uint64_t> oom_kills() const;
  // Usage counters (runtime/cgroup/stats.cpp).
  Result<Stats> stats() const;

 private:
  struct Undo {
    std::string path, old;
  };
  Hierarchies hierarchies() const;
  bool is_unified(const std::string& mount) const { return !v2_root_.empty() && mount == v2_root_; }
  std::vector<std::string> to_create(const std::string& mount, const std::string& rel) const;
  // The directory a v1 controller's files live in, or the unified directory for v2 writes.
  std::string dir_of(const std::string& controller, bool v2) const;
  std::string procs_dir() const;  // where cgroup.procs lists the container's processes
  std::string freezer_dir(bool& v2) const;
  Result<void> enable_v2_controllers(const std::set<std::string>& wanted) const;
  Result<void> write_all(const std::vector<std::pair<std::string, std::string>>& writes,
                         std::vector<Undo>* undo) const;

  std::map<std::string, std::string> paths_;
  std::vector<std::string> created_;  // directories vsrv made, deepest last
  std::vector<std::pair<std::string, std::string>> to_make_;  // (mount, path) until make()
  sys::unique_fd v2_dir_;
  int device_prog_ = -1;  // borrowed (set_device_program)
  Layout layout_ = Layout::V1;
  bool v1_taken_ = false;  // v1_made_elsewhere(): the v1 part is made by a helper
  std::vector<std::string> v1_elsewhere_;  // the v1 directories it makes
  std::string cgroup_path_;
  std::string v2_root_;                   // cgroup2 mount point; empty when none
  std::set<std::string> v2_controllers_;  // offered by the unified root
};

}  // namespace vsrv::cgroup
