// runtime/sys/syscalls.cpp: raw syscall wrappers and small file helpers (see syscalls.h).
#include "runtime/sys/syscalls.h"

#include <linux/fs.h>
#include <signal.h>
#include <sys/stat.h>
#include <sys/utsname.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <cstring>

#if defined(__x86_64__)
// long vsrv_clone3_on_stack(struct clone_args* args, size_t size, void (*fn)(void*), void* arg):
// the raw syscall, then, in the child only (rax == 0, rsp = the new stack's top, every other
// register as the parent had it), fn(arg) and exit(127) should it return. Returns -errno.
extern "C" long vsrv_clone3_on_stack(struct clone_args*, size_t, void (*)(void*), void*);
asm(R"(
  .text
  .globl vsrv_clone3_on_stack
  .hidden vsrv_clone3_on_stack
  .type vsrv_clone3_on_stack, @function
vsrv_clone3_on_stack:
  .cfi_startproc
  mov %rdx, %r8
  mov %rcx, %r9
  mov $435, %eax
  syscall
  test %rax, %rax
  jz 1f
  ret
1:
  .cfi_undefined rip
  xor %ebp, %ebp
  mov %r9, %rdi
  call *%r8
  mov $127, %edi
  mov $60, %eax
  syscall
  hlt
  .cfi_endproc
  .size vsrv_clone3_on_stack, .-vsrv_clone3_on_stack
  .section .note.GNU-stack, "", @progbits
  .text
)");
#endif

