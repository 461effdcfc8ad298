// runtime/terminal.h: the pty master of a container with process.terminal. Either it is handed
// to --console-socket (SCM_RIGHTS over a unix stream socket, as conmon and containerd expect),
// or a foreground `run`/`exec` attaches it to vsrv's own terminal until the container exits.
#pragma once
#include <string>

#include "runtime/sys/error.h"
#include "runtime/sys/fd.h"

namespace vsrv::runtime {

Result<void> send_console(const std::string& socket_path, sys::borrowed_fd master);

// Sends `data` with one fd attached (SCM_RIGHTS) over a new connection to a unix stream socket.
Result<void> send_fd_with(const std::string& socket_path, sys::borrowed_fd fd, const std::string& data);

// Copies stdin -> master and master -> stdout (raw mode on a tty stdin) until `pidfd` becomes
// readable (the process exited) and the master has drained. Forwards SIGWINCH sizes.
// `sigfd` is a signalfd whose signals are forwarded to the process by `on_signal`.
Result<void> attach_console(sys::borrowed_fd master, sys::borrowed_fd pidfd, sys::borrowed_fd sigfd,
                            void (*on_signal)(int sig, void* ctx), void* ctx);

}  // namespace vsrv::runtime
