// netns/ipam.h: IPv4 address management. Pool is the pure allocator (unit tested); LeaseStore
// persists one Pool per network in <state>/ipam/<network>.json under an exclusive flock of
// <network>.lock, so any number of concurrent vsrv processes never hand out one address twice.
// A lease records the processes that keep it alive (the creating vsrv, then the container's
// init, each as pid + start time); a lease whose holders are all gone is reclaimed.
#pragma once
#include <sys/types.h>

#include <functional>
#include <map>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "netns/parse.h"
#include "runtime/sys/error.h"

namespace vsrv::net {

struct Holder {
  pid_t pid = 0;
  unsigned long long start = 0;
  bool operator==(const Holder&) const = default;
};

struct Lease {
  std::string id;
  std::vector<Holder> holders;
};

class Pool {
 public:
  Pool(Cidr4 subnet, uint32_t gateway) : subnet_(subnet), gateway_(gateway) {}
  // `want`: a static address (refused when outside the subnet, reserved or taken).
  Result<uint32_t> allocate(const std::string& id, std::optional<uint32_t> want, Holder holder);
  // Removes the leases of `id`; returns how many.
  int release(const std::string& id);
  // Drops leases for which dead(lease) is true; returns their ids.
  std::vector<std::string> reclaim(const std::function<bool(const Lease&)>& dead);
  Lease* find(uint32_t addr);
  std::optional<uint32_t> address_of(const std::string& id) const;
  std::map<uint32_t, Lease>& leases() { return leases_; }
  const std::map<uint32_t, Lease>& leases() const { return leases_; }

 private:
  Cidr4 subnet_;
  uint32_t gateway_;
  std::map<uint32_t, Lease> leases_;
};

std::string pool_to_json(const Pool& p);
Result<void> pool_from_json(const std::string& text, Pool& p);

// True while the process still exists with the same start time.
bool holder_alive(const Holder& h);
Holder self_holder();

// Runs fn on the network's pool with the lease file locked; writes it back if fn returns true.
Result<void> with_pool(const std::string& state_dir, const std::string& network, Cidr4 subnet, uint32_t gateway,
                       const std::function<Result<bool>(Pool&)>& fn);
// Removes the lease file of a network (network rm).
void remove_pool(const std::string& state_dir, const std::string& network);

}  // namespace vsrv::net
