// Unit tests for exec's guard against the CVE-2019-5736 class (runtime/exec_guard.h) and for the
// exec trampoline itself (runtime/child/exec_trampoline.c), run from its sealed memfd.
#include <gtest/gtest.h>
#include <fcntl.h>
#include <linux/filter.h>
#include <linux/seccomp.h>
#include <stddef.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include <csignal>
#include <string>
#include <vector>

#include "runtime/child/trampoline_abi.h"
#include "runtime/exec_guard.h"
#include "runtime/sync.h"

using namespace vsrv::runtime;

TEST(ExecGuard, DefaultContainerUsesTheTrampoline) {
  ExecGuardFacts f;
  f.trampoline_built = true;
  EXPECT_EQ(choose_exec_guard(f), ExecGuard::Trampoline);
}

TEST(ExecGuard, AlreadyProtectedOrDisabledExecsDirectly) {
  ExecGuardFacts f;
  f.trampoline_built = true;
  f.init_may_reach = true;
  f.already_protected = true;
  EXPECT_EQ(choose_exec_guard(f), ExecGuard::Direct);
  f.already_protected = false;
  f.disabled = true;
  EXPECT_EQ(choose_exec_guard(f), ExecGuard::Direct);
}

TEST(ExecGuard, AnyProcessThatMayReachTheChildForcesTheReexec) {
  // Given a container sharing the host user namespace, when the init, an earlier exec or this
  // one may hold CAP_SYS_PTRACE (or the map_files caps), then vsrv re-executes itself.
  for (int which = 0; which < 3; ++which) {
    ExecGuardFacts f;
    f.trampoline_built = true;
    (which == 0 ? f.init_may_reach : which == 1 ? f.earlier_exec_may_reach : f.this_exec_may_reach) = true;
    EXPECT_EQ(choose_exec_guard(f), ExecGuard::Reexec) << which;
    // In its own user namespace none of them holds a capability where the child is owned.
    f.own_userns = true;
    EXPECT_EQ(choose_exec_guard(f), ExecGuard::Trampoline) << which;
  }
}

TEST(ExecGuard, EarlySeccompOrNoTrampolineForcesTheReexec) {
  ExecGuardFacts f;
  f.trampoline_built = true;
  f.own_userns = true;
  f.early_filter_refuses_trampoline = true;  // its filter would also judge the trampoline's calls
  EXPECT_EQ(choose_exec_guard(f), ExecGuard::Reexec);
  f.early_filter_refuses_trampoline = false;
  f.trampoline_built = false;
  EXPECT_EQ(choose_exec_guard(f), ExecGuard::Reexec);
}

TEST(ExecGuard, SuidDumpableForcesTheReexec) {
  // With fs.suid_dumpable set, the child's uid switch makes it dumpable: non-dumpability, half
  // of the trampoline's argument, would not hold.
  ExecGuardFacts f;
  f.trampoline_built = true;
  f.own_userns = true;
  f.suid_dumpable = true;
  EXPECT_EQ(choose_exec_guard(f), ExecGuard::Reexec);
}

TEST(ExecGuard, PausedContainerForcesTheReexec) {
  // The child would freeze on joining the cgroup while holding the lock `resume` needs.
  ExecGuardFacts f;
  f.trampoline_built = true;
  f.paused = true;
  EXPECT_EQ(choose_exec_guard(f), ExecGuard::Reexec);
}

TEST(ExecGuard, CapsThatReachTheHostBinary) {
  EXPECT_FALSE(caps_reach_host_binary(true, {"CAP_KILL", "CAP_NET_BIND_SERVICE", "CAP_AUDIT_WRITE"}));
  EXPECT_TRUE(caps_reach_host_binary(true, {"CAP_KILL", "CAP_SYS_PTRACE"}));
  EXPECT_TRUE(caps_reach_host_binary(true, {"CAP_SYS_ADMIN"}));
  EXPECT_TRUE(caps_reach_host_binary(true, {"CAP_CHECKPOINT_RESTORE"}));
  EXPECT_TRUE(caps_reach_host_binary(false, {}));  // no capabilities object: all are kept
  EXPECT_FALSE(caps_reach_host_binary(true, {}));
}

