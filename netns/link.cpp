// netns/link.cpp: see link.h. libnl returns negative NLE_* codes; nl_error() maps the ones that
// matter to errno so callers can test for EEXIST/ENODEV, and keeps libnl's text in the context.
#include "netns/link.h"

#include <arpa/inet.h>
#include <linux/if.h>
#include <linux/pkt_sched.h>
#include <netlink/errno.h>
#include <netlink/netlink.h>
#include <netlink/route/addr.h>
#include <netlink/route/link.h>
#include <netlink/route/link/bridge.h>
#include <netlink/route/link/macvlan.h>
#include <netlink/route/link/veth.h>
#include <netlink/route/qdisc.h>
#include <netlink/route/qdisc/tbf.h>
#include <netlink/route/route.h>
#include <netlink/route/tc.h>
#include <sched.h>

#include <fcntl.h>

#include <algorithm>
#include <cstring>
#include <memory>
#include <thread>

#include "netns/parse.h"

namespace vsrv::net {
namespace {

tl::unexpected<Error> nl_error(int nlerr, const std::string& what) {
  int e = 0;
  switch (-nlerr) {
    case NLE_EXIST: e = EEXIST; break;
    case NLE_OBJ_NOTFOUND: case NLE_NODEV: e = ENODEV; break;
    case NLE_PERM: e = EPERM; break;
    case NLE_BUSY: e = EBUSY; break;
    case NLE_INVAL: e = EINVAL; break;
    case NLE_NOMEM: e = ENOMEM; break;
    case NLE_OPNOTSUPP: e = EOPNOTSUPP; break;
    case NLE_NOADDR: e = EADDRNOTAVAIL; break;
    default: e = EIO;
  }
  return make_error(e, what + ": " + nl_geterror(nlerr));
}

struct LinkDel { void operator()(rtnl_link* l) const { rtnl_link_put(l); } };
using LinkPtr = std::unique_ptr<rtnl_link, LinkDel>;
struct AddrDel { void operator()(nl_addr* a) const { nl_addr_put(a); } };
using NlAddrPtr = std::unique_ptr<nl_addr, AddrDel>;

LinkPtr get_link(NlSock& s, const std::string& name) {
  rtnl_link* l = nullptr;
  if (rtnl_link_get_kernel(s.get(), 0, name.c_str(), &l) < 0) return nullptr;
  return LinkPtr(l);
}

Result<NlAddrPtr> mac_addr(const std::string& mac) {
  nl_addr* a = nullptr;
  if (int r = nl_addr_parse(mac.c_str(), AF_LLC, &a); r < 0) return nl_error(r, "MAC '" + mac + "'");
  return NlAddrPtr(a);
}

NlAddrPtr to_nl(const IpAddr& a) {
  return NlAddrPtr(nl_addr_build(a.family, a.bytes.data(), a.family == AF_INET ? 4 : 16));
}

}  // namespace

NlSock& NlSock::operator=(NlSock&& o) noexcept {
  if (this != &o) {
    if (s_) nl_socket_free(s_);
    s_ = o.s_;
    o.s_ = nullptr;
  }
  return *this;
}

NlSock::~NlSock() {
  if (s_) nl_socket_free(s_);
}

Result<NlSock> NlSock::open() {
  NlSock s;
  s.s_ = nl_socket_alloc();
  if (!s.s_) return make_error(ENOMEM, "netlink socket");
  if (int r = nl_connect(s.s_, NETLINK_ROUTE); r < 0) return nl_error(r, "netlink connect");
  // libnl opens the socket without SOCK_CLOEXEC; set it so no netlink fd reaches a container.
  if (int fd = nl_socket_get_fd(s.s_); fd >= 0) ::fcntl(fd, F_SETFD, FD_CLOEXEC);
  return s;
}

Result<NlSock> NlSock::open_in(sys::borrowed_fd netns) {
  Result<NlSock> out = make_error(EIO, "netlink socket in netns: helper thread did not run");
  std::thread t([&] {
    // setns(CLONE_NEWNET) affects only this thread (it does not share fs state issues like
    // CLONE_NEWNS would); the thread ends right after, so no vsrv code runs in the wrong netns.
    if (::setns(netns.get(), CLONE_NEWNET) < 0) {
      out = errno_error("setns into the container's network namespace");
      return;
    }
    out = open();
  });
  t.join();
  return out;
}

IpAddr ip4(uint32_t host_order, int prefix) {
  IpAddr a{AF_INET, {}, prefix};
  uint32_t n = htonl(host_order);
  std::memcpy(a.bytes.data(), &n, 4);
  return a;
}

IpAddr ip6(const std::array<uint8_t, 16>& b, int prefix) { return IpAddr{AF_INET6, b, prefix}; }

int link_index(NlSock& s, const std::string& name) {
  auto l = get_link(s, name);
  return l ? rtnl_link_get_ifindex(l.get()) : 0;
}

Result<void> set_up(NlSock& s, const std::string& name) {
  auto l = get_link(s, name);
  if (!l) return make_error(ENODEV, "link '" + name + "' not found");
  LinkPtr ch(rtnl_link_alloc());
  rtnl_link_set_flags(ch.get(), IFF_UP);
  if (int r = rtnl_link_change(s.get(), l.get(), ch.get(), 0); r < 0) return nl_error(r, "set '" + name + "' up");
  return {};
}

Result<void> add_address(NlSock& s, int ifindex, const IpAddr& a) {
  std::unique_ptr<rtnl_addr, void (*)(rtnl_addr*)> ad(rtnl_addr_alloc(), rtnl_addr_put);
  auto local = to_nl(a);
  nl_addr_set_prefixlen(local.get(), a.prefix);
  rtnl_addr_set_ifindex(ad.get(), ifindex);
  rtnl_addr_set_local(ad.get(), local.get());
  if (a.family == AF_INET6) rtnl_addr_set_flags(ad.get(), IFA_F_NODAD);  // usable at once, no DAD wait
  if (int r = rtnl_addr_add(s.get(), ad.get(), 0); r < 0 && r != -NLE_EXIST) return nl_error(r, "add address");
  return {};
}

Result<void> add_default_route(NlSock& s, int ifindex, const IpAddr& gw) {
  std::unique_ptr<rtnl_route, void (*)(rtnl_route*)> rt(rtnl_route_alloc(), rtnl_route_put);
  IpAddr any{gw.family, {}, 0};
  auto dst = to_nl(any);
  nl_addr_set_prefixlen(dst.get(), 0);
  rtnl_route_set_family(rt.get(), static_cast<uint8_t>(gw.family));
  rtnl_route_set_dst(rt.get(), dst.get());
  rtnl_route_set_table(rt.get(), RT_TABLE_MAIN);
  rtnl_route_set_protocol(rt.get(), RTPROT_STATIC);
  rtnl_nexthop* nh = rtnl_route_nh_alloc();
  auto g = to_nl(gw);
  rtnl_route_nh_set_gateway(nh, g.get());
  rtnl_route_nh_set_ifindex(nh, ifindex);
  rtnl_route_add_nexthop(rt.get(), nh);  // owned by the route now
  if (int r = rtnl_route_add(s.get(), rt.get(), NLM_F_CREATE); r < 0 && r != -NLE_EXIST) return nl_error(r, "add default route");
  return {};
}

Result<int> ensure_bridge(NlSock& s, const std::string& name, int mtu, const IpAddr& gw4, const IpAddr* gw6) {
  if (auto l = get_link(s, name)) {
    if (!rtnl_link_is_bridge(l.get()))
      return make_error(EEXIST, "interface '" + name + "' exists and is not a bridge");
  } else {
    LinkPtr br(rtnl_link_alloc());
    rtnl_link_set_name(br.get(), name.c_str());
    if (int r = rtnl_link_set_type(br.get(), "bridge"); r < 0) return nl_error(r, "bridge type");
    rtnl_link_set_mtu(br.get(), static_cast<unsigned>(mtu));
    int r = rtnl_link_add(s.get(), br.get(), NLM_F_CREATE | NLM_F_EXCL);
    if (r < 0 && r != -NLE_EXIST) return nl_error(r, "create bridge '" + name + "'");
  }
  int idx = link_index(s, name);
  if (idx == 0) return make_error(ENODEV, "bridge '" + name + "' vanished");
  VSRV_TRYC(add_address(s, idx, gw4), "bridge '" + name + "'");
  if (gw6) VSRV_TRYC(add_address(s, idx, *gw6), "bridge '" + name + "'");
  VSRV_TRY(set_up(s, name));
  return idx;
}

Result<void> create_veth(NlSock& s, const std::string& host, int bridge_index, const std::string& peer,
                         sys::borrowed_fd netns, const std::string& mac, int mtu) {
  LinkPtr l(rtnl_link_veth_alloc());
  if (!l) return make_error(ENOMEM, "veth alloc");
  rtnl_link_set_name(l.get(), host.c_str());
  rtnl_link_set_mtu(l.get(), static_cast<unsigned>(mtu));
  rtnl_link_set_master(l.get(), bridge_index);
  rtnl_link_set_flags(l.get(), IFF_UP);
  rtnl_link* p = rtnl_link_veth_get_peer(l.get());
  rtnl_link_set_name(p, peer.c_str());
  rtnl_link_set_mtu(p, static_cast<unsigned>(mtu));
  auto a = mac_addr(mac);
  if (!a) {
    rtnl_link_put(p);
    return forward(std::move(a.error()));
  }
  rtnl_link_set_addr(p, a->get());
  rtnl_link_set_ns_fd(p, netns.get());
  rtnl_link_put(p);
  if (int r = rtnl_link_add(s.get(), l.get(), NLM_F_CREATE | NLM_F_EXCL); r < 0)
    return nl_error(r, "create veth '" + host + "'");
  return {};
}

Result<void> create_macvlan(NlSock& s, const std::string& parent, const std::string& name, sys::borrowed_fd netns,
                            const std::string& mac, int mtu) {
  int pidx = link_index(s, parent);
  if (pidx == 0) return make_error(ENODEV, "macvlan parent interface '" + parent + "' does not exist");
  LinkPtr l(rtnl_link_macvlan_alloc());
  if (!l) return make_error(ENOMEM, "macvlan alloc");
  rtnl_link_set_name(l.get(), name.c_str());
  rtnl_link_set_link(l.get(), pidx);
  rtnl_link_set_mtu(l.get(), static_cast<unsigned>(mtu));
  rtnl_link_macvlan_set_mode(l.get(), static_cast<uint32_t>(rtnl_link_macvlan_str2mode("bridge")));
  auto a = mac_addr(mac);
  if (!a) return forward(std::move(a.error()));
  rtnl_link_set_addr(l.get(), a->get());
  rtnl_link_set_ns_fd(l.get(), netns.get());
  if (int r = rtnl_link_add(s.get(), l.get(), NLM_F_CREATE | NLM_F_EXCL); r < 0)
    return nl_error(r, "create macvlan on '" + parent + "'");
  return {};
}

Result<void> set_rate(NlSock& s, const std::string& name, uint64_t rate) {
  int idx = link_index(s, name);
  if (idx == 0) return make_error(ENODEV, "rate limit: link '" + name + "' not found");
  std::unique_ptr<rtnl_qdisc, void (*)(rtnl_qdisc*)> q(rtnl_qdisc_alloc(), rtnl_qdisc_put);
  rtnl_tc_set_ifindex(TC_CAST(q.get()), idx);
  rtnl_tc_set_parent(TC_CAST(q.get()), TC_H_ROOT);
  rtnl_tc_set_handle(TC_CAST(q.get()), TC_HANDLE(1, 0));
  if (int r = rtnl_tc_set_kind(TC_CAST(q.get()), "tbf"); r < 0) return nl_error(r, "tbf");
  // Bucket: at least one MTU-sized burst, or 10 ms worth of traffic (tc-tbf(8) guidance).
  int rate_i = static_cast<int>(rate);
  int bucket = std::max(16 * 1024, rate_i / 100);
  rtnl_qdisc_tbf_set_rate(q.get(), rate_i, bucket, 0);
  rtnl_qdisc_tbf_set_limit_by_latency(q.get(), 50000);  // 50 ms of queue
  if (int r = rtnl_qdisc_add(s.get(), q.get(), NLM_F_CREATE | NLM_F_REPLACE); r < 0)
    return nl_error(r, "tbf on '" + name + "'");
  return {};
}

Result<void> delete_link(NlSock& s, const std::string& name) {
  auto l = get_link(s, name);
  if (!l) return {};
  if (int r = rtnl_link_delete(s.get(), l.get()); r < 0 && r != -NLE_OBJ_NOTFOUND && r != -NLE_NODEV)
    return nl_error(r, "delete link '" + name + "'");
  return {};
}

Result<Counters> link_counters(NlSock& s, const std::string& name) {
  auto l = get_link(s, name);
  if (!l) return make_error(ENODEV, "link '" + name + "' not found");
  // The host-side veth sees the container's traffic mirrored: its tx is the container's rx.
  Counters c;
  c.rx_bytes = rtnl_link_get_stat(l.get(), RTNL_LINK_TX_BYTES);
  c.tx_bytes = rtnl_link_get_stat(l.get(), RTNL_LINK_RX_BYTES);
  c.rx_packets = rtnl_link_get_stat(l.get(), RTNL_LINK_TX_PACKETS);
  c.tx_packets = rtnl_link_get_stat(l.get(), RTNL_LINK_RX_PACKETS);
  return c;
}

}  // namespace vsrv::net
