// runtime/sys/log.h: runc-compatible logging. With --log FILE every message is appended there,
// as text or as JSON lines {"level","msg","time"} (--log-format json), which containerd reads to
// show the runtime's error. Errors also go to stderr as "vsrv: msg".
#pragma once
#include <ctime>
#include <string>
#include <string_view>

namespace vsrv::log {

enum class Level { Debug, Info, Warn, Error };

struct Config {
  std::string file;   // empty: stderr only
  bool json = false;
  bool debug = false;
};

// Opens (creating) the log file. Must be called before anything is logged; failures go to stderr.
void init(const Config& c);
void write(Level level, std::string_view msg);
inline void debug(std::string_view m) { write(Level::Debug, m); }
// Whether debug lines are written: build a message only then.
bool debug_enabled();
// A debug line "<what> '<id>': <step>": the steps of create and run, which with --log carry
// nanosecond timestamps (where a start's time goes, on any machine).
void step(const char* what, const std::string& id, const char* step);
inline void info(std::string_view m) { write(Level::Info, m); }
inline void warn(std::string_view m) { write(Level::Warn, m); }
// Error: to the log file and to stderr ("vsrv: msg").
void error(std::string_view m);
// "2026-11-29T23:56:34.421542229Z": RFC 3339 in UTC, nanoseconds, no time zone lookup.
std::string utc_rfc3339(const struct timespec& ts);
// JSON string escaping for hand-built JSON lines.
std::string json_escape(std::string_view s);

}  // namespace vsrv::log
