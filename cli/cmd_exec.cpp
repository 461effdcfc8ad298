// cli/cmd_exec.cpp: `exec`, runc-compatible (--process FILE, or inline args with -t, --cwd,
// --env, --user, --additional-gids, --cap, --no-new-privs, --ignore-paused, -d, --pid-file, --console-socket, --preserve-fds).
#include "cli/commands.h"
#include "runtime/container.h"

namespace vsrv::cli {

void register_exec(CLI::App& app, Globals& g) {
  if (!g.wants("exec")) return;
  static runtime::ExecOptions o;
  static std::vector<std::string> rest;
  static std::string process_label, apparmor;
  static std::vector<long long> gids;
  auto* c = app.add_subcommand("exec", "run a new process inside a running container");
  // Only the options the command line can name (cli/words.h; all of them for --help).
  named_option(c, g, "-p,--process", o.process_file, "path to an OCI process.json");
  named_flag(c, g, "-t,--tty", o.tty, "allocate a pseudo-TTY");
  named_option(c, g, "--cwd", o.cwd, "working directory inside the container");
  when_named(g, "-e,--env", [&](const char* n) {
    c->add_option(n, o.env, "set an environment variable (KEY=VALUE); repeat for more")
        ->expected(1)
        ->allow_extra_args(false)
        ->multi_option_policy(CLI::MultiOptionPolicy::TakeAll)
        ->type_name("KEY=VALUE");
  });
  named_option(c, g, "-u,--user", o.user, "uid[:gid] or a user name from the container's /etc/passwd");
  when_named(g, "-c,--cap", [&](const char* n) { c->add_option(n, o.add_caps, "add a capability")->allow_extra_args(false); });
  when_named(g, "-g,--additional-gids", [&](const char* n) {
    c->add_option(n, gids, "add a supplementary group id (numeric); repeat for more")
        ->expected(1)
        ->allow_extra_args(false)
        ->multi_option_policy(CLI::MultiOptionPolicy::TakeAll)
        ->type_name("GID");
  });
  named_flag(c, g, "--ignore-paused", o.ignore_paused, "exec in a paused container too (the process stays frozen until resume)");
  named_flag(c, g, "--no-new-privs", o.no_new_privs, "set no_new_privs");
  named_flag(c, g, "-d,--detach", o.detach, "detach from the process");
  named_option(c, g, "--pid-file", o.pid_file, "write the process's pid to this file");
  named_option(c, g, "--console-socket", o.console_socket, "unix socket that receives the pty master");
  named_option(c, g, "--preserve-fds", o.preserve_fds, "pass this many fds after stdio into the process");
  named_option(c, g, "--process-label", process_label, "accepted for runc compatibility (no SELinux)");
  named_option(c, g, "--apparmor", apparmor, "accepted for runc compatibility (no AppArmor)");
  c->add_option("container-id", o.id, "container id")->required();
  c->add_option("command", rest, "command and arguments");
  c->positionals_at_end();
  c->prefix_command(false);
  c->callback([&] {
    init_logging(g);
    o.root = g.root;
    o.args = rest;
    o.additional_gids.clear();
    for (long long gid : gids) {
      if (gid < 0 || gid > 0xfffffffeLL) {
        g.exit_code = report_error(Error{0, "--additional-gids: '" + std::to_string(gid) + "' is not a valid gid"});
        return;
      }
      o.additional_gids.push_back(static_cast<std::uint32_t>(gid));
    }
    auto r = runtime::exec(o);
    g.exit_code = r ? *r : report_error(r.error());
  });
}

}  // namespace vsrv::cli
