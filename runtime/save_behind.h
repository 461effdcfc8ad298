// runtime/save_behind.h: the "running" state of a foreground `run`, written on another CPU while
// the container's program runs.
//
// The save is a file written and renamed over state.json. On a disk-backed --root (ext4) the
// rename over an existing file also starts the write-out of the new one (auto_da_alloc): 0.1-0.2
// ms here, measured, that sat between the init's ChildReady and `run` going to wait for it, while
// the program waited for our CPU or ran alone. A foreground `run` has nothing else to do then, so
// it prepares the text and hands the syscalls to a helper, with the container's lock: the helper
// closes the lock's fd (releasing it) once state.json is in place, so every other vsrv command
// sees the state before or after, as with a save of our own. `run` reaps the helper before it
// removes the container.
//
// Only where nothing must follow the save before `run` waits: no poststart hook (it must see the
// state saved), no --detach (the state must be saved when `run` returns), no exec.fifo; and only
// with three CPUs or more (worthwhile()).
//
// The helper shares our memory and fd table (CLONE_VM | CLONE_FILES), runs on its own small
// stack and makes raw syscalls only; the path and text are ours and stay untouched until it is
// reaped.
#pragma once
#include <sys/types.h>

#include <string>

#include "runtime/sys/error.h"
#include "runtime/sys/fd.h"

namespace vsrv::runtime {

class SaveBehind {
 public:
  SaveBehind() = default;
  SaveBehind(const SaveBehind&) = delete;
  SaveBehind& operator=(const SaveBehind&) = delete;
  ~SaveBehind();

  // Whether a helper has a CPU of its own: three or more (ours, the program's, the helper's).
  // On two, measured here, the helper only competes with the program, and `run` saves inline.
  static bool worthwhile();
  // Writes `text` to `path` (through `path`.tmp.PID and a rename) in a helper, which then closes
  // `lock` (taken over here). False, with `lock` untouched, when no helper can be started (a
  // sanitizer build, clone3 refused): save the usual way then.
  bool start(std::string path, std::string text, sys::unique_fd& lock);
  // Reaps the helper; what it reported. A no-op when none was started.
  Result<void> wait();

  struct Work {
    const char* path = nullptr;
    const char* tmp = nullptr;
    const char* text = nullptr;
    size_t len = 0;
    int lock_fd = -1;
    long result = 0;      // 0, or -errno of the step named by `failed`
    const char* failed = nullptr;
  };

 private:
  std::string path_, tmp_, text_;
  Work work_;
  pid_t helper_ = -1;
};

}  // namespace vsrv::runtime
