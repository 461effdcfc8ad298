// runtime/control.cpp: pause, resume, update and usage of a live container (see control.h).
#include "runtime/control.h"

#include <nlohmann/json.hpp>

#include "runtime/cgroup/manager.h"
#include "runtime/network_glue.h"
#include "runtime/sys/log.h"

namespace vsrv::runtime {

namespace {

template <class T>
void take(std::optional<T>& dst, const std::optional<T>& src) {
  if (src) dst = src;
}

// The stored config.json with linux.resources replaced, so the state keeps the live limits.
Result<std::string> with_resources(const std::string& config_json, const oci::Resources& r) {
  auto j = nlohmann::json::parse(config_json, nullptr, false);
  if (j.is_discarded() || !j.is_object()) return fail("stored config is corrupt");
  auto rj = nlohmann::json::parse(oci::resources_to_json(r), nullptr, false);
  if (rj.is_discarded()) return fail("internal error: resources JSON");
  j["linux"]["resources"] = rj;
  return j.dump();
}

}  // namespace

Result<cgroup::Manager> cgroup_of(const State& st) {
  if (st.cgroup.empty()) return fail("container '" + st.id + "' has no cgroup");
  auto m = cgroup::Manager::from_json(st.cgroup);
  if (!m) return forward(std::move(m.error()), "container '" + st.id + "'");
  return m;
}

void merge_resources(oci::Resources& base, const oci::Resources& u) {
  base.devices.insert(base.devices.end(), u.devices.begin(), u.devices.end());
  if (u.memory) {
    auto& m = base.memory ? *base.memory : base.memory.emplace();
    take(m.limit, u.memory->limit);
    take(m.reservation, u.memory->reservation);
    take(m.swap, u.memory->swap);
    take(m.kernel, u.memory->kernel);
    take(m.kernel_tcp, u.memory->kernel_tcp);
    take(m.swappiness, u.memory->swappiness);
    take(m.disable_oom_killer, u.memory->disable_oom_killer);
    take(m.use_hierarchy, u.memory->use_hierarchy);
    take(m.check_before_update, u.memory->check_before_update);
  }
  if (u.cpu) {
    auto& c = base.cpu ? *base.cpu : base.cpu.emplace();
    take(c.shares, u.cpu->shares);
    take(c.quota, u.cpu->quota);
    take(c.burst, u.cpu->burst);
    take(c.period, u.cpu->period);
    take(c.realtime_runtime, u.cpu->realtime_runtime);
    take(c.realtime_period, u.cpu->realtime_period);
    take(c.idle, u.cpu->idle);
    if (!u.cpu->cpus.empty()) c.cpus = u.cpu->cpus;
    if (!u.cpu->mems.empty()) c.mems = u.cpu->mems;
  }
  if (u.pids) base.pids = u.pids;
  if (u.block_io) {
    auto& b = base.block_io ? *base.block_io : base.block_io.emplace();
    take(b.weight, u.block_io->weight);
    take(b.leaf_weight, u.block_io->leaf_weight);
    auto repl = [](auto& dst, const auto& src) {
      if (!src.empty()) dst = src;
    };
    repl(b.weight_device, u.block_io->weight_device);
    repl(b.throttle_read_bps, u.block_io->throttle_read_bps);
    repl(b.throttle_write_bps, u.block_io->throttle_write_bps);
    repl(b.throttle_read_iops, u.block_io->throttle_read_iops);
    repl(b.throttle_write_iops, u.block_io->throttle_write_iops);
  }
  for (const auto& h : u.hugepage_limits) {
    std::erase_if(base.hugepage_limits, [&](const oci::HugepageLimit& x) { return x.page_size == h.page_size; });
    base.hugepage_limits.push_back(h);
  }
  if (u.network) base.network = u.network;
  for (const auto& [k, v] : u.rdma) base.rdma[k] = v;
  for (const auto& [k, v] : u.unified) base.unified[k] = v;
}

Result<void> pause(const std::string& root, const std::string& id) {
  auto locked = lock_live(root, id);
  if (!locked) return forward(std::move(locked.error()));
  State& st = locked->st;
  if (st.status == Status::Paused) return fail("container '" + id + "' is already paused");
  if (st.status != Status::Running && st.status != Status::Created)
    return fail("cannot pause container '" + id + "': it is " + status_name(st.status) + ", not running");
  auto cg = cgroup_of(st);
  if (!cg) return forward(std::move(cg.error()));
  VSRV_TRYC(cg->freeze(true), "pause '" + id + "'");
  return {};
}

Result<void> resume(const std::string& root, const std::string& id) {
  auto locked = lock_live(root, id);
  if (!locked) return forward(std::move(locked.error()));
  State& st = locked->st;
  if (st.status != Status::Paused)
    return fail("cannot resume container '" + id + "': it is " + status_name(st.status) + ", not paused");
  auto cg = cgroup_of(st);
  if (!cg) return forward(std::move(cg.error()));
  VSRV_TRYC(cg->freeze(false), "resume '" + id + "'");
  return {};
}

Result<void> update(const std::string& root, const std::string& id, const oci::Resources& r) {
  auto locked = lock_live(root, id);
  if (!locked) return forward(std::move(locked.error()));
  State& st = locked->st;
  if (st.status == Status::Stopped || st.status == Status::Creating)
    return fail("cannot update container '" + id + "': it is " + status_name(st.status));
  auto cg = cgroup_of(st);
  if (!cg) return forward(std::move(cg.error()));
  VSRV_TRYC(cg->apply(r), "update '" + id + "'");
  if (auto spec = oci::parse_spec(st.config_json); spec) {
    oci::Resources merged = spec->linux && spec->linux->resources ? *spec->linux->resources : oci::Resources{};
    merge_resources(merged, r);
    auto text = with_resources(st.config_json, merged);
    if (!text) {
      log::warn(text.error().message());
    } else {
      st.config_json = std::move(*text);
      // Paused is derived from the freezer, never stored.
      if (st.status == Status::Paused) st.status = Status::Running;
      VSRV_TRY(save(root, st));
    }
  }
  return {};
}

Result<Usage> usage(const std::string& root, const std::string& id) {
  auto st = load_live(root, id);
  if (!st) return forward(std::move(st.error()));
  if (st->status == Status::Stopped) return fail("container '" + id + "' is not running");
  auto cg = cgroup_of(*st);
  if (!cg) return forward(std::move(cg.error()));
  auto s = cg->stats();
  if (!s) return forward(std::move(s.error()), "stats '" + id + "'");
  if (auto n = NetworkGlue::counters_saved(st->network)) s->net.push_back(std::move(*n));
  return Usage{*st, std::move(*s)};
}

}  // namespace vsrv::runtime
