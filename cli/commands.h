// cli/commands.h: how the verbs plug into the CLI11 app. Each cmd_*.cpp registers its
// subcommands; a callback stores the exit status in Globals::exit_code. Errors are reported
// through report_error(), which prints "vsrv: msg" and writes the --log line.
#pragma once
#include <CLI/CLI.hpp>
#include <string>

#include "runtime/sys/error.h"

namespace vsrv::cli {

struct Globals {
  std::string root = "/run/vsrv";  // runc's --root: state directory
  std::string log;
  std::string log_format = "text";
  bool debug = false;
  bool systemd_cgroup = false;
  int exit_code = 0;
  // The one verb on the command line; empty registers them all (no verb, or an unknown one, so
  // that CLI11's help and errors see every verb). Building CLI11's options for all ~20 verbs
  // cost ~15 % of a `vsrv exec` (docs/performance.md); a command needs only its own.
  std::string only_verb;
  bool wants(const char* verb) const { return only_verb.empty() || only_verb == verb; }
};

// Every verb (and alias, mapped to its verb) that the register_* functions below add.
std::string verb_of(const std::string& word);

// The one error of every verb that would create or change a cgroup under --systemd-cgroup (the
// same text as runtime::create's own check).
inline constexpr const char* kSystemdCgroupRefused =
    "--systemd-cgroup is not supported yet: vsrv manages cgroupfs directly; drop the flag";

// Opens the --log file once; every verb callback calls it first.
void init_logging(const Globals& g);
// Prints the error, logs it, and returns the exit status to use (1, or 127/126 hints as runc).
int report_error(const Error& e);

void register_lifecycle(CLI::App& app, Globals& g);  // create start run state kill delete list ps spec features
void register_exec(CLI::App& app, Globals& g);       // exec
void register_resources(CLI::App& app, Globals& g);  // update pause resume events stats  (cgroups)
void register_network(CLI::App& app, Globals& g);    // network create|ls|inspect|rm       (netns)

}  // namespace vsrv::cli