namespace vsrv::sys {

pid_t clone3_raw(struct clone_args* args, size_t size) noexcept {
  return static_cast<pid_t>(::syscall(SYS_clone3, args, size));
}

pid_t start_vm_helper(void (*fn)(void*), void* arg, void* stack, size_t stack_size,
                      std::uint64_t extra_flags, int* clear_at_exit) noexcept {
  struct clone_args args {};
  args.flags = CLONE_VM | extra_flags;
  if (clear_at_exit) {
    args.flags |= CLONE_CHILD_CLEARTID;
    args.child_tid = reinterpret_cast<std::uint64_t>(clear_at_exit);
  }
  args.exit_signal = SIGCHLD;
  args.stack = reinterpret_cast<std::uint64_t>(stack);
  args.stack_size = stack_size;
  return clone3_on_stack(&args, fn, arg);
}

void keep_off_this_cpu(pid_t pid) noexcept {
  cpu_set_t allowed;
  (void)allowed_cpus(&allowed);
  int here = ::sched_getcpu();
  if (pid <= 0 || here < 0) return;
  CPU_CLR(here, &allowed);
  if (CPU_COUNT(&allowed) > 0) (void)::sched_setaffinity(pid, sizeof allowed, &allowed);
}

void reap(pid_t pid) noexcept {
  if (pid > 0)
    while (::waitpid(pid, nullptr, 0) < 0 && errno == EINTR) {
    }
}

long raw_syscall(long n, long a, long b, long c, long d, long e) noexcept {
#if defined(__x86_64__)
  long r;
  register long r10 asm("r10") = d;
  register long r8 asm("r8") = e;
  asm volatile("syscall" : "=a"(r) : "a"(n), "D"(a), "S"(b), "d"(c), "r"(r10), "r"(r8) : "rcx", "r11", "memory");
  return r;
#else
  (void)n, (void)a, (void)b, (void)c, (void)d, (void)e;
  return -ENOSYS;
#endif
}

int allowed_cpus(cpu_set_t* set) noexcept {
  cpu_set_t mine;
  if (!set) set = &mine;
  return ::sched_getaffinity(0, sizeof *set, set) == 0 ? CPU_COUNT(set) : 1;
}

pid_t clone3_on_stack(struct clone_args* args, void (*fn)(void*), void* arg) noexcept {
#if defined(__x86_64__)
  long r = vsrv_clone3_on_stack(args, sizeof *args, fn, arg);
  if (r < 0) {
    errno = static_cast<int>(-r);
    return -1;
  }
  return static_cast<pid_t>(r);
#else
  (void)args, (void)fn, (void)arg;
  errno = ENOSYS;
  return -1;
#endif
}
int pidfd_open(pid_t pid, unsigned flags) noexcept {
  return static_cast<int>(::syscall(SYS_pidfd_open, pid, flags));
}
int pidfd_send_signal(int pidfd, int sig, siginfo_t* info, unsigned flags) noexcept {
  return static_cast<int>(::syscall(SYS_pidfd_send_signal, pidfd, sig, info, flags));
}
int openat2_raw(int dirfd, const char* path, struct open_how* how) noexcept {
  return static_cast<int>(::syscall(SYS_openat2, dirfd, path, how, sizeof(*how)));
}
int close_range_raw(unsigned first, unsigned last, unsigned flags) noexcept {
  return static_cast<int>(::syscall(SYS_close_range, first, last, flags));
}
int pivot_root_raw(const char* new_root, const char* put_old) noexcept {
  return static_cast<int>(::syscall(SYS_pivot_root, new_root, put_old));
}
int open_tree_raw(int dirfd, const char* path, unsigned flags) noexcept {
  return static_cast<int>(::syscall(SYS_open_tree, dirfd, path, flags));
}
int move_mount_raw(int from_dirfd, const char* from_path, int to_dirfd, const char* to_path,
                   unsigned flags) noexcept {
  return static_cast<int>(::syscall(SYS_move_mount, from_dirfd, from_path, to_dirfd, to_path, flags));
}
int mount_setattr_raw(int dirfd, const char* path, unsigned flags, MountAttr* attr) noexcept {
#ifndef SYS_mount_setattr
#define SYS_mount_setattr 442
#endif
  return static_cast<int>(::syscall(SYS_mount_setattr, dirfd, path, flags, attr, sizeof *attr));
}
int fsopen_raw(const char* fsname, unsigned flags) noexcept {
  return static_cast<int>(::syscall(SYS_fsopen, fsname, flags));
}
int fsconfig_raw(int fd, unsigned cmd, const char* key, const void* value, int aux) noexcept {
  return static_cast<int>(::syscall(SYS_fsconfig, fd, cmd, key, value, aux));
}
int fsmount_raw(int fd, unsigned flags, unsigned attr_flags) noexcept {
  return static_cast<int>(::syscall(SYS_fsmount, fd, flags, attr_flags));
}

Result<unique_fd> open(const std::string& path, int flags, mode_t mode) {
  int fd = ::open(path.c_str(), flags | O_CLOEXEC, mode);
  if (fd < 0) return errno_error("open '" + path + "'");
  return unique_fd(fd);
}

Result<unique_fd> openat(borrowed_fd dir, const std::string& path, int flags, mode_t mode) {
  int fd = ::openat(dir.get(), path.c_str(), flags | O_CLOEXEC, mode);
  if (fd < 0) return errno_error("openat '" + path + "'");
  return unique_fd(fd);
}

Result<std::string> read_fd(borrowed_fd fd) {
  std::string out;
  char buf[8192];
  for (;;) {
    ssize_t n = ::read(fd.get(), buf, sizeof buf);
    if (n < 0) {
      if (errno == EINTR) continue;
      return errno_error("read");
    }
    if (n == 0) break;
    out.append(buf, static_cast<size_t>(n));
  }
  return out;
}

Result<std::string> read_file(const std::string& path) {
  auto fd = open(path, O_RDONLY);
  if (!fd) return forward(std::move(fd.error()));
  auto data = read_fd(*fd);
  if (!data) return forward(std::move(data.error()), "'" + path + "'");
  return data;
}

Result<void> write_all(borrowed_fd fd, std::string_view data) {
  while (!data.empty()) {
    ssize_t n = ::write(fd.get(), data.data(), data.size());
    if (n < 0) {
      if (errno == EINTR) continue;
      return errno_error("write");
    }
    data.remove_prefix(static_cast<size_t>(n));
  }
  return {};
}

Result<void> write_file(const std::string& path, std::string_view data, int flags) {
  auto fd = open(path, flags);
  if (!fd) return forward(std::move(fd.error()));
  VSRV_TRYC(write_all(*fd, data), "write '" + path + "'");
  return {};
}

Result<void> write_file_atomic(const std::string& path, std::string_view data, mode_t mode) {
  std::string tmp = path + ".tmp." + std::to_string(::getpid());
  {
    auto fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC, mode);
    if (!fd) return forward(std::move(fd.error()));
    if (auto r = write_all(*fd, data); !r) {
      ::unlink(tmp.c_str());
      return forward(std::move(r.error()), "write '" + tmp + "'");
    }
    // No fsync: rename gives readers all-or-nothing, which is what concurrent vsrv commands need.
    // Durability across power loss buys nothing for runtime state (the containers die with the
    // machine, and /run is a tmpfs), while an fsync on a disk-backed --root forces a journal
    // commit that also stalls the container's own execve (atime update) by 10-40 ms.
  }
  // Over an existing file: swap the two (RENAME_EXCHANGE), then unlink the old one under the
  // temporary name. A rename over it would do the same for readers, but on ext4 it also starts
  // the write-out of the new file (auto_da_alloc), and removing that file later (a container's
  // state.json at its end) then waits for the disk: 0.1-0.2 ms a start on this VM's --root
  // (probe in docs/performance.md). A new target (ENOENT), or a filesystem without the flag
  // (EINVAL), takes a plain rename, which starts no write-out there.
  if (::syscall(SYS_renameat2, AT_FDCWD, tmp.c_str(), AT_FDCWD, path.c_str(), RENAME_EXCHANGE) == 0) {
    ::unlink(tmp.c_str());
    return {};
  }
  if (::rename(tmp.c_str(), path.c_str()) < 0) {
    int e = errno;
    ::unlink(tmp.c_str());
    return make_error(e, "rename '" + tmp + "' to '" + path + "'");
  }
  return {};
}

