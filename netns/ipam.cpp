// netns/ipam.cpp: see ipam.h. The allocator hands out the lowest free address, skipping the
// network, broadcast and gateway addresses.
#include "netns/ipam.h"

#include <sys/file.h>
#include <unistd.h>

#include <nlohmann/json.hpp>

#include "runtime/sys/syscalls.h"

namespace vsrv::net {

Result<uint32_t> Pool::allocate(const std::string& id, std::optional<uint32_t> want, Holder holder) {
  auto reserved = [&](uint32_t a) { return a == subnet_.network() || a == subnet_.broadcast() || a == gateway_; };
  if (want) {
    std::string s = format_ipv4(*want);
    if (!subnet_.contains(*want)) return make_error(EINVAL, "address " + s + " is outside the subnet " + format_cidr4(subnet_));
    if (reserved(*want)) return make_error(EINVAL, "address " + s + " is reserved (network, broadcast or gateway)");
    if (auto it = leases_.find(*want); it != leases_.end())
      return make_error(EADDRINUSE, "address " + s + " is already in use by container '" + it->second.id + "'");
    leases_[*want] = Lease{id, {holder}};
    return *want;
  }
  for (uint32_t a = subnet_.network() + 1; a < subnet_.broadcast(); ++a) {
    if (reserved(a) || leases_.count(a)) continue;
    leases_[a] = Lease{id, {holder}};
    return a;
  }
  return make_error(ENOSPC, "no free address left in " + format_cidr4(subnet_) + " (" + std::to_string(leases_.size()) + " leases)");
}

int Pool::release(const std::string& id) {
  return static_cast<int>(std::erase_if(leases_, [&](const auto& kv) { return kv.second.id == id; }));
}

std::vector<std::string> Pool::reclaim(const std::function<bool(const Lease&)>& dead) {
  std::vector<std::string> ids;
  std::erase_if(leases_, [&](const auto& kv) {
    if (!dead(kv.second)) return false;
    ids.push_back(kv.second.id);
    return true;
  });
  return ids;
}

Lease* Pool::find(uint32_t addr) {
  auto it = leases_.find(addr);
  return it == leases_.end() ? nullptr : &it->second;
}

std::optional<uint32_t> Pool::address_of(const std::string& id) const {
  for (const auto& [a, l] : leases_)
    if (l.id == id) return a;
  return std::nullopt;
}

std::string pool_to_json(const Pool& p) {
  nlohmann::json j = nlohmann::json::object();
  for (const auto& [a, l] : p.leases()) {
    nlohmann::json hs = nlohmann::json::array();
    for (const auto& h : l.holders) hs.push_back({h.pid, h.start});
    j[format_ipv4(a)] = {{"id", l.id}, {"holders", hs}};
  }
  return j.dump(1);
}

Result<void> pool_from_json(const std::string& text, Pool& p) {
  if (text.empty()) return {};
  auto j = nlohmann::json::parse(text, nullptr, false);
  if (j.is_discarded() || !j.is_object()) return make_error(EINVAL, "lease file is not a JSON object");
  for (const auto& [k, v] : j.items()) {
    auto a = parse_ipv4(k);
    if (!a || !v.is_object() || !v.contains("id") || !v["id"].is_string()) return make_error(EINVAL, "lease file: bad entry '" + k + "'");
    Lease l{v["id"].get<std::string>(), {}};
    if (v.contains("holders") && v["holders"].is_array())
      for (const auto& h : v["holders"])
        if (h.is_array() && h.size() == 2 && h[0].is_number_integer() && h[1].is_number_unsigned())
          l.holders.push_back({h[0].get<pid_t>(), h[1].get<unsigned long long>()});
    p.leases()[*a] = std::move(l);
  }
  return {};
}

bool holder_alive(const Holder& h) {
  if (h.pid <= 0) return false;
  auto t = sys::process_start_time(h.pid);
  return t && *t == h.start;
}

Holder self_holder() {
  Holder h{::getpid(), 0};
  if (auto t = sys::process_start_time(h.pid)) h.start = *t;
  return h;
}

namespace {
// Atomic replace (temp + rename) without fsync: after a power loss every holder's start time is
// stale, so all leases are reclaimed anyway; durability would only cost time on the start path.
Result<void> replace_file(const std::string& path, const std::string& data) {
  std::string tmp = path + ".tmp." + std::to_string(::getpid());
  {
    auto fd = sys::open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
    if (!fd) return forward(std::move(fd.error()));
    if (auto r = sys::write_all(*fd, data); !r) {
      ::unlink(tmp.c_str());
      return forward(std::move(r.error()), "write '" + tmp + "'");
    }
  }
  if (::rename(tmp.c_str(), path.c_str()) < 0) {
    int e = errno;
    ::unlink(tmp.c_str());
    return make_error(e, "rename '" + tmp + "'");
  }
  return {};
}
}  // namespace

Result<void> with_pool(const std::string& state_dir, const std::string& network, Cidr4 subnet, uint32_t gateway,
                       const std::function<Result<bool>(Pool&)>& fn) {
  std::string dir = state_dir + "/ipam";
  VSRV_TRY(sys::mkdir_p(dir, 0700));
  auto lock = sys::open(dir + "/" + network + ".lock", O_RDWR | O_CREAT | O_CLOEXEC, 0600);
  if (!lock) return forward(std::move(lock.error()), "ipam");
  // One exclusive flock per network serialises read-modify-write of the lease file between
  // processes; released when the fd closes, also when this process is SIGKILLed.
  while (::flock(lock->get(), LOCK_EX) < 0)
    if (errno != EINTR) return errno_error("ipam: flock '" + network + ".lock'");
  std::string path = dir + "/" + network + ".json";
  Pool pool(subnet, gateway);
  if (::access(path.c_str(), F_OK) == 0) {
    auto text = sys::read_file(path);
    if (!text) return forward(std::move(text.error()), "ipam");
    VSRV_TRYC(pool_from_json(*text, pool), "ipam '" + path + "'");
  }
  auto changed = fn(pool);
  if (!changed) return forward(std::move(changed.error()));
  if (*changed) VSRV_TRYC(replace_file(path, pool_to_json(pool)), "ipam");
  return {};
}

void remove_pool(const std::string& state_dir, const std::string& network) {
  std::string base = state_dir + "/ipam/" + network;
  ::unlink((base + ".json").c_str());
  ::unlink((base + ".lock").c_str());
}

}  // namespace vsrv::net
