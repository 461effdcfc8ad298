// cli/signals.h: signal names and numbers as `kill` accepts them (runc: "TERM", "SIGTERM", "15").
#pragma once
#include <string>

#include "runtime/sys/error.h"

namespace vsrv::cli {
Result<int> parse_signal(const std::string& s);
}
