// Unit tests for config/oci_spec.cpp (parse, to_json, default_spec, load_spec) and
// config/validate.cpp. No root needed: bundles are temporary directories.
#include <gtest/gtest.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <filesystem>
#include <functional>
#include <fstream>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "config/oci_spec.h"
#include "config/validate.h"

namespace vsrv {
namespace {

using oci::parse_spec;

std::string parse_error(std::string_view text) {
  auto r = parse_spec(text);
  if (r) return "<parsed>";
  return r.error().message();
}

bool has(const std::vector<std::string>& v, std::string_view s) {
  return std::find(v.begin(), v.end(), s) != v.end();
}

std::string join(const std::vector<std::string>& v) {
  std::string out;
  for (const auto& s : v) out += "\n  " + s;
  return out;
}

// A temporary bundle directory with an empty rootfs/ in it; removed on destruction.
class TempBundle {
 public:
  TempBundle() {
    char tmpl[] = "/tmp/vsrv-config-test-XXXXXX";
    dir_ = ::mkdtemp(tmpl);
    std::filesystem::create_directory(dir_ + "/rootfs");
  }
  ~TempBundle() {
    std::error_code ec;
    std::filesystem::remove_all(dir_, ec);
  }
  const std::string& dir() const { return dir_; }
  void write(const std::string& name, const std::string& text) const { std::ofstream(dir_ + "/" + name) << text; }

 private:
  std::string dir_;
};

// ---------------------------------------------------------------- parse: success

TEST(ParseSpec, Minimal) {
  auto s = parse_spec(R"({"ociVersion":"1.2.0","root":{"path":"rootfs"},"process":{"args":["sh"],"cwd":"/"}})");
  ASSERT_TRUE(s) << s.error().message();
  EXPECT_EQ(s->oci_version, "1.2.0");
  EXPECT_EQ(s->root.path, "rootfs");
  EXPECT_FALSE(s->root.readonly);
  ASSERT_TRUE(s->process);
  EXPECT_EQ(s->process->args, std::vector<std::string>{"sh"});
  EXPECT_FALSE(s->linux);
  EXPECT_TRUE(s->mounts.empty());
}

TEST(ParseSpec, EmptyObjectParses) {
  auto s = parse_spec("{}");
  ASSERT_TRUE(s);
  EXPECT_TRUE(s->oci_version.empty());
  EXPECT_FALSE(s->process);
}

TEST(ParseSpec, UnknownKeysAreIgnored) {
  auto s = parse_spec(R"({"ociVersion":"1.2.0","vendorThing":{"x":[1,2]},
      "process":{"args":["a"],"cwd":"/","ioPriority":{"class":"IOPRIO_CLASS_RT"},"scheduler":{}},
      "linux":{"intelRdt":{},"netDevices":{}}})");
  ASSERT_TRUE(s) << s.error().message();
  EXPECT_TRUE(s->linux);
}

TEST(ParseSpec, NullMeansAbsent) {
  auto s = parse_spec(R"({"ociVersion":"1.2.0","process":null,"hostname":null,"mounts":null,
      "linux":{"resources":{"memory":{"limit":null,"swap":5}}}})");
  ASSERT_TRUE(s) << s.error().message();
  EXPECT_FALSE(s->process);
  EXPECT_EQ(s->hostname, "");
  ASSERT_TRUE(s->linux && s->linux->resources && s->linux->resources->memory);
  EXPECT_FALSE(s->linux->resources->memory->limit);
  EXPECT_EQ(s->linux->resources->memory->swap, 5);
}

TEST(ParseSpec, MissingCwdStaysEmptySoValidateCanReportIt) {
  auto s = parse_spec(R"({"process":{"args":["a"]}})");
  ASSERT_TRUE(s);
  EXPECT_EQ(s->process->cwd, "");
}

TEST(ParseSpec, NegativeMemoryLimitIsAllowed) {
  auto s = parse_spec(R"({"linux":{"resources":{"memory":{"limit":-1,"swap":-1}}}})");
  ASSERT_TRUE(s) << s.error().message();
  EXPECT_EQ(s->linux->resources->memory->limit, -1);
}

TEST(ParseSpec, Uint64MaxFitsUnsignedFields) {
  auto s = parse_spec(R"({"process":{"rlimits":[{"type":"RLIMIT_NOFILE","hard":18446744073709551615,"soft":0}]}})");
  ASSERT_TRUE(s) << s.error().message();
  EXPECT_EQ(s->process->rlimits[0].hard, 18446744073709551615ull);
}

constexpr const char* kFull = R"({
  "ociVersion": "1.2.0",
  "process": {
    "terminal": true,
    "consoleSize": {"height": 24, "width": 80},
    "user": {"uid": 1000, "gid": 1001, "umask": 18, "additionalGids": [5, 6], "username": "me"},
    "args": ["/bin/app", "--flag"],
    "env": ["PATH=/bin", "A=b"],
    "cwd": "/work",
    "capabilities": {"bounding": ["CAP_KILL"], "effective": ["CAP_KILL"], "inheritable": ["CAP_CHOWN"],
                     "permitted": ["CAP_KILL"], "ambient": ["CAP_NET_RAW"]},
    "rlimits": [{"type": "RLIMIT_NOFILE", "hard": 4096, "soft": 1024}],
    "noNewPrivileges": true,
    "apparmorProfile": "docker-default",
    "oomScoreAdj": -500,
    "selinuxLabel": "system_u:system_r:container_t:s0"
  },
  "root": {"path": "/var/lib/rootfs", "readonly": true},
  "hostname": "box",
  "domainname": "example.org",
  "mounts": [
    {"destination": "/proc", "type": "proc", "source": "proc"},
    {"destination": "/data", "type": "none", "source": "/srv/data", "options": ["rbind", "ro"]}
  ],
  "hooks": {
    "prestart": [{"path": "/usr/bin/hook", "args": ["hook", "pre"], "env": ["X=1"], "timeout": 5}],
    "createRuntime": [{"path": "/a"}],
    "createContainer": [{"path": "/b"}],
    "startContainer": [{"path": "/c"}],
    "poststart": [{"path": "/d"}],
    "poststop": [{"path": "/e"}]
  },
  "annotations": {"org.example.key": "value"},
  "linux": {
    "namespaces": [{"type": "pid"}, {"type": "network", "path": "/run/netns/x"}, {"type": "mount"},
                   {"type": "user"}, {"type": "uts"}, {"type": "ipc"}, {"type": "time"}],
    "uidMappings": [{"containerID": 0, "hostID": 100000, "size": 65536}],
    "gidMappings": [{"containerID": 0, "hostID": 200000, "size": 65536}],
    "timeOffsets": {"monotonic": {"secs": -10, "nanosecs": 500}},
    "devices": [{"type": "c", "path": "/dev/fuse", "major": 10, "minor": 229, "fileMode": 438, "uid": 0, "gid": 0}],
    "cgroupsPath": "/vsrv/box",
    "resources": {
      "devices": [{"allow": false, "access": "rwm"}, {"allow": true, "type": "c", "major": 10, "minor": 229, "access": "rw"}],
      "memory": {"limit": 536870912, "reservation": 1, "swap": 2, "kernel": 3, "kernelTCP": 4, "swappiness": 60,
                 "disableOOMKiller": true, "useHierarchy": false, "checkBeforeUpdate": true},
      "cpu": {"shares": 1024, "quota": 50000, "burst": 10, "period": 100000, "realtimeRuntime": 7,
              "realtimePeriod": 8, "cpus": "0-1", "mems": "0", "idle": 1},
      "pids": {"limit": 100},
      "blockIO": {"weight": 500, "leafWeight": 300,
                  "weightDevice": [{"major": 8, "minor": 0, "weight": 200, "leafWeight": 100}],
                  "throttleReadBpsDevice": [{"major": 8, "minor": 0, "rate": 1048576}],
                  "throttleWriteBpsDevice": [{"major": 8, "minor": 1, "rate": 2}],
                  "throttleReadIOPSDevice": [{"major": 8, "minor": 2, "rate": 3}],
                  "throttleWriteIOPSDevice": [{"major": 8, "minor": 3, "rate": 4}]},
      "hugepageLimits": [{"pageSize": "2MB", "limit": 209715200}],
      "network": {"classID": 1048577, "priorities": [{"name": "eth0", "priority": 500}]},
      "rdma": {"mlx5_1": {"hcaHandles": 3, "hcaObjects": 10000}},
      "unified": {"io.weight": "default 100"}
    },
    "rootfsPropagation": "rslave",
    "seccomp": {
      "defaultAction": "SCMP_ACT_ERRNO", "defaultErrnoRet": 1,
      "architectures": ["SCMP_ARCH_X86_64"], "flags": ["SECCOMP_FILTER_FLAG_LOG"],
      "listenerPath": "/run/seccomp.sock", "listenerMetadata": "meta",
      "syscalls": [{"names": ["read", "write"], "action": "SCMP_ACT_ALLOW"},
                   {"names": ["personality"], "action": "SCMP_ACT_ERRNO", "errnoRet": 38,
                    "args": [{"index": 0, "value": 8, "valueTwo": 9, "op": "SCMP_CMP_MASKED_EQ"}]}]
    },
    "sysctl": {"net.ipv4.ip_forward": "1"},
    "maskedPaths": ["/proc/kcore"],
    "readonlyPaths": ["/proc/sys"],
    "mountLabel": "system_u:object_r:container_file_t:s0",
    "personality": {"domain": "LINUX32", "flags": ["x"]}
  }
})";