TEST(ExecGuard, TrampolineAbiMatchesTheHandshake) {
  EXPECT_EQ(sizeof(vsrv_tr_wire_msg), sizeof(WireMsg));
  EXPECT_EQ(offsetof(vsrv_tr_wire_msg, text), offsetof(WireMsg, text));
  EXPECT_EQ(VSRV_TR_MSG_ERROR, static_cast<unsigned>(Msg::Error));
  EXPECT_EQ(VSRV_TR_STEP_EXEC, static_cast<unsigned>(Step::Exec));
  EXPECT_EQ(VSRV_TR_STEP_SECCOMP, static_cast<unsigned>(Step::Seccomp));
  EXPECT_EQ(VSRV_TR_STEP_FIFO, static_cast<unsigned>(Step::Fifo));
  EXPECT_EQ(VSRV_TR_MSG_CHILD_READY, static_cast<unsigned>(Msg::ChildReady));
}

namespace {

struct Outcome {
  int status = -1;     // wait status
  bool eof = false;    // the channel closed without a message: the target's execve worked
  WireMsg msg{};
};

// Runs the trampoline from its memfd in a forked child, as vsrv's exec child does.
Outcome run_trampoline(const std::vector<std::string>& target, const std::vector<sock_filter>* filter = nullptr,
                       int fifo_fd = -1) {
  auto tr = trampoline_memfd();
  EXPECT_TRUE(tr) << (tr ? "" : tr.error().message());
  int sv[2];
  EXPECT_EQ(::socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, sv), 0);
  int ffd = -1;
  if (filter) {
    ffd = ::memfd_create("filter", 0);
    EXPECT_EQ(::write(ffd, filter->data(), filter->size() * sizeof(sock_filter)),
              static_cast<ssize_t>(filter->size() * sizeof(sock_filter)));
  }
  std::string chan = std::to_string(sv[1]), f = std::to_string(ffd),
              len = std::to_string(filter ? filter->size() : 0), fifo = std::to_string(fifo_fd);
  std::vector<char*> argv = {const_cast<char*>("vsrv-exec"), chan.data(), f.data(), len.data(),
                             const_cast<char*>("0"), fifo.data()};
  std::vector<std::string> t = target;
  for (auto& s : t) argv.push_back(s.data());
  argv.push_back(nullptr);
  char* envp[] = {nullptr};
  pid_t pid = ::fork();
  if (pid == 0) {
    ::close(sv[0]);
    ::fcntl(sv[1], F_SETFD, 0);  // as the child does before the trampoline
    ::prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0);
    int devnull = ::open("/dev/null", O_WRONLY);
    ::dup2(devnull, 1);
    ::syscall(SYS_execveat, tr->get(), "", argv.data(), envp, AT_EMPTY_PATH);
    _exit(99);
  }
  ::close(sv[1]);
  if (ffd >= 0) ::close(ffd);
  Outcome o;
  ssize_t n = ::recv(sv[0], &o.msg, sizeof o.msg, 0);
  o.eof = n == 0;
  ::close(sv[0]);
  ::waitpid(pid, &o.status, 0);
  return o;
}

}  // namespace

TEST(ExecTrampoline, RunsTheTargetAndClosesTheChannel) {
  if (!trampoline_built()) GTEST_SKIP() << "no exec trampoline on this architecture";
  Outcome o = run_trampoline({"/bin/sh", "sh", "-c", "exit 7"});
  EXPECT_TRUE(o.eof);  // marked close-on-exec by the trampoline
  ASSERT_TRUE(WIFEXITED(o.status));
  EXPECT_EQ(WEXITSTATUS(o.status), 7);
}

TEST(ExecTrampoline, ReportsAFailedExecveOnTheChannel) {
  if (!trampoline_built()) GTEST_SKIP() << "no exec trampoline on this architecture";
  Outcome o = run_trampoline({"/nonexistent/prog", "prog"});
  ASSERT_FALSE(o.eof);
  vsrv::Error e = error_from(o.msg);
  EXPECT_EQ(e.errnum, ENOENT);
  EXPECT_EQ(e.context, "exec: exec '/nonexistent/prog'");
  EXPECT_EQ(WEXITSTATUS(o.status), VSRV_TR_EXEC_FAILED);
}

