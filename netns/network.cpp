// netns/network.cpp: the sequencers behind network.h. prepare() validates everything and takes
// the IPAM lease before any kernel state exists; attach() builds the stack; release() removes
// what a container may have left, step by step, carrying on past failures (it also runs on
// half-made state after a SIGKILL), and reports the first error.
#include "netns/network.h"

#include <arpa/inet.h>
#include <fcntl.h>
#include <net/if.h>
#include <unistd.h>

#include <chrono>
#include <nlohmann/json.hpp>
#include <optional>
#include <set>
#include <sstream>
#include <thread>
#include <tuple>

#include "netns/ipam.h"
#include "netns/link.h"
#include "netns/nat.h"
#include "netns/parse.h"
#include "netns/store.h"
#include "runtime/sys/syscalls.h"

namespace vsrv::net {

Options::Options() {
  const char* d = ::getenv("VSRV_STATE_DIR");
  state_dir = (d && d[0] == '/') ? d : "/var/lib/vsrv";
}

Result<Request> request_from_annotations(const std::map<std::string, std::string>& a) {
  Request r;
  auto get = [&](const char* k) {
    auto it = a.find(k);
    return it == a.end() ? std::string() : it->second;
  };
  r.mode = get(kAnnMode);
  r.ip = get(kAnnIp);
  r.mac = get(kAnnMac);
  r.rate = get(kAnnRate);
  std::string pub = get(kAnnPublish);
  std::stringstream ss(pub);
  for (std::string item; std::getline(ss, item, ',');) {
    std::erase_if(item, [](char c) { return c == ' '; });
    if (!item.empty()) r.publish.push_back(item);
  }
  if (r.mode.empty() && (!r.ip.empty() || !r.mac.empty() || !r.rate.empty() || !r.publish.empty()))
    return make_error(EINVAL, std::string(kAnnIp) + ", .mac, .publish and .rate need " + kAnnMode);
  return r;
}

// --- Plan <-> JSON (stored in state.json by create, read back by delete) ---

std::string Plan::to_json() const {
  nlohmann::json pub = nlohmann::json::array();
  for (const auto& m : publish)
    pub.push_back({{"host_ip", m.host_ip}, {"host_port", m.host_port}, {"container_port", m.container_port}, {"proto", m.proto}});
  nlohmann::json binds = nlohmann::json::array();
  for (const auto& [h, c] : bind_files) binds.push_back({h, c});
  nlohmann::json j = {{"ns", ns == Ns::New ? "new" : ns == Ns::Host ? "host" : "join"},
                      {"mode", mode}, {"join_path", join_path}, {"network", network}, {"driver", driver},
                      {"bridge", bridge}, {"host_veth", host_veth}, {"peer", peer_tmp}, {"ip", ip},
                      {"gateway", gateway}, {"prefix", prefix}, {"subnet", subnet}, {"ip6", ip6},
                      {"gateway6", gateway6}, {"prefix6", prefix6}, {"mac", mac}, {"mtu", mtu},
                      {"rate_bps", rate_bps}, {"publish", pub}, {"nft_table", nft_table},
                      {"isolate_from", isolate_from}, {"files_dir", files_dir}, {"bind_files", binds}};
  return j.dump();
}

Result<Plan> Plan::from_json(const std::string& text) {
  auto j = nlohmann::json::parse(text, nullptr, false);
  if (j.is_discarded() || !j.is_object()) return make_error(EINVAL, "network plan: not a JSON object");
  Plan p;
  auto str = [&](const char* k) { return j.contains(k) && j[k].is_string() ? j[k].get<std::string>() : std::string(); };
  auto num = [&](const char* k) { return j.contains(k) && j[k].is_number() ? j[k].get<int64_t>() : int64_t{0}; };
  std::string ns = str("ns");
  p.ns = ns == "host" ? Ns::Host : ns == "join" ? Ns::Join : Ns::New;
  p.mode = str("mode");
  p.join_path = str("join_path");
  p.network = str("network");
  p.driver = str("driver");
  p.bridge = str("bridge");
  p.host_veth = str("host_veth");
  p.peer_tmp = str("peer");
  p.ip = str("ip");
  p.gateway = str("gateway");
  p.prefix = static_cast<int>(num("prefix"));
  p.subnet = str("subnet");
  p.ip6 = str("ip6");
  p.gateway6 = str("gateway6");
  p.prefix6 = static_cast<int>(num("prefix6"));
  p.mac = str("mac");
  p.mtu = static_cast<int>(num("mtu"));
  p.rate_bps = static_cast<uint64_t>(num("rate_bps"));
  p.nft_table = str("nft_table");
  p.files_dir = str("files_dir");
  if (j.contains("publish") && j["publish"].is_array())
    for (const auto& m : j["publish"]) {
      if (!m.is_object()) continue;
      PortMap pm;
      pm.host_ip = m.value("host_ip", "");
      pm.host_port = m.value("host_port", uint16_t{0});
      pm.container_port = m.value("container_port", uint16_t{0});
      pm.proto = m.value("proto", "tcp");
      p.publish.push_back(pm);
    }
  if (j.contains("isolate_from") && j["isolate_from"].is_array())
    for (const auto& s : j["isolate_from"])
      if (s.is_string()) p.isolate_from.push_back(s.get<std::string>());
  if (j.contains("bind_files") && j["bind_files"].is_array())
    for (const auto& b : j["bind_files"])
      if (b.is_array() && b.size() == 2 && b[0].is_string() && b[1].is_string())
        p.bind_files.emplace_back(b[0].get<std::string>(), b[1].get<std::string>());
  return p;
}

namespace {

std::string host_veth_name(const std::string& id) { return "vs" + short_hash(id, 10); }
std::string files_dir_of(const Options& o, const std::string& id) { return o.state_dir + "/containers/" + id; }

// The host's resolvers minus loopback ones (127.0.0.53 of systemd-resolved is unreachable from
// a container's own netns).
std::string make_resolv_conf() {
  std::string out = "# generated by vsrv\n";
  bool have_ns = false;
  for (const char* src : {"/etc/resolv.conf", "/run/systemd/resolve/resolv.conf"}) {
    auto text = sys::read_file(src);
    if (!text) continue;
    std::istringstream in(*text);
    std::string body;
    for (std::string line; std::getline(in, line);) {
      std::istringstream ls(line);
      std::string key, val;
      ls >> key >> val;
      if (key == "nameserver") {
        if (val.rfind("127.", 0) == 0 || val == "::1") continue;
        have_ns = true;
      }
      if (key == "nameserver" || key == "search" || key == "options" || key == "domain") body += line + "\n";
    }
    if (have_ns) return out + body;
  }
  return out;
}

Result<void> write_files(Plan& p, const Options& o, const std::string& id, const std::string& hostname, bool resolv) {
  p.files_dir = files_dir_of(o, id);
  VSRV_TRY(sys::mkdir_p(p.files_dir, 0755));
  std::string hosts = "127.0.0.1\tlocalhost\n::1\tlocalhost ip6-localhost ip6-loopback\n";
  hosts += (p.ip.empty() ? "127.0.1.1" : p.ip) + "\t" + hostname + "\n";
  if (!p.ip6.empty()) hosts += p.ip6 + "\t" + hostname + "\n";
  VSRV_TRYC(sys::write_file_atomic(p.files_dir + "/hosts", hosts, 0644), "generated /etc/hosts");
  p.bind_files.emplace_back(p.files_dir + "/hosts", "/etc/hosts");
  if (resolv) {
    VSRV_TRYC(sys::write_file_atomic(p.files_dir + "/resolv.conf", make_resolv_conf(), 0644), "generated /etc/resolv.conf");
    p.bind_files.emplace_back(p.files_dir + "/resolv.conf", "/etc/resolv.conf");
  }
  return {};
}

void remove_files(const std::string& dir) {
  if (dir.empty()) return;
  for (const char* f : {"/hosts", "/resolv.conf"}) ::unlink((dir + f).c_str());
  ::rmdir(dir.c_str());
}

// Leftovers of a container whose lease was reclaimed: its veth (if its netns is still pinned
// somewhere) and its nft table. Both names derive from the id, so they are vsrv's own.
void cleanup_reclaimed(const std::string& id, const Options& o) {
  if (auto s = NlSock::open()) (void)delete_link(*s, host_veth_name(id));
  (void)nft_remove_table(nft_table_name(id));
  remove_files(files_dir_of(o, id));
}

Result<void> check_no_extras(const Request& r, const std::string& mode) {
  if (!r.ip.empty() || !r.mac.empty() || !r.publish.empty() || !r.rate.empty())
    return make_error(EINVAL, "--ip, --mac, --publish and --net-rate need --network bridge or macvlan (not '" + mode + "')");
  return {};
}

Result<void> set_sysctl(const std::string& path, const char* value) {
  auto cur = sys::read_file(path);
  if (cur && !cur->empty() && (*cur)[0] == value[0]) return {};
  return sys::write_file(path, value);
}

}  // namespace

Result<Plan> prepare(const Request& r, const std::string& id, const std::string& hostname, const Options& o) {
  auto mode = parse_mode(r.mode);
  if (!mode) return forward(std::move(mode.error()));
  Plan p;
  p.mode = mode->kind;
  if (p.mode == "host" || p.mode == "ns") {
    VSRV_TRY(check_no_extras(r, r.mode));
    p.ns = p.mode == "host" ? Plan::Ns::Host : Plan::Ns::Join;
    p.join_path = mode->arg;
    return p;
  }
  if (p.mode == "none") {
    VSRV_TRY(check_no_extras(r, r.mode));
    VSRV_TRY(write_files(p, o, id, hostname, false));
    return p;
  }
  // --- bridge / macvlan: validate every input before taking a lease ---
  std::string name = mode->arg.empty() ? kDefaultNetwork : mode->arg;
  auto net = load_network(o.state_dir, name);
  if (!net) return forward(std::move(net.error()), "--network");
  if (net->driver != p.mode)
    return make_error(EINVAL, "--network " + r.mode + ": network '" + name + "' uses the " + net->driver +
                                  " driver (use --network " + net->driver + ":" + name + ")");
  p.network = name;
  p.driver = net->driver;
  p.bridge = net->driver == "bridge" ? net->bridge : net->parent;
  p.mtu = net->mtu;
  auto subnet = parse_cidr4(net->subnet);
  if (!subnet) return forward(std::move(subnet.error()), "network '" + name + "'");
  auto gw = parse_ipv4(net->gateway);
  if (!gw) return forward(std::move(gw.error()), "network '" + name + "'");
  p.subnet = format_cidr4(*subnet);
  p.prefix = subnet->prefix;
  p.gateway = net->gateway;
  std::optional<uint32_t> want;
  if (!r.ip.empty()) {
    auto a = parse_ipv4(r.ip);
    if (!a) return forward(std::move(a.error()), "--ip");
    want = *a;
  }
  if (!r.mac.empty()) {
    auto m = parse_mac(r.mac);
    if (!m) return forward(std::move(m.error()), "--mac");
    p.mac = *m;
  } else {
    p.mac = derive_mac(id);
  }
  // A host port may be given once per family: "[::]:80:80" next to "0.0.0.0:80:81" is fine,
  // "80:80" (both families) next to either is not.
  std::set<std::tuple<uint16_t, std::string, int>> seen;
  for (const auto& s : r.publish) {
    auto m = parse_publish(s);
    if (!m) return forward(std::move(m.error()));
    bool v6 = publish_is_ipv6(*m);
    if (v6 && net->subnet6.empty())
      return make_error(EINVAL, "--publish '" + s + "': network '" + name +
                                    "' has no IPv6 subnet (vsrv network create --ipv6-subnet)");
    for (int fam : {4, 6}) {
      if (m->host_ip.empty() || (fam == 6) == v6) {
        if (!seen.insert({m->host_port, m->proto, fam}).second)
          return make_error(EINVAL, "--publish: host port " + std::to_string(m->host_port) + "/" + m->proto + " given twice");
      }
    }
    p.publish.push_back(*m);
  }
  if (!p.publish.empty() && p.driver == "macvlan")
    return make_error(EINVAL, "--publish needs a bridge network: a macvlan container is reached at its own address");
  if (!r.rate.empty()) {
    auto rate = parse_rate(r.rate);
    if (!rate) return forward(std::move(rate.error()), "--net-rate");
    p.rate_bps = *rate;
  }
  if (p.driver == "macvlan") {
    if (p.bridge.empty() || ::if_nametoindex(p.bridge.c_str()) == 0)
      return make_error(ENODEV, "network '" + name + "': macvlan parent interface '" + p.bridge + "' does not exist");
  } else {
    auto all = list_networks(o.state_dir);
    if (!all) return forward(std::move(all.error()));
    for (const auto& n : *all)
      if (n.driver == "bridge" && n.bridge != p.bridge) p.isolate_from.push_back(n.bridge);
    p.host_veth = host_veth_name(id);
    p.nft_table = nft_table_name(id);
  }
  p.peer_tmp = "eth0";

  // --- IPAM lease (reclaiming leases whose holders are gone) ---
  std::vector<std::string> reclaimed;
  uint32_t addr = 0;
  auto leased = with_pool(o.state_dir, name, *subnet, *gw, [&](Pool& pool) -> Result<bool> {
    reclaimed = pool.reclaim([](const Lease& l) {
      for (const auto& h : l.holders)
        if (holder_alive(h)) return false;
      return true;
    });
    if (auto mine = pool.address_of(id))
      return make_error(EEXIST, "container '" + id + "' already holds " + format_ipv4(*mine) + " on network '" + name + "'");
    auto a = pool.allocate(id, want, self_holder());
    if (!a) return forward(std::move(a.error()), "network '" + name + "'");
    addr = *a;
    return true;
  });
  for (const auto& dead : reclaimed)
    if (dead != id) cleanup_reclaimed(dead, o);
  if (!leased) return forward(std::move(leased.error()));
  p.ip = format_ipv4(addr);
  if (!net->subnet6.empty()) {
    auto s6 = parse_cidr6(net->subnet6);
    if (s6) {
      p.ip6 = format_ipv6(ipv6_host(*s6, addr - subnet->network()));
      p.gateway6 = format_ipv6(ipv6_host(*s6, 1));
      p.prefix6 = s6->prefix;
    }
  }
  if (auto w = write_files(p, o, id, hostname, true); !w) {
    (void)release(p, id, o);
    return forward(std::move(w.error()));
  }
  return p;
}

Result<void> attach(const Plan& p, pid_t init_pid, const Options& o) {
  if (p.ns != Plan::Ns::New) return {};
  auto netns = sys::open("/proc/" + std::to_string(init_pid) + "/ns/net", O_RDONLY | O_CLOEXEC);
  if (!netns) return forward(std::move(netns.error()), "network");
  if (p.mode == "none") {
    auto in = NlSock::open_in(*netns);
    if (!in) return forward(std::move(in.error()), "network");
    return set_up(*in, "lo").map_error([](Error e) { return std::move(e).wrap("network"); });
  }
  auto ctx = [&](const std::string& step) { return "network '" + p.network + "': " + step; };
  auto host = NlSock::open();
  if (!host) return forward(std::move(host.error()), "network");
  auto gw = parse_ipv4(p.gateway);
  if (!gw) return forward(std::move(gw.error()));

  // 1. Record the init as a holder of the lease: from now on the lease lives as long as it does.
  Holder h{init_pid, 0};
  if (auto t = sys::process_start_time(init_pid)) h.start = *t;
  auto subnet = parse_cidr4(p.subnet);
  if (!subnet) return forward(std::move(subnet.error()));
  VSRV_TRYC(with_pool(o.state_dir, p.network, *subnet, *gw,
                      [&](Pool& pool) -> Result<bool> {
                        auto a = parse_ipv4(p.ip);
                        Lease* l = a ? pool.find(*a) : nullptr;
                        if (!l || l->id.empty()) return make_error(ENOENT, "lease of " + p.ip + " is gone");
                        l->holders.push_back(h);
                        return true;
                      }),
            ctx("lease"));

  // 2. Host side: the bridge (with the gateway address) and the veth, its peer born as eth0
  //    inside the container's netns; or the macvlan, born there too.
  if (p.driver == "bridge") {
    // Routing between the bridge and the outside is what bridge mode is for (podman sets the
    // same). route_localnet on this bridge only lets 127.0.0.1 be DNATed to a container.
    VSRV_TRYC(set_sysctl("/proc/sys/net/ipv4/ip_forward", "1"), ctx("ip_forward"));
    if (!p.ip6.empty()) VSRV_TRYC(set_sysctl("/proc/sys/net/ipv6/conf/all/forwarding", "1"), ctx("ipv6 forwarding"));
    std::optional<IpAddr> gw6;
    if (!p.ip6.empty()) {
      std::array<uint8_t, 16> g{};
      ::inet_pton(AF_INET6, p.gateway6.c_str(), g.data());
      gw6 = ip6(g, p.prefix6);
    }
    auto br = ensure_bridge(*host, p.bridge, p.mtu, ip4(*gw, p.prefix), gw6 ? &*gw6 : nullptr);
    if (!br) return forward(std::move(br.error()), ctx("bridge"));
    if (!p.publish.empty())
      VSRV_TRYC(set_sysctl("/proc/sys/net/ipv4/conf/" + p.bridge + "/route_localnet", "1"), ctx("route_localnet"));
    VSRV_TRYC(create_veth(*host, p.host_veth, *br, "eth0", *netns, p.mac, p.mtu), ctx("veth"));
  } else {
    VSRV_TRYC(create_macvlan(*host, p.bridge, "eth0", *netns, p.mac, p.mtu), ctx("macvlan"));
  }
  // Fault injection for the cleanup tests: a window in which vsrv can be SIGKILLed with the
  // veth made and nothing else. Only a delay; it cannot change what gets configured.
  if (const char* d = ::getenv("VSRV_TEST_NET_DELAY_MS"))
    std::this_thread::sleep_for(std::chrono::milliseconds(std::atoi(d)));

  // 3. Inside: lo and eth0 up, addresses, default route, egress rate limit.
  auto in = NlSock::open_in(*netns);
  if (!in) return forward(std::move(in.error()), ctx("container netns"));
  VSRV_TRYC(set_up(*in, "lo"), ctx("lo"));
  int eth0 = link_index(*in, "eth0");
  if (eth0 == 0) return make_error(ENODEV, ctx("eth0 missing in the container"));
  auto ip = parse_ipv4(p.ip);
  if (!ip) return forward(std::move(ip.error()));
  VSRV_TRYC(add_address(*in, eth0, ip4(*ip, p.prefix)), ctx("eth0 address"));
  if (!p.ip6.empty()) {
    std::array<uint8_t, 16> a{}, g{};
    ::inet_pton(AF_INET6, p.ip6.c_str(), a.data());
    ::inet_pton(AF_INET6, p.gateway6.c_str(), g.data());
    VSRV_TRYC(add_address(*in, eth0, ip6(a, p.prefix6)), ctx("eth0 IPv6 address"));
    VSRV_TRYC(set_up(*in, "eth0"), ctx("eth0 up"));
    VSRV_TRYC(add_default_route(*in, eth0, ip6(g, 0)), ctx("IPv6 default route"));
  }
  VSRV_TRYC(set_up(*in, "eth0"), ctx("eth0 up"));
  VSRV_TRYC(add_default_route(*in, eth0, ip4(*gw, 32)), ctx("default route"));
  if (p.rate_bps) {
    VSRV_TRYC(set_rate(*in, "eth0", p.rate_bps), ctx("egress rate"));
    if (p.driver == "bridge") VSRV_TRYC(set_rate(*host, p.host_veth, p.rate_bps), ctx("ingress rate"));
  }

  return {};
}

Result<void> attach_nat(const Plan& p) {
  // 4. NAT: masquerade, published ports, isolation from other bridges.
  if (p.ns != Plan::Ns::New || p.mode == "none" || p.driver != "bridge") return {};
  VSRV_TRYC(nft_run(nft_add_script(p)), "network '" + p.network + "': nat");
  return {};
}

Result<void> release(const Plan& p, const std::string& id, const Options& o) {
  std::optional<Error> first;
  auto note = [&](Result<void> r) {
    if (!r && !first) first = std::move(r.error());
  };
  // 1. The host-side veth (its peer goes with it). Named after the id: always ours.
  if (!p.host_veth.empty()) {
    auto s = NlSock::open();
    if (s)
      note(delete_link(*s, p.host_veth));
    else
      note(forward(std::move(s.error())));
  }
  // 2. The container's nft table (absent is fine).
  if (!p.nft_table.empty()) note(nft_remove_table(p.nft_table));
  // 3. The lease, only if it is still this container's (it may have been reclaimed and reused).
  if (!p.network.empty() && ::access((o.state_dir + "/ipam/" + p.network + ".json").c_str(), F_OK) == 0) {
    auto sub = parse_cidr4(p.subnet);
    auto gw = parse_ipv4(p.gateway);
    if (sub && gw)
      note(with_pool(o.state_dir, p.network, *sub, *gw, [&](Pool& pool) -> Result<bool> { return pool.release(id) > 0; }));
  }
  // 4. Generated files.
  remove_files(p.files_dir);
  if (first) return forward(std::move(*first), "release network of '" + id + "'");
  return {};
}

Result<Counters> counters(const Plan& p) {
  if (p.host_veth.empty()) return make_error(EOPNOTSUPP, "network counters: only bridge-mode containers have a host-side veth");
  auto s = NlSock::open();
  if (!s) return forward(std::move(s.error()));
  return link_counters(*s, p.host_veth);
}

}  // namespace vsrv::net
