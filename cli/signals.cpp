// cli/signals.cpp: signal name table for `kill`.
#include "cli/signals.h"

#include <signal.h>

#include <cctype>
#include <cstdlib>

namespace vsrv::cli {

Result<int> parse_signal(const std::string& in) {
  static const std::pair<const char*, int> table[] = {
      {"HUP", SIGHUP},   {"INT", SIGINT},     {"QUIT", SIGQUIT},   {"ILL", SIGILL},     {"TRAP", SIGTRAP},
      {"ABRT", SIGABRT}, {"IOT", SIGIOT},     {"BUS", SIGBUS},     {"FPE", SIGFPE},     {"KILL", SIGKILL},
      {"USR1", SIGUSR1}, {"SEGV", SIGSEGV},   {"USR2", SIGUSR2},   {"PIPE", SIGPIPE},   {"ALRM", SIGALRM},
      {"TERM", SIGTERM}, {"STKFLT", SIGSTKFLT}, {"CHLD", SIGCHLD}, {"CONT", SIGCONT},   {"STOP", SIGSTOP},
      {"TSTP", SIGTSTP}, {"TTIN", SIGTTIN},   {"TTOU", SIGTTOU},   {"URG", SIGURG},     {"XCPU", SIGXCPU},
      {"XFSZ", SIGXFSZ}, {"VTALRM", SIGVTALRM}, {"PROF", SIGPROF}, {"WINCH", SIGWINCH}, {"IO", SIGIO},
      {"POLL", SIGPOLL}, {"PWR", SIGPWR},     {"SYS", SIGSYS},
  };
  if (in.empty()) return fail("empty signal");
  if (std::isdigit(static_cast<unsigned char>(in[0]))) {
    char* end;
    long n = std::strtol(in.c_str(), &end, 10);
    if (*end || n <= 0 || n > SIGRTMAX) return fail("invalid signal '" + in + "'");
    return static_cast<int>(n);
  }
  std::string s;
  for (char c : in) s += static_cast<char>(std::toupper(static_cast<unsigned char>(c)));
  if (s.rfind("SIG", 0) == 0) s = s.substr(3);
  for (auto [name, num] : table)
    if (s == name) return num;
  if (s.rfind("RTMIN", 0) == 0 || s.rfind("RTMAX", 0) == 0) {
    int base = s[2] == 'M' && s[3] == 'I' ? SIGRTMIN : SIGRTMAX;
    if (s.size() == 5) return base;
    int off = std::atoi(s.c_str() + 5);
    return base + off;
  }
  return fail("unknown signal '" + in + "'");
}

}  // namespace vsrv::cli
