// runtime/network_glue.cpp: --network/annotations -> net::Plan, and its place in create/delete.
#include "runtime/network_glue.h"

#include <sys/stat.h>

#include "runtime/state.h"

#if __has_include("netns/network.h")
#include "netns/network.h"
#define VSRV_HAVE_NETNS 1
#else
namespace vsrv::net {
struct Plan {};
struct Request {};
}
#define VSRV_HAVE_NETNS 0
#endif

namespace vsrv::runtime {

NetworkGlue::NetworkGlue() = default;
NetworkGlue::~NetworkGlue() = default;

#if VSRV_HAVE_NETNS

namespace {
// Points the spec's "network" namespace entry at what the plan wants.
void set_netns(oci::Spec& spec, net::Plan::Ns ns, const std::string& path) {
  if (!spec.linux) spec.linux = oci::Linux{};
  auto& list = spec.linux->namespaces;
  std::erase_if(list, [](const oci::Namespace& n) { return n.type == "network"; });
  if (ns == net::Plan::Ns::New) list.push_back({"network", ""});
  if (ns == net::Plan::Ns::Join) list.push_back({"network", path});
}
}  // namespace

Result<void> NetworkGlue::prepare(const NetworkOptions& o, oci::Spec& spec, const std::string& id,
                                  const std::string& root) {
  id_ = id;
  hostname_ = spec.hostname.empty() ? id : spec.hostname;
  net::Request req;
  if (o.mode.empty()) {
    auto from_ann = net::request_from_annotations(spec.annotations);
    if (!from_ann) return forward(std::move(from_ann.error()), "annotations");
    req = *from_ann;
  }
  if (!o.mode.empty()) req.mode = o.mode;
  if (!o.ip.empty()) req.ip = o.ip;
  if (!o.mac.empty()) req.mac = o.mac;
  if (!o.rate.empty()) req.rate = o.rate;
  if (!o.publish.empty()) req.publish = o.publish;
  if (req.mode.empty()) {
    if (!o.ip.empty() || !o.mac.empty() || !o.publish.empty() || !o.rate.empty())
      return fail("--ip, --mac, --publish and --net-rate need --network");
    return {};
  }
  // container:ID shares another container's stack: resolve to its init's netns path.
  if (req.mode.rfind("container:", 0) == 0) {
    std::string other = req.mode.substr(10);
    auto st = load_live(root, other);
    if (!st) return forward(std::move(st.error()), "--network");
    if (st->status != Status::Running && st->status != Status::Created)
      return fail("--network: container '" + other + "' is not running");
    req.mode = "ns:/proc/" + std::to_string(st->pid) + "/ns/net";
  }
  mode_ = req.mode;
  req_ = std::make_unique<net::Request>(req);
  active_ = true;
  // The namespace follows from the mode alone; everything else is validated by net::prepare
  // in allocate(), whose failure rolls back the create.
  if (req.mode == "host")
    set_netns(spec, net::Plan::Ns::Host, "");
  else if (req.mode.rfind("ns:", 0) == 0)
    set_netns(spec, net::Plan::Ns::Join, req.mode.substr(3));
  else
    set_netns(spec, net::Plan::Ns::New, "");
  return {};
}

Result<void> NetworkGlue::allocate() {
  if (!active_) return {};
  auto plan = net::prepare(*req_, id_, hostname_, net::Options{});
  if (!plan) return forward(std::move(plan.error()));
  plan_ = std::make_unique<net::Plan>(std::move(*plan));
  allocated_ = true;
  return {};
}

Result<void> NetworkGlue::attach(pid_t pid) {
  if (!plan_) return {};
  return net::attach(*plan_, pid, net::Options{});
}

Result<void> NetworkGlue::attach_nat() {
  if (!plan_) return {};
  return net::attach_nat(*plan_);
}

Result<void> NetworkGlue::release() {
  if (!plan_) return {};
  return net::release(*plan_, id_, net::Options{});
}

std::string NetworkGlue::to_json() const { return plan_ ? plan_->to_json() : std::string(); }

std::vector<std::pair<std::string, std::string>> NetworkGlue::bind_files() const {
  return plan_ ? plan_->bind_files : std::vector<std::pair<std::string, std::string>>{};
}

Result<void> NetworkGlue::release_saved(const std::string& json, const std::string& id) {
  if (json.empty()) return {};
  auto plan = net::Plan::from_json(json);
  if (!plan) return forward(std::move(plan.error()));
  return net::release(*plan, id, net::Options{});
}

std::optional<cgroup::Stats::Net> NetworkGlue::counters_saved(const std::string& json) {
  if (json.empty()) return std::nullopt;
  auto plan = net::Plan::from_json(json);
  if (!plan) return std::nullopt;
  auto k = net::counters(*plan);
  if (!k) return std::nullopt;
  return cgroup::Stats::Net{"eth0", k->rx_bytes, k->rx_packets, k->tx_bytes, k->tx_packets};
}

#else

Result<void> NetworkGlue::prepare(const NetworkOptions& o, oci::Spec&, const std::string&, const std::string&) {
  if (!o.mode.empty() || !o.ip.empty() || !o.publish.empty()) return fail("--network: not built into this vsrv");
  return {};
}
Result<void> NetworkGlue::allocate() { return {}; }
Result<void> NetworkGlue::attach(pid_t) { return {}; }
Result<void> NetworkGlue::attach_nat() { return {}; }
Result<void> NetworkGlue::release() { return {}; }
std::string NetworkGlue::to_json() const { return {}; }
std::vector<std::pair<std::string, std::string>> NetworkGlue::bind_files() const { return {}; }
Result<void> NetworkGlue::release_saved(const std::string&, const std::string&) { return {}; }
std::optional<cgroup::Stats::Net> NetworkGlue::counters_saved(const std::string&) { return std::nullopt; }

#endif

}  // namespace vsrv::runtime
