// Unit tests for OciSpec -> ChildPlan (runtime/plan.h): namespaces, mounts, devices, sysctls.
#include <gtest/gtest.h>
#include <sched.h>
#include <sys/mount.h>
#include <sys/resource.h>

#include "config/oci_spec.h"
#include "runtime/plan.h"

using namespace vsrv;
using namespace vsrv::runtime;

namespace {
oci::Spec base_spec() {
  oci::Spec s;
  s.oci_version = "1.2.0";
  s.process = oci::Process{};
  s.process->args = {"/bin/true"};
  s.process->env = {"PATH=/bin:/usr/bin"};
  s.linux = oci::Linux{};
  s.linux->namespaces = {{"pid", ""}, {"mount", ""}, {"network", ""}, {"uts", ""}, {"ipc", ""}};
  return s;
}
PlanInputs inputs() {
  PlanInputs in;
  in.bundle = "/tmp";
  in.rootfs = "/tmp";
  return in;
}
}  // namespace

TEST(Plan, FreshNamespacesGoStraightIntoClone3) {
  auto p = build_plan(base_spec(), inputs());
  ASSERT_TRUE(p) << p.error().message();
  EXPECT_EQ(p->clone_flags, unsigned(CLONE_NEWPID | CLONE_NEWNS | CLONE_NEWNET | CLONE_NEWUTS | CLONE_NEWIPC));
  EXPECT_EQ(p->unshare_flags, 0u);
  EXPECT_TRUE(p->joins.empty());
}

TEST(Plan, JoinedNamespaceMovesTheRestToUnshare) {
  auto s = base_spec();
  s.linux->namespaces[2] = {"network", "/proc/self/ns/net"};
  auto p = build_plan(s, inputs());
  ASSERT_TRUE(p) << p.error().message();
  EXPECT_EQ(p->clone_flags, unsigned(CLONE_NEWPID));
  EXPECT_EQ(p->unshare_flags, unsigned(CLONE_NEWNS | CLONE_NEWUTS | CLONE_NEWIPC));
  ASSERT_EQ(p->joins.size(), 1u);
  EXPECT_EQ(p->joins[0].nstype, CLONE_NEWNET);
  for (int fd : p->owned_fds) close(fd);
}

TEST(Plan, NetworkNamespaceMadeAheadIsJoinedAndTheRestStillCloned) {
  PlanInputs in = inputs();
  in.netns_fd = 42;  // runtime/prefetch.h
  auto p = build_plan(base_spec(), in);
  ASSERT_TRUE(p) << p.error().message();
  EXPECT_EQ(p->clone_flags, unsigned(CLONE_NEWPID | CLONE_NEWNS | CLONE_NEWUTS | CLONE_NEWIPC));
  EXPECT_EQ(p->unshare_flags, 0u);
  ASSERT_EQ(p->joins.size(), 1u);
  EXPECT_EQ(p->joins[0].fd, 42);
  EXPECT_EQ(p->joins[0].nstype, CLONE_NEWNET);
  EXPECT_TRUE(p->owned_fds.empty());  // the prefetcher owns it
}

TEST(Plan, NetworkNamespaceMadeAheadIsNotUsedWithANewUserNamespace) {
  auto s = base_spec();
  s.linux->namespaces.push_back({"user", ""});
  s.linux->uid_mappings = {{0, 100000, 65536}};
  s.linux->gid_mappings = {{0, 100000, 65536}};
  PlanInputs in = inputs();
  in.netns_fd = 42;
  auto p = build_plan(s, in);
  ASSERT_TRUE(p) << p.error().message();
  EXPECT_TRUE(p->clone_flags & CLONE_NEWNET);
  EXPECT_TRUE(p->joins.empty());
}

TEST(Plan, MountNamespaceIsRequired) {
  auto s = base_spec();
  s.linux->namespaces = {{"pid", ""}};
  auto p = build_plan(s, inputs());
  ASSERT_FALSE(p);
  EXPECT_NE(p.error().context.find("mount namespace"), std::string::npos);
}

TEST(Plan, MountOptionsBecomeFlagsAndData) {
  auto s = base_spec();
  s.mounts = {{"/dev", "tmpfs", "tmpfs", {"nosuid", "strictatime", "mode=755", "size=65536k"}},
              {"/data//", "bind", "/tmp", {"rbind", "ro", "rprivate"}}};
  auto p = build_plan(s, inputs());
  ASSERT_TRUE(p) << p.error().message();
  ASSERT_GE(p->mounts.size(), 2u);
  const auto& t = p->mounts[0];
  EXPECT_EQ(t.flags, static_cast<unsigned long>(MS_NOSUID | MS_STRICTATIME));
  EXPECT_EQ(t.data, "mode=755,size=65536k");
  const auto& b = p->mounts[1];
  EXPECT_TRUE(b.bind);
  EXPECT_TRUE(b.recursive);
  EXPECT_TRUE(b.remount);
  EXPECT_EQ(b.target, "/data");
  EXPECT_EQ(b.propagation, static_cast<unsigned long>(MS_PRIVATE | MS_REC));
}