TEST(ExecTrampoline, LoadsTheSeccompFilterBeforeTheTarget) {
  if (!trampoline_built()) GTEST_SKIP() << "no exec trampoline on this architecture";
  // Given a filter that makes execve fail with EACCES and allows everything else
  std::vector<sock_filter> f = {
      BPF_STMT(BPF_LD | BPF_W | BPF_ABS, offsetof(struct seccomp_data, nr)),
      BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, __NR_execve, 0, 1),
      BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_ERRNO | EACCES),
      BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_ALLOW),
  };
  // When the trampoline loads it and runs a target that exists
  Outcome o = run_trampoline({"/bin/true", "true"}, &f);
  // Then the target's execve was judged by it
  ASSERT_FALSE(o.eof);
  EXPECT_EQ(error_from(o.msg).errnum, EACCES);
}

TEST(ExecTrampoline, InitSaysReadyThenWaitsForStartOnTheFifo) {
  if (!trampoline_built()) GTEST_SKIP() << "no exec trampoline on this architecture";
  // Given an exec.fifo and the O_PATH fd of it that an init holds
  char dir[] = "/tmp/vsrv-tramp-fifo.XXXXXX";
  ASSERT_NE(::mkdtemp(dir), nullptr);
  std::string fifo = std::string(dir) + "/exec.fifo";
  ASSERT_EQ(::mkfifo(fifo.c_str(), 0622), 0);
  int opath = ::open(fifo.c_str(), O_PATH | O_CLOEXEC);
  ASSERT_GE(opath, 0);
  auto tr = trampoline_memfd();
  ASSERT_TRUE(tr);
  int sv[2];
  ASSERT_EQ(::socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, sv), 0);
  std::string chan = std::to_string(sv[1]), f = std::to_string(opath);
  pid_t pid = ::fork();
  if (pid == 0) {
    ::close(sv[0]);
    ::fcntl(sv[1], F_SETFD, 0);
    ::fcntl(opath, F_SETFD, 0);
    int devnull = ::open("/dev/null", O_WRONLY);
    ::dup2(devnull, 1);
    char* argv[] = {const_cast<char*>("vsrv-exec"), chan.data(), const_cast<char*>("-1"), const_cast<char*>("0"),
                    const_cast<char*>("0"), f.data(), const_cast<char*>("/bin/true"), const_cast<char*>("true"), nullptr};
    char* envp[] = {nullptr};
    ::syscall(SYS_execveat, tr->get(), "", argv, envp, AT_EMPTY_PATH);
    _exit(99);
  }
  ::close(sv[1]);
  // When it runs, it says ChildReady (so `create` records "created" only now) and blocks
  WireMsg m{};
  ASSERT_EQ(::recv(sv[0], &m, sizeof m, 0), static_cast<ssize_t>(sizeof m));
  EXPECT_EQ(m.type, Msg::ChildReady);
  ::usleep(100 * 1000);
  int status = 0;
  EXPECT_EQ(::waitpid(pid, &status, WNOHANG), 0) << "ran before start";
  // Then `start` opening the fifo for reading lets it through: one byte, then the target
  int rd = ::open(fifo.c_str(), O_RDONLY | O_CLOEXEC);
  ASSERT_GE(rd, 0);
  char c = 0;
  EXPECT_EQ(::read(rd, &c, 1), 1);
  EXPECT_EQ(c, '0');
  ::waitpid(pid, &status, 0);
  ASSERT_TRUE(WIFEXITED(status));
  EXPECT_EQ(WEXITSTATUS(status), 0);
  EXPECT_EQ(::recv(sv[0], &m, sizeof m, 0), 0);  // EOF: close-on-exec at the target's execve
  ::close(rd);
  ::close(sv[0]);
  ::close(opath);
  ::unlink(fifo.c_str());
  ::rmdir(dir);
}

TEST(ExecTrampoline, RunsInitSaysReadyAndGoesOnWithoutAFifo) {
  if (!trampoline_built()) GTEST_SKIP() << "no exec trampoline on this architecture";
  // `run`'s init: nothing will `start` it, so it says ChildReady and runs the target at once.
  Outcome o = run_trampoline({"/bin/sh", "sh", "-c", "exit 5"}, nullptr, VSRV_TR_INIT_NO_FIFO);
  EXPECT_EQ(o.msg.type, Msg::ChildReady);
  ASSERT_TRUE(WIFEXITED(o.status));
  EXPECT_EQ(WEXITSTATUS(o.status), 5);
  // Anything below that is no fd and no mode: refused before it acts.
  o = run_trampoline({"/bin/sh", "sh", "-c", "exit 5"}, nullptr, -3);
  EXPECT_TRUE(o.eof);
  ASSERT_TRUE(WIFEXITED(o.status));
  EXPECT_EQ(WEXITSTATUS(o.status), VSRV_TR_SETUP_FAILED);
}

