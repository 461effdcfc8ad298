// runtime/plan.h: ChildPlan, the flat list of everything the container's init does between
// clone3() and execve(). The parent builds it from the OCI spec (plan.cpp, pure apart from reading
// the host's mount table and cgroup paths it is given); the child (runtime/child/) only executes
// it, reading these fields in its copy of the parent's memory. Strings are built here so the child
// can use c_str() without allocating. Std types only: runtime/child may include this header.
#pragma once
#include <sys/types.h>

#include <cstdint>
#include <string>
#include <utility>
#include <vector>

#include "runtime/child/cap_sets.h"
#include "runtime/sys/error.h"

struct sock_filter;

namespace vsrv::runtime {

struct MountOp {
  std::string source;       // host path for binds (absolute), fs source otherwise
  std::string target;       // absolute path inside the rootfs
  std::string fstype;       // empty for binds
  std::string data;         // fs options ("size=65536k,mode=755")
  unsigned long flags = 0;  // MS_* applied at mount time (and at the remount of a bind)
  unsigned long propagation = 0;  // MS_SHARED/SLAVE/PRIVATE/UNBINDABLE (| MS_REC)
  bool bind = false;
  bool recursive = false;   // rbind
  bool source_is_file = false;  // bind target must be a file, not a directory
  bool remount = false;     // binds with ro/nosuid/nodev/noexec need a second MS_REMOUNT
  bool is_proc = false;     // check fstatfs == PROC_SUPER_MAGIC after mounting
  bool remount_only = false;  // MS_REMOUNT of an earlier mount at target (e.g. a ro cgroup tmpfs)
  bool needs_cgroup = false;  // shows the container's cgroup directories: only after the join
  // A tmpfs whose next `tree_binds` ops are binds onto "<target>/<name>" (one level down), and
  // then, if the tree is read-only, its remount_only op: the v1 cgroup tree. The child builds it
  // detached and attaches it whole where the kernel can (runtime/child/mounts.cpp, mount_tree),
  // else runs the ops one by one.
  std::uint16_t tree_binds = 0;
};

struct DeviceOp {
  std::string path;         // absolute inside the rootfs ("/dev/null")
  char type = 'c';          // c b p
  std::uint32_t major = 0, minor = 0;
  std::uint32_t mode = 0666;
  std::uint32_t uid = 0, gid = 0;
  bool bind = false;        // inside a user namespace mknod is refused: bind the host node
};

struct NsJoin {
  int fd = -1;       // opened by the parent (O_CLOEXEC is cleared for nothing: the child setns()es it)
  int nstype = 0;    // CLONE_NEW*
  std::string path;  // for messages
};

// A v1 `tasks` file of the container's cgroup, opened for writing by the parent.
struct CgroupJoin {
  int fd = -1;
  std::string path;  // for messages
};

// The v1 cgroup being made by a helper beside the init (runtime/cgroup_beside.h), in memory the
// init shares. `running` is 1 until the helper exits: the kernel then clears it and wakes its
// futex (CLONE_CHILD_CLEARTID), whatever ended the helper. `status` is 1 once every directory
// and limit was made (set before the helper exits).
//
// `fds[i]` is the helper's open of `cgroup_tasks[i]` (-1 where that failed), in the fd table it
// shares with vsrv, which `owner_pidfd` (opened before clone3, inherited) names: the init takes
// each with pidfd_getfd rather than opening the path itself (runtime/cgroup_beside.h says why).
struct CgroupBesideWait {
  int running = 1;
  int status = 0;
  int* fds = nullptr;  // written by the helper, read by the init
  int owner_pidfd = -1;
};

struct RlimitOp {
  int resource = 0;
  std::uint64_t soft = 0, hard = 0;
};

// Inputs of build_plan() that do not come from config.json.
struct PlanInputs {
  std::string bundle;                 // absolute
  std::string rootfs;                 // absolute
  bool no_pivot = false;
  int preserve_fds = 0;
  int exec_fifo_fd = -1;
  // controller -> host directory of the container's cgroup (for "cgroup" mounts).
  std::vector<std::pair<std::string, std::string>> cgroup_dirs;
  bool cgroup_v2 = false;
  std::string notify_socket;          // host path of $NOTIFY_SOCKET, empty if unset
  int listen_fds = 0;                 // $LISTEN_FDS passed through
  std::vector<std::pair<std::string, std::string>> extra_binds;  // {host file, container path}, ro
  // A new network namespace made ahead (runtime/prefetch.h), joined instead of cloned.
  int netns_fd = -1;
};

struct ChildPlan {
  // --- namespaces ---
  unsigned long clone_flags = 0;    // given to clone3 (CLONE_NEWUSER|CLONE_NEWPID|... fast path)
  unsigned long unshare_flags = 0;  // unshared by the child after joins (slow path)
  bool unshare_cgroup = false;      // CLONE_NEWCGROUP, after the parent moved us into our cgroup
  bool unshare_time = false;
  std::string timens_offsets;       // "monotonic 5 0\nboottime 0 0\n"
  std::vector<NsJoin> joins;        // user first
  bool new_userns = false;
  bool netns_prefetched = false;    // a new network namespace, joined from PlanInputs::netns_fd
  pid_t parent_pid = 0;             // for the PDEATHSIG race check