TEST(ParseSpec, EveryField) {
  auto r = parse_spec(kFull);
  ASSERT_TRUE(r) << r.error().message();
  const oci::Spec& s = *r;
  const auto& p = *s.process;
  EXPECT_TRUE(p.terminal);
  ASSERT_TRUE(p.console_size);
  EXPECT_EQ(p.console_size->height, 24u);
  EXPECT_EQ(p.console_size->width, 80u);
  EXPECT_EQ(p.user.uid, 1000u);
  EXPECT_EQ(p.user.gid, 1001u);
  EXPECT_EQ(p.user.umask, 18u);
  EXPECT_EQ(p.user.additional_gids, (std::vector<std::uint32_t>{5, 6}));
  EXPECT_EQ(p.user.username, "me");
  EXPECT_EQ(p.args, (std::vector<std::string>{"/bin/app", "--flag"}));
  EXPECT_EQ(p.env, (std::vector<std::string>{"PATH=/bin", "A=b"}));
  EXPECT_EQ(p.cwd, "/work");
  ASSERT_TRUE(p.capabilities);
  EXPECT_EQ(p.capabilities->inheritable, std::vector<std::string>{"CAP_CHOWN"});
  EXPECT_EQ(p.capabilities->ambient, std::vector<std::string>{"CAP_NET_RAW"});
  ASSERT_EQ(p.rlimits.size(), 1u);
  EXPECT_EQ(p.rlimits[0].type, "RLIMIT_NOFILE");
  EXPECT_EQ(p.rlimits[0].hard, 4096u);
  EXPECT_EQ(p.rlimits[0].soft, 1024u);
  EXPECT_TRUE(p.no_new_privileges);
  EXPECT_EQ(p.apparmor_profile, "docker-default");
  EXPECT_EQ(p.oom_score_adj, -500);
  EXPECT_EQ(p.selinux_label, "system_u:system_r:container_t:s0");

  EXPECT_EQ(s.root.path, "/var/lib/rootfs");
  EXPECT_TRUE(s.root.readonly);
  EXPECT_EQ(s.hostname, "box");
  EXPECT_EQ(s.domainname, "example.org");
  ASSERT_EQ(s.mounts.size(), 2u);
  EXPECT_EQ(s.mounts[1].destination, "/data");
  EXPECT_EQ(s.mounts[1].type, "none");
  EXPECT_EQ(s.mounts[1].source, "/srv/data");
  EXPECT_EQ(s.mounts[1].options, (std::vector<std::string>{"rbind", "ro"}));

  ASSERT_EQ(s.hooks.prestart.size(), 1u);
  EXPECT_EQ(s.hooks.prestart[0].path, "/usr/bin/hook");
  EXPECT_EQ(s.hooks.prestart[0].args, (std::vector<std::string>{"hook", "pre"}));
  EXPECT_EQ(s.hooks.prestart[0].env, std::vector<std::string>{"X=1"});
  EXPECT_EQ(s.hooks.prestart[0].timeout, 5);
  EXPECT_EQ(s.hooks.create_runtime.at(0).path, "/a");
  EXPECT_EQ(s.hooks.create_container.at(0).path, "/b");
  EXPECT_EQ(s.hooks.start_container.at(0).path, "/c");
  EXPECT_EQ(s.hooks.poststart.at(0).path, "/d");
  EXPECT_EQ(s.hooks.poststop.at(0).path, "/e");
  EXPECT_EQ(s.annotations.at("org.example.key"), "value");

  ASSERT_TRUE(s.linux);
  const auto& l = *s.linux;
  ASSERT_EQ(l.namespaces.size(), 7u);
  EXPECT_EQ(l.namespaces[1].type, "network");
  EXPECT_EQ(l.namespaces[1].path, "/run/netns/x");
  EXPECT_EQ(l.uid_mappings.at(0).host_id, 100000u);
  EXPECT_EQ(l.uid_mappings.at(0).size, 65536u);
  EXPECT_EQ(l.gid_mappings.at(0).host_id, 200000u);
  EXPECT_EQ(l.time_offsets.at("monotonic").secs, -10);
  EXPECT_EQ(l.time_offsets.at("monotonic").nanosecs, 500u);
  ASSERT_EQ(l.devices.size(), 1u);
  EXPECT_EQ(l.devices[0].type, "c");
  EXPECT_EQ(l.devices[0].major, 10);
  EXPECT_EQ(l.devices[0].minor, 229);
  EXPECT_EQ(l.devices[0].file_mode, 438u);
  EXPECT_EQ(l.devices[0].uid, 0u);
  EXPECT_EQ(l.cgroups_path, "/vsrv/box");

  ASSERT_TRUE(l.resources);
  const auto& res = *l.resources;
  ASSERT_EQ(res.devices.size(), 2u);
  EXPECT_FALSE(res.devices[0].allow);
  EXPECT_FALSE(res.devices[0].major);
  EXPECT_TRUE(res.devices[1].allow);
  EXPECT_EQ(res.devices[1].major, 10);
  EXPECT_EQ(res.devices[1].access, "rw");
  ASSERT_TRUE(res.memory);
  EXPECT_EQ(res.memory->limit, 536870912);
  EXPECT_EQ(res.memory->kernel_tcp, 4);
  EXPECT_EQ(res.memory->swappiness, 60u);
  EXPECT_EQ(res.memory->disable_oom_killer, true);
  EXPECT_EQ(res.memory->use_hierarchy, false);
  EXPECT_EQ(res.memory->check_before_update, true);
  ASSERT_TRUE(res.cpu);
  EXPECT_EQ(res.cpu->shares, 1024u);
  EXPECT_EQ(res.cpu->quota, 50000);
  EXPECT_EQ(res.cpu->burst, 10u);
  EXPECT_EQ(res.cpu->period, 100000u);
  EXPECT_EQ(res.cpu->realtime_runtime, 7);
  EXPECT_EQ(res.cpu->realtime_period, 8u);
  EXPECT_EQ(res.cpu->cpus, "0-1");
  EXPECT_EQ(res.cpu->mems, "0");
  EXPECT_EQ(res.cpu->idle, 1);
  EXPECT_EQ(res.pids->limit, 100);
  ASSERT_TRUE(res.block_io);
  EXPECT_EQ(res.block_io->weight, 500);
  EXPECT_EQ(res.block_io->leaf_weight, 300);
  EXPECT_EQ(res.block_io->weight_device.at(0).leaf_weight, 100);
  EXPECT_EQ(res.block_io->throttle_read_bps.at(0).rate, 1048576u);
  EXPECT_EQ(res.block_io->throttle_write_bps.at(0).minor, 1);
  EXPECT_EQ(res.block_io->throttle_read_iops.at(0).rate, 3u);
  EXPECT_EQ(res.block_io->throttle_write_iops.at(0).rate, 4u);
  EXPECT_EQ(res.hugepage_limits.at(0).page_size, "2MB");
  EXPECT_EQ(res.hugepage_limits.at(0).limit, 209715200u);
  EXPECT_EQ(res.network->class_id, 1048577u);
  EXPECT_EQ(res.network->priorities.at(0).name, "eth0");
  EXPECT_EQ(res.network->priorities.at(0).priority, 500u);
  EXPECT_EQ(res.rdma.at("mlx5_1").hca_handles, 3u);
  EXPECT_EQ(res.rdma.at("mlx5_1").hca_objects, 10000u);
  EXPECT_EQ(res.unified.at("io.weight"), "default 100");

  EXPECT_EQ(l.rootfs_propagation, "rslave");
  ASSERT_TRUE(l.seccomp);
  EXPECT_EQ(l.seccomp->default_action, "SCMP_ACT_ERRNO");
  EXPECT_EQ(l.seccomp->default_errno_ret, 1u);
  EXPECT_EQ(l.seccomp->architectures, std::vector<std::string>{"SCMP_ARCH_X86_64"});
  EXPECT_EQ(l.seccomp->flags, std::vector<std::string>{"SECCOMP_FILTER_FLAG_LOG"});
  EXPECT_EQ(l.seccomp->listener_path, "/run/seccomp.sock");
  EXPECT_EQ(l.seccomp->listener_metadata, "meta");
  ASSERT_EQ(l.seccomp->syscalls.size(), 2u);
  EXPECT_EQ(l.seccomp->syscalls[1].errno_ret, 38u);
  EXPECT_EQ(l.seccomp->syscalls[1].args.at(0).value, 8u);
  EXPECT_EQ(l.seccomp->syscalls[1].args.at(0).value_two, 9u);
  EXPECT_EQ(l.seccomp->syscalls[1].args.at(0).op, "SCMP_CMP_MASKED_EQ");
  EXPECT_EQ(l.sysctl.at("net.ipv4.ip_forward"), "1");
  EXPECT_EQ(l.masked_paths, std::vector<std::string>{"/proc/kcore"});
  EXPECT_EQ(l.readonly_paths, std::vector<std::string>{"/proc/sys"});
  EXPECT_EQ(l.mount_label, "system_u:object_r:container_file_t:s0");
  ASSERT_TRUE(l.personality);
  EXPECT_EQ(l.personality->domain, "LINUX32");
  EXPECT_EQ(l.personality->flags, std::vector<std::string>{"x"});
}

