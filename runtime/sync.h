// runtime/sync.h: the typed parent/child handshake over a SOCK_SEQPACKET socketpair.
// Every message is one fixed-size WireMsg (a record boundary per send, so no framing), with an
// optional fd attached by SCM_RIGHTS. Each receive names the message it expects; anything else,
// including EOF, is an error naming both (youki's ChannelError::unexpected). Usable in the child:
// send/recv allocate nothing on the success path.
#pragma once
#include <cstdint>

#include "runtime/sys/error.h"
#include "runtime/sys/fd.h"

namespace vsrv::runtime {

enum class Msg : std::uint32_t {
  ChildAlive = 1,   // c->p: namespaces exist; write maps, enter cgroups, attach network
  Proceed,          // p->c: done; carry on with mounts
  HooksRequest,     // c->p: mounts and devices done; run prestart/createRuntime/createContainer
  HooksDone,        // p->c
  ConsoleFd,        // c->p: pty master (fd attached)
  SeccompListener,  // c->p: seccomp notify fd (fd attached)
  ChildReady,       // c->p: about to block on exec.fifo; the executable was found
  ExecPid,          // c->p (exec): the pid the exec'd process will have (in `value`)
  Error,            // either: errnum + step + text
};
const char* msg_name(Msg m) noexcept;

// Steps of the child, for error reports ("child: mounts: mount '/proc': ...").
enum class Step : std::uint32_t {
  Start, Namespaces, Maps, Cgroup, Mounts, Devices, Hooks, Pivot, Sysctl, Paths, Hostname,
  Rlimits, Terminal, User, Caps, Seccomp, Cwd, Fds, Ready, Fifo, Exec,
};
const char* step_name(Step s) noexcept;

struct WireMsg {
  Msg type;
  std::int32_t errnum;
  Step step;
  std::int64_t value;
  char text[232];
};
static_assert(sizeof(WireMsg) == 256);

class Channel {
 public:
  Channel() = default;
  explicit Channel(sys::unique_fd fd) : fd_(std::move(fd)) {}
  // A connected SOCK_SEQPACKET|SOCK_CLOEXEC pair: [0] for the parent, [1] for the child.
  static Result<std::pair<Channel, Channel>> pair();

  Result<void> send(Msg m, std::int64_t value = 0) noexcept;
  Result<void> send_fd(Msg m, sys::borrowed_fd fd) noexcept;
  // Sends an Error message; never fails loudly (the peer may be gone).
  void send_error(Step step, int errnum, const char* text) noexcept;
  void send_error(Step step, const vsrv::Error& e) noexcept;

  // Receives one message and checks its type. A received Error becomes a Result error whose
  // context is "<step>: <text>" and errnum the peer's errno.
  Result<WireMsg> expect(Msg m) noexcept;
  // Like expect() but also takes the attached fd.
  Result<sys::unique_fd> expect_fd(Msg m) noexcept;
  // Receives any message (for loops that accept several types).
  Result<WireMsg> recv(sys::unique_fd* fd_out = nullptr) noexcept;

  int get() const { return fd_.get(); }
  void close() { fd_.reset(); }

 private:
  sys::unique_fd fd_;
};

// Encoding helpers, exposed for unit tests.
WireMsg make_msg(Msg m, std::int64_t value = 0) noexcept;
WireMsg make_error_msg(Step step, int errnum, const char* text) noexcept;
vsrv::Error error_from(const WireMsg& w);

}  // namespace vsrv::runtime
