// runtime/network_glue.h: where the runtime meets netns/. It turns --network & co (or the
// org.vsrv.network* annotations) into a net::Plan, rewrites the spec's network namespace entry
// to match (new, host, or joined by path), and drives attach/release at the right moments of
// create and delete. With no network requested it does nothing: OCI behaviour is untouched.
#pragma once
#include <sys/types.h>

#include <memory>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "config/oci_spec.h"
#include "runtime/cgroup/stats.h"
#include "runtime/container.h"
#include "runtime/sys/error.h"

namespace vsrv::net {
struct Plan;
struct Request;
}

namespace vsrv::runtime {

class NetworkGlue {
 public:
  NetworkGlue();
  ~NetworkGlue();
  // Parses and validates the request, adjusts spec.linux.namespaces. No side effects.
  // `root` is the state root (--root) in which container:ID is looked up.
  Result<void> prepare(const NetworkOptions& o, oci::Spec& spec, const std::string& id,
                       const std::string& root = "/run/vsrv");
  // IPAM lease and generated files.
  Result<void> allocate();
  // veth/bridge/NAT for the init `pid` (its network namespace exists now).
  Result<void> attach(pid_t pid);
  // NAT rules; runs while the init sets up its mounts (after Proceed), before it may exec.
  Result<void> attach_nat();
  // Whether attach()/attach_nat() have work: vsrv makes this container's network (after allocate()).
  bool attaches() const { return plan_ != nullptr; }
  Result<void> release();
  std::string to_json() const;
  std::vector<std::pair<std::string, std::string>> bind_files() const;
  void adjust_plan(struct ChildPlan&) const {}
  static Result<void> release_saved(const std::string& json, const std::string& id);
  // rx/tx counters of the container's interface from the saved attachment (`stats`, `events`);
  // false when vsrv made no interface (no --network, host, ns:PATH).
  static std::optional<cgroup::Stats::Net> counters_saved(const std::string& json);

 private:
  std::unique_ptr<net::Plan> plan_;
  std::unique_ptr<net::Request> req_;
  std::string id_, hostname_;
  bool active_ = false;
  bool allocated_ = false;
  std::string mode_, ip_, mac_, rate_;
  std::vector<std::string> publish_;
};

}  // namespace vsrv::runtime
