// config/oci_spec.h: plain structs for an OCI runtime-spec 1.2 config.json (Linux fields).
// Pure data: no behaviour beyond parsing (oci_spec.cpp) and validation (validate.cpp).
// Optional fields are std::optional so the planner can tell "absent" from "zero".
#pragma once
#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include "runtime/sys/error.h"

namespace vsrv::oci {

struct Rlimit {
  std::string type;  // "RLIMIT_NOFILE"
  std::uint64_t hard = 0, soft = 0;
};

struct Capabilities {
  std::vector<std::string> bounding, effective, inheritable, permitted, ambient;
};

struct User {
  std::uint32_t uid = 0, gid = 0;
  std::optional<std::uint32_t> umask;
  std::vector<std::uint32_t> additional_gids;
  std::string username;  // optional, informational (Windows in the spec); names come from `user` strings in vsrv TOML
};

struct ConsoleSize {
  unsigned height = 0, width = 0;
};

struct Process {
  bool terminal = false;
  std::optional<ConsoleSize> console_size;
  User user;
  std::vector<std::string> args;
  std::vector<std::string> env;
  std::string cwd = "/";
  std::optional<Capabilities> capabilities;
  std::vector<Rlimit> rlimits;
  bool no_new_privileges = false;
  std::string apparmor_profile;
  std::optional<int> oom_score_adj;
  std::string selinux_label;
};

struct Root {
  std::string path;  // relative to the bundle, or absolute
  bool readonly = false;
};

struct Mount {
  std::string destination;
  std::string type;
  std::string source;
  std::vector<std::string> options;
  // idmapped mounts (spec 1.1+): uidMappings/gidMappings on the mount.
};

struct Hook {
  std::string path;
  std::vector<std::string> args;
  std::vector<std::string> env;
  std::optional<int> timeout;  // seconds
};

struct Hooks {
  std::vector<Hook> prestart, create_runtime, create_container, start_container, poststart, poststop;
};

struct IdMapping {
  std::uint32_t container_id = 0, host_id = 0, size = 0;
};

struct Namespace {
  std::string type;  // pid network mount ipc uts user cgroup time
  std::string path;  // empty: create a new one
};

struct Device {
  std::string type;  // c b u p
  std::string path;
  std::int64_t major = 0, minor = 0;
  std::optional<std::uint32_t> file_mode;
  std::optional<std::uint32_t> uid, gid;
};

// ---- linux.resources (cgroups) ----
struct DeviceRule {
  bool allow = false;
  std::string type;  // a c b; empty = all
  std::optional<std::int64_t> major, minor;
  std::string access;  // rwm
};
struct Memory {
  std::optional<std::int64_t> limit, reservation, swap, kernel, kernel_tcp;
  std::optional<std::uint64_t> swappiness;
  std::optional<bool> disable_oom_killer, use_hierarchy, check_before_update;
};
struct Cpu {
  std::optional<std::uint64_t> shares;
  std::optional<std::int64_t> quota;
  std::optional<std::uint64_t> burst, period;
  std::optional<std::int64_t> realtime_runtime;
  std::optional<std::uint64_t> realtime_period;
  std::string cpus, mems;
  std::optional<std::int64_t> idle;
};
struct Pids {
  std::int64_t limit = 0;
};
struct WeightDevice {
  std::int64_t major = 0, minor = 0;
  std::optional<std::uint16_t> weight, leaf_weight;
};
struct ThrottleDevice {
  std::int64_t major = 0, minor = 0;
  std::uint64_t rate = 0;
};
struct BlockIO {
  std::optional<std::uint16_t> weight, leaf_weight;
  std::vector<WeightDevice> weight_device;
  std::vector<ThrottleDevice> throttle_read_bps, throttle_write_bps, throttle_read_iops, throttle_write_iops;
};
struct HugepageLimit {
  std::string page_size;  // "2MB"
  std::uint64_t limit = 0;
};
struct NetPriority {
  std::string name;
  std::uint32_t priority = 0;
};
struct Network {
  std::optional<std::uint32_t> class_id;
  std::vector<NetPriority> priorities;
};
struct Rdma {
  std::optional<std::uint32_t> hca_handles, hca_objects;
};
struct Resources {
  std::vector<DeviceRule> devices;
  std::optional<Memory> memory;
  std::optional<Cpu> cpu;
  std::optional<Pids> pids;
  std::optional<BlockIO> block_io;
  std::vector<HugepageLimit> hugepage_limits;
  std::optional<Network> network;
  std::map<std::string, Rdma> rdma;
  std::map<std::string, std::string> unified;
};

// ---- seccomp ----
struct SeccompArg {
  unsigned index = 0;
  std::uint64_t value = 0, value_two = 0;
  std::string op;  // SCMP_CMP_EQ ...
};
struct SeccompSyscall {
  std::vector<std::string> names;
  std::string action;
  std::optional<std::uint32_t> errno_ret;
  std::vector<SeccompArg> args;
};
struct Seccomp {
  std::string default_action;
  std::optional<std::uint32_t> default_errno_ret;
  std::vector<std::string> architectures;
  std::vector<std::string> flags;
  std::string listener_path;
  std::string listener_metadata;
  std::vector<SeccompSyscall> syscalls;
};

struct Personality {
  std::string domain;  // LINUX LINUX32
  std::vector<std::string> flags;
};

struct TimeOffset {
  std::int64_t secs = 0;
  std::uint32_t nanosecs = 0;
};

struct Linux {
  std::vector<Namespace> namespaces;
  std::vector<IdMapping> uid_mappings, gid_mappings;
  std::map<std::string, TimeOffset> time_offsets;  // "monotonic", "boottime"
  std::vector<Device> devices;
  std::string cgroups_path;
  std::optional<Resources> resources;
  std::string rootfs_propagation;
  std::optional<Seccomp> seccomp;
  std::map<std::string, std::string> sysctl;
  std::vector<std::string> masked_paths, readonly_paths;
  std::string mount_label;
  std::optional<Personality> personality;
};

struct Spec {
  std::string oci_version;
  std::optional<Process> process;
  Root root;
  std::string hostname;
  std::string domainname;
  std::vector<Mount> mounts;
  Hooks hooks;
  std::map<std::string, std::string> annotations;
  std::optional<Linux> linux;
};

// Parses config.json text. Errors name the field by JSON path: "process.args[0]: expected string".
Result<Spec> parse_spec(std::string_view json_text);
// Parses a linux.resources object on its own (`vsrv update --resources`); errors name `path`.
Result<Resources> parse_resources(std::string_view json_text, const std::string& path);
std::string resources_to_json(const Resources& r);
// Reads and parses <bundle>/config.json.
Result<Spec> load_spec(const std::string& bundle_dir);
// Serialises (used by `spec` and the state file's copy of annotations).
std::string to_json(const Spec& spec, int indent = 2);
// The default config.json written by `vsrv spec` (runc-compatible; --rootless variant).
Spec default_spec(bool rootless);

}  // namespace vsrv::oci