// ---------------------------------------------------------------- round trips

TEST(ToJson, FullSpecIsAFixedPoint) {
  auto a = parse_spec(kFull);
  ASSERT_TRUE(a);
  std::string once = oci::to_json(*a);
  auto b = parse_spec(once);
  ASSERT_TRUE(b) << b.error().message() << "\n" << once;
  EXPECT_EQ(oci::to_json(*b), once);
  // Spot-check fields that only survive if to_json wrote them back.
  EXPECT_EQ(b->linux->resources->rdma.at("mlx5_1").hca_objects, 10000u);
  EXPECT_EQ(b->linux->seccomp->syscalls[1].args.at(0).value_two, 9u);
  EXPECT_EQ(b->linux->time_offsets.at("monotonic").secs, -10);
  EXPECT_EQ(b->process->console_size->width, 80u);
  EXPECT_EQ(b->process->user.umask, 18u);
  EXPECT_EQ(b->hooks.poststop.at(0).path, "/e");
  EXPECT_EQ(b->linux->resources->memory->use_hierarchy, false);
}

TEST(ToJson, DefaultSpecRoundTrips) {
  for (bool rootless : {false, true}) {
    auto spec = oci::default_spec(rootless);
    std::string text = oci::to_json(spec);
    auto back = parse_spec(text);
    ASSERT_TRUE(back) << back.error().message();
    EXPECT_EQ(oci::to_json(*back), text);
  }
}

TEST(ToJson, OmitsAbsentOptionals) {
  oci::Spec s;
  s.oci_version = "1.2.0";
  s.root.path = "rootfs";
  std::string text = oci::to_json(s);
  EXPECT_EQ(text.find("process"), std::string::npos) << text;
  EXPECT_EQ(text.find("linux"), std::string::npos) << text;
  EXPECT_EQ(text.find("hooks"), std::string::npos) << text;
  EXPECT_EQ(text.find("readonly"), std::string::npos) << text;
  EXPECT_EQ(text.find("hostname"), std::string::npos) << text;

  oci::Linux l;
  l.resources = oci::Resources{};
  l.resources->memory = oci::Memory{};
  l.resources->memory->limit = 100;
  s.linux = l;
  text = oci::to_json(s, -1);
  EXPECT_NE(text.find(R"("memory":{"limit":100})"), std::string::npos) << text;
}

TEST(ToJson, KeysInSpecOrderAndCompactMode) {
  oci::Spec s;
  s.oci_version = "1.2.0";
  s.root.path = "r";
  s.hostname = "h";
  EXPECT_EQ(oci::to_json(s, -1), R"({"ociVersion":"1.2.0","root":{"path":"r"},"hostname":"h"})");
}

TEST(ToJson, InvalidUtf8DoesNotThrow) {
  oci::Spec s;
  s.hostname = "bad\xff";
  std::string text;
  EXPECT_NO_THROW(text = oci::to_json(s));
  EXPECT_TRUE(parse_spec(text));
}

// ---------------------------------------------------------------- parse: errors name the JSON path

TEST(ParseSpecErrors, SyntaxErrorSaysWhere) {
  std::string e = parse_error("{\"process\": {\"args\": [");
  EXPECT_EQ(e.rfind("invalid JSON: ", 0), 0u) << e;
  EXPECT_NE(e.find("line 1"), std::string::npos) << e;
}

TEST(ParseSpecErrors, EmptyInput) { EXPECT_EQ(parse_error("").rfind("invalid JSON", 0), 0u); }

TEST(ParseSpecErrors, TrailingGarbage) { EXPECT_EQ(parse_error("{} x").rfind("invalid JSON", 0), 0u); }

TEST(ParseSpecErrors, TopLevelMustBeObject) {
  EXPECT_EQ(parse_error("[]"), "expected a JSON object at the top level, got array");
}

TEST(ParseSpecErrors, ArgIsNumber) {
  EXPECT_EQ(parse_error(R"({"process":{"args":["a",1]}})"), "process.args[1]: expected string, got number");
}

TEST(ParseSpecErrors, OciVersionIsNumber) {
  EXPECT_EQ(parse_error(R"({"ociVersion":1})"), "ociVersion: expected string, got number");
}

TEST(ParseSpecErrors, ProcessIsString) {
  EXPECT_EQ(parse_error(R"({"process":"sh"})"), "process: expected object, got string");
}

TEST(ParseSpecErrors, EnvIsString) {
  EXPECT_EQ(parse_error(R"({"process":{"env":"A=b"}})"), "process.env: expected array, got string");
}

