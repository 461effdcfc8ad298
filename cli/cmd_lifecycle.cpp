// cli/cmd_lifecycle.cpp: runc's lifecycle verbs: create start run state kill delete list ps spec
// features. Each verb is a thin adapter from flags to runtime/container.h.
#include <spawn.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <iostream>
#include <nlohmann/json.hpp>
#include <set>
#include <sstream>

#include "cli/commands.h"
#include "cli/table.h"
#include "cli/signals.h"
#include "config/oci_spec.h"
#include "runtime/container.h"
#include "runtime/sys/syscalls.h"

extern char** environ;

namespace vsrv::cli {
namespace {

using nlohmann::json;

struct CreateFlags {
  runtime::CreateOptions o;
  bool detach = false, keep = false, no_subreaper = false;
};

void add_create_flags(CLI::App* c, CreateFlags& f, const Globals& g) {
  c->add_option("container-id", f.o.id, "container id")->required();
  // Only the options the command line can name (Globals::names; all of them for --help).
  named_option(c, g, "-b,--bundle", f.o.bundle, "path to the bundle (default: current directory)");
  named_option(c, g, "--pid-file", f.o.pid_file, "write the init's pid to this file");
  named_option(c, g, "--console-socket", f.o.console_socket, "unix socket that receives the pty master");
  named_flag(c, g, "--no-pivot", f.o.no_pivot, "use chroot instead of pivot_root (for ramfs roots)");
  named_flag(c, g, "--no-new-keyring", f.o.no_new_keyring, "do not create a new session keyring");
  named_option(c, g, "--preserve-fds", f.o.preserve_fds, "pass this many fds after stdio into the container");
  named_flag(c, g, "--no-subreaper", f.no_subreaper, "accepted for runc compatibility");
  named_option(c, g, "--network", f.o.network.mode, "none | host | bridge[:NAME] | macvlan:NAME | container:ID | ns:PATH");
  named_option(c, g, "--ip", f.o.network.ip, "static IP address for the container");
  named_option(c, g, "--mac", f.o.network.mac, "MAC address (default: derived from the id)");
  when_named(g, "-p,--publish", [&](const char* n) {
    c->add_option(n, f.o.network.publish, "[HOSTIP:]HOSTPORT:CONTAINERPORT[/tcp|udp]")->allow_extra_args(false);
  });
  named_option(c, g, "--net-rate", f.o.network.rate, "bandwidth limit of the container's interface, e.g. 10mbit");
}

int fail_with(const Error& e) { return report_error(e); }

void print_table(const std::vector<std::vector<std::string>>& rows) { std::cout << format_table(rows, 4); }

int do_ps(const Globals& g, const std::string& id, const std::string& format, const std::vector<std::string>& ps_args) {
  auto pids = runtime::container_pids(g.root, id);
  if (!pids) return fail_with(pids.error());
  if (format == "json") {
    std::cout << json(*pids).dump() << "\n";
    return 0;
  }
  // Run ps(1) and keep its header plus the lines of our pids (runc does the same).
  std::vector<std::string> args = {"ps"};
  if (ps_args.empty())
    args.push_back("-ef");
  else
    args.insert(args.end(), ps_args.begin(), ps_args.end());
  int pipefd[2];
  if (::pipe2(pipefd, O_CLOEXEC) < 0) return fail_with(Error{errno, "pipe"});
  posix_spawn_file_actions_t fa;
  posix_spawn_file_actions_init(&fa);
  posix_spawn_file_actions_adddup2(&fa, pipefd[1], 1);
  std::vector<char*> argv;
  for (auto& a : args) argv.push_back(a.data());
  argv.push_back(nullptr);
  pid_t child;
  int rc = posix_spawnp(&child, "ps", &fa, nullptr, argv.data(), environ);
  posix_spawn_file_actions_destroy(&fa);
  ::close(pipefd[1]);
  if (rc != 0) {
    ::close(pipefd[0]);
    return fail_with(Error{rc, "run ps"});
  }
  sys::unique_fd rd(pipefd[0]);
  auto out = sys::read_fd(rd);
  int status;
  ::waitpid(child, &status, 0);
  if (!out) return fail_with(out.error());
  std::istringstream in(*out);
  std::string header;
  std::getline(in, header);
  // Find the PID column in the header.
  std::istringstream hs(header);
  std::string col;
  int pid_col = -1, idx = 0;
  while (hs >> col) {
    if (col == "PID") pid_col = idx;
    ++idx;
  }
  if (pid_col < 0) return fail_with(Error{0, "ps: no PID column in its output"});
  std::set<pid_t> ours(pids->begin(), pids->end());
  std::cout << header << "\n";
  std::string line;
  while (std::getline(in, line)) {
    std::istringstream ls(line);
    std::string field;
    for (int i = 0; i <= pid_col && ls >> field; ++i) {
    }
    if (ours.count(static_cast<pid_t>(std::atol(field.c_str())))) std::cout << line << "\n";
  }
  return 0;
}

}  // namespace

void register_lifecycle(CLI::App& app, Globals& g) {
  // --- create ---
  if (g.wants("create")) {
    static CreateFlags create_f;
    auto* create = app.add_subcommand("create", "create a container (its process waits for start)");
    add_create_flags(create, create_f, g);
    create->callback([&] {
      init_logging(g);
      create_f.o.root = g.root;
      create_f.o.systemd_cgroup = g.systemd_cgroup;
      auto r = runtime::create(create_f.o);
      g.exit_code = r ? 0 : fail_with(r.error());
    });
  }

  // --- run ---
  if (g.wants("run")) {
    static CreateFlags run_f;
    auto* run = app.add_subcommand("run", "create and start a container");
    add_create_flags(run, run_f, g);
    named_flag(run, g, "-d,--detach", run_f.detach, "detach from the container's process");
    named_flag(run, g, "--keep", run_f.keep, "do not delete the container after it exits");
    run->callback([&] {
      init_logging(g);
      run_f.o.root = g.root;
      run_f.o.systemd_cgroup = g.systemd_cgroup;
      auto r = runtime::run(run_f.o, run_f.detach, run_f.keep);
      g.exit_code = r ? *r : fail_with(r.error());
    });
  }

  // --- start ---
  if (g.wants("start")) {
    static std::string start_id;
    auto* start = app.add_subcommand("start", "start a created container");
    start->add_option("container-id", start_id, "the container's id")->required();
    start->callback([&] {
      init_logging(g);
      auto r = runtime::start(g.root, start_id);
      g.exit_code = r ? 0 : fail_with(r.error());
    });
  }

  // --- state ---
  if (g.wants("state")) {
    static std::string state_id;
    auto* state = app.add_subcommand("state", "print the OCI state of a container");
    state->add_option("container-id", state_id, "the container's id")->required();
    state->callback([&] {
      init_logging(g);
      auto st = runtime::load_live(g.root, state_id);
      if (!st) {
        g.exit_code = fail_with(st.error());
        return;
      }
      std::cout << runtime::oci_state_json(*st) << "\n";
    });
  }

  // --- kill ---
  if (g.wants("kill")) {
    static std::string kill_id, kill_sig = "SIGTERM";
    static bool kill_all = false;
    auto* kill = app.add_subcommand("kill", "send a signal to the container's init (default SIGTERM)");
    kill->add_option("container-id", kill_id, "the container's id")->required();
    kill->add_option("signal", kill_sig, "signal name or number");
    kill->add_flag("-a,--all", kill_all, "send the signal to every process of the container");
    kill->callback([&] {
      init_logging(g);
      auto sig = parse_signal(kill_sig);
      if (!sig) {
        g.exit_code = fail_with(sig.error());
        return;
      }
      auto r = runtime::kill(g.root, kill_id, *sig, kill_all);
      g.exit_code = r ? 0 : fail_with(r.error());
    });
  }

  // --- delete ---
  if (g.wants("delete")) {
    static std::string del_id;
    static bool del_force = false;
    auto* del = app.add_subcommand("delete", "delete a container and everything it holds");
    del->add_option("container-id", del_id, "the container's id")->required();
    del->add_flag("-f,--force", del_force, "kill the container first if it is running");
    del->callback([&] {
      init_logging(g);
      auto r = runtime::remove(g.root, del_id, del_force);
      g.exit_code = r ? 0 : fail_with(r.error());
    });
  }

  // --- list ---
  if (g.wants("list")) {
    static std::string list_format = "table";
    static bool list_quiet = false;
    auto* list = app.add_subcommand("list", "list containers");
    list->alias("ls");
    list->add_option("-f,--format", list_format, "table or json")->check(CLI::IsMember({"table", "json"}));
    list->add_flag("-q,--quiet", list_quiet, "print only ids");
    list->callback([&] {
      init_logging(g);
      auto ids = runtime::list_ids(g.root);
      if (!ids) {
        g.exit_code = fail_with(ids.error());
        return;
      }
      json arr = json::array();
      std::vector<std::vector<std::string>> rows = {{"ID", "PID", "STATUS", "BUNDLE", "CREATED", "OWNER"}};
      for (const auto& id : *ids) {
        auto st = runtime::load_live(g.root, id);
        if (!st) continue;
        std::string pid = st->status == runtime::Status::Stopped ? "0" : std::to_string(st->pid);
        if (list_quiet) {
          std::cout << id << "\n";
          continue;
        }
        rows.push_back({id, pid, runtime::status_name(st->status), st->bundle, st->created, st->owner});
        arr.push_back({{"ociVersion", "1.2.0"}, {"id", id}, {"pid", std::atoi(pid.c_str())},
                       {"status", runtime::status_name(st->status)}, {"bundle", st->bundle},
                       {"rootfs", st->rootfs}, {"created", st->created}, {"owner", st->owner},
                       {"annotations", st->annotations}});
      }
      if (list_quiet) return;
      if (list_format == "json")
        std::cout << arr.dump() << "\n";
      else
        print_table(rows);
    });
  }

  // --- ps ---
  if (g.wants("ps")) {
    static std::string ps_id, ps_format = "table";
    static std::vector<std::string> ps_args;
    auto* ps = app.add_subcommand("ps", "list the processes of a container");
    ps->add_option("-f,--format", ps_format, "table or json")->check(CLI::IsMember({"table", "json"}));
    ps->add_option("container-id", ps_id, "the container's id")->required();
    ps->add_option("ps-args", ps_args, "arguments for ps(1), after the id (default -ef)");
    ps->allow_extras(false);
    // As runc: everything after the id goes to ps(1), options included (`ps ID -o pid,comm`).
    ps->positionals_at_end();
    ps->callback([&] {
      init_logging(g);
      std::vector<std::string> args = ps_args;
      if (!args.empty() && args.front() == "--") args.erase(args.begin());
      // `ps ID --format json` (the format after the id) kept working before ps arguments were
      // taken after the id; ps(1) itself has no --format, nor -f with an argument.
      std::string format = ps_format;
      if (args.size() == 2 && (args[0] == "--format" || args[0] == "-f") && (args[1] == "json" || args[1] == "table")) {
        format = args[1];
        args.clear();
      } else if (args.size() == 1 && (args[0] == "--format=json" || args[0] == "--format=table")) {
        format = args[0].substr(9);
        args.clear();
      }
      g.exit_code = do_ps(g, ps_id, format, args);
    });
  }

  // --- spec ---
  if (g.wants("spec")) {
    static std::string spec_bundle;
    static bool spec_rootless = false;
    auto* spec = app.add_subcommand("spec", "write a default config.json");
    spec->add_option("-b,--bundle", spec_bundle, "bundle directory (default: current directory)");
    spec->add_flag("--rootless", spec_rootless, "a config for an unprivileged user");
    spec->callback([&] {
      init_logging(g);
      std::string path = (spec_bundle.empty() ? std::string(".") : spec_bundle) + "/config.json";
      struct stat st;
      if (::stat(path.c_str(), &st) == 0) {
        g.exit_code = fail_with(Error{EEXIST, "'" + path + "' already exists; remove it first"});
        return;
      }
      auto r = sys::write_file(path, oci::to_json(oci::default_spec(spec_rootless)) + "\n",
                               O_WRONLY | O_CREAT | O_EXCL);
      g.exit_code = r ? 0 : fail_with(r.error());
    });
  }

  // --- features ---
  if (g.wants("features")) {
    auto* features = app.add_subcommand("features", "print the runtime's features (OCI features document)");
    features->callback([&] {
      init_logging(g);
      json j = {
          {"ociVersionMin", "1.0.0"},
          {"ociVersionMax", "1.2.0"},
          {"hooks", {"prestart", "createRuntime", "createContainer", "startContainer", "poststart", "poststop"}},
          {"mountOptions",
           {"async", "atime", "bind", "dev", "diratime", "dirsync", "exec", "mand", "noatime", "nodev", "nodiratime",
            "noexec", "nomand", "norelatime", "nostrictatime", "nosuid", "private", "rbind", "relatime", "remount",
            "ro", "rprivate", "rshared", "rslave", "runbindable", "rw", "shared", "slave", "strictatime", "suid",
            "sync", "tmpcopyup", "unbindable"}},
          {"linux",
           {{"namespaces", {"cgroup", "ipc", "mount", "network", "pid", "time", "user", "uts"}},
            {"capabilities", json::array()},
            {"cgroup", {{"v1", true}, {"v2", true}, {"systemd", false}, {"systemdUser", false}}},
            {"seccomp",
             {{"enabled", true},
              {"actions",
               {"SCMP_ACT_ALLOW", "SCMP_ACT_ERRNO", "SCMP_ACT_KILL", "SCMP_ACT_KILL_PROCESS", "SCMP_ACT_KILL_THREAD",
                "SCMP_ACT_LOG", "SCMP_ACT_NOTIFY", "SCMP_ACT_TRACE", "SCMP_ACT_TRAP"}},
              {"operators",
               {"SCMP_CMP_EQ", "SCMP_CMP_GE", "SCMP_CMP_GT", "SCMP_CMP_LE", "SCMP_CMP_LT", "SCMP_CMP_MASKED_EQ",
                "SCMP_CMP_NE"}},
              {"archs", {"SCMP_ARCH_X86", "SCMP_ARCH_X86_64", "SCMP_ARCH_X32", "SCMP_ARCH_AARCH64", "SCMP_ARCH_ARM"}}}},
            {"apparmor", {{"enabled", false}}},
            {"selinux", {{"enabled", false}}},
            {"intelRdt", {{"enabled", false}}},
            {"mountExtensions", {{"idmap", {{"enabled", false}}}}}}},
          {"annotations",
           {{"org.opencontainers.runc.checkpoint.enabled", "false"}, {"io.github.vsrv.version", "0.1.0"}}},
      };
      std::cout << j.dump(2) << "\n";
    });
  }
}

}  // namespace vsrv::cli
