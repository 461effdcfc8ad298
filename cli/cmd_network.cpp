// cli/cmd_network.cpp: `vsrv network create|ls|inspect|rm`: named networks (netns/store.h)
// stored as TOML under the network state dir (/var/lib/vsrv, or $VSRV_STATE_DIR).
#include <iostream>
#include <nlohmann/json.hpp>

#include "cli/commands.h"
#include "netns/ipam.h"
#include "netns/link.h"
#include "netns/network.h"
#include "netns/store.h"

namespace vsrv::cli {
namespace {

// Live leases of a network (dead holders reclaimed first, as an allocation would).
Result<std::map<std::string, std::string>> live_leases(const net::Options& o, const net::Network& n) {
  std::map<std::string, std::string> out;
  auto sub = net::parse_cidr4(n.subnet);
  auto gw = net::parse_ipv4(n.gateway);
  if (!sub || !gw) return out;
  if (::access((o.state_dir + "/ipam/" + n.name + ".json").c_str(), F_OK) != 0) return out;
  VSRV_TRY(net::with_pool(o.state_dir, n.name, *sub, *gw, [&](net::Pool& pool) -> Result<bool> {
    auto dead = pool.reclaim([](const net::Lease& l) {
      for (const auto& h : l.holders)
        if (net::holder_alive(h)) return false;
      return true;
    });
    for (const auto& [a, l] : pool.leases()) out[net::format_ipv4(a)] = l.id;
    return !dead.empty();
  }));
  return out;
}

int do_create(const net::NetworkFlags& f) {
  net::Options o;
  auto n = net::make_network(f);
  if (!n) return report_error(n.error());
  if (auto r = net::save_new_network(o.state_dir, *n); !r) return report_error(r.error());
  std::cout << n->name << "\n";
  return 0;
}

int do_ls() {
  net::Options o;
  auto all = net::list_networks(o.state_dir);
  if (!all) return report_error(all.error());
  std::printf("%-20s %-8s %-18s %-15s %s\n", "NAME", "DRIVER", "SUBNET", "GATEWAY", "BRIDGE/PARENT");
  for (const auto& n : *all)
    std::printf("%-20s %-8s %-18s %-15s %s\n", n.name.c_str(), n.driver.c_str(), n.subnet.c_str(), n.gateway.c_str(),
                (n.driver == "bridge" ? n.bridge : n.parent).c_str());
  return 0;
}

int do_inspect(const std::string& name) {
  net::Options o;
  auto n = net::load_network(o.state_dir, name);
  if (!n) return report_error(n.error());
  auto leases = live_leases(o, *n);
  if (!leases) return report_error(leases.error());
  auto j = nlohmann::json::parse(net::network_to_json(*n, leases->size()));
  j["leases"] = *leases;
  std::cout << j.dump(2) << "\n";
  return 0;
}

int do_rm(const std::string& name) {
  net::Options o;
  auto n = net::load_network(o.state_dir, name);
  if (!n) return report_error(n.error());
  if (n->builtin) return report_error(Error{EPERM, "network '" + name + "' is built in and cannot be removed"});
  auto leases = live_leases(o, *n);
  if (!leases) return report_error(leases.error());
  if (!leases->empty()) {
    std::string ids;
    for (const auto& [ip, id] : *leases) ids += (ids.empty() ? "" : ", ") + id;
    return report_error(Error{EBUSY, "network '" + name + "' is in use by " + ids});
  }
  if (auto r = net::remove_network_file(o.state_dir, name); !r) return report_error(r.error());
  net::remove_pool(o.state_dir, name);
  // The bridge was made by vsrv for this network (its name is in the network's file).
  if (n->driver == "bridge")
    if (auto s = net::NlSock::open(); s) (void)net::delete_link(*s, n->bridge);
  return 0;
}

}  // namespace

void register_network(CLI::App& app, Globals& g) {
  if (!g.wants("network")) return;
  auto* net = app.add_subcommand("network", "manage named networks (create, ls, inspect, rm)");
  net->require_subcommand(1);

  static net::NetworkFlags cf;
  auto* create = net->add_subcommand("create", "create a named network");
  create->add_option("name", cf.name, "network name")->required();
  create->add_option("--subnet", cf.subnet, "IPv4 subnet, e.g. 10.91.0.0/24")->required();
  create->add_option("--gateway", cf.gateway, "gateway address (default: first address of the subnet)");
  create->add_option("--ipv6-subnet", cf.subnet6, "IPv6 subnet, e.g. fd00:91::/64");
  create->add_option("--bridge", cf.bridge, "bridge interface name (default: vsrv-NAME)");
  create->add_option("--mtu", cf.mtu, "MTU of the bridge and container interfaces (default 1500)");
  create->add_option("--driver", cf.driver, "bridge (default) or macvlan");
  create->add_option("--parent", cf.parent, "parent interface of a macvlan network");
  create->callback([&] {
    init_logging(g);
    g.exit_code = do_create(cf);
  });

  auto* ls = net->add_subcommand("ls", "list networks");
  ls->alias("list");
  ls->callback([&] {
    init_logging(g);
    g.exit_code = do_ls();
  });

  static std::string inspect_name;
  auto* inspect = net->add_subcommand("inspect", "print a network as JSON, with its leases");
  inspect->add_option("name", inspect_name)->required();
  inspect->callback([&] {
    init_logging(g);
    g.exit_code = do_inspect(inspect_name);
  });

  static std::string rm_name;
  auto* rm = net->add_subcommand("rm", "remove a network (refused while a container uses it)");
  rm->alias("remove");
  rm->add_option("name", rm_name)->required();
  rm->callback([&] {
    init_logging(g);
    g.exit_code = do_rm(rm_name);
  });
}

}  // namespace vsrv::cli