TEST(ParseSpecErrors, TerminalIsString) {
  EXPECT_EQ(parse_error(R"({"process":{"terminal":"yes"}})"), "process.terminal: expected boolean, got string");
}

TEST(ParseSpecErrors, NegativeUid) {
  EXPECT_EQ(parse_error(R"({"process":{"user":{"uid":-1}}})"), "process.user.uid: -1 is out of range (0..4294967295)");
}

TEST(ParseSpecErrors, UidTooLarge) {
  EXPECT_EQ(parse_error(R"({"process":{"user":{"uid":4294967296}}})"),
            "process.user.uid: 4294967296 is out of range (0..4294967295)");
}

TEST(ParseSpecErrors, FractionalNumber) {
  EXPECT_EQ(parse_error(R"({"process":{"user":{"gid":1.5}}})"),
            "process.user.gid: expected integer, got number 1.5");
}

TEST(ParseSpecErrors, IntegerBeyondUint64) {
  EXPECT_EQ(parse_error(R"({"process":{"rlimits":[{"hard":18446744073709551616}]}})"),
            "process.rlimits[0].hard: expected integer, got number 1.8446744073709552e+19");
}

TEST(ParseSpecErrors, AdditionalGidIsString) {
  EXPECT_EQ(parse_error(R"({"process":{"user":{"additionalGids":[1,"2"]}}})"),
            "process.user.additionalGids[1]: expected integer, got string");
}

TEST(ParseSpecErrors, OomScoreAdjOutOfIntRange) {
  EXPECT_EQ(parse_error(R"({"process":{"oomScoreAdj":-3000000000}})"),
            "process.oomScoreAdj: -3000000000 is out of range (-2147483648..2147483647)");
}

TEST(ParseSpecErrors, CapabilityIsNumber) {
  EXPECT_EQ(parse_error(R"({"process":{"capabilities":{"permitted":["CAP_KILL",7]}}})"),
            "process.capabilities.permitted[1]: expected string, got number");
}

TEST(ParseSpecErrors, RlimitHardIsString) {
  EXPECT_EQ(parse_error(R"({"process":{"rlimits":[{"type":"RLIMIT_NOFILE","hard":"1024"}]}})"),
            "process.rlimits[0].hard: expected integer, got string");
}

TEST(ParseSpecErrors, RootReadonlyIsNumber) {
  EXPECT_EQ(parse_error(R"({"root":{"path":"r","readonly":1}})"), "root.readonly: expected boolean, got number");
}

TEST(ParseSpecErrors, MountOption) {
  EXPECT_EQ(parse_error(R"({"mounts":[{"destination":"/a"},{"destination":"/b","options":["ro",false]}]})"),
            "mounts[1].options[1]: expected string, got boolean");
}

TEST(ParseSpecErrors, MountIsArray) {
  EXPECT_EQ(parse_error(R"({"mounts":[[]]})"), "mounts[0]: expected object, got array");
}

TEST(ParseSpecErrors, HookTimeout) {
  EXPECT_EQ(parse_error(R"({"hooks":{"poststop":[{"path":"/x","timeout":"5"}]}})"),
            "hooks.poststop[0].timeout: expected integer, got string");
}

TEST(ParseSpecErrors, AnnotationValue) {
  EXPECT_EQ(parse_error(R"({"annotations":{"a":"b","c":true}})"), "annotations.c: expected string, got boolean");
}

TEST(ParseSpecErrors, LinuxIsArray) {
  EXPECT_EQ(parse_error(R"({"linux":[]})"), "linux: expected object, got array");
}

TEST(ParseSpecErrors, UnknownNamespaceType) {
  EXPECT_EQ(parse_error(R"({"linux":{"namespaces":[{"type":"pid"},{"type":"mount"},{"type":"foo"}]}})"),
            "linux.namespaces[2].type: unknown namespace type \"foo\"");
}

TEST(ParseSpecErrors, NamespaceWithoutType) {
  EXPECT_EQ(parse_error(R"({"linux":{"namespaces":[{"path":"/x"}]}})"),
            "linux.namespaces[0].type: unknown namespace type \"\"");
}

TEST(ParseSpecErrors, IdMappingSize) {
  EXPECT_EQ(parse_error(R"({"linux":{"gidMappings":[{"containerID":0,"hostID":1,"size":-5}]}})"),
            "linux.gidMappings[0].size: -5 is out of range (0..4294967295)");
}

TEST(ParseSpecErrors, TimeOffsetNanosecs) {
  EXPECT_EQ(parse_error(R"({"linux":{"timeOffsets":{"boottime":{"secs":1,"nanosecs":"x"}}}})"),
            "linux.timeOffsets.boottime.nanosecs: expected integer, got string");
}

TEST(ParseSpecErrors, DeviceMajor) {
  EXPECT_EQ(parse_error(R"({"linux":{"devices":[{"type":"c","path":"/dev/x","major":"1"}]}})"),
            "linux.devices[0].major: expected integer, got string");
}

TEST(ParseSpecErrors, MemoryLimitIsString) {
  EXPECT_EQ(parse_error(R"({"linux":{"resources":{"memory":{"limit":"1G"}}}})"),
            "linux.resources.memory.limit: expected integer, got string");
}

TEST(ParseSpecErrors, SwappinessNegative) {
  EXPECT_EQ(parse_error(R"({"linux":{"resources":{"memory":{"swappiness":-1}}}})"),
            "linux.resources.memory.swappiness: -1 is out of range (0..18446744073709551615)");
}

TEST(ParseSpecErrors, CpuCpusIsNumber) {
  EXPECT_EQ(parse_error(R"({"linux":{"resources":{"cpu":{"cpus":0}}}})"),
            "linux.resources.cpu.cpus: expected string, got number");
}

TEST(ParseSpecErrors, BlockIoWeightOutOfUint16) {
  EXPECT_EQ(parse_error(R"({"linux":{"resources":{"blockIO":{"weight":70000}}}})"),
            "linux.resources.blockIO.weight: 70000 is out of range (0..65535)");
}

TEST(ParseSpecErrors, ThrottleRate) {
  EXPECT_EQ(parse_error(R"({"linux":{"resources":{"blockIO":{"throttleWriteIOPSDevice":[{"major":8,"minor":0,"rate":null},{"rate":true}]}}}})"),
            "linux.resources.blockIO.throttleWriteIOPSDevice[1].rate: expected integer, got boolean");
}

TEST(ParseSpecErrors, DeviceRuleAllow) {
  EXPECT_EQ(parse_error(R"({"linux":{"resources":{"devices":[{"allow":"no"}]}}})"),
            "linux.resources.devices[0].allow: expected boolean, got string");
}

TEST(ParseSpecErrors, RdmaEntry) {
  EXPECT_EQ(parse_error(R"({"linux":{"resources":{"rdma":{"mlx":{"hcaHandles":"3"}}}}})"),
            "linux.resources.rdma.mlx.hcaHandles: expected integer, got string");
}

TEST(ParseSpecErrors, UnifiedValue) {
  EXPECT_EQ(parse_error(R"({"linux":{"resources":{"unified":{"memory.max":1}}}})"),
            "linux.resources.unified.memory.max: expected string, got number");
}

TEST(ParseSpecErrors, HugepageLimit) {
  EXPECT_EQ(parse_error(R"({"linux":{"resources":{"hugepageLimits":[{"pageSize":2}]}}})"),
            "linux.resources.hugepageLimits[0].pageSize: expected string, got number");
}

TEST(ParseSpecErrors, NetworkPriority) {
  EXPECT_EQ(parse_error(R"({"linux":{"resources":{"network":{"priorities":[{"name":"eth0","priority":-1}]}}}})"),
            "linux.resources.network.priorities[0].priority: -1 is out of range (0..4294967295)");
}