TEST(Plan, MountOverProcIsRefused) {
  auto s = base_spec();
  s.mounts = {{"/proc", "tmpfs", "tmpfs", {}}};
  auto p = build_plan(s, inputs());
  ASSERT_FALSE(p);
  EXPECT_NE(p.error().context.find("mounts[0]"), std::string::npos);
}

TEST(Plan, ProcMountIsCheckedAfterMounting) {
  auto s = base_spec();
  s.mounts = {{"/proc", "proc", "proc", {}}};
  auto p = build_plan(s, inputs());
  ASSERT_TRUE(p);
  EXPECT_TRUE(p->mounts[0].is_proc);
}

TEST(Plan, DefaultDevicesAndSymlinks) {
  auto p = build_plan(base_spec(), inputs());
  ASSERT_TRUE(p);
  std::vector<std::string> paths;
  for (auto& d : p->devices) paths.push_back(d.path);
  for (const char* want : {"/dev/null", "/dev/zero", "/dev/full", "/dev/random", "/dev/urandom", "/dev/tty"})
    EXPECT_NE(std::find(paths.begin(), paths.end(), want), paths.end()) << want;
  bool fd_link = false;
  for (auto& [t, l] : p->dev_symlinks) fd_link |= (l == "/dev/fd" && t == "/proc/self/fd");
  EXPECT_TRUE(fd_link);
}

TEST(Plan, DevicesAreBoundInAUserNamespace) {
  auto s = base_spec();
  s.linux->namespaces.push_back({"user", ""});
  auto p = build_plan(s, inputs());
  ASSERT_TRUE(p);
  for (auto& d : p->devices) EXPECT_TRUE(d.bind) << d.path;
}

TEST(Plan, SysctlKeysBecomeProcPaths) {
  auto s = base_spec();
  s.linux->sysctl = {{"net.ipv4.ip_forward", "1"}};
  auto p = build_plan(s, inputs());
  ASSERT_TRUE(p);
  ASSERT_EQ(p->sysctls.size(), 1u);
  EXPECT_EQ(p->sysctls[0].first, "/proc/sys/net/ipv4/ip_forward");
}

TEST(Plan, RlimitsByName) {
  auto s = base_spec();
  s.process->rlimits = {{"RLIMIT_NOFILE", 512, 256}};
  auto p = build_plan(s, inputs());
  ASSERT_TRUE(p);
  ASSERT_EQ(p->rlimits.size(), 1u);
  EXPECT_EQ(p->rlimits[0].resource, RLIMIT_NOFILE);
  EXPECT_EQ(p->rlimits[0].soft, 256u);
  s.process->rlimits = {{"RLIMIT_BOGUS", 1, 1}};
  auto bad = build_plan(s, inputs());
  ASSERT_FALSE(bad);
  EXPECT_NE(bad.error().context.find("process.rlimits[0].type"), std::string::npos);
}

TEST(Plan, ArgvAndPathLookupDirs) {
  auto p = build_plan(base_spec(), inputs());
  ASSERT_TRUE(p);
  ASSERT_EQ(p->argv.size(), 2u);
  EXPECT_STREQ(p->argv[0], "/bin/true");
  EXPECT_EQ(p->argv[1], nullptr);
  EXPECT_EQ(p->path_dirs, (std::vector<std::string>{"/bin", "/usr/bin"}));
}

TEST(Plan, HostnameNeedsUtsNamespace) {
  auto s = base_spec();
  s.hostname = "box";
  s.linux->namespaces = {{"mount", ""}};
  auto p = build_plan(s, inputs());
  ASSERT_FALSE(p);
  EXPECT_NE(p.error().context.find("uts"), std::string::npos);
}

TEST(Plan, NotifySocketIsBoundAndAnnounced) {
  auto in = inputs();
  in.notify_socket = "/tmp";
  auto p = build_plan(base_spec(), in);
  ASSERT_TRUE(p);
  bool env = false;
  for (auto& e : p->env_store) env |= e == "NOTIFY_SOCKET=/run/notify/notify.sock";
  EXPECT_TRUE(env);
  bool mount = false;
  for (auto& m : p->mounts) mount |= m.target == "/run/notify/notify.sock";
  EXPECT_TRUE(mount);
}

