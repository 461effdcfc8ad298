// runtime/sync.cpp: the handshake codec and transport (see sync.h).
#include "runtime/sync.h"

#include <sys/socket.h>
#include <sys/uio.h>

#include <cstring>

namespace vsrv::runtime {

const char* msg_name(Msg m) noexcept {
  switch (m) {
    case Msg::ChildAlive: return "ChildAlive";
    case Msg::Proceed: return "Proceed";
    case Msg::HooksRequest: return "HooksRequest";
    case Msg::HooksDone: return "HooksDone";
    case Msg::ConsoleFd: return "ConsoleFd";
    case Msg::SeccompListener: return "SeccompListener";
    case Msg::ChildReady: return "ChildReady";
    case Msg::ExecPid: return "ExecPid";
    case Msg::Error: return "Error";
  }
  return "unknown";
}

const char* step_name(Step s) noexcept {
  static const char* const names[] = {
      "start", "namespaces", "id maps", "cgroup", "mounts", "devices", "hooks", "pivot_root",
      "sysctl", "masked and readonly paths", "hostname", "rlimits", "terminal", "user",
      "capabilities", "seccomp", "cwd", "fds", "ready", "exec.fifo", "exec"};
  auto i = static_cast<std::uint32_t>(s);
  return i < sizeof names / sizeof *names ? names[i] : "unknown step";
}

WireMsg make_msg(Msg m, std::int64_t value) noexcept {
  WireMsg w;
  std::memset(&w, 0, sizeof w);
  w.type = m;
  w.value = value;
  return w;
}

WireMsg make_error_msg(Step step, int errnum, const char* text) noexcept {
  WireMsg w = make_msg(Msg::Error);
  w.step = step;
  w.errnum = errnum;
  if (text) {
    std::strncpy(w.text, text, sizeof w.text - 1);
    w.text[sizeof w.text - 1] = 0;
  }
  return w;
}

vsrv::Error error_from(const WireMsg& w) {
  std::string text(w.text, strnlen(w.text, sizeof w.text));
  return vsrv::Error{w.errnum, std::string(step_name(w.step)) + ": " + text};
}

Result<std::pair<Channel, Channel>> Channel::pair() {
  int sv[2];
  if (::socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, sv) < 0) return errno_error("socketpair");
  return std::pair<Channel, Channel>{Channel(sys::unique_fd(sv[0])), Channel(sys::unique_fd(sv[1]))};
}

namespace {
int send_raw(int fd, const WireMsg& w, int pass_fd) noexcept {
  struct iovec iov = {const_cast<WireMsg*>(&w), sizeof w};
  struct msghdr mh {};
  mh.msg_iov = &iov;
  mh.msg_iovlen = 1;
  alignas(struct cmsghdr) char cbuf[CMSG_SPACE(sizeof(int))];
  if (pass_fd >= 0) {
    std::memset(cbuf, 0, sizeof cbuf);
    mh.msg_control = cbuf;
    mh.msg_controllen = sizeof cbuf;
    struct cmsghdr* c = CMSG_FIRSTHDR(&mh);
    c->cmsg_level = SOL_SOCKET;
    c->cmsg_type = SCM_RIGHTS;
    c->cmsg_len = CMSG_LEN(sizeof(int));
    std::memcpy(CMSG_DATA(c), &pass_fd, sizeof(int));
  }
  for (;;) {
    ssize_t n = ::sendmsg(fd, &mh, MSG_NOSIGNAL);
    if (n < 0 && errno == EINTR) continue;
    return n == static_cast<ssize_t>(sizeof w) ? 0 : -1;
  }
}
}  // namespace

Result<void> Channel::send(Msg m, std::int64_t value) noexcept {
  WireMsg w = make_msg(m, value);
  if (send_raw(fd_.get(), w, -1) < 0) return errno_error(std::string("send ") + msg_name(m));
  return {};
}

Result<void> Channel::send_fd(Msg m, sys::borrowed_fd fd) noexcept {
  WireMsg w = make_msg(m);
  if (send_raw(fd_.get(), w, fd.get()) < 0) return errno_error(std::string("send ") + msg_name(m));
  return {};
}

void Channel::send_error(Step step, int errnum, const char* text) noexcept {
  WireMsg w = make_error_msg(step, errnum, text);
  (void)send_raw(fd_.get(), w, -1);
}

void Channel::send_error(Step step, const vsrv::Error& e) noexcept {
  send_error(step, e.errnum, e.context.c_str());
}

Result<WireMsg> Channel::recv(sys::unique_fd* fd_out) noexcept {
  WireMsg w;
  struct iovec iov = {&w, sizeof w};
  struct msghdr mh {};
  mh.msg_iov = &iov;
  mh.msg_iovlen = 1;
  alignas(struct cmsghdr) char cbuf[CMSG_SPACE(sizeof(int))];
  mh.msg_control = cbuf;
  mh.msg_controllen = sizeof cbuf;
  ssize_t n;
  do {
    n = ::recvmsg(fd_.get(), &mh, MSG_CMSG_CLOEXEC);
  } while (n < 0 && errno == EINTR);
  if (n < 0) return errno_error("receive from peer");
  // EOF is an error: the peer died or exited without saying why.
  if (n == 0) return make_error(EPIPE, "peer exited during setup");
  if (n != static_cast<ssize_t>(sizeof w)) return make_error(EPROTO, "short handshake message");
  for (struct cmsghdr* c = CMSG_FIRSTHDR(&mh); c; c = CMSG_NXTHDR(&mh, c)) {
    if (c->cmsg_level == SOL_SOCKET && c->cmsg_type == SCM_RIGHTS) {
      int fd;
      std::memcpy(&fd, CMSG_DATA(c), sizeof fd);
      if (fd_out)
        fd_out->reset(fd);
      else
        ::close(fd);
    }
  }
  return w;
}

Result<WireMsg> Channel::expect(Msg m) noexcept {
  auto w = recv();
  if (!w) return forward(std::move(w.error()), std::string("waiting for ") + msg_name(m));
  if (w->type == Msg::Error) return forward(error_from(*w));
  if (w->type != m)
    return make_error(EPROTO, std::string("handshake: expected ") + msg_name(m) + ", got " + msg_name(w->type));
  return w;
}

Result<sys::unique_fd> Channel::expect_fd(Msg m) noexcept {
  sys::unique_fd fd;
  auto w = recv(&fd);
  if (!w) return forward(std::move(w.error()), std::string("waiting for ") + msg_name(m));
  if (w->type == Msg::Error) return forward(error_from(*w));
  if (w->type != m)
    return make_error(EPROTO, std::string("handshake: expected ") + msg_name(m) + ", got " + msg_name(w->type));
  if (!fd) return make_error(EPROTO, std::string(msg_name(m)) + " carried no fd");
  return fd;
}

}  // namespace vsrv::runtime