TEST(ParseSpecErrors, PidsLimit) {
  EXPECT_EQ(parse_error(R"({"linux":{"resources":{"pids":{"limit":"max"}}}})"),
            "linux.resources.pids.limit: expected integer, got string");
}

TEST(ParseSpecErrors, SeccompArgOp) {
  EXPECT_EQ(parse_error(R"({"linux":{"seccomp":{"defaultAction":"SCMP_ACT_ALLOW",
      "syscalls":[{"names":["read"],"action":"SCMP_ACT_ALLOW","args":[{"index":0,"value":1,"op":2}]}]}}})"),
            "linux.seccomp.syscalls[0].args[0].op: expected string, got number");
}

TEST(ParseSpecErrors, SysctlValue) {
  EXPECT_EQ(parse_error(R"({"linux":{"sysctl":{"net.ipv4.ip_forward":1}}})"),
            "linux.sysctl.net.ipv4.ip_forward: expected string, got number");
}

TEST(ParseSpecErrors, PersonalityFlags) {
  EXPECT_EQ(parse_error(R"({"linux":{"personality":{"domain":"LINUX","flags":"x"}}})"),
            "linux.personality.flags: expected array, got string");
}

TEST(ParseSpecErrors, MaskedPaths) {
  EXPECT_EQ(parse_error(R"({"linux":{"maskedPaths":[null,3]}})"), "linux.maskedPaths[1]: expected string, got number");
}

// Robustness: no input may make parse_spec throw, and a wrongly typed value anywhere is reported
// under its own JSON path.
TEST(ParseSpecRobustness, EveryTruncationFailsCleanly) {
  std::string full = kFull;
  for (std::size_t n = 0; n + 1 < full.size(); n += 7) {
    std::string text = full.substr(0, n);
    EXPECT_NO_THROW({
      auto r = parse_spec(text);
      EXPECT_FALSE(r) << n;
    });
  }
}

void each_leaf(nlohmann::json& j, const std::string& path,
               const std::function<void(nlohmann::json&, const std::string&)>& fn) {
  if (j.is_object()) {
    for (auto it = j.begin(); it != j.end(); ++it)
      each_leaf(it.value(), path.empty() ? it.key() : path + "." + it.key(), fn);
  } else if (j.is_array()) {
    for (std::size_t i = 0; i < j.size(); ++i) each_leaf(j[i], path + "[" + std::to_string(i) + "]", fn);
  }
  fn(j, path);  // containers too: replacing an object or array with a scalar must be reported
}

TEST(ParseSpecRobustness, WrongTypeAnywhereNamesItsPath) {
  nlohmann::json doc = nlohmann::json::parse(kFull);
  const std::vector<nlohmann::json> alternatives = {nullptr, 1, -1, 1.5, "s", true, nlohmann::json::array(),
                                                    nlohmann::json::object()};
  int failures = 0;
  each_leaf(doc, "", [&](nlohmann::json& node, const std::string& path) {
    if (path.empty()) return;
    nlohmann::json saved = node;
    for (const auto& alt : alternatives) {
      node = alt;
      std::string text = doc.dump();
      Result<oci::Spec> r = oci::Spec{};
      EXPECT_NO_THROW(r = parse_spec(text)) << path;
      if (!r) {
        ++failures;
        // The node itself, or (for an empty object) a required field inside it.
        const std::string& m = r.error().message();
        bool at_path = m.rfind(path, 0) == 0 && m.size() > path.size() &&
                       (m.compare(path.size(), 2, ": ") == 0 || m[path.size()] == '.');
        EXPECT_TRUE(at_path)
            << "mutated " << path << " to " << alt.dump() << ": " << r.error().message();
      }
    }
    node = saved;
  });
  EXPECT_GT(failures, 500);
}

// ---------------------------------------------------------------- load_spec

TEST(LoadSpec, ReadsConfigJsonFromBundle) {
  TempBundle b;
  b.write("config.json", R"({"ociVersion":"1.2.0","root":{"path":"rootfs"}})");
  auto s = oci::load_spec(b.dir());
  ASSERT_TRUE(s) << s.error().message();
  EXPECT_EQ(s->root.path, "rootfs");
}

TEST(LoadSpec, ParseErrorsArePrefixedWithTheFile) {
  TempBundle b;
  b.write("config.json", R"({"process":{"args":[1]}})");
  auto s = oci::load_spec(b.dir());
  ASSERT_FALSE(s);
  EXPECT_EQ(s.error().message(), b.dir() + "/config.json: process.args[0]: expected string, got number");
}

TEST(LoadSpec, MissingFileKeepsErrno) {
  TempBundle b;
  auto s = oci::load_spec(b.dir());
  ASSERT_FALSE(s);
  EXPECT_EQ(s.error().errnum, ENOENT);
  EXPECT_NE(s.error().message().find("config.json"), std::string::npos) << s.error().message();
}

// ---------------------------------------------------------------- default_spec

TEST(DefaultSpec, NoInheritableOrAmbientCapabilities) {
  for (bool rootless : {false, true}) {
    auto s = oci::default_spec(rootless);
    ASSERT_TRUE(s.process && s.process->capabilities);
    const auto& c = *s.process->capabilities;
    EXPECT_TRUE(c.inheritable.empty());
    EXPECT_TRUE(c.ambient.empty());
    std::vector<std::string> want = {"CAP_AUDIT_WRITE", "CAP_KILL", "CAP_NET_BIND_SERVICE"};
    EXPECT_EQ(c.bounding, want);
    EXPECT_EQ(c.effective, want);
    EXPECT_EQ(c.permitted, want);
    std::string text = oci::to_json(s);
    EXPECT_EQ(text.find("inheritable"), std::string::npos);
    EXPECT_EQ(text.find("ambient"), std::string::npos);
  }
}

TEST(DefaultSpec, MatchesRuncSpec) {
  auto s = oci::default_spec(false);
  EXPECT_EQ(s.oci_version, "1.2.0");
  EXPECT_EQ(s.hostname, "vsrv");
  EXPECT_EQ(s.root.path, "rootfs");
  EXPECT_TRUE(s.root.readonly);
  const auto& p = *s.process;
  EXPECT_TRUE(p.terminal);
  EXPECT_EQ(p.args, std::vector<std::string>{"sh"});
  EXPECT_EQ(p.cwd, "/");
  EXPECT_EQ(p.user.uid, 0u);
  EXPECT_TRUE(p.no_new_privileges);
  EXPECT_EQ(p.env, (std::vector<std::string>{"PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin",
                                             "TERM=xterm"}));
  ASSERT_EQ(p.rlimits.size(), 1u);
  EXPECT_EQ(p.rlimits[0].type, "RLIMIT_NOFILE");
  EXPECT_EQ(p.rlimits[0].hard, 1024u);
  EXPECT_EQ(p.rlimits[0].soft, 1024u);

  std::vector<std::string> dests;
  for (const auto& m : s.mounts) dests.push_back(m.destination);
  EXPECT_EQ(dests, (std::vector<std::string>{"/proc", "/dev", "/dev/pts", "/dev/shm", "/dev/mqueue", "/sys",
                                             "/sys/fs/cgroup"}));
  EXPECT_EQ(s.mounts[1].options, (std::vector<std::string>{"nosuid", "strictatime", "mode=755", "size=65536k"}));
  EXPECT_EQ(s.mounts[2].options, (std::vector<std::string>{"nosuid", "noexec", "newinstance", "ptmxmode=0666",
                                                           "mode=0620", "gid=5"}));
  EXPECT_EQ(s.mounts[5].type, "sysfs");

  ASSERT_TRUE(s.linux);
  std::vector<std::string> ns;
  for (const auto& n : s.linux->namespaces) ns.push_back(n.type);
  EXPECT_EQ(ns, (std::vector<std::string>{"pid", "network", "ipc", "uts", "mount", "cgroup"}));
  EXPECT_TRUE(s.linux->uid_mappings.empty());
  ASSERT_TRUE(s.linux->resources);
  ASSERT_EQ(s.linux->resources->devices.size(), 1u);
  EXPECT_FALSE(s.linux->resources->devices[0].allow);
  EXPECT_EQ(s.linux->resources->devices[0].access, "rwm");
  EXPECT_EQ(s.linux->masked_paths.size(), 10u);
  EXPECT_EQ(s.linux->masked_paths.front(), "/proc/acpi");
  EXPECT_EQ(s.linux->readonly_paths,
            (std::vector<std::string>{"/proc/bus", "/proc/fs", "/proc/irq", "/proc/sys", "/proc/sysrq-trigger"}));
}