// With the v1 cgroup made beside the init (runtime/cgroup_beside.h), the init joins before the
// first mount that shows the cgroup; what comes before it overlaps the helper.
TEST(Plan, TheJoinComesBeforeTheFirstMountShowingTheCgroup) {
  auto s = base_spec();
  s.mounts = {{"/proc", "proc", "proc", {}},
              {"/dev", "tmpfs", "tmpfs", {"mode=755"}},
              {"/sys/fs/cgroup", "cgroup", "cgroup", {"ro"}}};
  auto in = inputs();
  in.cgroup_dirs = {{"memory", "/sys/fs/cgroup/memory/x"}, {"pids", "/sys/fs/cgroup/pids/x"}};
  auto p = build_plan(s, in);
  ASSERT_TRUE(p) << p.error().message();
  ASSERT_EQ(p->cgroup_join_mount, 2u);
  // A tmpfs, one bind per hierarchy, the tmpfs made read-only: all after the join.
  ASSERT_EQ(p->mounts.size(), 6u);
  for (size_t i = 0; i < p->mounts.size(); ++i) EXPECT_EQ(p->mounts[i].needs_cgroup, i >= 2) << i;
  EXPECT_EQ(p->mounts[3].source, "/sys/fs/cgroup/memory/x");
  // Only cgroup mounts follow, and no device lives below them: the devices come before the join.
  EXPECT_TRUE(p->devices_before_cgroup);
}

// The v1 cgroup tree is marked for the child to build detached (runtime/child/mounts.cpp): the
// tmpfs counts the binds that follow it, each one level below it; the read-only remount comes
// right after them. A hierarchy name that is no single path component leaves it mount by mount.
TEST(Plan, TheV1CgroupTreeIsOneGroupOfBindsBelowItsTmpfs) {
  auto s = base_spec();
  s.mounts = {{"/sys/fs/cgroup", "cgroup", "cgroup", {"ro", "nosuid"}}};
  auto in = inputs();
  in.cgroup_dirs = {{"cpu,cpuacct", "/sys/fs/cgroup/cpu,cpuacct/x"}, {"memory", "/sys/fs/cgroup/memory/x"},
                    {"pids", "/sys/fs/cgroup/pids/x"}};
  auto p = build_plan(s, in);
  ASSERT_TRUE(p) << p.error().message();
  ASSERT_EQ(p->mounts.size(), 5u);
  const auto& t = p->mounts[0];
  EXPECT_EQ(t.fstype, "tmpfs");
  EXPECT_EQ(t.tree_binds, 3u);
  for (size_t i = 1; i <= 3; ++i) {
    EXPECT_TRUE(p->mounts[i].bind) << i;
    EXPECT_EQ(p->mounts[i].target, "/sys/fs/cgroup/" + in.cgroup_dirs[i - 1].first);
    EXPECT_EQ(p->mounts[i].tree_binds, 0u);
    EXPECT_TRUE(p->mounts[i].flags & MS_RDONLY);
  }
  EXPECT_TRUE(p->mounts[4].remount_only);
  EXPECT_EQ(p->mounts[4].target, "/sys/fs/cgroup");
  in.cgroup_dirs.push_back({"../escape", "/sys/fs/cgroup/memory/x"});
  auto q = build_plan(s, in);
  ASSERT_TRUE(q) << q.error().message();
  EXPECT_EQ(q->mounts[0].tree_binds, 0u);
}

TEST(Plan, DevicesWaitForTheCgroupMountsWhenOtherMountsFollow) {
  auto s = base_spec();
  s.mounts = {{"/sys/fs/cgroup", "cgroup", "cgroup", {}}, {"/dev", "tmpfs", "tmpfs", {"mode=755"}}};
  auto in = inputs();
  in.cgroup_dirs = {{"memory", "/sys/fs/cgroup/memory/x"}};
  auto p = build_plan(s, in);
  ASSERT_TRUE(p) << p.error().message();
  EXPECT_EQ(p->cgroup_join_mount, 0u);
  EXPECT_FALSE(p->devices_before_cgroup);  // /dev is mounted after the cgroup tree
}

TEST(Plan, NoCgroupMountJoinsAfterTheMounts) {
  auto s = base_spec();
  s.mounts = {{"/proc", "proc", "proc", {}}};
  auto p = build_plan(s, inputs());
  ASSERT_TRUE(p) << p.error().message();
  EXPECT_EQ(p->cgroup_join_mount, p->mounts.size());
  EXPECT_TRUE(p->devices_before_cgroup);
  for (const auto& m : p->mounts) EXPECT_FALSE(m.needs_cgroup);
}
