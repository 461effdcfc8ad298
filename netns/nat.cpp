// netns/nat.cpp: see nat.h.
#include "netns/nat.h"

#include <arpa/inet.h>
#include <spawn.h>
#include <sys/stat.h>
#include <fcntl.h>
#include <unistd.h>

#include <cstdlib>

#include "netns/parse.h"
#include "runtime/sys/fd.h"
#include "runtime/sys/syscalls.h"

extern char** environ;

namespace vsrv::net {

std::string nft_table_name(const std::string& id) { return "vsrv-c-" + short_hash(id, 12); }

std::string nft_add_script(const Plan& p) {
  const std::string& t = p.nft_table;
  std::string br = "\"" + p.bridge + "\"";
  std::string s = "add table inet " + t + "\ndelete table inet " + t + "\n";
  s += "table inet " + t + " {\n";
  // Each mapping is DNATed on IPv4 (no HOSTIP, or an IPv4 one) and, when the container has an
  // IPv6 address, on IPv6 (no HOSTIP, or an IPv6 one). 0.0.0.0 and :: are every local address of
  // their family. In this inet table the family is matched explicitly, so a rule never
  // depends on nat skipping a packet of the other family.
  std::string dnat, dnat_out;
  bool dnat4 = false, dnat6 = false;
  for (const auto& m : p.publish) {
    bool v6host = publish_is_ipv6(m);
    std::string port = m.proto + " dport " + std::to_string(m.host_port);
    std::string cport = std::to_string(m.container_port);
    if (!v6host) {
      bool any = m.host_ip.empty() || m.host_ip == "0.0.0.0";
      std::string match = any ? "meta nfproto ipv4 fib daddr type local " : "ip daddr " + m.host_ip + " ";
      std::string rule = "    " + match + port + " dnat ip to " + p.ip + ":" + cport + "\n";
      dnat4 = true;
      dnat += rule;
      dnat_out += rule;
    }
    if (!p.ip6.empty() && (m.host_ip.empty() || v6host)) {
      dnat6 = true;
      bool any = m.host_ip.empty() || m.host_ip == "::";
      std::string to = " dnat ip6 to [" + p.ip6 + "]:" + cport + "\n";
      dnat += "    " + (any ? std::string("meta nfproto ipv6 fib daddr type local ") : "ip6 daddr " + m.host_ip + " ") + port + to;
      // IPv6 has no route_localnet: ::1 DNATed to the container would be dropped as a martian
      // on its way out of lo. Left alone, [::1]:PORT reaches whatever listens on the host
      // (or is refused) instead of hanging. Podman has the same limit.
      dnat_out += "    " + (any ? std::string("ip6 daddr != ::1 fib daddr type local ") : "ip6 daddr " + m.host_ip + " ") + port + to;
    }
  }
  if (!dnat.empty()) {
    s += "  chain prerouting {\n    type nat hook prerouting priority dstnat; policy accept;\n" + dnat + "  }\n";
    // Connections from the host itself (including 127.0.0.1) never pass prerouting.
    s += "  chain output {\n    type nat hook output priority -100; policy accept;\n" + dnat_out + "  }\n";
  }
  s += "  chain postrouting {\n    type nat hook postrouting priority srcnat; policy accept;\n";
  s += "    ip saddr " + p.ip + " oifname != " + br + " masquerade\n";
  if (!p.ip6.empty()) s += "    ip6 saddr " + p.ip6 + " oifname != " + br + " masquerade\n";
  if (dnat4)
    // localhost (route_localnet) and hairpin (a container reaching a published port of the
    // bridge) need the source rewritten, or the reply would bypass the DNAT's conntrack entry.
    s += "    ip daddr " + p.ip + " oifname " + br + " ct status dnat ip saddr { 127.0.0.0/8, " + p.subnet + " } masquerade\n";
  if (dnat6) {
    // Hairpin over IPv6: a container of this network reaching a published port at a host
    // address. (No localhost case: ::1 is never DNATed, see above.)
    std::array<uint8_t, 16> a{};
    ::inet_pton(AF_INET6, p.ip6.c_str(), a.data());
    for (int bit = p.prefix6; bit < 128; ++bit) a[bit / 8] &= static_cast<uint8_t>(~(0x80 >> (bit % 8)));
    s += "    ip6 daddr " + p.ip6 + " oifname " + br + " ct status dnat ip6 saddr " + format_ipv6(a) + "/" +
         std::to_string(p.prefix6) + " masquerade\n";
  }
  s += "  }\n";
  if (!p.isolate_from.empty()) {
    std::string set;
    for (const auto& o : p.isolate_from) set += (set.empty() ? "\"" : ", \"") + o + "\"";
    s += "  chain forward {\n    type filter hook forward priority filter; policy accept;\n";
    s += "    iifname " + br + " oifname { " + set + " } drop\n";
    s += "    iifname { " + set + " } oifname " + br + " drop\n  }\n";
  }
  s += "}\n";
  return s;
}

namespace {

// Where vsrv-nft is: $VSRV_NFT_HELPER, else the path configured at build time (the build tree's,
// or -DVSRV_NFT_HELPER=... for an installation).
std::string nft_helper() {
  if (const char* e = ::getenv("VSRV_NFT_HELPER"); e && *e) return e;
  return VSRV_NFT_HELPER_PATH;
}

// vsrv runs the helper as root: it must be a regular file that only root (or vsrv's own user)
// can have written. Stops a build tree or install dir writable by others (or a stray
// $VSRV_NFT_HELPER) from handing root to whoever could replace the file. The check is made on
// an O_PATH fd that is then executed, so the file cannot be swapped in between.
Result<sys::unique_fd> open_helper(const std::string& path) {
  int fd = ::open(path.c_str(), O_PATH | O_CLOEXEC);
  if (fd < 0) return errno_error("nftables: helper '" + path + "' (build the vsrv-nft target, or set VSRV_NFT_HELPER)");
  sys::unique_fd f(fd);
  struct stat st;
  if (::fstat(fd, &st) < 0) return errno_error("nftables: helper '" + path + "'");
  if (!S_ISREG(st.st_mode)) return make_error(EACCES, "nftables: helper '" + path + "' is not a regular file");
  if ((st.st_uid != 0 && st.st_uid != ::geteuid()) || (st.st_mode & (S_IWGRP | S_IWOTH)))
    return make_error(EACCES, "nftables: refusing helper '" + path + "': it must be owned by root and not writable by group or others");
  return f;
}

}  // namespace

Result<void> nft_run(const std::string& script) {
  // vsrv-nft (netns/helper/vsrv_nft.cpp) runs the script and answers before it closes its
  // nfnetlink socket; it is reaped by whoever inherits it, the caller never waits for its exit.
  const std::string helper = nft_helper();
  auto exe = open_helper(helper);
  if (!exe) return forward(std::move(exe.error()));
  int in[2], out[2];
  if (::pipe2(in, O_CLOEXEC) < 0) return errno_error("nftables: pipe");
  sys::unique_fd in_rd(in[0]), in_wr(in[1]);
  if (::pipe2(out, O_CLOEXEC) < 0) return errno_error("nftables: pipe");
  sys::unique_fd out_rd(out[0]), out_wr(out[1]);
  posix_spawn_file_actions_t fa;
  posix_spawn_file_actions_init(&fa);
  posix_spawn_file_actions_adddup2(&fa, in_rd.get(), 0);
  posix_spawn_file_actions_adddup2(&fa, out_wr.get(), 1);
  // The checked file is executed as fd 3; nothing else reaches it (not fds a caller passed
  // through to the container, such as LISTEN_FDS).
  posix_spawn_file_actions_adddup2(&fa, exe->get(), 3);
  posix_spawn_file_actions_addclosefrom_np(&fa, 4);
  char* argv[] = {const_cast<char*>("vsrv-nft"), nullptr};
  pid_t pid;
  int rc = ::posix_spawn(&pid, "/proc/self/fd/3", &fa, nullptr, argv, environ);
  posix_spawn_file_actions_destroy(&fa);
  if (rc != 0)
    return make_error(rc, "nftables: run '" + helper + "' (build the vsrv-nft target, or set VSRV_NFT_HELPER)");
  in_rd.reset();
  out_wr.reset();
  auto w = sys::write_all(in_wr, script);
  in_wr.reset();
  auto answer = sys::read_fd(out_rd);
  if (!answer) return forward(std::move(answer.error()), "nftables");
  if (*answer == "0") return {};
  if (answer->empty() && !w) return forward(std::move(w.error()), "nftables: send the script");
  std::string err = answer->empty() ? std::string("helper died") : answer->substr(1);
  while (!err.empty() && (err.back() == '\n' || err.back() == ' ')) err.pop_back();
  return make_error(EINVAL, "nftables: " + (err.empty() ? std::string("no context") : err));
}

}  // namespace vsrv::net

namespace vsrv::net {

Result<void> nft_remove_table(const std::string& table) {
  auto r = nft_run("delete table inet " + table + "\n");
  if (!r && r.error().context.find("No such file or directory") != std::string::npos) return {};
  return r;
}

}  // namespace vsrv::net