TEST(DefaultSpec, RootlessLikeRuncToRootless) {
  auto s = oci::default_spec(true);
  ASSERT_TRUE(s.linux);
  std::vector<std::string> ns;
  for (const auto& n : s.linux->namespaces) ns.push_back(n.type);
  EXPECT_EQ(ns, (std::vector<std::string>{"pid", "ipc", "uts", "mount", "cgroup", "user"}));
  ASSERT_EQ(s.linux->uid_mappings.size(), 1u);
  EXPECT_EQ(s.linux->uid_mappings[0].container_id, 0u);
  EXPECT_EQ(s.linux->uid_mappings[0].host_id, ::geteuid());
  EXPECT_EQ(s.linux->uid_mappings[0].size, 1u);
  ASSERT_EQ(s.linux->gid_mappings.size(), 1u);
  EXPECT_EQ(s.linux->gid_mappings[0].host_id, ::getegid());
  EXPECT_FALSE(s.linux->resources);
  bool saw_sys = false;
  for (const auto& m : s.mounts) {
    for (const auto& o : m.options) EXPECT_FALSE(o.starts_with("gid=") || o.starts_with("uid=")) << o;
    if (m.destination == "/sys") {
      saw_sys = true;
      EXPECT_EQ(m.type, "none");
      EXPECT_EQ(m.source, "/sys");
      EXPECT_EQ(m.options, (std::vector<std::string>{"rbind", "nosuid", "noexec", "nodev", "ro"}));
    }
  }
  EXPECT_TRUE(saw_sys);
  EXPECT_EQ(s.mounts.size(), 7u);
}

TEST(DefaultSpec, IsValid) {
  TempBundle b;
  for (bool rootless : {false, true}) {
    auto d = config::diagnostics(oci::default_spec(rootless), b.dir());
    EXPECT_TRUE(d.empty()) << join(d);
    EXPECT_TRUE(config::validate(oci::default_spec(rootless), b.dir()));
  }
}

// ---------------------------------------------------------------- validate

class Validate : public ::testing::Test {
 protected:
  oci::Spec spec = oci::default_spec(false);
  TempBundle bundle;
  std::vector<std::string> diags() { return config::diagnostics(spec, bundle.dir()); }
  oci::Linux& linux_() { return *spec.linux; }
  oci::Process& proc() { return *spec.process; }
  void expect_only(std::string_view want) {
    auto d = diags();
    EXPECT_EQ(d.size(), 1u) << join(d);
    EXPECT_TRUE(has(d, want)) << "want: " << want << "\ngot:" << join(d);
  }
};

TEST_F(Validate, SingleErrorMessage) {
  proc().cwd = "work";
  auto r = config::validate(spec, bundle.dir());
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error().message(), "config.json: process.cwd: must be absolute, got 'work'");
}

TEST_F(Validate, AllErrorsAreListedInOneMessage) {
  proc().cwd = "work";
  linux_().namespaces.push_back({"pid", ""});
  auto r = config::validate(spec, bundle.dir());
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error().errnum, 0);
  EXPECT_EQ(r.error().message(),
            "config.json: 2 errors: process.cwd: must be absolute, got 'work'; "
            "linux.namespaces[6]: duplicate namespace type 'pid'");
}

TEST_F(Validate, OciVersionRequired) {
  spec.oci_version.clear();
  expect_only("ociVersion: must not be empty");
}

TEST_F(Validate, ProcessRequired) {
  spec.process.reset();
  expect_only("process: required to create a container");
}

TEST_F(Validate, ArgsNonEmpty) {
  proc().args.clear();
  expect_only("process.args: must not be empty");
}

TEST_F(Validate, CwdEmpty) {
  proc().cwd.clear();
  expect_only("process.cwd: must not be empty");
}

TEST_F(Validate, EnvEntries) {
  proc().env = {"A=1", "NOEQUALS", "=x", std::string("B=\0c", 4), "C="};
  auto d = diags();
  EXPECT_EQ(d.size(), 3u) << join(d);
  EXPECT_TRUE(has(d, "process.env[1]: missing '=' in 'NOEQUALS'")) << join(d);
  EXPECT_TRUE(has(d, "process.env[2]: variable name must not be empty")) << join(d);
  EXPECT_TRUE(has(d, "process.env[3]: contains a NUL byte")) << join(d);
}

TEST_F(Validate, Umask) {
  proc().user.umask = 010000;
  expect_only("process.user.umask: must be at most 07777");
}

TEST_F(Validate, CapabilitySyntax) {
  proc().capabilities->bounding.push_back("cap_chown");
  proc().capabilities->ambient.push_back("CAP_");
  proc().capabilities->effective.push_back("CAP_SYS_ADMIN");
  auto d = diags();
  EXPECT_EQ(d.size(), 2u) << join(d);
  EXPECT_TRUE(has(d, "process.capabilities.bounding[3]: malformed capability name 'cap_chown'")) << join(d);
  EXPECT_TRUE(has(d, "process.capabilities.ambient[0]: malformed capability name 'CAP_'")) << join(d);
}

TEST_F(Validate, RlimitUnknownType) {
  proc().rlimits.push_back({"RLIMIT_FOO", 1, 1});
  expect_only("process.rlimits[1].type: unknown rlimit type 'RLIMIT_FOO'");
}

TEST_F(Validate, RlimitSoftAboveHard) {
  proc().rlimits = {{"RLIMIT_CORE", 10, 20}};
  expect_only("process.rlimits[0]: soft limit 20 exceeds hard limit 10");
}

TEST_F(Validate, RlimitDuplicate) {
  proc().rlimits.push_back({"RLIMIT_NOFILE", 5, 5});
  expect_only("process.rlimits[1].type: duplicate rlimit type 'RLIMIT_NOFILE'");
}

TEST_F(Validate, OomScoreAdjRange) {
  proc().oom_score_adj = 1001;
  expect_only("process.oomScoreAdj: must be between -1000 and 1000");
}

TEST_F(Validate, RootPathRequired) {
  spec.root.path.clear();
  expect_only("root.path: must not be empty (root is required on Linux)");
}

TEST_F(Validate, RootfsMustExist) {
  spec.root.path = "nope";
  expect_only("root.path: rootfs directory '" + bundle.dir() + "/nope' does not exist");
}

TEST_F(Validate, RootfsMustBeDirectory) {
  bundle.write("file", "x");
  spec.root.path = "file";
  expect_only("root.path: rootfs '" + bundle.dir() + "/file' is not a directory");
}

TEST_F(Validate, AbsoluteRootPathIgnoresBundle) {
  spec.root.path = bundle.dir() + "/rootfs";
  EXPECT_TRUE(config::diagnostics(spec, "/nonexistent-bundle").empty());
}

