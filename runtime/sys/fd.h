// runtime/sys/fd.h: file-descriptor ownership.
// unique_fd owns exactly one fd and closes it once; borrowed_fd is the parameter type for an fd
// somebody else owns. Every fd vsrv opens is O_CLOEXEC / SOCK_CLOEXEC, so a fd can only reach the
// container through an explicit plan (stdio, --preserve-fds, LISTEN_FDS).
#pragma once
#include <cerrno>
#include <unistd.h>
#include <utility>

namespace vsrv::sys {

class unique_fd {
 public:
  unique_fd() noexcept = default;
  explicit unique_fd(int fd) noexcept : fd_(fd) {}
  unique_fd(unique_fd&& o) noexcept : fd_(o.release()) {}
  unique_fd& operator=(unique_fd&& o) noexcept {
    reset(o.release());
    return *this;
  }
  unique_fd(const unique_fd&) = delete;
  unique_fd& operator=(const unique_fd&) = delete;
  ~unique_fd() { reset(); }

  int get() const noexcept { return fd_; }
  explicit operator bool() const noexcept { return fd_ >= 0; }
  [[nodiscard]] int release() noexcept { return std::exchange(fd_, -1); }
  void reset(int fd = -1) noexcept {
    // Never retry close(): on Linux the fd is gone even on EINTR. Keep errno so cleanup on an
    // error path does not clobber the error being reported.
    if (fd_ >= 0) {
      int saved = errno;
      ::close(fd_);
      errno = saved;
    }
    fd_ = fd;
  }

 private:
  int fd_ = -1;
};

struct borrowed_fd {
  int fd = -1;
  borrowed_fd() = default;
  borrowed_fd(int f) : fd(f) {}  // NOLINT: implicit from int is the point of a parameter type
  borrowed_fd(const unique_fd& u) : fd(u.get()) {}  // NOLINT
  int get() const noexcept { return fd; }
};

}  // namespace vsrv::sys