TEST(ExecGuard, InitGuard) {
  InitGuardFacts f;
  f.trampoline_built = true;
  f.new_pid_ns = true;
  EXPECT_EQ(choose_init_guard(f), ExecGuard::Trampoline);
  f.new_pid_ns = false;  // another container's processes could see the init while it is vsrv
  EXPECT_EQ(choose_init_guard(f), ExecGuard::Reexec);
  f.new_pid_ns = true;
  f.early_filter_refuses_trampoline = true;
  EXPECT_EQ(choose_init_guard(f), ExecGuard::Reexec);
  f.early_filter_refuses_trampoline = false;
  f.suid_dumpable = true;
  EXPECT_EQ(choose_init_guard(f), ExecGuard::Reexec);
  f.already_protected = true;
  EXPECT_EQ(choose_init_guard(f), ExecGuard::Direct);
}

TEST(ExecTrampoline, MalformedArgumentsDoNothing) {
  if (!trampoline_built()) GTEST_SKIP() << "no exec trampoline on this architecture";
  // What "#!/proc/self/exe" in the container makes of it: argv {"/proc/self/exe", "/bin/evil"}.
  auto tr = trampoline_memfd();
  ASSERT_TRUE(tr);
  pid_t pid = ::fork();
  if (pid == 0) {
    char* argv[] = {const_cast<char*>("/proc/self/exe"), const_cast<char*>("/bin/evil"), nullptr};
    char* envp[] = {nullptr};
    ::syscall(SYS_execveat, tr->get(), "", argv, envp, AT_EMPTY_PATH);
    _exit(99);
  }
  int status = 0;
  ::waitpid(pid, &status, 0);
  ASSERT_TRUE(WIFEXITED(status));
  EXPECT_EQ(WEXITSTATUS(status), VSRV_TR_SETUP_FAILED);
}

TEST(ExecTrampoline, PeerGoneIsAnExitNotASigpipe) {
  if (!trampoline_built()) GTEST_SKIP() << "no exec trampoline on this architecture";
  // The report of a failed execve meets a closed socket (vsrv killed meanwhile): the trampoline
  // still exits 127 rather than dying of SIGPIPE, at its default in the container's process.
  auto tr = trampoline_memfd();
  ASSERT_TRUE(tr);
  int sv[2];
  ASSERT_EQ(::socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, sv), 0);
  ::close(sv[0]);
  std::string chan = std::to_string(sv[1]);
  pid_t pid = ::fork();
  if (pid == 0) {
    ::signal(SIGPIPE, SIG_DFL);
    ::fcntl(sv[1], F_SETFD, 0);
    char* argv[] = {const_cast<char*>("vsrv-exec"), chan.data(), const_cast<char*>("-1"), const_cast<char*>("0"),
                    const_cast<char*>("0"), const_cast<char*>("-1"), const_cast<char*>("/nonexistent/prog"),
                    const_cast<char*>("prog"), nullptr};
    char* envp[] = {nullptr};
    ::syscall(SYS_execveat, tr->get(), "", argv, envp, AT_EMPTY_PATH);
    _exit(99);
  }
  ::close(sv[1]);
  int status = 0;
  ::waitpid(pid, &status, 0);
  ASSERT_TRUE(WIFEXITED(status)) << "signal " << (WIFSIGNALED(status) ? WTERMSIG(status) : 0);
  EXPECT_EQ(WEXITSTATUS(status), VSRV_TR_EXEC_FAILED);
}

TEST(ExecTrampoline, MemfdIsSealedAgainstWrites) {
  if (!trampoline_built()) GTEST_SKIP() << "no exec trampoline on this architecture";
  auto tr = trampoline_memfd();
  ASSERT_TRUE(tr);
  // Reopened for writing as the container would through /proc/<pid>/exe:
  int w = ::open(("/proc/self/fd/" + std::to_string(tr->get())).c_str(), O_WRONLY);
  if (w >= 0) {
    EXPECT_EQ(::write(w, "x", 1), -1);
    EXPECT_EQ(errno, EPERM);
    ::close(w);
  } else {
    EXPECT_TRUE(errno == EPERM || errno == EACCES || errno == ETXTBSY) << errno;
  }
  EXPECT_EQ(::fcntl(tr->get(), F_GET_SEALS) & F_SEAL_WRITE, F_SEAL_WRITE);
}