TEST_F(Validate, MountDestinationMustBeAbsolute) {
  spec.mounts.push_back({"data", "none", "/srv", {"bind"}});
  spec.mounts.push_back({"", "tmpfs", "tmpfs", {}});
  auto d = diags();
  EXPECT_EQ(d.size(), 2u) << join(d);
  EXPECT_TRUE(has(d, "mounts[7].destination: must be absolute, got 'data'")) << join(d);
  EXPECT_TRUE(has(d, "mounts[8].destination: must not be empty")) << join(d);
}

TEST_F(Validate, Hooks) {
  spec.hooks.prestart.push_back({"hook", {}, {}, std::nullopt});
  spec.hooks.poststop.push_back({"/bin/true", {}, {}, 0});
  auto d = diags();
  EXPECT_EQ(d.size(), 2u) << join(d);
  EXPECT_TRUE(has(d, "hooks.prestart[0].path: must be absolute, got 'hook'")) << join(d);
  EXPECT_TRUE(has(d, "hooks.poststop[0].timeout: must be greater than zero")) << join(d);
}

TEST_F(Validate, UnknownNamespaceType) {
  linux_().namespaces.push_back({"foo", ""});
  expect_only("linux.namespaces[6].type: unknown namespace type 'foo'");
}

TEST_F(Validate, DuplicateNamespace) {
  linux_().namespaces.insert(linux_().namespaces.begin() + 1, {"pid", "/proc/1/ns/pid"});
  expect_only("linux.namespaces[1]: duplicate namespace type 'pid'");
}

TEST_F(Validate, NamespacePathMustBeAbsolute) {
  linux_().namespaces[0].path = "proc/1/ns/pid";
  expect_only("linux.namespaces[0].path: must be absolute, got 'proc/1/ns/pid'");
}

TEST_F(Validate, MappingsWithoutUserNamespace) {
  linux_().uid_mappings = {{0, 1000, 1}};
  linux_().gid_mappings = {{0, 1000, 1}};
  auto d = diags();
  EXPECT_EQ(d.size(), 2u) << join(d);
  EXPECT_TRUE(has(d, "linux.uidMappings: set, but there is no user namespace in linux.namespaces")) << join(d);
  EXPECT_TRUE(has(d, "linux.gidMappings: set, but there is no user namespace in linux.namespaces")) << join(d);
}

TEST_F(Validate, NewUserNamespaceNeedsMappings) {
  linux_().namespaces.push_back({"user", ""});
  linux_().uid_mappings = {{0, 1000, 1}};
  expect_only("linux.gidMappings: a new user namespace needs gid mappings");
}

TEST_F(Validate, JoinedUserNamespaceNeedsNoMappings) {
  linux_().namespaces.push_back({"user", "/proc/1/ns/user"});
  EXPECT_TRUE(diags().empty()) << join(diags());
}

TEST_F(Validate, MappingSizeZero) {
  linux_().namespaces.push_back({"user", ""});
  linux_().uid_mappings = {{0, 1000, 0}};
  linux_().gid_mappings = {{0, 1000, 1}};
  expect_only("linux.uidMappings[0].size: must be greater than zero");
}

TEST_F(Validate, HostnameNeedsUts) {
  std::erase_if(linux_().namespaces, [](const oci::Namespace& n) { return n.type == "uts"; });
  spec.domainname = "example.org";
  auto d = diags();
  EXPECT_EQ(d.size(), 2u) << join(d);
  EXPECT_TRUE(has(d, "hostname: setting the hostname needs a uts namespace")) << join(d);
  EXPECT_TRUE(has(d, "domainname: setting the domainname needs a uts namespace")) << join(d);
}

TEST_F(Validate, HostnameWithJoinedUtsIsAllowed) {
  for (auto& n : linux_().namespaces)
    if (n.type == "uts") n.path = "/proc/1/ns/uts";
  EXPECT_TRUE(diags().empty()) << join(diags());
}

TEST_F(Validate, TimeOffsetsNeedNewTimeNamespace) {
  linux_().time_offsets["monotonic"] = {5, 0};
  expect_only("linux.timeOffsets: time offsets need a new time namespace");
  linux_().namespaces.push_back({"time", "/proc/1/ns/time"});
  expect_only("linux.timeOffsets: time offsets need a new time namespace");
  linux_().namespaces.back().path.clear();
  EXPECT_TRUE(diags().empty()) << join(diags());
}

