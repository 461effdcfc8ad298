// runtime/save_behind.cpp: see save_behind.h.
#include "runtime/save_behind.h"

#include <fcntl.h>
#include <linux/fs.h>
#include <sched.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <cerrno>
#include <cstdlib>

#include "runtime/sys/syscalls.h"

namespace vsrv::runtime {
namespace {

alignas(16) char helper_stack[16 * 1024];

[[noreturn]] void helper_main(void* arg) {
  auto* w = static_cast<SaveBehind::Work*>(arg);
  auto fail = [&](long r, const char* what) {
    w->result = r;
    w->failed = what;
  };
  long fd = sys::raw_syscall(SYS_openat, AT_FDCWD, reinterpret_cast<long>(w->tmp),
                             O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
  if (fd < 0) {
    fail(fd, "open");
  } else {
    size_t done = 0;
    while (done < w->len) {
      long n = sys::raw_syscall(SYS_write, fd, reinterpret_cast<long>(w->text + done), static_cast<long>(w->len - done));
      if (n == -EINTR) continue;
      if (n <= 0) {
        fail(n == 0 ? -EIO : n, "write");
        break;
      }
      done += static_cast<size_t>(n);
    }
    sys::raw_syscall(SYS_close, fd);
    if (!w->failed) {
      // Swapped in, and the old one unlinked, as sys::write_file_atomic() does (why: there).
      long r = sys::raw_syscall(SYS_renameat2, AT_FDCWD, reinterpret_cast<long>(w->tmp), AT_FDCWD,
                                reinterpret_cast<long>(w->path), RENAME_EXCHANGE);
      if (r == 0) {
        sys::raw_syscall(SYS_unlink, reinterpret_cast<long>(w->tmp));
      } else {
        r = sys::raw_syscall(SYS_rename, reinterpret_cast<long>(w->tmp), reinterpret_cast<long>(w->path));
        if (r < 0) fail(r, "rename");
      }
    }
    if (w->failed) sys::raw_syscall(SYS_unlink, reinterpret_cast<long>(w->tmp));
  }
  // The container's lock goes only now: nobody reads or writes the state before it is in place.
  sys::raw_syscall(SYS_close, w->lock_fd);
  for (;;) sys::raw_syscall(SYS_exit, 0);
}

}  // namespace

bool SaveBehind::start(std::string path, std::string text, sys::unique_fd& lock) {
#if defined(__SANITIZE_ADDRESS__)
  (void)path, (void)text, (void)lock;
  return false;  // ASan tracks one stack per thread: no helper on a stack of ours
#else
  path_ = std::move(path);
  tmp_ = path_ + ".tmp." + std::to_string(::getpid());
  text_ = std::move(text);
  work_ = Work{path_.c_str(), tmp_.c_str(), text_.c_str(), text_.size(), lock.get(), 0, nullptr};
  pid_t p = sys::start_vm_helper(helper_main, &work_, helper_stack, sizeof helper_stack, CLONE_FILES);
  if (p <= 0) return false;
  helper_ = p;
  (void)lock.release();  // the helper closes it
  return true;
#endif
}

bool SaveBehind::worthwhile() {
  // VSRV_SAVE_BEHIND=1/0 forces either way (tests; man/vsrv.8.md).
  if (const char* e = ::getenv("VSRV_SAVE_BEHIND"); e && (e[0] == '0' || e[0] == '1') && !e[1]) return e[0] == '1';
  return sys::allowed_cpus() >= 3;
}

Result<void> SaveBehind::wait() {
  if (helper_ <= 0) return {};
  sys::reap(helper_);
  helper_ = -1;
  if (work_.failed)
    return make_error(static_cast<int>(-work_.result), std::string(work_.failed) + " '" + (*work_.failed == 'r' ? path_ : tmp_) + "'");
  return {};
}

SaveBehind::~SaveBehind() { (void)wait(); }

}  // namespace vsrv::runtime