  // --- cgroup ---
  // Written "0" and closed by the child first thing: it moves itself into each v1 hierarchy
  // (why not the parent writing cgroup.procs: runtime/cgroup/manager.h, task_files()).
  std::vector<CgroupJoin> cgroup_tasks;
  // Non-null: the v1 directories are still being made beside us (cgroup_tasks carry paths, no
  // fds). The child then joins later: once the helper is done, before the mount at
  // cgroup_join_mount (the first that needs_cgroup; mounts.size() when none), and unshares its
  // cgroup namespace only then. Everything before that runs while the helper works.
  const CgroupBesideWait* cgroup_beside = nullptr;
  std::size_t cgroup_join_mount = 0;
  // The mounts from cgroup_join_mount on all show the cgroup, and no device is made below one
  // of them: the devices may be made before those mounts (and the join) with the same result.
  bool devices_before_cgroup = false;

  // --- filesystem ---
  std::string rootfs;               // absolute host path
  unsigned long root_propagation = 0;       // applied to "/" first (MS_REC|MS_SLAVE default)
  unsigned long final_propagation = 0;      // re-applied after pivot for shared roots
  std::vector<MountOp> mounts;
  std::vector<DeviceOp> devices;
  std::vector<std::pair<std::string, std::string>> dev_symlinks;  // {target, linkpath}
  bool dev_fresh_tmpfs = false;     // the last mount on /dev is a tmpfs of ours: empty, no ACLs
  bool no_pivot = false;
  bool readonly_root = false;
  std::vector<std::string> masked_paths, readonly_paths;
  std::vector<std::pair<std::string, std::string>> sysctls;  // {"/proc/sys/net/ipv4/ip_forward", "1"}
  bool run_hooks_in_parent = false; // prestart/createRuntime/createContainer present

  // --- identity and limits ---
  std::string hostname, domainname;
  bool set_hostname = false, set_domainname = false;
  std::vector<RlimitOp> rlimits;
  bool set_oom_score_adj = false;
  int oom_score_adj = 0;
  bool set_personality = false;
  unsigned long personality = 0;
  uid_t uid = 0;
  gid_t gid = 0;
  std::vector<gid_t> additional_gids;
  bool set_umask = false;
  mode_t umask = 022;
  CapSets caps;
  bool set_caps = false;
  bool no_new_privs = false;
  int last_cap = 40;

  // A new anonymous session keyring, so containers do not share the host's (runc's default;
  // --no-new-keyring skips it).
  bool new_keyring = false;
  std::string keyring_name;

  // --- seccomp ---
  const sock_filter* seccomp_filter = nullptr;  // points into a SeccompProgram the parent owns
  unsigned short seccomp_len = 0;
  unsigned seccomp_flags = 0;
  bool seccomp_notify = false;

  // --- exec trampoline (runtime/exec_guard.h) ---
  // >= 0: the last execve goes through this sealed trampoline memfd, with trampoline_argv; the
  // child fills in the slots only it knows (its channel fd, the resolved executable). The filter,
  // when there is one, is handed over in seccomp_memfd and loaded by the trampoline.
  int trampoline_fd = -1;
  int seccomp_memfd = -1;
  mutable std::vector<char*> trampoline_argv;  // sized by the parent; null-terminated
  mutable char trampoline_chan[24] = {};
  std::string trampoline_nums[4];              // filter fd, length, flags, exec.fifo fd (decimal)

  // --- process ---
  bool terminal = false;
  unsigned short console_rows = 0, console_cols = 0;
  std::string cwd = "/";
  std::string exe;                      // args[0]
  std::vector<std::string> args_store, env_store;
  std::vector<char*> argv, envp;        // point into *_store; null-terminated
  std::vector<std::string> path_dirs;   // PATH entries, for the lookup inside the container
  int preserve_fds = 0;                 // fds 3..3+n-1 stay open
  int exec_fifo_fd = -1;                // O_PATH fd of <state>/exec.fifo; -1 for `exec`
  bool is_exec = false;                 // `vsrv exec`: no mounts, no fifo
  // The child stops once its namespaces exist (ChildAlive) until the parent says Proceed, for
  // the parent's work on them: id maps, the network. create clears it when there is none; an
  // exec joins what exists and never has any.
  bool alive_handshake = true;

  // Namespaces joined by the parent itself before clone3 (pid, time: they apply to children).
  std::vector<NsJoin> parent_joins;
  std::vector<int> owned_fds;           // ns fds to close after clone
  // Closed by the child first thing: fds whose lifetime must not extend into the container's
  // init (the state lock: flock is held while any copy of the fd is open).
  std::vector<int> close_in_child;

  // Builds argv/envp pointers from the stores (call after filling args_store/env_store).
  void finalize();
};

}  // namespace vsrv::runtime

namespace vsrv::oci {
struct Spec;
struct Process;
}

namespace vsrv::runtime {
// Builds the plan for a container's init. Opens the fds of namespaces joined by path
// (owned_fds; the caller closes them after clone3).
Result<ChildPlan> build_plan(const oci::Spec& spec, const PlanInputs& in);
// The process part alone (also used by `exec`).
Result<void> plan_process(const oci::Process& proc, ChildPlan& p);
Result<int> rlimit_resource(const std::string& name);
}  // namespace vsrv::runtime
