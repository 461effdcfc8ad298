// netns/link.h: the libnl-route half of networking: an RAII rtnetlink socket (optionally bound
// to another netns), and the link/address/route/qdisc operations attach and release need.
// Every function acts only on the interface it is given by name; nothing enumerates or
// changes links vsrv did not create.
#pragma once
#include <array>
#include <cstdint>
#include <string>

#include "netns/network.h"
#include "runtime/sys/error.h"
#include "runtime/sys/fd.h"

struct nl_sock;

namespace vsrv::net {

class NlSock {
 public:
  NlSock() = default;
  NlSock(NlSock&& o) noexcept : s_(o.s_) { o.s_ = nullptr; }
  NlSock& operator=(NlSock&& o) noexcept;
  ~NlSock();
  nl_sock* get() const { return s_; }
  // A NETLINK_ROUTE socket in this thread's netns.
  static Result<NlSock> open();
  // A socket bound to the netns `netns` (an fd of /proc/PID/ns/net). A netlink socket keeps the
  // netns it was created in, so a helper thread setns()es, opens it and dies; the calling thread
  // never leaves its own netns (a failed setns back could not be undone safely).
  static Result<NlSock> open_in(sys::borrowed_fd netns);

 private:
  nl_sock* s_ = nullptr;
};

// Address family value for addresses below.
struct IpAddr {
  int family = 0;  // AF_INET / AF_INET6
  std::array<uint8_t, 16> bytes{};
  int prefix = 0;
};
IpAddr ip4(uint32_t host_order, int prefix);
IpAddr ip6(const std::array<uint8_t, 16>& a, int prefix);

// 0 when it does not exist.
int link_index(NlSock& s, const std::string& name);
// Creates the bridge unless it exists (a non-bridge of that name is an error), sets mtu, adds
// the gateway address(es) (EEXIST is fine: concurrent creates), and brings it up.
Result<int> ensure_bridge(NlSock& s, const std::string& name, int mtu, const IpAddr& gw4, const IpAddr* gw6);
// veth `host` (enslaved to bridge_index, up) with its peer created as `peer` directly inside
// the netns `netns`, carrying `mac` and `mtu`.
Result<void> create_veth(NlSock& s, const std::string& host, int bridge_index, const std::string& peer,
                         sys::borrowed_fd netns, const std::string& mac, int mtu);
// macvlan (bridge mode) on `parent`, created as `name` inside `netns`.
Result<void> create_macvlan(NlSock& s, const std::string& parent, const std::string& name, sys::borrowed_fd netns,
                            const std::string& mac, int mtu);
Result<void> set_up(NlSock& s, const std::string& name);
Result<void> add_address(NlSock& s, int ifindex, const IpAddr& a);
Result<void> add_default_route(NlSock& s, int ifindex, const IpAddr& gw);
// Root tbf qdisc limiting egress of `name` to `rate` bytes/s.
Result<void> set_rate(NlSock& s, const std::string& name, uint64_t rate);
// Deletes the link if it exists (ENODEV is success).
Result<void> delete_link(NlSock& s, const std::string& name);
Result<Counters> link_counters(NlSock& s, const std::string& name);

}  // namespace vsrv::net
