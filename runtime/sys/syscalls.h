// runtime/sys/syscalls.h: thin wrappers over the Linux syscalls glibc 2.36 lacks or wraps badly
// (clone3, pidfd_*, openat2, close_range, the new mount API). Each returns a Result whose
// context names the call and its argument. Features are probed once per process.
#pragma once
#include <sched.h>
#include <fcntl.h>
#include <linux/openat2.h>
#include <linux/sched.h>
#include <signal.h>
#include <sys/types.h>

#include <cstdint>
#include <string>
#include <string_view>

#include "runtime/sys/error.h"
#include "runtime/sys/fd.h"

namespace vsrv::sys {

// Raw clone3. Returns pid in the parent, 0 in the child, -1 with errno on failure.
// Contract: the caller must be single-threaded (clone3 skips glibc's atfork handlers).
pid_t clone3_raw(struct clone_args* args, size_t size = sizeof(struct clone_args)) noexcept;

// clone3 whose child starts on its own stack (args->stack, args->stack_size) and runs fn(arg),
// which must not return (it ends in execve or _exit). What CLONE_VM needs: the child cannot
// return through the parent's frames. Returns the pid in the parent, -1 with errno on failure;
// -1 with ENOSYS where it is not implemented (x86-64 only), so the caller falls back to a copy.
pid_t clone3_on_stack(struct clone_args* args, void (*fn)(void*), void* arg) noexcept;

// A helper process that shares our memory (CLONE_VM | `extra_flags`) and runs fn(arg) on
// `stack` (16-byte aligned): it must make raw syscalls only (below) and end in SYS_exit. SIGCHLD
// at its exit; reap() it. -1 with errno when it could not be started (ENOSYS off x86-64).
// `clear_at_exit`, if given, is zeroed and futex-woken by the kernel as the helper exits
// (CLONE_CHILD_CLEARTID), however it ends: a word others can wait on without reaping it.
pid_t start_vm_helper(void (*fn)(void*), void* arg, void* stack, size_t stack_size,
                      std::uint64_t extra_flags = 0, int* clear_at_exit = nullptr) noexcept;
// Keeps `pid` (a helper just started) off the CPU we run on, where the scheduler may queue it
// behind us so that it runs only once we block waiting for it. Nothing with one CPU allowed.
void keep_off_this_cpu(pid_t pid) noexcept;
// waitpid(pid) through EINTR; nothing for pid <= 0.
void reap(pid_t pid) noexcept;

// A syscall that never touches errno: returns -errno. For helpers that run in our memory beside
// us (CLONE_VM without CLONE_VFORK), where errno would be ours. x86-64; elsewhere -ENOSYS (no
// such helpers are started there: clone3_on_stack says ENOSYS).
long raw_syscall(long n, long a = 0, long b = 0, long c = 0, long d = 0, long e = 0) noexcept;
// How many CPUs we may run on (sched_getaffinity; 1 when unknown), and which, into `set` if given.
int allowed_cpus(cpu_set_t* set = nullptr) noexcept;

int pidfd_open(pid_t pid, unsigned flags = 0) noexcept;
int pidfd_send_signal(int pidfd, int sig, siginfo_t* info = nullptr, unsigned flags = 0) noexcept;
int openat2_raw(int dirfd, const char* path, struct open_how* how) noexcept;
int close_range_raw(unsigned first, unsigned last, unsigned flags) noexcept;
int pivot_root_raw(const char* new_root, const char* put_old) noexcept;
int open_tree_raw(int dirfd, const char* path, unsigned flags) noexcept;
int move_mount_raw(int from_dirfd, const char* from_path, int to_dirfd, const char* to_path,
                   unsigned flags) noexcept;
// mount_setattr(2) (Linux 5.12) with its struct mount_attr spelled out: <linux/mount.h> and
// glibc 2.36's <sys/mount.h> cannot be included together.
struct MountAttr {
  std::uint64_t attr_set = 0, attr_clr = 0, propagation = 0, userns_fd = 0;
};
int mount_setattr_raw(int dirfd, const char* path, unsigned flags, MountAttr* attr) noexcept;
int fsopen_raw(const char* fsname, unsigned flags) noexcept;
int fsconfig_raw(int fd, unsigned cmd, const char* key, const void* value, int aux) noexcept;
int fsmount_raw(int fd, unsigned flags, unsigned attr_flags) noexcept;

Result<unique_fd> open(const std::string& path, int flags, mode_t mode = 0);
Result<unique_fd> openat(borrowed_fd dir, const std::string& path, int flags, mode_t mode = 0);
Result<std::string> read_file(const std::string& path);
Result<std::string> read_fd(borrowed_fd fd);
Result<void> write_file(const std::string& path, std::string_view data, int flags = O_WRONLY | O_TRUNC);
Result<void> write_all(borrowed_fd fd, std::string_view data);
// Writes to a temporary in the same directory and renames it over `path` (atomic replace; no fsync).
Result<void> write_file_atomic(const std::string& path, std::string_view data, mode_t mode = 0600);
Result<void> mkdir_p(const std::string& path, mode_t mode = 0755);

// "/proc/self/fd/N": the magic-link path through which string-taking syscalls act on an fd.
std::string fd_path(borrowed_fd fd);

// Start time of a process (field 22 of /proc/<pid>/stat), for pid-reuse detection.
Result<unsigned long long> process_start_time(pid_t pid);
// State letter (field 3) and start time (field 22) of /proc/<pid>/stat, from one read.
struct ProcStat {
  char state = '?';
  unsigned long long start_time = 0;
};
Result<ProcStat> process_stat(pid_t pid);
// Number of threads of this process (from /proc/self/stat); clone3 requires 1.
int thread_count() noexcept;

struct Features {
  bool openat2 = false;
  bool clone_into_cgroup = false;
  bool new_mount_api = false;
  // move_mount() onto a detached mount tree (made by fsmount or open_tree), Linux 6.15.
  bool attach_to_detached = false;
};
const Features& features();

}  // namespace vsrv::sys
