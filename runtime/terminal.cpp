// runtime/terminal.cpp: console-socket handoff and the foreground pty copy loop.
#include "runtime/terminal.h"

#include <poll.h>
#include <signal.h>
#include <sys/ioctl.h>
#include <sys/signalfd.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <termios.h>
#include <unistd.h>

#include <cstring>

namespace vsrv::runtime {

Result<void> send_console(const std::string& socket_path, sys::borrowed_fd master) {
  return send_fd_with(socket_path, master, "/dev/ptmx");
}

Result<void> send_fd_with(const std::string& socket_path, sys::borrowed_fd master, const std::string& data) {
  int s = ::socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (s < 0) return errno_error("socket");
  sys::unique_fd sock(s);
  struct sockaddr_un addr {};
  addr.sun_family = AF_UNIX;
  if (socket_path.size() >= sizeof addr.sun_path) return fail("console socket path too long: '" + socket_path + "'");
  std::memcpy(addr.sun_path, socket_path.c_str(), socket_path.size() + 1);
  if (::connect(s, reinterpret_cast<sockaddr*>(&addr), sizeof addr) < 0)
    return errno_error("connect to '" + socket_path + "'");
  struct iovec iov = {const_cast<char*>(data.data()), data.size()};
  alignas(struct cmsghdr) char cbuf[CMSG_SPACE(sizeof(int))] = {};
  struct msghdr mh {};
  mh.msg_iov = &iov;
  mh.msg_iovlen = 1;
  mh.msg_control = cbuf;
  mh.msg_controllen = sizeof cbuf;
  struct cmsghdr* c = CMSG_FIRSTHDR(&mh);
  c->cmsg_level = SOL_SOCKET;
  c->cmsg_type = SCM_RIGHTS;
  c->cmsg_len = CMSG_LEN(sizeof(int));
  int fd = master.get();
  std::memcpy(CMSG_DATA(c), &fd, sizeof fd);
  if (::sendmsg(s, &mh, MSG_NOSIGNAL) < 0) return errno_error("send fd to '" + socket_path + "'");
  return {};
}

namespace {
struct RawMode {
  bool active = false;
  struct termios saved {};
  void enter() {
    if (!::isatty(0) || ::tcgetattr(0, &saved) < 0) return;
    struct termios raw = saved;
    ::cfmakeraw(&raw);
    if (::tcsetattr(0, TCSANOW, &raw) == 0) active = true;
  }
  ~RawMode() {
    if (active) ::tcsetattr(0, TCSANOW, &saved);
  }
};

void copy_winsize(int master) {
  struct winsize ws;
  if (::ioctl(0, TIOCGWINSZ, &ws) == 0) ::ioctl(master, TIOCSWINSZ, &ws);
}
}  // namespace

Result<void> attach_console(sys::borrowed_fd master, sys::borrowed_fd pidfd, sys::borrowed_fd sigfd,
                            void (*on_signal)(int, void*), void* ctx) {
  RawMode raw;
  raw.enter();
  copy_winsize(master.get());
  bool stdin_open = true, exited = false;
  char buf[8192];
  for (;;) {
    struct pollfd fds[4] = {{master.get(), POLLIN, 0}, {stdin_open ? 0 : -1, POLLIN, 0},
                            {pidfd.get(), POLLIN, 0},  {sigfd.get(), POLLIN, 0}};
    int rc = ::poll(fds, 4, exited ? 100 : -1);
    if (rc < 0) {
      if (errno == EINTR) continue;
      return errno_error("poll");
    }
    if (rc == 0 && exited) return {};  // drained
    if (fds[0].revents & POLLIN) {
      ssize_t n = ::read(master.get(), buf, sizeof buf);
      if (n > 0) {
        (void)!::write(1, buf, static_cast<size_t>(n));
        continue;
      }
      if (exited) return {};
    } else if (fds[0].revents & (POLLHUP | POLLERR)) {
      if (exited) return {};
    }
    if (fds[1].revents & (POLLIN | POLLHUP)) {
      ssize_t n = ::read(0, buf, sizeof buf);
      if (n > 0)
        (void)!::write(master.get(), buf, static_cast<size_t>(n));
      else
        stdin_open = false;
    }
    if (fds[2].revents & POLLIN) exited = true;
    if (fds[3].revents & POLLIN) {
      struct signalfd_siginfo si;
      if (::read(sigfd.get(), &si, sizeof si) == sizeof si) {
        if (si.ssi_signo == SIGWINCH)
          copy_winsize(master.get());
        else if (on_signal)
          on_signal(static_cast<int>(si.ssi_signo), ctx);
      }
    }
  }
}

}  // namespace vsrv::runtime
