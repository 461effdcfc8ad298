// runtime/sys/rootfs.h: safe resolution of paths inside a container's root filesystem.
// Every path from config.json is untrusted: a rootfs may hold symlinks to "/", "/proc" or "..".
// RootFs resolves with openat2(RESOLVE_IN_ROOT | RESOLVE_NO_MAGICLINKS), so ".." and absolute
// symlinks stop at the container's root (the CVE-2021-30465 / symlink-exchange class), and hands
// back an fd; callers act on that fd (mount onto /proc/self/fd/N), never on the string again.
// There is deliberately no fallback to plain openat(): without openat2 (kernel < 5.6) vsrv
// refuses with a clear error instead of resolving unsafely.
// Usable in the child: no allocation on the success path.
#pragma once
#include <sys/types.h>

#include "runtime/sys/error.h"
#include "runtime/sys/fd.h"

namespace vsrv::sys {

class RootFs {
 public:
  RootFs() = default;
  explicit RootFs(unique_fd root) : root_(std::move(root)) {}
  // Opens `host_path` as O_PATH|O_DIRECTORY.
  static Result<RootFs> open(const char* host_path);

  // openat2 inside the root. `rel` may be absolute ("/etc/passwd"): it is taken relative to the root.
  Result<unique_fd> open_at(const char* rel, int oflags, mode_t mode = 0) const noexcept;
  // Creates every missing directory of `rel` (inside the root) and returns an O_PATH fd of the leaf.
  Result<unique_fd> mkdir_p(const char* rel, mode_t mode = 0755) const noexcept;
  // Creates parents and an empty regular file if missing; returns an O_PATH fd of it (bind targets).
  Result<unique_fd> mkfile_p(const char* rel, mode_t mode = 0644) const noexcept;

  borrowed_fd fd() const { return {root_.get()}; }
  explicit operator bool() const { return bool(root_); }

 private:
  unique_fd root_;
};

// Resolves `rel` under `dirfd` as if `dirfd` were "/" (openat2 RESOLVE_IN_ROOT|NO_MAGICLINKS).
Result<unique_fd> open_in_root(borrowed_fd dirfd, const char* rel, int oflags, mode_t mode = 0) noexcept;

}  // namespace vsrv::sys
