// cli/main.cpp: the vsrv command line. Parses global flags the way runc does (containerd and
// podman pass --root, --log, --log-format before the verb; containerd's restore passes
// single-dash long flags such as -no-subreaper), sets up logging, and runs one verb.
// CLI11's exceptions end here; everything below reports through Result.
#include <signal.h>
#include <unistd.h>

#include <cstdio>
#include <cstring>
#include <iostream>

#include "cli/commands.h"
#include "cli/words.h"
#include "runtime/sys/cloned_binary.h"
#include "runtime/sys/log.h"

namespace vsrv::cli {

void init_logging(const Globals& g) {
  static bool done = false;
  if (done) return;
  done = true;
  log::init({g.log, g.log_format == "json", g.debug});
}

int report_error(const Error& e) {
  std::string msg = e.message();
  log::error(msg);
  return 1;
}

bool Globals::names(std::string_view spec) const { return every_option || can_name(words, spec); }

std::string verb_of(const std::string& word) {
  static const char* const verbs[] = {"create", "run",    "start",  "state",  "kill",  "delete", "list",
                                      "ps",     "spec",   "features", "exec", "update", "pause",  "resume",
                                      "events", "stats",  "network"};
  if (word == "ls") return "list";
  for (const char* v : verbs)
    if (word == v) return v;
  return {};
}

}  // namespace vsrv::cli

namespace {

// The verb: the first word that is not a global option or its value (runc's global options
// come before the verb). Empty when there is none.
std::string find_verb(const std::vector<std::string>& args) {
  for (size_t i = 1; i < args.size(); ++i) {
    const std::string& a = args[i];
    if (a == "--root" || a == "--log" || a == "--log-format" || a == "--criu" || a == "--rootless") {
      ++i;
      continue;
    }
    if (a.empty() || a[0] == '-') continue;
    return a;
  }
  return {};
}

// runc (urfave/cli) accepts "-flag" as well as "--flag"; CLI11 does not. Rewrite single-dash
// long options ("-no-subreaper", "-root") to the double-dash form, leaving "-d", "-t" and
// negative numbers alone.
std::vector<std::string> normalize_args(int argc, char** argv) {
  std::vector<std::string> out;
  out.reserve(argc);
  bool after_dd = false;
  for (int i = 0; i < argc; ++i) {
    std::string a = argv[i];
    if (a == "--") after_dd = true;
    if (!after_dd && i > 0 && a.size() > 2 && a[0] == '-' && a[1] != '-' && std::isalpha(static_cast<unsigned char>(a[1])) &&
        std::isalpha(static_cast<unsigned char>(a[2])))
      a = "-" + a;
    out.push_back(std::move(a));
  }
  return out;
}

}  // namespace

int main(int argc, char** argv) {
  using namespace vsrv;
  // create, run and exec re-execute later, only if they must, once they have read the config
  // (runtime/exec_guard.h).
  sys::remember_argv(argv);
  // Writes to a closed pipe (hook stdin, console socket) must fail with EPIPE, not kill us.
  ::signal(SIGPIPE, SIG_IGN);
  cli::Globals g;
  auto args = normalize_args(argc, argv);
  const std::string verb = find_verb(args);
  g.only_verb = cli::verb_of(verb);
  // Only the options the command line can name (Globals::names); all of them for a help text.
  g.words.assign(args.begin() + 1, args.end());
  g.every_option = g.only_verb.empty() || cli::asks_for_help(g.words);

  CLI::App app{"vsrv: virtual servers without a hypervisor (an OCI runtime)", "vsrv"};
  // No help flag without one on the command line: the verb's own App then makes none either.
  if (!g.every_option) app.set_help_flag();
  cli::when_named(g, "-v,--version", [&](const char* n) { app.set_version_flag(n, "vsrv version 0.1.0\nspec: 1.2.0"); });
  app.require_subcommand(1);
  app.fallthrough();
  cli::named_option(&app, g, "--root", g.root, "state directory (default /run/vsrv)");
  cli::named_option(&app, g, "--log", g.log, "append log messages to this file");
  cli::when_named(g, "--log-format", [&](const char* n) {
    app.add_option(n, g.log_format, "log format: text or json")->check(CLI::IsMember({"text", "json"}));
  });
  cli::named_flag(&app, g, "--debug", g.debug, "enable debug logging");
  cli::named_flag(&app, g, "--systemd-cgroup", g.systemd_cgroup,
                  "use systemd for cgroups (not supported yet: refused by create, run and update)");
  static std::string criu_path, rootless;
  cli::named_option(&app, g, "--criu", criu_path, "path to the criu binary (accepted for runc compatibility)");
  cli::named_option(&app, g, "--rootless", rootless, "true|false|auto (accepted for runc compatibility)");

  cli::register_lifecycle(app, g);
  cli::register_exec(app, g);
  cli::register_resources(app, g);
  cli::register_network(app, g);

  // --systemd-cgroup: every verb that creates or changes a cgroup refuses it with one message,
  // before doing anything; the verbs that only read state (state, list, ps, events, stats, ...)
  // or act on a container's recorded cgroup ignore it, as runc does. Runs after parsing, before
  // the verb's callback.
  app.parse_complete_callback([&] {
    if (!g.systemd_cgroup) return;
    for (const char* verb : {"create", "run", "update"})
      if (g.wants(verb) && app.got_subcommand(verb)) throw CLI::RuntimeError(std::string(cli::kSystemdCgroupRefused), 1);
  });

  // An unknown verb is an error even with --help: podman takes `checkpoint --help` exiting 0 as
  // "this runtime can checkpoint", and CLI11 would print the main help and exit 0.
  // (A verb missing from verb_of()'s table still works: every verb is registered then.)
  bool known = verb.empty() || !g.only_verb.empty();
  for (auto* sub : app.get_subcommands([](CLI::App*) { return true; }))
    known = known || sub->check_name(verb);
  if (!known) {
    log::init({g.log, g.log_format == "json", g.debug});
    log::error("unknown command '" + verb + "' (see 'vsrv --help')");
    return 2;
  }
  std::vector<char*> cargs;
  for (auto& a : args) cargs.push_back(a.data());
  try {
    app.parse(static_cast<int>(cargs.size()), cargs.data());
  } catch (const CLI::CallForHelp& e) {
    return app.exit(e);
  } catch (const CLI::CallForAllHelp& e) {
    return app.exit(e);
  } catch (const CLI::CallForVersion& e) {
    return app.exit(e);
  } catch (const CLI::RuntimeError& e) {
    log::init({g.log, g.log_format == "json", g.debug});
    log::error(e.what());
    return e.get_exit_code();
  } catch (const CLI::ParseError& e) {
    log::init({g.log, g.log_format == "json", g.debug});
    log::error(e.what());
    return 2;
  } catch (const std::exception& e) {
    log::error(std::string("internal error: ") + e.what());
    return 1;
  }
  // The verb is done and its output written: flush what is buffered and leave without tearing
  // down the command tree and the heap object by object (the kernel frees the process at once).
  // Every resource that matters (state, cgroups, mounts, helpers) was settled by the verb itself;
  // the log writes straight to its fd.
  // (A sanitizer build returns normally: LeakSanitizer checks at exit.)
#if !defined(__SANITIZE_ADDRESS__)
  std::cout.flush();
  std::cerr.flush();
  std::fflush(nullptr);
  ::_exit(g.exit_code);
#endif
  return g.exit_code;
}
