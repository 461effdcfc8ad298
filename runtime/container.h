// runtime/container.h: the lifecycle verbs of one container, as the CLI (and later checkpoint/
// restore) call them. Each call is a short process: it locks the state directory, does its
// work, writes state.json and returns. Failures roll back everything made so far.
#pragma once
#include <sys/types.h>

#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "config/oci_spec.h"
#include "runtime/cgroup/manager.h"
#include "runtime/state.h"
#include "runtime/sys/error.h"
#include "runtime/sys/fd.h"

namespace vsrv::runtime {

struct NetworkOptions {  // --network & co; empty mode = OCI behaviour (config namespaces as given)
  std::string mode, ip, mac, rate;
  std::vector<std::string> publish;
};

struct CreateOptions {
  std::string root = "/run/vsrv";
  std::string id;
  std::string bundle;          // default: current directory
  std::string pid_file;
  std::string console_socket;
  bool no_pivot = false;
  bool no_new_keyring = false;
  int preserve_fds = 0;
  bool foreground = false;     // `run` without --detach: a terminal attaches to our stdio
  bool systemd_cgroup = false;
  NetworkOptions network;
  // `run` only: the state file keeps "creating" (with the cgroup, enough for delete --force)
  // until start records "running", instead of a "created" record written and replaced at once.
  bool defer_created_save = false;
  // `run` only: nothing waits for a `start`, so no exec.fifo: the init goes on to its program as
  // soon as it is ready, while `run` records "running" (unless startContainer hooks must run
  // between, which keep the fifo).
  bool start_at_once = false;
};

struct Created {
  State state;
  sys::unique_fd pidfd;
  sys::unique_fd console;      // pty master when foreground and process.terminal
  std::shared_ptr<const oci::Spec> spec;  // the parsed config, so `run` need not parse it again
  bool fifo = true;            // the init waits on exec.fifo for start (false: start_at_once)
  std::optional<cgroup::Manager> cgroup;  // the container's cgroup, as state.json records it
  // The v1 tasks files the init joined through (runtime/cgroup_beside.h): their last close
  // releases them, which `run` does while the program runs.
  std::vector<sys::unique_fd> joined_fds;
};

Result<Created> create(const CreateOptions& o);
Result<void> start(const std::string& root, const std::string& id);
// start() and remove() of a container whose state (and parsed config) the caller already
// holds, as `run` does right after create(): no second read and parse of state.json. `init`:
// the caller's pidfd of the init it created and has not reaped (no second check of the pid);
// `fifo` false: the init does not wait on exec.fifo (created with start_at_once).
Result<void> start_loaded(const std::string& root, State& st, const oci::Spec& spec,
                          sys::borrowed_fd init = sys::borrowed_fd(-1), bool fifo = true);
// `cg`: the container's cgroup manager when the caller holds it (else read from st.cgroup).
Result<void> remove_loaded(const std::string& root, const State& st, const oci::Spec* spec, bool force,
                          std::optional<cgroup::Manager> cg = std::nullopt);
// Foreground run: create, start, wait; returns the exit status (128+signal when killed).
Result<int> run(const CreateOptions& o, bool detach, bool keep);
Result<void> kill(const std::string& root, const std::string& id, int sig, bool all);
Result<void> remove(const std::string& root, const std::string& id, bool force);
Result<std::vector<pid_t>> container_pids(const std::string& root, const std::string& id);

struct ExecOptions {
  std::string root = "/run/vsrv";
  std::string id;
  std::string process_file;    // --process: an OCI process JSON
  std::vector<std::string> args;
  bool tty = false;
  std::string cwd;
  std::vector<std::string> env;
  std::string user;            // uid[:gid] or a name from the container's /etc/passwd
  std::vector<std::string> add_caps;
  bool no_new_privs = false;
  bool detach = false;
  std::string pid_file;
  std::string console_socket;
  int preserve_fds = 0;
  std::vector<std::uint32_t> additional_gids;  // --additional-gids: appended to user.additionalGids
  bool ignore_paused = false;  // --ignore-paused: exec into a paused container (the process starts frozen)
};
// Returns the exit status of the process (0 with detach).
Result<int> exec(const ExecOptions& o);

// Waits for a pidfd'd child of ours and returns its exit status (128+sig), forwarding the
// signals vsrv receives meanwhile to it. `master` >= 0: attach that pty to our stdio.
Result<int> wait_foreground(pid_t pid, sys::borrowed_fd pidfd, sys::borrowed_fd master);

}  // namespace vsrv::runtime
