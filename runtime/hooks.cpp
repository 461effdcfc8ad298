// runtime/hooks.cpp: running OCI hooks with state on stdin and a pidfd-based timeout.
#include "runtime/hooks.h"

#include <fcntl.h>
#include <poll.h>
#include <sched.h>
#include <signal.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include "runtime/sys/syscalls.h"

namespace vsrv::runtime {

namespace {

// Namespaces of `pid` that differ from ours (joining our own user namespace is EINVAL).
int differing_namespaces(pid_t pid) {
  static const std::pair<const char*, int> kinds[] = {{"mnt", CLONE_NEWNS},   {"uts", CLONE_NEWUTS},
                                                      {"ipc", CLONE_NEWIPC},  {"net", CLONE_NEWNET},
                                                      {"cgroup", CLONE_NEWCGROUP}, {"user", CLONE_NEWUSER}};
  int flags = 0;
  for (auto [name, flag] : kinds) {
    struct stat a, b;
    std::string theirs = "/proc/" + std::to_string(pid) + "/ns/" + name;
    std::string ours = std::string("/proc/self/ns/") + name;
    if (::stat(theirs.c_str(), &a) == 0 && ::stat(ours.c_str(), &b) == 0 && a.st_ino != b.st_ino) flags |= flag;
  }
  return flags;
}

Result<void> run_one(const oci::Hook& h, const char* kind, const std::string& state_json, pid_t ns_pid) {
  std::string what = std::string(kind) + " hook '" + h.path + "'";
  // Runtime-namespace hooks must exist on the host; container-namespace hooks are resolved after
  // joining the container (before pivot_root that is still the host's tree; for startContainer
  // it is the container's), as runc resolves them.
  if (ns_pid <= 0 && ::access(h.path.c_str(), X_OK) < 0) return errno_error(what);
  sys::unique_fd pidfd_ns;
  int ns_flags = 0;
  if (ns_pid > 0) {
    int fd = sys::pidfd_open(ns_pid);
    if (fd < 0) return errno_error(what + ": pidfd_open");
    pidfd_ns.reset(fd);
    ns_flags = differing_namespaces(ns_pid);
  }
  int pipefd[2];
  if (::pipe2(pipefd, O_CLOEXEC) < 0) return errno_error(what + ": pipe");
  sys::unique_fd rd(pipefd[0]), wr(pipefd[1]);

  std::vector<std::string> args = h.args.empty() ? std::vector<std::string>{h.path} : h.args;
  std::vector<char*> argv, envp;
  for (auto& a : args) argv.push_back(a.data());
  argv.push_back(nullptr);
  std::vector<std::string> env = h.env;
  for (auto& e : env) envp.push_back(e.data());
  envp.push_back(nullptr);

  pid_t pid = ::fork();
  if (pid < 0) return errno_error(what + ": fork");
  if (pid == 0) {
    if (ns_flags && ::setns(pidfd_ns.get(), ns_flags) < 0) _exit(126);
    if (::dup2(rd.get(), 0) < 0) _exit(126);
    sigset_t none;
    sigemptyset(&none);
    ::sigprocmask(SIG_SETMASK, &none, nullptr);
    ::execve(h.path.c_str(), argv.data(), envp.data());
    _exit(127);
  }
  rd.reset();
  int child_pidfd = sys::pidfd_open(pid);
  sys::unique_fd cpfd(child_pidfd);
  // The hook may not read stdin at all; ignore EPIPE (SIGPIPE is ignored by vsrv's main).
  (void)sys::write_all(wr, state_json);
  wr.reset();
  if (h.timeout && *h.timeout > 0 && cpfd) {
    struct pollfd pfd = {cpfd.get(), POLLIN, 0};
    int rc;
    do {
      rc = ::poll(&pfd, 1, *h.timeout * 1000);
    } while (rc < 0 && errno == EINTR);
    if (rc == 0) {
      sys::pidfd_send_signal(cpfd.get(), SIGKILL);
      ::waitpid(pid, nullptr, 0);
      return make_error(ETIMEDOUT, what + ": timed out after " + std::to_string(*h.timeout) + "s");
    }
  }
  int status = 0;
  while (::waitpid(pid, &status, 0) < 0)
    if (errno != EINTR) return errno_error(what + ": wait");
  if (WIFEXITED(status) && WEXITSTATUS(status) == 0) return {};
  if (WIFSIGNALED(status)) return fail(what + ": killed by signal " + std::to_string(WTERMSIG(status)));
  return fail(what + ": exit status " + std::to_string(WEXITSTATUS(status)));
}

}  // namespace

Result<void> run_hooks(const std::vector<oci::Hook>& hooks, const char* kind, const std::string& state_json,
                       pid_t ns_pid) {
  for (const auto& h : hooks) VSRV_TRY(run_one(h, kind, state_json, ns_pid));
  return {};
}

}  // namespace vsrv::runtime
