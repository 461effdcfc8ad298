// cli/cmd_stubs.cpp: temporary registrations for verb groups still being written.
#include "cli/commands.h"
namespace vsrv::cli {
__attribute__((weak)) void register_network(CLI::App&, Globals&) {}
}  // namespace vsrv::cli
