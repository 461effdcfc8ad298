// runtime/state.h: the on-disk state of one container, <root>/<id>/state.json.
// There is no daemon: every vsrv command reads this file. Writers hold an exclusive flock on
// the directory <root>/<id> and replace state.json atomically (write temp, rename), so concurrent
// commands never see half a file. The init's pid is stored with its start time (field 22 of
// /proc/<pid>/stat) so a recycled pid is never mistaken for the container.
#pragma once
#include <sys/types.h>

#include <map>
#include <optional>
#include <string>
#include <vector>

#include "runtime/sys/error.h"
#include "runtime/sys/fd.h"

namespace vsrv::runtime {

enum class Status { Creating, Created, Running, Paused, Stopped };
const char* status_name(Status s);

struct State {
  std::string id;
  Status status = Status::Creating;
  pid_t pid = 0;                       // init pid in the host pid namespace; 0 when none
  unsigned long long start_time = 0;   // of pid, from /proc/<pid>/stat
  std::string bundle;                  // absolute
  std::string rootfs;                  // absolute host path of the rootfs
  std::string created;                 // RFC 3339
  std::string owner;                   // user name, for `list`
  std::map<std::string, std::string> annotations;
  std::string cgroup;                  // cgroup::Manager::to_json()
  std::string network;                 // netns attachment (net::*::to_json), empty when none
  std::string config_json;             // the bundle's config.json as it was at create (hooks, ...)
  bool systemd_cgroup = false;
};

// Checks a container id: [A-Za-z0-9][A-Za-z0-9_.+-]*, at most 1024 bytes (no path characters).
Result<void> validate_id(const std::string& id);

// A held lock on one container's directory (a flock on the directory's own fd: a host directory,
// which every child entering the container closes first). Released on destruction.
class Lock {
 public:
  Lock() = default;
  explicit Lock(sys::unique_fd fd) : fd_(std::move(fd)) {}
  int fd() const { return fd_.get(); }
  // The fd itself, for handing the lock to whoever closes it (runtime/save_behind.h).
  sys::unique_fd& owned() { return fd_; }
 private:
  sys::unique_fd fd_;
};

std::string state_dir(const std::string& root, const std::string& id);
// Creates <root>/<id> exclusively (EEXIST -> "container 'id' already exists") and locks it.
Result<Lock> create_dir_locked(const std::string& root, const std::string& id);
// Locks an existing container dir ("container 'id' does not exist" when missing).
Result<Lock> lock(const std::string& root, const std::string& id);
// lock() then load_live(): a container's state, which stays locked while `lock` lives (start,
// pause, resume and update check its status under the lock).
struct Locked {
  Lock lock;
  State st;
};
Result<Locked> lock_live(const std::string& root, const std::string& id);
// A shared lock on an existing container dir: many holders at once, none while an exclusive
// lock is held (`exec`'s trampoline window against an exec marking exec caps, below).
Result<Lock> lock_shared(const std::string& root, const std::string& id);
// Turns a held shared lock into an exclusive one (not atomically: reload the state after it).
Result<void> lock_upgrade(const Lock& l);
// <root>/<id>/exec-caps: made (for good, under the exclusive lock) before an `exec` starts a
// process whose bounding set reaches the host binary (exec_guard.h); later execs then re-execute
// vsrv instead of using the trampoline. A file of its own, not a state.json field: no state
// write (run's, from its in-memory copy) can drop it, and it goes only with the directory.
Result<void> mark_exec_caps(const std::string& root, const std::string& id);
bool has_exec_caps(const std::string& root, const std::string& id);
Result<void> save(const std::string& root, const State& s);
// What save() writes to state.json, and where.
std::string state_file_text(const State& s);
std::string state_file_path(const std::string& root, const std::string& id);
Result<State> load(const std::string& root, const std::string& id);
// Loads and refreshes status from the live process: a dead or recycled pid means Stopped; a
// frozen cgroup means Paused. Does not write the file.
// `pidfd`: also a pidfd of the live init, opened before the liveness check (so it is that
// process); left empty when the container is not live.
Result<State> load_live(const std::string& root, const std::string& id, sys::unique_fd* pidfd = nullptr);
Result<std::vector<std::string>> list_ids(const std::string& root);
// Removes <root>/<id> entirely.
Result<void> remove_dir(const std::string& root, const std::string& id);
// The OCI state JSON (`vsrv state`): ociVersion id status pid bundle annotations (+ created, owner).
std::string oci_state_json(const State& s);

}  // namespace vsrv::runtime
