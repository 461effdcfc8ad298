// netns/network.h: the one API the runtime calls for per-container networking.
// request_from_annotations/prepare are validation + IPAM + generated files (no kernel changes),
// attach builds the container's stack once its init's netns exists, release undoes all of it
// idempotently (also on partial state after a SIGKILL). Plan is what create stores in
// state.json, so a later `delete` can release without anything else. See docs/networking.md.
#pragma once
#include <sys/types.h>

#include <cstdint>
#include <map>
#include <string>
#include <utility>
#include <vector>

#include "runtime/sys/error.h"

namespace vsrv::net {

// Annotation names (config.json "annotations"); --network & co override them.
inline constexpr const char* kAnnMode = "org.vsrv.network";
inline constexpr const char* kAnnIp = "org.vsrv.network.ip";
inline constexpr const char* kAnnMac = "org.vsrv.network.mac";
inline constexpr const char* kAnnPublish = "org.vsrv.network.publish";  // comma separated
inline constexpr const char* kAnnRate = "org.vsrv.network.rate";

struct Request {
  std::string mode, ip, mac, rate;
  std::vector<std::string> publish;
};

Result<Request> request_from_annotations(const std::map<std::string, std::string>& annotations);

struct Options {
  // Networks (TOML), leases and generated files live here. Default /var/lib/vsrv, or
  // $VSRV_STATE_DIR (tests point it at a tmp dir).
  std::string state_dir;
  Options();
};

struct PortMap {
  std::string host_ip;  // empty: every local address
  uint16_t host_port = 0, container_port = 0;
  std::string proto = "tcp";
  bool operator==(const PortMap&) const = default;
};

struct Plan {
  enum class Ns { New, Host, Join };
  Ns ns = Ns::New;
  std::string mode;            // none | host | bridge | macvlan | ns
  std::string join_path;       // Ns::Join
  std::string network;         // network name (bridge, macvlan)
  std::string driver;          // bridge | macvlan
  std::string bridge;          // bridge ifname / macvlan parent
  std::string host_veth;       // host-side veth name (bridge); macvlan: temporary name
  std::string peer_tmp;        // container-side name before it is renamed eth0
  std::string ip, gateway;     // IPv4 address and gateway; prefix length below
  int prefix = 0;
  std::string subnet;          // CIDR of the network
  std::string ip6, gateway6;   // optional IPv6 (prefix6 bits)
  int prefix6 = 0;
  std::string mac;
  int mtu = 1500;
  uint64_t rate_bps = 0;       // bytes per second; 0 = unlimited
  std::vector<PortMap> publish;
  std::string nft_table;       // inet table owned by this container
  std::vector<std::string> isolate_from;  // other vsrv bridges: forwarding to them is dropped
  std::string files_dir;       // generated hosts / resolv.conf
  std::vector<std::pair<std::string, std::string>> bind_files;

  std::string to_json() const;
  static Result<Plan> from_json(const std::string&);
};

Result<Plan> prepare(const Request&, const std::string& id, const std::string& hostname, const Options&);
// Contract: init_pid's network namespace exists and nothing runs in it yet. Makes the links,
// addresses, routes and rate limits; not the NAT (attach_nat).
Result<void> attach(const Plan&, pid_t init_pid, const Options&);
// The container's nftables table (masquerade, published ports, isolation). Host-side only, so
// the runtime runs it while the container's init sets up its mounts; it must be done before
// the container's process starts.
Result<void> attach_nat(const Plan&);
Result<void> release(const Plan&, const std::string& id, const Options&);

struct Counters {
  uint64_t rx_bytes = 0, tx_bytes = 0, rx_packets = 0, tx_packets = 0;  // as seen by the container
};
Result<Counters> counters(const Plan&);

}  // namespace vsrv::net
