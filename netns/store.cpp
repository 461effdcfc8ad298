// netns/store.cpp: see store.h. toml++ is used without exceptions (TOML_EXCEPTIONS=0), so a
// malformed file becomes an Error naming the file and the line. Debian's libtomlplusplus.so is
// built with exceptions, so it has no toml::noex::parse: this file compiles the parser inline
// (header-only mode) instead of linking it.
#undef TOML_HEADER_ONLY
#undef TOML_SHARED_LIB
#define TOML_HEADER_ONLY 1
#define TOML_EXCEPTIONS 0
#include "netns/store.h"

#include <dirent.h>
#include <net/if.h>
#include <sys/file.h>
#include <unistd.h>

#include <algorithm>
#include <nlohmann/json.hpp>
#include <sstream>
#include <toml++/toml.h>

#include "netns/parse.h"
#include "runtime/sys/syscalls.h"

namespace vsrv::net {

Network default_network() {
  Network n;
  n.name = kDefaultNetwork;
  n.bridge = kDefaultBridge;
  n.subnet = kDefaultSubnet;
  n.gateway = "10.90.0.1";
  n.builtin = true;
  return n;
}

Result<Network> make_network(const NetworkFlags& f) {
  Network n;
  VSRV_TRY(validate_name(f.name, "network name", 64));
  n.name = f.name;
  n.driver = f.driver.empty() ? "bridge" : f.driver;
  if (n.driver != "bridge" && n.driver != "macvlan")
    return make_error(EINVAL, "invalid --driver '" + n.driver + "': expected bridge or macvlan");
  if (f.subnet.empty()) return make_error(EINVAL, "network '" + n.name + "': --subnet is required");
  auto sub = parse_cidr4(f.subnet);
  if (!sub) return forward(std::move(sub.error()), "--subnet");
  n.subnet = format_cidr4(*sub);
  uint32_t gw = sub->network() + 1;
  if (!f.gateway.empty()) {
    auto g = parse_ipv4(f.gateway);
    if (!g) return forward(std::move(g.error()), "--gateway");
    if (!sub->contains(*g) || *g == sub->network() || *g == sub->broadcast())
      return make_error(EINVAL, "--gateway " + f.gateway + " is not a host address of " + n.subnet);
    gw = *g;
  }
  n.gateway = format_ipv4(gw);
  if (!f.subnet6.empty()) {
    auto s6 = parse_cidr6(f.subnet6);
    if (!s6) return forward(std::move(s6.error()), "--ipv6-subnet");
    n.subnet6 = format_ipv6(s6->addr) + "/" + std::to_string(s6->prefix);
  }
  if (f.mtu != 0 && (f.mtu < 576 || f.mtu > 65535)) return make_error(EINVAL, "invalid --mtu " + std::to_string(f.mtu) + ": expected 576-65535");
  n.mtu = f.mtu ? f.mtu : 1500;
  if (n.driver == "bridge") {
    if (!f.parent.empty()) return make_error(EINVAL, "--parent is only for --driver macvlan");
    n.bridge = f.bridge.empty() ? ("vsrv-" + n.name).substr(0, 15) : f.bridge;
    VSRV_TRY(validate_name(n.bridge, "bridge name", 15));
  } else {
    if (f.parent.empty()) return make_error(EINVAL, "--driver macvlan needs --parent IFACE");
    if (!f.bridge.empty()) return make_error(EINVAL, "--bridge is only for --driver bridge");
    VSRV_TRY(validate_name(f.parent, "parent interface", 15));
    if (::if_nametoindex(f.parent.c_str()) == 0)
      return make_error(ENODEV, "--parent: interface '" + f.parent + "' does not exist");
    n.parent = f.parent;
  }
  return n;
}

std::string network_to_toml(const Network& n) {
  toml::table t{{"name", n.name}, {"driver", n.driver}, {"subnet", n.subnet}, {"gateway", n.gateway}, {"mtu", n.mtu}};
  if (!n.bridge.empty()) t.insert("bridge", n.bridge);
  if (!n.parent.empty()) t.insert("parent", n.parent);
  if (!n.subnet6.empty()) t.insert("ipv6_subnet", n.subnet6);
  std::ostringstream out;
  out << "# vsrv network (vsrv network create); edit with care\n" << t << "\n";
  return out.str();
}

Result<Network> network_from_toml(const std::string& text, const std::string& name) {
  auto res = toml::parse(text);
  if (!res) {
    const auto& e = res.error();
    return make_error(EINVAL, "network '" + name + "': line " + std::to_string(e.source().begin.line) + ": " + std::string(e.description()));
  }
  const toml::table& t = res.table();
  NetworkFlags f;
  f.name = name;
  f.driver = t["driver"].value_or(std::string("bridge"));
  f.subnet = t["subnet"].value_or(std::string());
  f.gateway = t["gateway"].value_or(std::string());
  f.subnet6 = t["ipv6_subnet"].value_or(std::string());
  f.bridge = t["bridge"].value_or(std::string());
  f.parent = t["parent"].value_or(std::string());
  f.mtu = static_cast<int>(t["mtu"].value_or(int64_t{1500}));
  if (f.driver == "macvlan") {
    // The parent may be absent now (it is checked again when a container attaches).
    Network n;
    n.name = name;
    n.driver = "macvlan";
    n.parent = f.parent;
    auto sub = parse_cidr4(f.subnet);
    if (!sub) return forward(std::move(sub.error()), "network '" + name + "'");
    n.subnet = f.subnet;
    n.gateway = f.gateway.empty() ? format_ipv4(sub->network() + 1) : f.gateway;
    n.subnet6 = f.subnet6;
    n.mtu = f.mtu;
    return n;
  }
  auto n = make_network(f);
  if (!n) return forward(std::move(n.error()), "network '" + name + "'");
  return n;
}

std::string network_to_json(const Network& n, size_t leases) {
  nlohmann::json j = {{"name", n.name}, {"driver", n.driver}, {"subnet", n.subnet}, {"gateway", n.gateway},
                      {"mtu", n.mtu},   {"builtin", n.builtin}, {"containers", leases}};
  if (!n.bridge.empty()) j["bridge"] = n.bridge;
  if (!n.parent.empty()) j["parent"] = n.parent;
  if (!n.subnet6.empty()) j["ipv6_subnet"] = n.subnet6;
  return j.dump(2);
}

namespace {
std::string net_dir(const std::string& state_dir) { return state_dir + "/networks"; }
}  // namespace

Result<Network> load_network(const std::string& state_dir, const std::string& name) {
  std::string path = net_dir(state_dir) + "/" + name + ".toml";
  if (::access(path.c_str(), F_OK) != 0) {
    if (name == kDefaultNetwork) return default_network();
    return make_error(ENOENT, "network '" + name + "' does not exist (see vsrv network ls)");
  }
  auto text = sys::read_file(path);
  if (!text) return forward(std::move(text.error()));
  return network_from_toml(*text, name);
}

Result<std::vector<Network>> list_networks(const std::string& state_dir) {
  std::vector<Network> out;
  bool have_default = false;
  if (DIR* d = ::opendir(net_dir(state_dir).c_str())) {
    while (auto* e = ::readdir(d)) {
      std::string f = e->d_name;
      if (f.size() < 6 || f.substr(f.size() - 5) != ".toml") continue;
      auto n = load_network(state_dir, f.substr(0, f.size() - 5));
      if (!n) {
        ::closedir(d);
        return forward(std::move(n.error()));
      }
      have_default |= n->name == kDefaultNetwork;
      out.push_back(std::move(*n));
    }
    ::closedir(d);
  }
  if (!have_default) out.push_back(default_network());
  std::sort(out.begin(), out.end(), [](const Network& a, const Network& b) { return a.name < b.name; });
  return out;
}

Result<void> save_new_network(const std::string& state_dir, const Network& n) {
  VSRV_TRY(sys::mkdir_p(net_dir(state_dir), 0755));
  auto lock = sys::open(net_dir(state_dir) + "/.lock", O_RDWR | O_CREAT | O_CLOEXEC, 0600);
  if (!lock) return forward(std::move(lock.error()));
  // Serialises `network create` so two creates cannot both pass the overlap check.
  while (::flock(lock->get(), LOCK_EX) < 0)
    if (errno != EINTR) return errno_error("flock networks/.lock");
  auto all = list_networks(state_dir);
  if (!all) return forward(std::move(all.error()));
  auto mine = parse_cidr4(n.subnet);
  if (!mine) return forward(std::move(mine.error()));
  for (const auto& o : *all) {
    if (o.name == n.name) return make_error(EEXIST, "network '" + n.name + "' already exists");
    if (!n.bridge.empty() && o.bridge == n.bridge)
      return make_error(EEXIST, "bridge '" + n.bridge + "' is already used by network '" + o.name + "'");
    auto theirs = parse_cidr4(o.subnet);
    if (theirs && (theirs->contains(mine->network()) || mine->contains(theirs->network())))
      return make_error(EEXIST, "subnet " + n.subnet + " overlaps " + o.subnet + " of network '" + o.name + "'");
  }
  return sys::write_file_atomic(net_dir(state_dir) + "/" + n.name + ".toml", network_to_toml(n), 0644);
}

Result<void> remove_network_file(const std::string& state_dir, const std::string& name) {
  std::string path = net_dir(state_dir) + "/" + name + ".toml";
  if (::unlink(path.c_str()) < 0) {
    if (errno == ENOENT && name == kDefaultNetwork) return make_error(EPERM, "network 'vsrv' is built in and cannot be removed");
    if (errno == ENOENT) return make_error(ENOENT, "network '" + name + "' does not exist");
    return errno_error("remove '" + path + "'");
  }
  return {};
}

}  // namespace vsrv::net
