// netns/store.h: named networks, one TOML file each under <state>/networks/NAME.toml. The
// default network ("vsrv": bridge vsrv0, 10.90.0.0/24) needs no file; it is chosen clear of
// podman's defaults (10.88.0.0/16 and its 10.89.0.0/16 pool) and of docker's (172.17+/16).
#pragma once
#include <string>
#include <vector>

#include "runtime/sys/error.h"

namespace vsrv::net {

inline constexpr const char* kDefaultNetwork = "vsrv";
inline constexpr const char* kDefaultBridge = "vsrv0";
inline constexpr const char* kDefaultSubnet = "10.90.0.0/24";

struct Network {
  std::string name;
  std::string driver = "bridge";  // bridge | macvlan
  std::string bridge;             // bridge ifname (bridge driver)
  std::string parent;             // parent ifname (macvlan driver)
  std::string subnet, gateway;    // IPv4 CIDR and gateway address
  std::string subnet6;            // optional IPv6 CIDR (gateway: first address)
  int mtu = 1500;
  bool builtin = false;
};

struct NetworkFlags {
  std::string name, subnet, gateway, subnet6, bridge, driver = "bridge", parent;
  int mtu = 0;
};

Network default_network();
// Fills defaults (gateway = first address, bridge = vsrv-NAME, mtu 1500) and validates.
Result<Network> make_network(const NetworkFlags& f);
std::string network_to_toml(const Network& n);
Result<Network> network_from_toml(const std::string& text, const std::string& name);
std::string network_to_json(const Network& n, size_t leases);

Result<Network> load_network(const std::string& state_dir, const std::string& name);
Result<std::vector<Network>> list_networks(const std::string& state_dir);
// Refuses a name, bridge or overlapping subnet that is already used.
Result<void> save_new_network(const std::string& state_dir, const Network& n);
Result<void> remove_network_file(const std::string& state_dir, const std::string& name);

}  // namespace vsrv::net
