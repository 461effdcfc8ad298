// config/oci_spec.cpp: config.json <-> oci::Spec.
// Parsing is hand-written field by field so that every error names its JSON path
// ("process.args[0]: expected string, got number"). nlohmann::json runs with exceptions off at the
// edge; the extractors check types before reading, and one local catch turns anything nlohmann
// still throws into an Error. Rules of the reader, as Go's encoding/json (runc) behaves:
// unknown keys are ignored, `null` means "absent", numbers must be integers in range.
#include "config/oci_spec.h"

#include <unistd.h>

#include <limits>
#include <nlohmann/json.hpp>
#include <type_traits>

#include "runtime/sys/syscalls.h"

namespace vsrv::oci {
namespace {

using json = nlohmann::json;
using ojson = nlohmann::ordered_json;

// A JSON path ("linux.resources.devices[2].access"), rendered only when an error names it: the
// reader passes one down to every field it reads, and building each as a string cost about as
// much as the rest of the conversion (an allocation per field, ~100 per config). Each level
// points at its parent, which outlives it (a caller's argument or local).
class Path {
 public:
  explicit Path(std::string_view root = {}) : key_(root) {}
  Path(const Path& parent, std::string_view key) : parent_(&parent), key_(key) {}
  Path(const Path& parent, std::size_t index) : parent_(&parent), index_(index), is_index_(true) {}
  std::string str() const {
    if (!parent_) return std::string(key_);
    std::string s = parent_->str();
    if (is_index_) return s + "[" + std::to_string(index_) + "]";
    return s.empty() ? std::string(key_) : s + "." + std::string(key_);
  }
  friend std::string operator+(const Path& p, const char* s) { return p.str() + s; }

 private:
  const Path* parent_ = nullptr;
  std::string_view key_;
  std::size_t index_ = 0;
  bool is_index_ = false;
};

Path member(const Path& base, std::string_view key) { return Path(base, key); }
Path element(const Path& base, std::size_t i) { return Path(base, i); }

tl::unexpected<Error> type_error(const Path& path, std::string_view expected, const json& got) {
  return fail(path + ": expected " + std::string(expected) + ", got " + got.type_name());
}

// ---- scalars ----
Result<void> get(const json& j, const Path& path, std::string& out) {
  if (!j.is_string()) return type_error(path, "string", j);
  out = j.get_ref<const std::string&>();
  return {};
}

Result<void> get(const json& j, const Path& path, bool& out) {
  if (!j.is_boolean()) return type_error(path, "boolean", j);
  out = j.get<bool>();
  return {};
}

template <class T>
  requires(std::is_integral_v<T> && !std::is_same_v<T, bool>)
Result<void> get(const json& j, const Path& path, T& out) {
  using L = std::numeric_limits<T>;
  if (j.is_number_unsigned()) {
    auto v = j.get<std::uint64_t>();
    if (v > static_cast<std::uint64_t>(L::max()))
      return fail(path + ": " + std::to_string(v) + " is out of range (" + std::to_string(L::min()) + ".." +
                  std::to_string(L::max()) + ")");
    out = static_cast<T>(v);
    return {};
  }
  if (j.is_number_integer()) {  // nlohmann stores only negative integers here
    auto v = j.get<std::int64_t>();
    if constexpr (std::is_unsigned_v<T>) {
      if (v < 0)
        return fail(path + ": " + std::to_string(v) + " is out of range (0.." + std::to_string(L::max()) + ")");
    } else {
      if (v < static_cast<std::int64_t>(L::min()) || v > static_cast<std::int64_t>(L::max()))
        return fail(path + ": " + std::to_string(v) + " is out of range (" + std::to_string(L::min()) + ".." +
                    std::to_string(L::max()) + ")");
    }
    out = static_cast<T>(v);
    return {};
  }
  if (j.is_number_float()) return fail(path + ": expected integer, got number " + j.dump());
  return type_error(path, "integer", j);
}

// ---- structs (forward declared so the container templates below can find them) ----
Result<void> get(const json&, const Path&, ConsoleSize&);
Result<void> get(const json&, const Path&, User&);
Result<void> get(const json&, const Path&, Capabilities&);
Result<void> get(const json&, const Path&, Rlimit&);
Result<void> get(const json&, const Path&, Process&);
Result<void> get(const json&, const Path&, Root&);
Result<void> get(const json&, const Path&, Mount&);
Result<void> get(const json&, const Path&, Hook&);
Result<void> get(const json&, const Path&, Hooks&);
Result<void> get(const json&, const Path&, IdMapping&);
Result<void> get(const json&, const Path&, Namespace&);
Result<void> get(const json&, const Path&, Device&);
Result<void> get(const json&, const Path&, DeviceRule&);
Result<void> get(const json&, const Path&, Memory&);
Result<void> get(const json&, const Path&, Cpu&);
Result<void> get(const json&, const Path&, Pids&);
Result<void> get(const json&, const Path&, WeightDevice&);
Result<void> get(const json&, const Path&, ThrottleDevice&);
Result<void> get(const json&, const Path&, BlockIO&);
Result<void> get(const json&, const Path&, HugepageLimit&);
Result<void> get(const json&, const Path&, NetPriority&);
Result<void> get(const json&, const Path&, Network&);
Result<void> get(const json&, const Path&, Rdma&);
Result<void> get(const json&, const Path&, Resources&);
Result<void> get(const json&, const Path&, SeccompArg&);
Result<void> get(const json&, const Path&, SeccompSyscall&);
Result<void> get(const json&, const Path&, Seccomp&);
Result<void> get(const json&, const Path&, Personality&);
Result<void> get(const json&, const Path&, TimeOffset&);
Result<void> get(const json&, const Path&, Linux&);

// ---- containers ----
template <class T>
Result<void> get(const json& j, const Path& path, std::vector<T>& out) {
  if (!j.is_array()) return type_error(path, "array", j);
  out.clear();
  out.reserve(j.size());
  for (std::size_t i = 0; i < j.size(); ++i) {
    T v{};
    if (!j[i].is_null()) VSRV_TRY(get(j[i], element(path, i), v));
    out.push_back(std::move(v));
  }
  return {};
}

template <class T>
Result<void> get(const json& j, const Path& path, std::map<std::string, T>& out) {
  if (!j.is_object()) return type_error(path, "object", j);
  out.clear();
  for (auto it = j.begin(); it != j.end(); ++it) {
    T v{};
    if (!it.value().is_null()) VSRV_TRY(get(it.value(), member(path, it.key()), v));
    out.emplace(it.key(), std::move(v));
  }
  return {};
}

template <class T>
Result<void> get(const json& j, const Path& path, std::optional<T>& out) {
  T v{};
  VSRV_TRY(get(j, path, v));
  out = std::move(v);
  return {};
}

// Every struct is a JSON object; this checks that and gives the object to a field reader.
struct Obj {
  const json& j;
  const Path& path;

