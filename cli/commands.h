// cli/commands.h: how the verbs plug into the CLI11 app. Each cmd_*.cpp registers its
// subcommands; a callback stores the exit status in Globals::exit_code. Errors are reported
// through report_error(), which prints "vsrv: msg" and writes the --log line.
#pragma once
#include <CLI/CLI.hpp>
#include <string>
#include <string_view>
#include <vector>

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

  // Options are registered only when the command line can name them (cli/words.h): CLI11's
  // set-up of the options was most of what parsing `run` cost (~45 µs of ~60 here), and an
  // option the command line does not name changes nothing of the parse, since none of ours reads
  // an environment variable, takes a default from CLI11, or needs or excludes another (keep it
  // so). `every_option` (no verb, or a help flag anywhere) registers them all, for the help text.
  std::vector<std::string> words;  // the command line after the program name (normalize_args)
  bool every_option = true;
  bool names(std::string_view spec) const;
};

// Adds an option through `add(names)` only when the command line can name it (Globals::names),
// so that the names tested and the names registered are one string.
template <class Add>
void when_named(const Globals& g, const char* names, Add&& add) {
  if (g.names(names)) add(names);
}

// add_option / add_flag through when_named, for options with nothing more to set.
template <class T>
void named_option(CLI::App* c, const Globals& g, const char* names, T& var, const char* desc) {
  when_named(g, names, [&](const char* n) { c->add_option(n, var, desc); });
}
inline void named_flag(CLI::App* c, const Globals& g, const char* names, bool& var, const char* desc) {
  when_named(g, names, [&](const char* n) { c->add_flag(n, var, desc); });
}

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