Result<void> mkdir_p(const std::string& path, mode_t mode) {
  if (path.empty()) return {};
  std::string cur;
  size_t pos = 0;
  while (pos != std::string::npos) {
    pos = path.find('/', pos + 1);
    cur = path.substr(0, pos);
    if (cur.empty()) continue;
    if (::mkdir(cur.c_str(), mode) < 0 && errno != EEXIST) return errno_error("mkdir '" + cur + "'");
  }
  return {};
}

std::string fd_path(borrowed_fd fd) { return "/proc/self/fd/" + std::to_string(fd.get()); }

Result<ProcStat> process_stat(pid_t pid) {
  auto stat = read_file("/proc/" + std::to_string(pid) + "/stat");
  if (!stat) return forward(std::move(stat.error()));
  // comm (field 2) may contain spaces and parentheses: parse from the last ')'.
  auto close = stat->rfind(')');
  if (close == std::string::npos || close + 2 >= stat->size()) return fail("malformed /proc/" + std::to_string(pid) + "/stat");
  ProcStat ps;
  ps.state = (*stat)[close + 2];
  const char* p = stat->c_str() + close + 2;  // field 3
  for (int field = 3; field < 22; ++field) {
    p = std::strchr(p, ' ');
    if (!p) return fail("malformed /proc/" + std::to_string(pid) + "/stat");
    ++p;
  }
  ps.start_time = std::strtoull(p, nullptr, 10);
  return ps;
}

Result<unsigned long long> process_start_time(pid_t pid) {
  auto ps = process_stat(pid);
  if (!ps) return forward(std::move(ps.error()));
  return ps->start_time;
}

int thread_count() noexcept {
  int fd = ::open("/proc/self/stat", O_RDONLY | O_CLOEXEC);
  if (fd < 0) return -1;
  char buf[1024];
  ssize_t n = ::read(fd, buf, sizeof buf - 1);
  ::close(fd);
  if (n <= 0) return -1;
  buf[n] = 0;
  const char* p = std::strrchr(buf, ')');
  if (!p) return -1;
  p += 2;
  for (int field = 3; field < 20; ++field) {  // num_threads is field 20
    p = std::strchr(p, ' ');
    if (!p) return -1;
    ++p;
  }
  return std::atoi(p);
}

const Features& features() {
  static const Features f = [] {
    // Each call is made with a null path: a kernel that has it fails with EFAULT before doing
    // anything (no lookup, no filesystem context made and freed), one that lacks it with ENOSYS.
    Features r;
    struct open_how how {};
    how.flags = O_PATH | O_CLOEXEC;
    r.openat2 = openat2_raw(AT_FDCWD, nullptr, &how) >= 0 || errno != ENOSYS;
    r.clone_into_cgroup = true;  // kernel >= 5.7; failure at clone time is reported with context
    r.new_mount_api = fsopen_raw(nullptr, 1 /*FSOPEN_CLOEXEC*/) >= 0 || errno != ENOSYS;
    // By version (a probe would have to build a tree): an older kernel refuses the attach with
    // EINVAL, and the one place that uses it falls back then too (runtime/child/mounts.cpp).
    struct utsname u {};
    unsigned major = 0, minor = 0;
    if (::uname(&u) == 0 && std::sscanf(u.release, "%u.%u", &major, &minor) == 2)
      r.attach_to_detached = r.new_mount_api && (major > 6 || (major == 6 && minor >= 15));
    return r;
  }();
  return f;
}

}  // namespace vsrv::sys
