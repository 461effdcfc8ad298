// runtime/sys/log.cpp: --log / --log-format handling (see log.h).
#include "runtime/sys/log.h"

#include <fcntl.h>
#include <unistd.h>

#include <cstdio>
#include <ctime>

namespace vsrv::log {
namespace {
int g_fd = -1;
bool g_json = false;
bool g_debug = false;

const char* level_name(Level l) {
  switch (l) {
    case Level::Debug: return "debug";
    case Level::Info: return "info";
    case Level::Warn: return "warning";
    case Level::Error: return "error";
  }
  return "info";
}

std::string timestamp() {
  struct timespec ts;
  clock_gettime(CLOCK_REALTIME, &ts);
  return utc_rfc3339(ts);
}
}  // namespace

std::string utc_rfc3339(const struct timespec& ts) {
  // Days since the epoch to a civil date (H. Hinnant's algorithm): UTC needs no time zone, and
  // gmtime_r would still read /etc/localtime once per process (glibc's tzset) on create's path.
  long long secs = ts.tv_sec, days = secs / 86400, sod = secs % 86400;
  if (sod < 0) sod += 86400, --days;
  long long z = days + 719468, era = (z >= 0 ? z : z - 146096) / 146097;
  long long doe = z - era * 146097, yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
  long long doy = doe - (365 * yoe + yoe / 4 - yoe / 100), mp = (5 * doy + 2) / 153;
  long long d = doy - (153 * mp + 2) / 5 + 1, m = mp < 10 ? mp + 3 : mp - 9, y = yoe + era * 400 + (m <= 2);
  char buf[64];
  snprintf(buf, sizeof buf, "%04lld-%02lld-%02lldT%02lld:%02lld:%02lld.%09ldZ", y, m, d, sod / 3600, sod / 60 % 60,
           sod % 60, static_cast<long>(ts.tv_nsec));
  return buf;
}

std::string json_escape(std::string_view s) {
  std::string out;
  out.reserve(s.size() + 2);
  for (unsigned char c : s) {
    switch (c) {
      case '"': out += "\\\""; break;
      case '\\': out += "\\\\"; break;
      case '\n': out += "\\n"; break;
      case '\t': out += "\\t"; break;
      case '\r': out += "\\r"; break;
      default:
        if (c < 0x20) {
          char b[8];
          snprintf(b, sizeof b, "\\u%04x", c);
          out += b;
        } else {
          out += static_cast<char>(c);
        }
    }
  }
  return out;
}

void init(const Config& c) {
  g_json = c.json;
  g_debug = c.debug;
  if (!c.file.empty()) {
    g_fd = ::open(c.file.c_str(), O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC, 0644);
    if (g_fd < 0) dprintf(2, "vsrv: open log file '%s': %m\n", c.file.c_str());
  }
}

void write(Level level, std::string_view msg) {
  if (level == Level::Debug && !g_debug) return;
  if (g_fd < 0) {
    if (g_debug && level != Level::Error) dprintf(2, "vsrv: %s: %.*s\n", level_name(level), int(msg.size()), msg.data());
    return;
  }
  std::string line;
  if (g_json) {
    line = "{\"level\":\"" + std::string(level_name(level)) + "\",\"msg\":\"" + json_escape(msg) +
           "\",\"time\":\"" + timestamp() + "\"}\n";
  } else {
    line = timestamp() + " " + level_name(level) + ": " + std::string(msg) + "\n";
  }
  (void)!::write(g_fd, line.data(), line.size());
}

bool debug_enabled() { return g_debug; }

void step(const char* what, const std::string& id, const char* s) {
  if (g_debug) write(Level::Debug, std::string(what) + " '" + id + "': " + s);
}

void error(std::string_view m) {
  write(Level::Error, m);
  dprintf(2, "vsrv: %.*s\n", int(m.size()), m.data());
}

}  // namespace vsrv::log
