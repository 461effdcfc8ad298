// netns/nat.cpp: see nat.h.
#include "netns/nat.h"

#include <arpa/inet.h>
#include <dlfcn.h>
#include <fcntl.h>
#include <unistd.h>
#include <nftables/libnftables.h>

#include <array>
#include <memory>
#include <type_traits>

#include "netns/parse.h"
#include "runtime/sys/fd.h"
#include "runtime/sys/syscalls.h"

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

// libnftables and the six libraries it pulls in (nftnl, mnl, jansson, gmp, xtables) are loaded
// only by the commands that touch NAT: linking them made every vsrv start (create, exec, state,
// kill, ...) map and relocate them, twice with the re-exec (docs/performance.md).
struct Nft {
  decltype(&::nft_ctx_new) ctx_new = nullptr;
  decltype(&::nft_ctx_free) ctx_free = nullptr;
  decltype(&::nft_ctx_buffer_output) buffer_output = nullptr;
  decltype(&::nft_ctx_buffer_error) buffer_error = nullptr;
  decltype(&::nft_run_cmd_from_buffer) run_cmd = nullptr;
  decltype(&::nft_ctx_get_error_buffer) error_buffer = nullptr;
};

Result<const Nft*> load_nft() {
  static Nft nft;
  static std::string error;
  static bool tried = false;
  if (!tried) {
    tried = true;
    void* h = ::dlopen("libnftables.so.1", RTLD_NOW | RTLD_LOCAL);
    if (!h) {
      const char* e = ::dlerror();
      error = e ? e : "dlopen failed";
    } else {
      auto sym = [&](auto& f, const char* name) {
        f = reinterpret_cast<std::remove_reference_t<decltype(f)>>(::dlsym(h, name));
        if (!f && error.empty()) error = std::string("missing symbol ") + name;
      };
      sym(nft.ctx_new, "nft_ctx_new");
      sym(nft.ctx_free, "nft_ctx_free");
      sym(nft.buffer_output, "nft_ctx_buffer_output");
      sym(nft.buffer_error, "nft_ctx_buffer_error");
      sym(nft.run_cmd, "nft_run_cmd_from_buffer");
      sym(nft.error_buffer, "nft_ctx_get_error_buffer");
    }
  }
  if (!error.empty()) return make_error(ELIBACC, "nftables: load libnftables.so.1: " + error);
  return &nft;
}

}  // namespace

Result<void> nft_run(const std::string& script) {
  auto nft = load_nft();
  if (!nft) return forward(std::move(nft.error()));
  // The transaction commits inside sendmsg(); closing the nfnetlink socket afterwards waits for
  // nf_tables' deferred destroy work (an RCU grace period, 10-15 ms here). A forked helper runs
  // the script, reports the result, and pays for that close after we have moved on.
  int pipefd[2];
  if (::pipe2(pipefd, O_CLOEXEC) < 0) return errno_error("nftables: pipe");
  sys::unique_fd rd(pipefd[0]), wr(pipefd[1]);
  pid_t pid = ::fork();
  if (pid < 0) return errno_error("nftables: fork");
  if (pid == 0) {
    rd.reset();
    const Nft& n = **nft;
    nft_ctx* ctx = n.ctx_new(NFT_CTX_DEFAULT);
    std::string msg = "E";
    if (ctx) {
      n.buffer_output(ctx);
      n.buffer_error(ctx);
      msg = n.run_cmd(ctx, script.c_str()) == 0 ? "0" : std::string("E") + n.error_buffer(ctx);
    }
    (void)sys::write_all(wr, msg);
    // Close everything (the caller's lock fds first, the slow nfnetlink socket last), then go.
    ::close_range(0, ~0U, 0);
    ::_exit(0);
  }
  wr.reset();
  // Reaped by whoever inherits it; the parent never waits for this pid.
  auto out = sys::read_fd(rd);
  if (!out) return forward(std::move(out.error()), "nftables");
  if (*out == "0") return {};
  std::string err = out->empty() ? std::string("helper died") : out->substr(1);
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
