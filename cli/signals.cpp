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
    const bool min = s[3] == 'I';
    const int base = min ? SIGRTMIN : SIGRTMAX;
    if (s.size() == 5) return base;
    // RTMIN+n and RTMAX-n, n from 0 to SIGRTMAX-SIGRTMIN, as kill(1) and runc spell them.
    const int span = SIGRTMAX - SIGRTMIN;
    const std::string range = min ? "RTMIN+0 to RTMIN+" + std::to_string(span) : "RTMAX-0 to RTMAX-" + std::to_string(span);
    const char sign = s[5];
    const std::string digits = s.substr(6);
    if ((sign != (min ? '+' : '-')) || digits.empty() || digits.size() > 4 ||
        digits.find_first_not_of("0123456789") != std::string::npos)
      return fail("invalid signal '" + in + "': expected " + range);
    const int off = std::atoi(digits.c_str());
    if (off > span) return fail("invalid signal '" + in + "': out of range, expected " + range);
    return min ? base + off : base - off;
  }
  return fail("unknown signal '" + in + "'");
}

}  // namespace vsrv::cli