TEST_F(Validate, TimeOffsetClockAndNanosecs) {
  linux_().namespaces.push_back({"time", ""});
  linux_().time_offsets["realtime"] = {5, 0};
  linux_().time_offsets["boottime"] = {5, 1'000'000'000};
  auto d = diags();
  EXPECT_EQ(d.size(), 2u) << join(d);
  EXPECT_TRUE(has(d, "linux.timeOffsets.realtime: unknown clock (expected monotonic or boottime)")) << join(d);
  EXPECT_TRUE(has(d, "linux.timeOffsets.boottime.nanosecs: must be below 1000000000")) << join(d);
}

TEST_F(Validate, SysctlNotNamespaced) {
  linux_().sysctl["vm.swappiness"] = "10";
  expect_only("linux.sysctl.vm.swappiness: sysctl is not namespaced and cannot be set in a container");
}

TEST_F(Validate, SysctlKernelOther) {
  linux_().sysctl["kernel.pid_max"] = "10";
  expect_only("linux.sysctl.kernel.pid_max: sysctl is not namespaced and cannot be set in a container");
}

TEST_F(Validate, SysctlIpcNamespaced) {
  linux_().sysctl = {{"kernel.msgmax", "1"}, {"kernel.sem", "1 2 3 4"},     {"kernel.shmmax", "1"},
                     {"kernel.shm_rmid_forced", "1"}, {"fs.mqueue.msg_max", "10"}};
  EXPECT_TRUE(diags().empty()) << join(diags());
  std::erase_if(linux_().namespaces, [](const oci::Namespace& n) { return n.type == "ipc"; });
  auto d = diags();
  EXPECT_EQ(d.size(), 5u) << join(d);
  EXPECT_TRUE(has(d, "linux.sysctl.fs.mqueue.msg_max: needs an ipc namespace (not allowed in the host's ipc namespace)"))
      << join(d);
}

TEST_F(Validate, SysctlIpcLookalikeIsRefused) {
  linux_().sysctl["kernel.shmfoo"] = "1";
  expect_only("linux.sysctl.kernel.shmfoo: sysctl is not namespaced and cannot be set in a container");
}

TEST_F(Validate, SysctlNetNeedsNetNamespace) {
  linux_().sysctl["net.ipv4.ip_forward"] = "1";
  EXPECT_TRUE(diags().empty()) << join(diags());
  std::erase_if(linux_().namespaces, [](const oci::Namespace& n) { return n.type == "network"; });
  expect_only("linux.sysctl.net.ipv4.ip_forward: needs a network namespace (not allowed in the host's network namespace)");
}

TEST_F(Validate, SysctlNetInJoinedHostNetnsIsRefused) {
  linux_().sysctl["net.core.somaxconn"] = "1024";
  for (auto& n : linux_().namespaces)
    if (n.type == "network") n.path = "/proc/self/ns/net";
  expect_only("linux.sysctl.net.core.somaxconn: not allowed: linux.namespaces joins the host's network namespace");
}

TEST_F(Validate, SysctlSlashSeparatorIsAccepted) {
  linux_().sysctl["net/ipv4/ip_forward"] = "1";
  EXPECT_TRUE(diags().empty()) << join(diags());
}

TEST_F(Validate, SysctlUts) {
  linux_().sysctl["kernel.domainname"] = "example.org";
  EXPECT_TRUE(diags().empty()) << join(diags());
  linux_().sysctl["kernel.hostname"] = "h";
  expect_only("linux.sysctl.kernel.hostname: not allowed: it conflicts with the hostname field; set that instead");
  linux_().sysctl.erase("kernel.hostname");
  spec.hostname.clear();
  std::erase_if(linux_().namespaces, [](const oci::Namespace& n) { return n.type == "uts"; });
  expect_only("linux.sysctl.kernel.domainname: needs a uts namespace");
}

TEST_F(Validate, Personality) {
  linux_().personality = oci::Personality{"LINUX32", {}};
  EXPECT_TRUE(diags().empty());
  linux_().personality->domain = "BSD";
  expect_only("linux.personality.domain: unknown domain 'BSD' (expected LINUX or LINUX32)");
}

TEST_F(Validate, RootfsPropagation) {
  for (const char* p : {"shared", "slave", "private", "unbindable", "rshared", "rslave", "rprivate", "runbindable"}) {
    linux_().rootfs_propagation = p;
    EXPECT_TRUE(diags().empty()) << p;
  }
  linux_().rootfs_propagation = "rbind";
  expect_only("linux.rootfsPropagation: unknown propagation 'rbind'");
}

TEST_F(Validate, Devices) {
  linux_().devices = {{"c", "/dev/fuse", 10, 229, {}, {}, {}}, {"p", "/dev/fifo", 0, 0, {}, {}, {}},
                      {"x", "dev/bad", 1, 1, {}, {}, {}}};
  auto d = diags();
  EXPECT_EQ(d.size(), 2u) << join(d);
  EXPECT_TRUE(has(d, "linux.devices[2].type: unknown device type 'x' (expected c, b, u or p)")) << join(d);
  EXPECT_TRUE(has(d, "linux.devices[2].path: must be absolute, got 'dev/bad'")) << join(d);
}

TEST_F(Validate, DeviceCgroupRules) {
  linux_().resources->devices.push_back({true, "u", 1, 3, "rwx"});
  auto d = diags();
  EXPECT_EQ(d.size(), 2u) << join(d);
  EXPECT_TRUE(has(d, "linux.resources.devices[1].type: unknown device type 'u' (expected a, c or b)")) << join(d);
  EXPECT_TRUE(has(d, "linux.resources.devices[1].access: must be a combination of r, w and m, got 'rwx'")) << join(d);
}

TEST_F(Validate, MaskedAndReadonlyPathsAbsolute) {
  linux_().masked_paths.push_back("proc/x");
  linux_().readonly_paths.push_back("");
  auto d = diags();
  EXPECT_EQ(d.size(), 2u) << join(d);
  EXPECT_TRUE(has(d, "linux.maskedPaths[10]: must be absolute, got 'proc/x'")) << join(d);
  EXPECT_TRUE(has(d, "linux.readonlyPaths[5]: must be absolute, got ''")) << join(d);
}

oci::Seccomp good_seccomp() {
  oci::Seccomp s;
  s.default_action = "SCMP_ACT_ERRNO";
  s.architectures = {"SCMP_ARCH_X86_64"};
  s.syscalls = {{{"read"}, "SCMP_ACT_ALLOW", std::nullopt, {{0, 1, 0, "SCMP_CMP_EQ"}}}};
  return s;
}

TEST_F(Validate, SeccompGood) {
  linux_().seccomp = good_seccomp();
  for (const char* a : {"SCMP_ACT_KILL", "SCMP_ACT_KILL_PROCESS", "SCMP_ACT_KILL_THREAD", "SCMP_ACT_TRAP",
                        "SCMP_ACT_ERRNO", "SCMP_ACT_TRACE", "SCMP_ACT_ALLOW", "SCMP_ACT_LOG"}) {
    linux_().seccomp->syscalls[0].action = a;
    EXPECT_TRUE(diags().empty()) << a << join(diags());
  }
  for (const char* op : {"SCMP_CMP_NE", "SCMP_CMP_LT", "SCMP_CMP_LE", "SCMP_CMP_EQ", "SCMP_CMP_GE", "SCMP_CMP_GT",
                         "SCMP_CMP_MASKED_EQ"}) {
    linux_().seccomp->syscalls[0].args[0].op = op;
    EXPECT_TRUE(diags().empty()) << op;
  }
}

TEST_F(Validate, SeccompUnknownDefaultAction) {
  linux_().seccomp = good_seccomp();
  linux_().seccomp->default_action = "SCMP_ACT_MAYBE";
  expect_only("linux.seccomp.defaultAction: unknown action 'SCMP_ACT_MAYBE'");
}

TEST_F(Validate, SeccompEmptyDefaultAction) {
  linux_().seccomp = good_seccomp();
  linux_().seccomp->default_action.clear();
  expect_only("linux.seccomp.defaultAction: unknown action ''");
}

TEST_F(Validate, SeccompSyscallErrors) {
  linux_().seccomp = good_seccomp();
  auto& call = linux_().seccomp->syscalls[0];
  call.action = "ALLOW";
  call.names.clear();
  call.args[0].op = "SCMP_CMP_XX";
  call.args[0].index = 6;
  auto d = diags();
  EXPECT_EQ(d.size(), 4u) << join(d);
  EXPECT_TRUE(has(d, "linux.seccomp.syscalls[0].action: unknown action 'ALLOW'")) << join(d);
  EXPECT_TRUE(has(d, "linux.seccomp.syscalls[0].names: must not be empty")) << join(d);
  EXPECT_TRUE(has(d, "linux.seccomp.syscalls[0].args[0].op: unknown operator 'SCMP_CMP_XX'")) << join(d);
  EXPECT_TRUE(has(d, "linux.seccomp.syscalls[0].args[0].index: must be between 0 and 5")) << join(d);
}

TEST_F(Validate, SeccompNotifyNeedsListenerPath) {
  linux_().seccomp = good_seccomp();
  linux_().seccomp->syscalls[0].action = "SCMP_ACT_NOTIFY";
  expect_only("linux.seccomp.listenerPath: SCMP_ACT_NOTIFY needs a listenerPath");
  linux_().seccomp->listener_path = "/run/agent.sock";
  EXPECT_TRUE(diags().empty()) << join(diags());
  linux_().seccomp->listener_path = "agent.sock";
  expect_only("linux.seccomp.listenerPath: must be absolute, got 'agent.sock'");
}

TEST_F(Validate, SeccompNotifyAsDefaultNeedsListenerPath) {
  linux_().seccomp = good_seccomp();
  linux_().seccomp->default_action = "SCMP_ACT_NOTIFY";
  expect_only("linux.seccomp.listenerPath: SCMP_ACT_NOTIFY needs a listenerPath");
}

TEST_F(Validate, SeccompFlagsAndArchitectures) {
  linux_().seccomp = good_seccomp();
  linux_().seccomp->flags = {"SECCOMP_FILTER_FLAG_TSYNC", "SECCOMP_FILTER_FLAG_BOGUS"};
  linux_().seccomp->architectures.push_back("x86_64");
  auto d = diags();
  EXPECT_EQ(d.size(), 2u) << join(d);
  EXPECT_TRUE(has(d, "linux.seccomp.flags[1]: unknown flag 'SECCOMP_FILTER_FLAG_BOGUS'")) << join(d);
  EXPECT_TRUE(has(d, "linux.seccomp.architectures[1]: malformed architecture 'x86_64'")) << join(d);
}

TEST_F(Validate, ParsedFullSpecOnlyFailsOnItsRootfs) {
  auto s = parse_spec(kFull);
  ASSERT_TRUE(s);
  auto d = config::diagnostics(*s, bundle.dir());
  // kFull's rootfs is an absolute path that does not exist here, and it adds a net sysctl with a
  // joined netns (allowed: not the host's).
  EXPECT_EQ(d.size(), 1u) << join(d);
  EXPECT_TRUE(has(d, "root.path: rootfs directory '/var/lib/rootfs' does not exist")) << join(d);
}

}  // namespace
}  // namespace vsrv