  // Reads j[key] into out when present and not null; leaves `out` alone otherwise.
  template <class T>
  Result<void> operator()(std::string_view key, T& out) const {
    auto it = j.find(key);
    if (it == j.end() || it->is_null()) return {};
    return get(*it, member(path, key), out);
  }
};

Result<Obj> object(const json& j, const Path& path) {
  if (!j.is_object()) return type_error(path, "object", j);
  return Obj{j, path};
}

#define VSRV_OBJ(name)                           \
  auto name##_r = object(j, path);               \
  if (!name##_r) return forward(std::move(name##_r).error()); \
  const Obj& name = *name##_r

Result<void> get(const json& j, const Path& path, ConsoleSize& out) {
  VSRV_OBJ(f);
  VSRV_TRY(f("height", out.height));
  VSRV_TRY(f("width", out.width));
  return {};
}

Result<void> get(const json& j, const Path& path, User& out) {
  VSRV_OBJ(f);
  VSRV_TRY(f("uid", out.uid));
  VSRV_TRY(f("gid", out.gid));
  VSRV_TRY(f("umask", out.umask));
  VSRV_TRY(f("additionalGids", out.additional_gids));
  VSRV_TRY(f("username", out.username));
  return {};
}

Result<void> get(const json& j, const Path& path, Capabilities& out) {
  VSRV_OBJ(f);
  VSRV_TRY(f("bounding", out.bounding));
  VSRV_TRY(f("effective", out.effective));
  VSRV_TRY(f("inheritable", out.inheritable));
  VSRV_TRY(f("permitted", out.permitted));
  VSRV_TRY(f("ambient", out.ambient));
  return {};
}

Result<void> get(const json& j, const Path& path, Rlimit& out) {
  VSRV_OBJ(f);
  VSRV_TRY(f("type", out.type));
  VSRV_TRY(f("hard", out.hard));
  VSRV_TRY(f("soft", out.soft));
  return {};
}

Result<void> get(const json& j, const Path& path, Process& out) {
  VSRV_OBJ(f);
  out.cwd.clear();  // required by the spec: absent stays empty so validate() can say so
  VSRV_TRY(f("terminal", out.terminal));
  VSRV_TRY(f("consoleSize", out.console_size));
  VSRV_TRY(f("user", out.user));
  VSRV_TRY(f("args", out.args));
  VSRV_TRY(f("env", out.env));
  VSRV_TRY(f("cwd", out.cwd));
  VSRV_TRY(f("capabilities", out.capabilities));
  VSRV_TRY(f("rlimits", out.rlimits));
  VSRV_TRY(f("noNewPrivileges", out.no_new_privileges));
  VSRV_TRY(f("apparmorProfile", out.apparmor_profile));
  VSRV_TRY(f("oomScoreAdj", out.oom_score_adj));
  VSRV_TRY(f("selinuxLabel", out.selinux_label));
  return {};
}

Result<void> get(const json& j, const Path& path, Root& out) {
  VSRV_OBJ(f);
  VSRV_TRY(f("path", out.path));
  VSRV_TRY(f("readonly", out.readonly));
  return {};
}

Result<void> get(const json& j, const Path& path, Mount& out) {
  VSRV_OBJ(f);
  VSRV_TRY(f("destination", out.destination));
  VSRV_TRY(f("type", out.type));
  VSRV_TRY(f("source", out.source));
  VSRV_TRY(f("options", out.options));
  return {};
}

Result<void> get(const json& j, const Path& path, Hook& out) {
  VSRV_OBJ(f);
  VSRV_TRY(f("path", out.path));
  VSRV_TRY(f("args", out.args));
  VSRV_TRY(f("env", out.env));
  VSRV_TRY(f("timeout", out.timeout));
  return {};
}

Result<void> get(const json& j, const Path& path, Hooks& out) {
  VSRV_OBJ(f);
  VSRV_TRY(f("prestart", out.prestart));
  VSRV_TRY(f("createRuntime", out.create_runtime));
  VSRV_TRY(f("createContainer", out.create_container));
  VSRV_TRY(f("startContainer", out.start_container));
  VSRV_TRY(f("poststart", out.poststart));
  VSRV_TRY(f("poststop", out.poststop));
  return {};
}

Result<void> get(const json& j, const Path& path, IdMapping& out) {
  VSRV_OBJ(f);
  VSRV_TRY(f("containerID", out.container_id));
  VSRV_TRY(f("hostID", out.host_id));
  VSRV_TRY(f("size", out.size));
  return {};
}

constexpr std::string_view kNamespaceTypes[] = {"pid", "network", "mount", "ipc", "uts", "user", "cgroup", "time"};

Result<void> get(const json& j, const Path& path, Namespace& out) {
  VSRV_OBJ(f);
  VSRV_TRY(f("type", out.type));
  VSRV_TRY(f("path", out.path));
  bool known = false;
  for (auto t : kNamespaceTypes) known = known || t == out.type;
  if (!known) return fail(member(path, "type") + ": unknown namespace type \"" + out.type + "\"");
  return {};
}

Result<void> get(const json& j, const Path& path, Device& out) {
  VSRV_OBJ(f);
  VSRV_TRY(f("type", out.type));
  VSRV_TRY(f("path", out.path));
  VSRV_TRY(f("major", out.major));
  VSRV_TRY(f("minor", out.minor));
  VSRV_TRY(f("fileMode", out.file_mode));
  VSRV_TRY(f("uid", out.uid));
  VSRV_TRY(f("gid", out.gid));
  return {};
}

Result<void> get(const json& j, const Path& path, DeviceRule& out) {
  VSRV_OBJ(f);
  VSRV_TRY(f("allow", out.allow));
  VSRV_TRY(f("type", out.type));
  VSRV_TRY(f("major", out.major));
  VSRV_TRY(f("minor", out.minor));
  VSRV_TRY(f("access", out.access));
  return {};
}

Result<void> get(const json& j, const Path& path, Memory& out) {
  VSRV_OBJ(f);
  VSRV_TRY(f("limit", out.limit));
  VSRV_TRY(f("reservation", out.reservation));
  VSRV_TRY(f("swap", out.swap));
  VSRV_TRY(f("kernel", out.kernel));
  VSRV_TRY(f("kernelTCP", out.kernel_tcp));
  VSRV_TRY(f("swappiness", out.swappiness));
  VSRV_TRY(f("disableOOMKiller", out.disable_oom_killer));
  VSRV_TRY(f("useHierarchy", out.use_hierarchy));
  VSRV_TRY(f("checkBeforeUpdate", out.check_before_update));
  return {};
}

Result<void> get(const json& j, const Path& path, Cpu& out) {
  VSRV_OBJ(f);
  VSRV_TRY(f("shares", out.shares));
  VSRV_TRY(f("quota", out.quota));
  VSRV_TRY(f("burst", out.burst));
  VSRV_TRY(f("period", out.period));
  VSRV_TRY(f("realtimeRuntime", out.realtime_runtime));
  VSRV_TRY(f("realtimePeriod", out.realtime_period));
  VSRV_TRY(f("cpus", out.cpus));
  VSRV_TRY(f("mems", out.mems));
  VSRV_TRY(f("idle", out.idle));
  return {};
}

Result<void> get(const json& j, const Path& path, Pids& out) {
  VSRV_OBJ(f);
  VSRV_TRY(f("limit", out.limit));
  return {};
}

Result<void> get(const json& j, const Path& path, WeightDevice& out) {
  VSRV_OBJ(f);
  VSRV_TRY(f("major", out.major));
  VSRV_TRY(f("minor", out.minor));
  VSRV_TRY(f("weight", out.weight));
  VSRV_TRY(f("leafWeight", out.leaf_weight));
  return {};
}

Result<void> get(const json& j, const Path& path, ThrottleDevice& out) {
  VSRV_OBJ(f);
  VSRV_TRY(f("major", out.major));
  VSRV_TRY(f("minor", out.minor));
  VSRV_TRY(f("rate", out.rate));
  return {};
}

Result<void> get(const json& j, const Path& path, BlockIO& out) {
  VSRV_OBJ(f);
  VSRV_TRY(f("weight", out.weight));
  VSRV_TRY(f("leafWeight", out.leaf_weight));
  VSRV_TRY(f("weightDevice", out.weight_device));
  VSRV_TRY(f("throttleReadBpsDevice", out.throttle_read_bps));
  VSRV_TRY(f("throttleWriteBpsDevice", out.throttle_write_bps));
  VSRV_TRY(f("throttleReadIOPSDevice", out.throttle_read_iops));
  VSRV_TRY(f("throttleWriteIOPSDevice", out.throttle_write_iops));
  return {};
}

Result<void> get(const json& j, const Path& path, HugepageLimit& out) {
  VSRV_OBJ(f);
  VSRV_TRY(f("pageSize", out.page_size));
  VSRV_TRY(f("limit", out.limit));
  return {};
}

Result<void> get(const json& j, const Path& path, NetPriority& out) {
  VSRV_OBJ(f);
  VSRV_TRY(f("name", out.name));
  VSRV_TRY(f("priority", out.priority));
  return {};
}

Result<void> get(const json& j, const Path& path, Network& out) {
  VSRV_OBJ(f);
  VSRV_TRY(f("classID", out.class_id));
  VSRV_TRY(f("priorities", out.priorities));
  return {};
}

Result<void> get(const json& j, const Path& path, Rdma& out) {
  VSRV_OBJ(f);
  VSRV_TRY(f("hcaHandles", out.hca_handles));
  VSRV_TRY(f("hcaObjects", out.hca_objects));
  return {};
}

Result<void> get(const json& j, const Path& path, Resources& out) {
  VSRV_OBJ(f);
  VSRV_TRY(f("devices", out.devices));
  VSRV_TRY(f("memory", out.memory));
  VSRV_TRY(f("cpu", out.cpu));
  VSRV_TRY(f("pids", out.pids));
  VSRV_TRY(f("blockIO", out.block_io));
  VSRV_TRY(f("hugepageLimits", out.hugepage_limits));
  VSRV_TRY(f("network", out.network));
  VSRV_TRY(f("rdma", out.rdma));
  VSRV_TRY(f("unified", out.unified));
  return {};
}

Result<void> get(const json& j, const Path& path, SeccompArg& out) {
  VSRV_OBJ(f);
  VSRV_TRY(f("index", out.index));
  VSRV_TRY(f("value", out.value));
  VSRV_TRY(f("valueTwo", out.value_two));
  VSRV_TRY(f("op", out.op));
  return {};
}

Result<void> get(const json& j, const Path& path, SeccompSyscall& out) {
  VSRV_OBJ(f);
  VSRV_TRY(f("names", out.names));
  VSRV_TRY(f("action", out.action));
  VSRV_TRY(f("errnoRet", out.errno_ret));
  VSRV_TRY(f("args", out.args));
  return {};
}

Result<void> get(const json& j, const Path& path, Seccomp& out) {
  VSRV_OBJ(f);
  VSRV_TRY(f("defaultAction", out.default_action));
  VSRV_TRY(f("defaultErrnoRet", out.default_errno_ret));
  VSRV_TRY(f("architectures", out.architectures));
  VSRV_TRY(f("flags", out.flags));
  VSRV_TRY(f("listenerPath", out.listener_path));
  VSRV_TRY(f("listenerMetadata", out.listener_metadata));
  VSRV_TRY(f("syscalls", out.syscalls));
  return {};
}

Result<void> get(const json& j, const Path& path, Personality& out) {
  VSRV_OBJ(f);
  VSRV_TRY(f("domain", out.domain));
  VSRV_TRY(f("flags", out.flags));
  return {};
}

Result<void> get(const json& j, const Path& path, TimeOffset& out) {
  VSRV_OBJ(f);
  VSRV_TRY(f("secs", out.secs));
  VSRV_TRY(f("nanosecs", out.nanosecs));
  return {};
}

Result<void> get(const json& j, const Path& path, Linux& out) {
  VSRV_OBJ(f);
  VSRV_TRY(f("namespaces", out.namespaces));
  VSRV_TRY(f("uidMappings", out.uid_mappings));
  VSRV_TRY(f("gidMappings", out.gid_mappings));
  VSRV_TRY(f("timeOffsets", out.time_offsets));
  VSRV_TRY(f("devices", out.devices));
  VSRV_TRY(f("cgroupsPath", out.cgroups_path));
  VSRV_TRY(f("resources", out.resources));
  VSRV_TRY(f("rootfsPropagation", out.rootfs_propagation));
  VSRV_TRY(f("seccomp", out.seccomp));
  VSRV_TRY(f("sysctl", out.sysctl));
  VSRV_TRY(f("maskedPaths", out.masked_paths));
  VSRV_TRY(f("readonlyPaths", out.readonly_paths));
  VSRV_TRY(f("mountLabel", out.mount_label));
  VSRV_TRY(f("personality", out.personality));
  return {};
}

Result<void> get_spec(const json& j, Spec& out) {
  static const Path root_path;
  if (!j.is_object()) return fail("expected a JSON object at the top level, got " + std::string(j.type_name()));
  Obj f{j, root_path};
  VSRV_TRY(f("ociVersion", out.oci_version));
  VSRV_TRY(f("process", out.process));
  VSRV_TRY(f("root", out.root));
  VSRV_TRY(f("hostname", out.hostname));
  VSRV_TRY(f("domainname", out.domainname));
  VSRV_TRY(f("mounts", out.mounts));
  VSRV_TRY(f("hooks", out.hooks));
  VSRV_TRY(f("annotations", out.annotations));
  VSRV_TRY(f("linux", out.linux));
  return {};
}

#undef VSRV_OBJ

// Only used to recover nlohmann's description of a syntax error (with its byte position), which
// json::parse(..., allow_exceptions=false) throws away.
struct SyntaxErrorSax : nlohmann::json_sax<json> {
  std::string message;
  bool null() override { return true; }
  bool boolean(bool) override { return true; }
  bool number_integer(number_integer_t) override { return true; }
  bool number_unsigned(number_unsigned_t) override { return true; }
  bool number_float(number_float_t, const string_t&) override { return true; }
  bool string(string_t&) override { return true; }
  bool binary(binary_t&) override { return true; }
  bool start_object(std::size_t) override { return true; }
  bool key(string_t&) override { return true; }
  bool end_object() override { return true; }
  bool start_array(std::size_t) override { return true; }
  bool end_array() override { return true; }
  bool parse_error(std::size_t, const std::string&, const nlohmann::detail::exception& ex) override {
    message = ex.what();
    return false;
  }
};

std::string syntax_error(std::string_view text) {
  SyntaxErrorSax sax;
  // sax_parse does not throw when the handler returns false from parse_error.
  (void)json::sax_parse(text, &sax, nlohmann::detail::input_format_t::json, /*strict=*/true);
  std::string m = std::move(sax.message);
  // "[json.exception.parse_error.101] parse error at line 1, column 2: ..." -> "parse error at ..."
  if (auto p = m.find("] "); m.rfind("[json.exception", 0) == 0 && p != std::string::npos) m.erase(0, p + 2);
  return m.empty() ? std::string("invalid JSON") : "invalid JSON: " + m;
}

// ---- serialisation ----
ojson strings(const std::vector<std::string>& v) {
  ojson a = ojson::array();
  for (const auto& s : v) a.push_back(s);
  return a;
}
template <class T>
ojson numbers(const std::vector<T>& v) {
  ojson a = ojson::array();
  for (auto n : v) a.push_back(n);
  return a;
}
ojson string_map(const std::map<std::string, std::string>& m) {
  ojson o = ojson::object();
  for (const auto& [k, v] : m) o[k] = v;
  return o;
}
void put(ojson& o, const char* key, const std::string& s) {
  if (!s.empty()) o[key] = s;
}
void put(ojson& o, const char* key, const std::vector<std::string>& v) {
  if (!v.empty()) o[key] = strings(v);
}
template <class T>
void put(ojson& o, const char* key, const std::optional<T>& v) {
  if (v) o[key] = *v;
}

ojson hook_list(const std::vector<Hook>& hooks) {
  ojson a = ojson::array();
  for (const auto& h : hooks) {
    ojson o;
    o["path"] = h.path;
    put(o, "args", h.args);
    put(o, "env", h.env);
    put(o, "timeout", h.timeout);
    a.push_back(std::move(o));
  }
  return a;
}

ojson id_mappings(const std::vector<IdMapping>& v) {
  ojson a = ojson::array();
  for (const auto& m : v) a.push_back({{"containerID", m.container_id}, {"hostID", m.host_id}, {"size", m.size}});
  return a;
}

ojson throttle(const std::vector<ThrottleDevice>& v) {
  ojson a = ojson::array();
  for (const auto& d : v) a.push_back({{"major", d.major}, {"minor", d.minor}, {"rate", d.rate}});
  return a;
}

ojson process_json(const Process& p) {
  ojson o;
  if (p.terminal) o["terminal"] = true;
  if (p.console_size) o["consoleSize"] = {{"height", p.console_size->height}, {"width", p.console_size->width}};
  ojson u;
  u["uid"] = p.user.uid;
  u["gid"] = p.user.gid;
  put(u, "umask", p.user.umask);
  if (!p.user.additional_gids.empty()) u["additionalGids"] = numbers(p.user.additional_gids);
  put(u, "username", p.user.username);
  o["user"] = std::move(u);
  put(o, "args", p.args);
  put(o, "env", p.env);
  o["cwd"] = p.cwd;
  if (p.capabilities) {
    ojson c = ojson::object();
    put(c, "bounding", p.capabilities->bounding);
    put(c, "effective", p.capabilities->effective);
    put(c, "inheritable", p.capabilities->inheritable);
    put(c, "permitted", p.capabilities->permitted);
    put(c, "ambient", p.capabilities->ambient);
    o["capabilities"] = std::move(c);
  }
  if (!p.rlimits.empty()) {
    ojson a = ojson::array();
    for (const auto& r : p.rlimits) a.push_back({{"type", r.type}, {"hard", r.hard}, {"soft", r.soft}});
    o["rlimits"] = std::move(a);
  }
  if (p.no_new_privileges) o["noNewPrivileges"] = true;
  put(o, "apparmorProfile", p.apparmor_profile);
  put(o, "oomScoreAdj", p.oom_score_adj);
  put(o, "selinuxLabel", p.selinux_label);
  return o;
}

ojson resources_json(const Resources& r) {
  ojson o = ojson::object();
  if (!r.devices.empty()) {
    ojson a = ojson::array();
    for (const auto& d : r.devices) {
      ojson e;
      e["allow"] = d.allow;
      put(e, "type", d.type);
      put(e, "major", d.major);
      put(e, "minor", d.minor);
      put(e, "access", d.access);
      a.push_back(std::move(e));
    }
    o["devices"] = std::move(a);
  }
  if (r.memory) {
    const auto& m = *r.memory;
    ojson e = ojson::object();
    put(e, "limit", m.limit);
    put(e, "reservation", m.reservation);
    put(e, "swap", m.swap);
    put(e, "kernel", m.kernel);
    put(e, "kernelTCP", m.kernel_tcp);
    put(e, "swappiness", m.swappiness);
    put(e, "disableOOMKiller", m.disable_oom_killer);
    put(e, "useHierarchy", m.use_hierarchy);
    put(e, "checkBeforeUpdate", m.check_before_update);
    o["memory"] = std::move(e);
  }
  if (r.cpu) {
    const auto& c = *r.cpu;
    ojson e = ojson::object();
    put(e, "shares", c.shares);
    put(e, "quota", c.quota);
    put(e, "burst", c.burst);
    put(e, "period", c.period);
    put(e, "realtimeRuntime", c.realtime_runtime);
    put(e, "realtimePeriod", c.realtime_period);
    put(e, "cpus", c.cpus);
    put(e, "mems", c.mems);
    put(e, "idle", c.idle);
    o["cpu"] = std::move(e);
  }
  if (r.pids) o["pids"] = {{"limit", r.pids->limit}};
  if (r.block_io) {
    const auto& b = *r.block_io;
    ojson e = ojson::object();
    put(e, "weight", b.weight);
    put(e, "leafWeight", b.leaf_weight);
    if (!b.weight_device.empty()) {
      ojson a = ojson::array();
      for (const auto& d : b.weight_device) {
        ojson w;
        w["major"] = d.major;
        w["minor"] = d.minor;
        put(w, "weight", d.weight);
        put(w, "leafWeight", d.leaf_weight);
        a.push_back(std::move(w));
      }
      e["weightDevice"] = std::move(a);
    }
    if (!b.throttle_read_bps.empty()) e["throttleReadBpsDevice"] = throttle(b.throttle_read_bps);
    if (!b.throttle_write_bps.empty()) e["throttleWriteBpsDevice"] = throttle(b.throttle_write_bps);
    if (!b.throttle_read_iops.empty()) e["throttleReadIOPSDevice"] = throttle(b.throttle_read_iops);
    if (!b.throttle_write_iops.empty()) e["throttleWriteIOPSDevice"] = throttle(b.throttle_write_iops);
    o["blockIO"] = std::move(e);
  }
  if (!r.hugepage_limits.empty()) {
    ojson a = ojson::array();
    for (const auto& h : r.hugepage_limits) a.push_back({{"pageSize", h.page_size}, {"limit", h.limit}});
    o["hugepageLimits"] = std::move(a);
  }
  if (r.network) {
    ojson e = ojson::object();
    put(e, "classID", r.network->class_id);
    if (!r.network->priorities.empty()) {
      ojson a = ojson::array();
      for (const auto& p : r.network->priorities) a.push_back({{"name", p.name}, {"priority", p.priority}});
      e["priorities"] = std::move(a);
    }
    o["network"] = std::move(e);
  }
  if (!r.rdma.empty()) {
    ojson e = ojson::object();
    for (const auto& [name, rd] : r.rdma) {
      ojson x = ojson::object();
      put(x, "hcaHandles", rd.hca_handles);
      put(x, "hcaObjects", rd.hca_objects);
      e[name] = std::move(x);
    }
    o["rdma"] = std::move(e);
  }
  if (!r.unified.empty()) o["unified"] = string_map(r.unified);
  return o;
}

ojson seccomp_json(const Seccomp& s) {
  ojson o;
  o["defaultAction"] = s.default_action;
  put(o, "defaultErrnoRet", s.default_errno_ret);
  put(o, "architectures", s.architectures);
  put(o, "flags", s.flags);
  put(o, "listenerPath", s.listener_path);
  put(o, "listenerMetadata", s.listener_metadata);
  if (!s.syscalls.empty()) {
    ojson a = ojson::array();
    for (const auto& sc : s.syscalls) {
      ojson e;
      e["names"] = strings(sc.names);
      e["action"] = sc.action;
      put(e, "errnoRet", sc.errno_ret);
      if (!sc.args.empty()) {
        ojson args = ojson::array();
        for (const auto& arg : sc.args) {
          ojson x;
          x["index"] = arg.index;
          x["value"] = arg.value;
          if (arg.value_two != 0) x["valueTwo"] = arg.value_two;
          x["op"] = arg.op;
          args.push_back(std::move(x));
        }
        e["args"] = std::move(args);
      }
      a.push_back(std::move(e));
    }
    o["syscalls"] = std::move(a);
  }
  return o;
}

ojson linux_json(const Linux& l) {
  ojson o = ojson::object();
  if (!l.uid_mappings.empty()) o["uidMappings"] = id_mappings(l.uid_mappings);
  if (!l.gid_mappings.empty()) o["gidMappings"] = id_mappings(l.gid_mappings);
  if (!l.sysctl.empty()) o["sysctl"] = string_map(l.sysctl);
  if (l.resources) o["resources"] = resources_json(*l.resources);
  put(o, "cgroupsPath", l.cgroups_path);
  if (!l.namespaces.empty()) {
    ojson a = ojson::array();
    for (const auto& n : l.namespaces) {
      ojson e;
      e["type"] = n.type;
      put(e, "path", n.path);
      a.push_back(std::move(e));
    }
    o["namespaces"] = std::move(a);
  }
  if (!l.time_offsets.empty()) {
    ojson e = ojson::object();
    for (const auto& [k, t] : l.time_offsets) e[k] = {{"secs", t.secs}, {"nanosecs", t.nanosecs}};
    o["timeOffsets"] = std::move(e);
  }
  if (!l.devices.empty()) {
    ojson a = ojson::array();
    for (const auto& d : l.devices) {
      ojson e;
      e["path"] = d.path;
      e["type"] = d.type;
      e["major"] = d.major;
      e["minor"] = d.minor;
      put(e, "fileMode", d.file_mode);
      put(e, "uid", d.uid);
      put(e, "gid", d.gid);
      a.push_back(std::move(e));
    }
    o["devices"] = std::move(a);
  }
  if (l.seccomp) o["seccomp"] = seccomp_json(*l.seccomp);
  put(o, "rootfsPropagation", l.rootfs_propagation);
  put(o, "maskedPaths", l.masked_paths);
  put(o, "readonlyPaths", l.readonly_paths);
  put(o, "mountLabel", l.mount_label);
  if (l.personality) {
    ojson e;
    e["domain"] = l.personality->domain;
    put(e, "flags", l.personality->flags);
    o["personality"] = std::move(e);
  }
  return o;
}

}  // namespace

Result<Spec> parse_spec(std::string_view json_text) {
  json j = json::parse(json_text, nullptr, /*allow_exceptions=*/false);
  if (j.is_discarded()) return fail(syntax_error(json_text));
  Spec spec;
  try {
    VSRV_TRY(get_spec(j, spec));
  } catch (const json::exception& e) {  // not expected: every read above checks the type first
    return fail(std::string("internal error reading config: ") + e.what());
  }
  return spec;
}

Result<Resources> parse_resources(std::string_view json_text, const std::string& path) {
  json j = json::parse(json_text, nullptr, /*allow_exceptions=*/false);
  if (j.is_discarded()) return fail(path + ": " + syntax_error(json_text));
  Resources r;
  try {
    VSRV_TRY(get(j, Path(path), r));
  } catch (const json::exception& e) {
    return fail(std::string("internal error reading resources: ") + e.what());
  }
  return r;
}

std::string resources_to_json(const Resources& r) { return resources_json(r).dump(); }

Result<Spec> load_spec(const std::string& bundle_dir) {
  std::string file = bundle_dir.empty() ? "config.json" : bundle_dir + "/config.json";
  auto text = sys::read_file(file);
  if (!text) return forward(std::move(text).error(), "load config");
  auto spec = parse_spec(*text);
  if (!spec) return forward(std::move(spec).error(), file);
  return spec;
}

std::string to_json(const Spec& s, int indent) {
  ojson o;
  o["ociVersion"] = s.oci_version;
  if (s.process) o["process"] = process_json(*s.process);
  {
    ojson r;
    r["path"] = s.root.path;
    if (s.root.readonly) r["readonly"] = true;
    o["root"] = std::move(r);
  }
  put(o, "hostname", s.hostname);
  put(o, "domainname", s.domainname);
  if (!s.mounts.empty()) {
    ojson a = ojson::array();
    for (const auto& m : s.mounts) {
      ojson e;
      e["destination"] = m.destination;
      put(e, "type", m.type);
      put(e, "source", m.source);
      put(e, "options", m.options);
      a.push_back(std::move(e));
    }
    o["mounts"] = std::move(a);
  }
  {
    const Hooks& h = s.hooks;
    ojson e = ojson::object();
    if (!h.prestart.empty()) e["prestart"] = hook_list(h.prestart);
    if (!h.create_runtime.empty()) e["createRuntime"] = hook_list(h.create_runtime);
    if (!h.create_container.empty()) e["createContainer"] = hook_list(h.create_container);
    if (!h.start_container.empty()) e["startContainer"] = hook_list(h.start_container);
    if (!h.poststart.empty()) e["poststart"] = hook_list(h.poststart);
    if (!h.poststop.empty()) e["poststop"] = hook_list(h.poststop);
    if (!e.empty()) o["hooks"] = std::move(e);
  }
  if (!s.annotations.empty()) o["annotations"] = string_map(s.annotations);
  if (s.linux) o["linux"] = linux_json(*s.linux);
  // Strings in a config are not guaranteed UTF-8: replace bad bytes instead of throwing.
  return o.dump(indent, ' ', /*ensure_ascii=*/false, ojson::error_handler_t::replace);
}

Spec default_spec(bool rootless) {
  Spec s;
  s.oci_version = "1.2.0";

  Process p;
  p.terminal = true;
  p.args = {"sh"};
  p.env = {"PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin", "TERM=xterm"};
  p.cwd = "/";
  // No inheritable and no ambient set: a process that execs a file capability binary must not
  // gain more than the bounding set allows (CVE-2022-29162, runc >= 1.1.2).
  const std::vector<std::string> caps = {"CAP_AUDIT_WRITE", "CAP_KILL", "CAP_NET_BIND_SERVICE"};
  p.capabilities = Capabilities{.bounding = caps, .effective = caps, .inheritable = {}, .permitted = caps, .ambient = {}};
  p.rlimits = {Rlimit{.type = "RLIMIT_NOFILE", .hard = 1024, .soft = 1024}};
  p.no_new_privileges = true;
  s.process = std::move(p);

  s.root = Root{.path = "rootfs", .readonly = true};
  s.hostname = "vsrv";

  s.mounts = {
      {"/proc", "proc", "proc", {}},
      {"/dev", "tmpfs", "tmpfs", {"nosuid", "strictatime", "mode=755", "size=65536k"}},
      {"/dev/pts", "devpts", "devpts", {"nosuid", "noexec", "newinstance", "ptmxmode=0666", "mode=0620", "gid=5"}},
      {"/dev/shm", "tmpfs", "shm", {"nosuid", "noexec", "nodev", "mode=1777", "size=65536k"}},
      {"/dev/mqueue", "mqueue", "mqueue", {"nosuid", "noexec", "nodev"}},
      {"/sys", "sysfs", "sysfs", {"nosuid", "noexec", "nodev", "ro"}},
      {"/sys/fs/cgroup", "cgroup", "cgroup", {"nosuid", "noexec", "nodev", "relatime", "ro"}},
  };

  Linux l;
  Resources r;
  r.devices = {DeviceRule{.allow = false, .type = {}, .major = {}, .minor = {}, .access = "rwm"}};
  l.resources = std::move(r);
  l.namespaces = {{"pid", ""}, {"network", ""}, {"ipc", ""}, {"uts", ""}, {"mount", ""}, {"cgroup", ""}};
  l.masked_paths = {"/proc/acpi",        "/proc/asound",     "/proc/kcore",       "/proc/keys",
                    "/proc/latency_stats", "/proc/timer_list", "/proc/timer_stats", "/proc/sched_debug",
                    "/sys/firmware",     "/proc/scsi"};
  l.readonly_paths = {"/proc/bus", "/proc/fs", "/proc/irq", "/proc/sys", "/proc/sysrq-trigger"};

  if (rootless) {
    // runc's specconv.ToRootless: no network namespace, a new user namespace mapping the caller
    // to root, /sys as a read-only rbind (sysfs cannot be mounted without owning the netns),
    // no uid=/gid= mount options, no cgroup resources.
    std::vector<Namespace> ns;
    for (auto& n : l.namespaces)
      if (n.type != "network" && n.type != "user") ns.push_back(std::move(n));
    ns.push_back({"user", ""});
    l.namespaces = std::move(ns);
    l.uid_mappings = {IdMapping{.container_id = 0, .host_id = static_cast<std::uint32_t>(::geteuid()), .size = 1}};
    l.gid_mappings = {IdMapping{.container_id = 0, .host_id = static_cast<std::uint32_t>(::getegid()), .size = 1}};
    for (auto& m : s.mounts) {
      if (m.destination == "/sys") {
        m = Mount{"/sys", "none", "/sys", {"rbind", "nosuid", "noexec", "nodev", "ro"}};
        continue;
      }
      std::erase_if(m.options, [](const std::string& o) { return o.starts_with("gid=") || o.starts_with("uid="); });
    }
    l.resources.reset();
  }
  s.linux = std::move(l);
  return s;
}

}  // namespace vsrv::oci
