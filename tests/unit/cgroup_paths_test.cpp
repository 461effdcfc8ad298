// Unit tests for the cgroup path rules: mountinfo and /proc/<pid>/cgroup parsing, cpu lists,
// path cleaning (runtime/cgroup/detect.cpp), and Manager::resolve_at / create_at / destroy /
// to_json / from_json (runtime/cgroup/manager.cpp) against a fake cgroupfs (cgroup_fakefs.h).
#include <gtest/gtest.h>
#include <fcntl.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <fstream>
#include <map>
#include <set>
#include <string>
#include <vector>

#include "runtime/cgroup/hierarchy.h"
#include "config/oci_spec.h"
#include "runtime/cgroup/manager.h"
#include "tests/unit/cgroup_fakefs.h"

namespace vsrv::cgroup {
namespace {

using namespace fakefs;

// ---------------------------------------------------------------- mountinfo

constexpr const char* kMountinfoV1 =
    "22 1 8:1 / / rw,relatime shared:1 - ext4 /dev/sda1 rw\n"
    "25 22 0:22 / /sys/fs/cgroup ro,nosuid,nodev,noexec shared:9 - tmpfs tmpfs ro,mode=755\n"
    "26 25 0:23 / /sys/fs/cgroup/systemd rw,nosuid,nodev,noexec,relatime shared:10 - cgroup cgroup "
    "rw,xattr,release_agent=/usr/lib/systemd/systemd-cgroups-agent,name=systemd\n"
    // A bind mount of a sub-cgroup (not the hierarchy root) comes first: it must be skipped.
    "90 22 0:27 /docker/abc /mnt/memsub rw,relatime shared:40 - cgroup cgroup rw,memory\n"
    "29 25 0:26 / /sys/fs/cgroup/cpu,cpuacct rw,nosuid,nodev,noexec,relatime shared:14 - cgroup cgroup rw,cpu,cpuacct\n"
    "30 25 0:27 / /sys/fs/cgroup/memory rw,nosuid,nodev,noexec,relatime shared:15 - cgroup cgroup rw,memory\n"
    "31 25 0:28 / /sys/fs/cgroup/cpuset rw,nosuid,nodev,noexec,relatime shared:16 master:3 - cgroup cgroup rw,cpuset\n"
    "32 25 0:29 / /sys/fs/cgroup/net_cls,net_prio rw,nosuid shared:17 - cgroup cgroup rw,net_cls,net_prio\n"
    "33 25 0:30 / /sys/fs/cgroup/pids rw,nosuid shared:18 - cgroup cgroup rw,pids\n"
    "34 25 0:31 / /sys/fs/cgroup/my\\040blkio rw,nosuid shared:19 - cgroup cgroup rw,blkio\n"
    "35 25 0:32 / /sys/fs/cgroup/freezer rw,nosuid shared:20 - cgroup cgroup rw,freezer\n"
    "36 25 0:33 / /sys/fs/cgroup/devices rw,nosuid shared:21 - cgroup cgroup rw,devices\n";

constexpr const char* kUnifiedLine =
    "27 25 0:24 / /sys/fs/cgroup/unified rw,nosuid,nodev,noexec,relatime shared:11 - cgroup2 cgroup2 rw,nsdelegate\n";

constexpr const char* kMountinfoV2 =
    "22 1 8:1 / / rw,relatime shared:1 - ext4 /dev/sda1 rw\n"
    // A container's cgroup2 bind of a sub-tree first: not the root, skipped.
    "80 22 0:25 /system.slice/x.scope /mnt/sub rw shared:50 - cgroup2 cgroup2 rw\n"
    "27 22 0:25 / /sys/fs/cgroup rw,nosuid,nodev,noexec,relatime shared:4 - cgroup2 cgroup2 "
    "rw,nsdelegate,memory_recursiveprot\n"
    "28 22 0:26 / /proc rw shared:5 - proc proc rw\n";

TEST(CgroupMountinfo, V1) {
  auto h = parse_mountinfo(kMountinfoV1);
  EXPECT_EQ(h.layout, Layout::V1);
  EXPECT_TRUE(h.unified.empty());
  std::map<std::string, std::string> want = {
      {"cpu", "/sys/fs/cgroup/cpu,cpuacct"},  {"cpuacct", "/sys/fs/cgroup/cpu,cpuacct"},
      {"memory", "/sys/fs/cgroup/memory"},    {"cpuset", "/sys/fs/cgroup/cpuset"},
      {"net_cls", "/sys/fs/cgroup/net_cls,net_prio"}, {"net_prio", "/sys/fs/cgroup/net_cls,net_prio"},
      {"pids", "/sys/fs/cgroup/pids"},        {"blkio", "/sys/fs/cgroup/my blkio"},
      {"freezer", "/sys/fs/cgroup/freezer"},  {"devices", "/sys/fs/cgroup/devices"}};
  EXPECT_EQ(h.v1, want);
  EXPECT_FALSE(h.v1.count("name=systemd"));
  EXPECT_FALSE(h.v1.count("systemd"));
}

TEST(CgroupMountinfo, Hybrid) {
  auto h = parse_mountinfo(std::string(kMountinfoV1) + kUnifiedLine);
  EXPECT_EQ(h.layout, Layout::Hybrid);
  EXPECT_EQ(h.unified, "/sys/fs/cgroup/unified");
  EXPECT_EQ(h.v1.at("memory"), "/sys/fs/cgroup/memory");
  EXPECT_EQ(h.v1.size(), 10u);
}

TEST(CgroupMountinfo, V2) {
  auto h = parse_mountinfo(kMountinfoV2);
  EXPECT_EQ(h.layout, Layout::V2);
  EXPECT_EQ(h.unified, "/sys/fs/cgroup");
  EXPECT_TRUE(h.v1.empty());
}

TEST(CgroupMountinfo, OnlySubtreeMountsAndJunkGiveNothing) {
  auto h = parse_mountinfo(
      "90 22 0:27 /docker/abc /mnt/memsub rw - cgroup cgroup rw,memory\n"
      "80 22 0:25 /x /mnt/sub rw - cgroup2 cgroup2 rw\n"
      "garbage line without separator\n"
      "1 2 - short\n");
  EXPECT_TRUE(h.v1.empty());
  EXPECT_TRUE(h.unified.empty());
  EXPECT_EQ(h.layout, Layout::V1);
}

TEST(CgroupMountinfo, TruncatedCgroupLinesAndNoFinalNewline) {
  // Lines cut short in every field, then a last line without its newline: the parser reads
  // only what is there and never past the end.
  auto h = parse_mountinfo(
      "1 2 - cgroup\n"
      "1 2 3 / - cgroup cgroup rw,memory\n"
      "1 2 3 / /m rw - cgroup cgroup\n"
      "1 2 3 / /u rw - cgroup2\n"
      "30 25 0:27 / /sys/fs/cgroup/pids rw - cgroup cgroup rw,pids");
  EXPECT_EQ(h.v1.size(), 1u);
  EXPECT_EQ(h.v1.at("pids"), "/sys/fs/cgroup/pids");
  EXPECT_EQ(h.unified, "/u");  // a cgroup2 root mount needs no super options
}

// ---------------------------------------------------------------- /proc/<pid>/cgroup

TEST(CgroupProcCgroup, V1AndV2Entries) {
  auto m = parse_proc_cgroup(
      "12:pids:/user.slice/user-1000.slice\n"
      "4:cpu,cpuacct:/user.slice\n"
      "1:name=systemd:/user.slice/user-1000.slice/session-1.scope\n"
      "0::/user.slice/user-1000.slice/session-1.scope\n"
      "bad line\n");
  std::map<std::string, std::string> want = {
      {"pids", "/user.slice/user-1000.slice"},
      {"cpu", "/user.slice"},
      {"cpuacct", "/user.slice"},
      {"name=systemd", "/user.slice/user-1000.slice/session-1.scope"},
      {"", "/user.slice/user-1000.slice/session-1.scope"}};
  EXPECT_EQ(m, want);
}

TEST(CgroupProcCgroup, PureV2) {
  auto m = parse_proc_cgroup("0::/\n");
  EXPECT_EQ(m, (std::map<std::string, std::string>{{"", "/"}}));
}

// ---------------------------------------------------------------- cpu lists and paths

TEST(CgroupCpuList, Ranges) {
  auto s = parse_cpu_list("0-3,5,7-8\n", "f");
  ASSERT_TRUE(s) << s.error().message();
  EXPECT_EQ(*s, (std::set<unsigned>{0, 1, 2, 3, 5, 7, 8}));
  EXPECT_EQ(*parse_cpu_list("", "f"), std::set<unsigned>{});
  EXPECT_EQ(*parse_cpu_list("\n", "f"), std::set<unsigned>{});
  EXPECT_EQ(*parse_cpu_list("4", "f"), std::set<unsigned>{4});
  EXPECT_EQ(*parse_cpu_list("2-2", "f"), std::set<unsigned>{2});
}

TEST(CgroupCpuList, BadListsNameTheField) {
  for (const char* bad : {"3-1", "a", "1,,2", "0-", "-1", "1-2-3", "1 2", "9999999"}) {
    auto r = parse_cpu_list(bad, "linux.resources.cpu.cpus");
    ASSERT_FALSE(r) << bad;
    EXPECT_TRUE(contains(r.error().message(), "linux.resources.cpu.cpus")) << r.error().message();
  }
}

// Paths below /sys/fs/cgroup are resolved from one O_PATH fd of it (not through sysfs); other
// paths (a fake cgroupfs, say) stay as they are. The fd is close-on-exec and opened once.
TEST(CgroupRootFd, PathsBelowTheRootAreRelativeToItsFd) {
  struct stat st;
  if (::stat("/sys/fs/cgroup", &st) < 0) GTEST_SKIP() << "no /sys/fs/cgroup here";
  const std::string below = "/sys/fs/cgroup/memory/vsrv/x";
  const vsrv::cgroup::At a = vsrv::cgroup::at(below);
  ASSERT_GE(vsrv::cgroup::root_fd(), 0);
  EXPECT_EQ(a.dirfd, vsrv::cgroup::root_fd());
  EXPECT_STREQ(a.path, "memory/vsrv/x");
  EXPECT_EQ(vsrv::cgroup::opened_root_fd(), vsrv::cgroup::root_fd());
  EXPECT_EQ(::fcntl(a.dirfd, F_GETFD) & FD_CLOEXEC, FD_CLOEXEC);
  struct stat by_fd;
  ASSERT_EQ(::fstatat(a.dirfd, "", &by_fd, AT_EMPTY_PATH), 0);
  EXPECT_EQ(by_fd.st_ino, st.st_ino);
  EXPECT_EQ(by_fd.st_dev, st.st_dev);
  for (const std::string other : {"/tmp/fake-cgroupfs/cpu/x", "/sys/fs/cgroupx/y", "/sys/fs/cgroup", "/sys/fs/cgroup/"}) {
    const vsrv::cgroup::At o = vsrv::cgroup::at(other);
    EXPECT_EQ(o.dirfd, AT_FDCWD) << other;
    EXPECT_STREQ(o.path, other.c_str());
  }
  EXPECT_EQ(vsrv::cgroup::at(below).dirfd, a.dirfd) << "one fd per process";
}

TEST(CgroupCleanPath, CollapsesAndRefuses) {
  EXPECT_EQ(*clean_cgroup_path("//a//b/"), "/a/b");
  EXPECT_EQ(*clean_cgroup_path("/a/./b"), "/a/b");
  EXPECT_EQ(*clean_cgroup_path("a/b"), "/a/b");
  EXPECT_EQ(*clean_cgroup_path(""), "/");
  EXPECT_EQ(*clean_cgroup_path("/"), "/");
  EXPECT_EQ(*clean_cgroup_path("/./"), "/");
  for (const char* bad : {"/a/../b", "..", "/x/..", "../etc"}) {
    auto r = clean_cgroup_path(bad);
    ASSERT_FALSE(r) << bad;
    EXPECT_TRUE(contains(r.error().message(), "..")) << r.error().message();
    EXPECT_TRUE(contains(r.error().message(), "cgroupsPath"));
  }
  EXPECT_EQ(*clean_cgroup_path("/a/..b/c"), "/a/..b/c");  // only a whole ".." component is refused
}

TEST_F(CgroupFakeFs, DefaultPathV1) {
  Hierarchies h = v1_layout(false);
  auto before = tree();
  auto m = Manager::create_at(h, "", "c1", no_own);
  ASSERT_TRUE(m) << m.error().message();
  EXPECT_EQ(m->cgroup_path(), "/vsrv/c1");
  EXPECT_EQ(m->layout(), Layout::V1);
  for (const char* c : {"cpu", "cpuacct"}) EXPECT_EQ(m->paths().at(c), root + "/cpu,cpuacct/vsrv/c1");
  for (const char* c : {"cpuset", "memory", "pids", "freezer", "devices"})
    EXPECT_EQ(m->paths().at(c), root + "/" + c + "/vsrv/c1") << c;
  EXPECT_FALSE(m->paths().count("unified"));
  EXPECT_EQ(m->v2_dirfd(), -1);
  EXPECT_EQ(m->clone_into_fd(), -1);
  // Co-mounted cpu,cpuacct made once; each prefix and leaf listed once.
  std::vector<std::string> want;
  for (const char* d : {"cpu,cpuacct", "cpuset", "memory", "pids", "freezer", "devices"}) {
    want.push_back(root + "/" + d + "/vsrv");
    want.push_back(root + "/" + d + "/vsrv/c1");
  }
  EXPECT_EQ(sorted(m->created()), sorted(want));
  for (const auto& d : want) EXPECT_TRUE(is_dir(d)) << d;

  ASSERT_TRUE(m->destroy()) << m->destroy().error().message();
  EXPECT_EQ(tree(), before);  // the /vsrv prefix went with its only container
}

TEST_F(CgroupFakeFs, DefaultPathHybridIncludesUnified) {
  Hierarchies h = v1_layout(true);
  auto m = Manager::create_at(h, "", "c1", no_own);
  ASSERT_TRUE(m) << m.error().message();
  EXPECT_EQ(m->layout(), Layout::Hybrid);
  EXPECT_EQ(m->paths().at("unified"), root + "/unified/vsrv/c1");
  EXPECT_EQ(m->paths().at("memory"), root + "/memory/vsrv/c1");
  EXPECT_TRUE(is_dir(root + "/unified/vsrv/c1"));
  EXPECT_TRUE(std::count(m->created().begin(), m->created().end(), root + "/unified/vsrv/c1"));
  // Hybrid is not v2 (the v1 controllers do the work), but clone3 still places the process in
  // the unified hierarchy with CLONE_INTO_CGROUP instead of a cgroup.procs write.
  EXPECT_EQ(m->v2_dirfd(), -1);
  ASSERT_GE(m->clone_into_fd(), 0);
  struct stat a, b;
  ASSERT_EQ(::fstat(m->clone_into_fd(), &a), 0);
  ASSERT_EQ(::stat((root + "/unified/vsrv/c1").c_str(), &b), 0);
  EXPECT_EQ(a.st_ino, b.st_ino);
  ASSERT_TRUE(m->destroy());
  EXPECT_FALSE(exists(root + "/unified/vsrv"));
  EXPECT_FALSE(exists(root + "/memory/vsrv"));
}

TEST_F(CgroupFakeFs, DefaultPathV2) {
  Hierarchies h = v2_layout();
  auto before = tree();
  auto m = Manager::create_at(h, "", "box", no_own);
  ASSERT_TRUE(m) << m.error().message();
  EXPECT_EQ(m->cgroup_path(), "/vsrv/box");
  EXPECT_EQ(m->paths(), (std::map<std::string, std::string>{{"unified", root + "/v2/vsrv/box"}}));
  EXPECT_EQ(sorted(m->created()), sorted({root + "/v2/vsrv", root + "/v2/vsrv/box"}));
  EXPECT_GE(m->v2_dirfd(), 0);
  struct stat a, b;
  ASSERT_EQ(::fstat(m->v2_dirfd(), &a), 0);
  ASSERT_EQ(::stat((root + "/v2/vsrv/box").c_str(), &b), 0);
  EXPECT_EQ(a.st_ino, b.st_ino);
  ASSERT_TRUE(m->destroy()) << m->destroy().error().message();
  EXPECT_EQ(tree(), before);
  EXPECT_EQ(slurp(root + "/v2/cgroup.controllers"), "cpuset cpu io memory pids\n");
}

TEST_F(CgroupFakeFs, AbsolutePath) {
  Hierarchies h = v1_layout(true);
  auto m = Manager::create_at(h, "/machine//pods/./p1", "ignored", no_own);
  ASSERT_TRUE(m) << m.error().message();
  EXPECT_EQ(m->cgroup_path(), "/machine/pods/p1");
  EXPECT_EQ(m->paths().at("memory"), root + "/memory/machine/pods/p1");
  EXPECT_EQ(m->paths().at("unified"), root + "/unified/machine/pods/p1");
  EXPECT_TRUE(is_dir(root + "/pids/machine/pods/p1"));
  EXPECT_FALSE(exists(root + "/memory/vsrv"));
  // All three levels were new: all three go.
  EXPECT_EQ(std::count_if(m->created().begin(), m->created().end(),
                          [&](const std::string& d) { return d.rfind(root + "/memory/", 0) == 0; }),
            3);
  ASSERT_TRUE(m->destroy()) << m->destroy().error().message();
  EXPECT_FALSE(exists(root + "/memory/machine"));
  EXPECT_FALSE(exists(root + "/unified/machine"));
}

TEST_F(CgroupFakeFs, RelativePathBelowOwnCgroupPerController) {
  Hierarchies h = v1_layout(true);
  // Where vsrv itself runs (its /proc/self/cgroup): differs per controller, as on real systems.
  std::map<std::string, std::string> own = {{"cpu", "/user.slice/a"},  {"cpuacct", "/user.slice/a"},
                                            {"memory", "/user.slice/b"}, {"pids", "/user.slice/a"},
                                            {"name=systemd", "/ignored"},  {"", "/user.slice/u"}};
  // vsrv's own cgroups exist already.
  mkdir_p(root + "/memory/user.slice/b");
  mkdir_p(root + "/unified/user.slice/u");
  auto r = Manager::resolve_at(h, "ctr/c1", "c1", own);
  ASSERT_TRUE(r) << r.error().message();
  EXPECT_EQ(r->paths().at("cpu"), root + "/cpu,cpuacct/user.slice/a/ctr/c1");
  EXPECT_EQ(r->paths().at("cpuacct"), root + "/cpu,cpuacct/user.slice/a/ctr/c1");
  EXPECT_EQ(r->paths().at("memory"), root + "/memory/user.slice/b/ctr/c1");
  EXPECT_EQ(r->paths().at("pids"), root + "/pids/user.slice/a/ctr/c1");
  // No entry for a controller: relative to its root, as runc.
  EXPECT_EQ(r->paths().at("cpuset"), root + "/cpuset/ctr/c1");
  EXPECT_EQ(r->paths().at("freezer"), root + "/freezer/ctr/c1");
  EXPECT_EQ(r->paths().at("unified"), root + "/unified/user.slice/u/ctr/c1");

  auto m = Manager::create_at(h, "ctr/c1", "c1", own);
  ASSERT_TRUE(m) << m.error().message();
  EXPECT_EQ(sorted(m->created()), sorted(r->created()));
  // Only what did not exist: not the pre-existing own cgroups.
  for (const auto& d : m->created()) {
    EXPECT_NE(d, root + "/memory/user.slice/b") << d;
    EXPECT_NE(d, root + "/memory/user.slice") << d;
    EXPECT_NE(d, root + "/unified/user.slice/u") << d;
  }
  EXPECT_TRUE(std::count(m->created().begin(), m->created().end(), root + "/memory/user.slice/b/ctr"));
  EXPECT_TRUE(std::count(m->created().begin(), m->created().end(), root + "/cpu,cpuacct/user.slice"));

  ASSERT_TRUE(m->destroy()) << m->destroy().error().message();
  EXPECT_TRUE(is_dir(root + "/memory/user.slice/b"));
  EXPECT_FALSE(exists(root + "/memory/user.slice/b/ctr"));
  EXPECT_TRUE(is_dir(root + "/unified/user.slice/u"));
  EXPECT_FALSE(exists(root + "/unified/user.slice/u/ctr"));
  EXPECT_FALSE(exists(root + "/cpu,cpuacct/user.slice"));
}

TEST_F(CgroupFakeFs, RelativePathOnV2UsesTheUnifiedEntry) {
  Hierarchies h = v2_layout();
  mkdir_p(root + "/v2/user.slice/sess");
  auto m = Manager::create_at(h, "c9", "c9", {{"", "/user.slice/sess"}, {"memory", "/wrong"}});
  ASSERT_TRUE(m) << m.error().message();
  EXPECT_EQ(m->paths().at("unified"), root + "/v2/user.slice/sess/c9");
  EXPECT_EQ(m->created(), (std::vector<std::string>{root + "/v2/user.slice/sess/c9"}));
  ASSERT_TRUE(m->destroy());
  EXPECT_TRUE(is_dir(root + "/v2/user.slice/sess"));
  EXPECT_FALSE(exists(root + "/v2/user.slice/sess/c9"));
}

TEST_F(CgroupFakeFs, SystemdPathRefused) {
  Hierarchies h = v1_layout(true);
  auto before = tree();
  auto m = Manager::create_at(h, "system.slice:vsrv:c1", "c1", no_own);
  ASSERT_FALSE(m);
  EXPECT_TRUE(contains(m.error().message(), "linux.cgroupsPath")) << m.error().message();
  EXPECT_TRUE(contains(m.error().message(), "systemd"));
  EXPECT_EQ(tree(), before);
}

TEST_F(CgroupFakeFs, RootAndDotDotRefused) {
  for (bool v2 : {false, true}) {
    Hierarchies h = v2 ? v2_layout() : v1_layout(true);
    auto before = tree();
    for (const char* p : {"/", "//", "/./", "/a/../b", "../x"}) {
      auto m = Manager::create_at(h, p, "c1", no_own);
      ASSERT_FALSE(m) << p;
      EXPECT_TRUE(contains(m.error().message(), "linux.cgroupsPath")) << m.error().message();
    }
    auto root_err = Manager::resolve_at(h, "/", "c1", no_own);
    ASSERT_FALSE(root_err);
    EXPECT_TRUE(contains(root_err.error().message(), "root cgroup")) << root_err.error().message();
    EXPECT_EQ(tree(), before);
  }
}

TEST_F(CgroupFakeFs, NoHierarchyIsAnError) {
  Hierarchies h;
  auto m = Manager::resolve_at(h, "", "c1", no_own);
  ASSERT_FALSE(m);
  EXPECT_TRUE(contains(m.error().message(), "no cgroup hierarchy"));
}

TEST_F(CgroupFakeFs, ResolveTouchesNothingAndMakeCreatesTheListedDirs) {
  Hierarchies h = v1_layout(true);
  auto before = tree();
  auto m = Manager::resolve_at(h, "", "c1", no_own);
  ASSERT_TRUE(m) << m.error().message();
  EXPECT_EQ(tree(), before);
  std::vector<std::string> planned = m->created();
  EXPECT_EQ(planned.size(), 2u * 7u);  // 6 v1 mounts + unified, prefix and leaf each
  ASSERT_TRUE(m->make()) << "make";
  EXPECT_EQ(sorted(m->created()), sorted(planned));
  for (const auto& d : planned) EXPECT_TRUE(is_dir(d)) << d;
  ASSERT_TRUE(m->destroy());
  EXPECT_EQ(tree(), before);
}

TEST_F(CgroupFakeFs, PreExistingParentStays) {
  Hierarchies h = v1_layout(true);
  for (const char* d : {"cpu,cpuacct", "cpuset", "memory", "pids", "freezer", "devices", "unified"})
    mkdir_p(root + "/" + d + "/shared");
  auto m = Manager::create_at(h, "/shared/c1", "c1", no_own);
  ASSERT_TRUE(m) << m.error().message();
  std::vector<std::string> want;
  for (const char* d : {"cpu,cpuacct", "cpuset", "memory", "pids", "freezer", "devices", "unified"})
    want.push_back(root + "/" + d + "/shared/c1");
  EXPECT_EQ(sorted(m->created()), sorted(want));
  ASSERT_TRUE(m->destroy()) << m->destroy().error().message();
  for (const char* d : {"cpu,cpuacct", "cpuset", "memory", "pids", "freezer", "devices", "unified"}) {
    EXPECT_TRUE(is_dir(root + "/" + d + "/shared")) << d;
    EXPECT_FALSE(exists(root + "/" + d + "/shared/c1")) << d;
  }
}

TEST_F(CgroupFakeFs, PreExistingLeafIsNotRemoved) {
  Hierarchies h = v2_layout();
  mkdir_p(root + "/v2/mine/c1");
  auto m = Manager::create_at(h, "/mine/c1", "c1", no_own);
  ASSERT_TRUE(m) << m.error().message();
  EXPECT_TRUE(m->created().empty());
  EXPECT_FALSE(m->made_all());  // create must not apply "fresh" (without undo) to someone's cgroup
  (void)m->destroy();
  EXPECT_TRUE(is_dir(root + "/v2/mine/c1"));
}

// A fresh cgroup (create) is written without reading the old values first; a refused value is
// then not rolled back, since create removes the whole cgroup.
TEST_F(CgroupFakeFs, FreshApplySkipsTheUndo) {
  Hierarchies h = v1_layout(false);
  auto m = Manager::create_at(h, "", "c1", no_own);
  ASSERT_TRUE(m) << m.error().message();
  EXPECT_TRUE(m->made_all());
  const std::string mem = root + "/memory/vsrv/c1";
  put(mem + "/memory.limit_in_bytes", "old\n");
  mkdir_p(mem + "/memory.memsw.limit_in_bytes");  // refused: a directory stands there
  oci::Resources both;
  both.memory = oci::Memory{};
  both.memory->limit = 2 << 20;
  both.memory->swap = 4 << 20;
  ASSERT_FALSE(m->apply(both, /*fresh=*/true));
  EXPECT_EQ(slurp(mem + "/memory.limit_in_bytes"), "2097152");
  put(mem + "/memory.limit_in_bytes", "old\n");
  ASSERT_FALSE(m->apply(both));  // not fresh (update): the first value is put back
  EXPECT_EQ(slurp(mem + "/memory.limit_in_bytes"), "old");
  ::unlink((mem + "/memory.limit_in_bytes").c_str());
  ::rmdir((mem + "/memory.memsw.limit_in_bytes").c_str());
  ASSERT_TRUE(m->destroy()) << m->destroy().error().message();
}

TEST_F(CgroupFakeFs, VsrvPrefixGoesWithItsLastContainer) {
  Hierarchies h = v1_layout(true);
  auto before = tree();
  auto a = Manager::create_at(h, "", "a", no_own);
  ASSERT_TRUE(a) << a.error().message();
  auto b = Manager::create_at(h, "", "b", no_own);
  ASSERT_TRUE(b) << b.error().message();
  // b found the prefix already there: only its leaves are its own.
  for (const auto& d : b->created()) EXPECT_EQ(d.substr(d.size() - 7), "/vsrv/b") << d;
  ASSERT_TRUE(a->destroy()) << a->destroy().error().message();
  EXPECT_TRUE(is_dir(root + "/memory/vsrv/b"));
  EXPECT_TRUE(is_dir(root + "/memory/vsrv"));  // b still lives below it
  EXPECT_FALSE(exists(root + "/memory/vsrv/a"));
  ASSERT_TRUE(b->destroy()) << b->destroy().error().message();
  EXPECT_EQ(tree(), before);  // the prefix went with b, though a created it
}

TEST_F(CgroupFakeFs, PreExistingCustomPrefixStays) {
  // Only the default "/vsrv" prefix is removed with its last container; a pre-existing "/keep"
  // that vsrv did not create stays.
  Hierarchies h = v2_layout();
  mkdir_p(root + "/v2/keep");
  auto m = Manager::create_at(h, "/keep/c1", "c1", no_own);
  ASSERT_TRUE(m);
  ASSERT_TRUE(m->destroy());
  EXPECT_TRUE(is_dir(root + "/v2/keep"));
}

TEST_F(CgroupFakeFs, CpusetInheritedFromTheParent) {
  Hierarchies h = v1_layout(false);
  // A pre-existing intermediate cgroup with empty cpuset files (as a new v1 cpuset cgroup has).
  mkdir_p(root + "/cpuset/mid");
  put(root + "/cpuset/mid/cpuset.cpus", "\n");
  put(root + "/cpuset/mid/cpuset.mems", "");
  auto m = Manager::create_at(h, "/mid/c1", "c1", no_own);
  ASSERT_TRUE(m) << m.error().message();
  EXPECT_EQ(slurp(root + "/cpuset/mid/cpuset.cpus"), "0-3");
  EXPECT_EQ(slurp(root + "/cpuset/mid/cpuset.mems"), "0");
  // The leaf of the fake has no cpuset files (the kernel would provide them): none are invented.
  EXPECT_FALSE(exists(root + "/cpuset/mid/c1/cpuset.cpus"));
  ASSERT_TRUE(m->destroy()) << m->destroy().error().message();
  EXPECT_TRUE(is_dir(root + "/cpuset/mid"));
}

TEST_F(CgroupFakeFs, CpusetMountWithoutCpusetFilesDoesNotRecurseForever) {
  // When no ancestor has readable cpuset.cpus (here: a fake without them), the seeding walk
  // must stop at the filesystem root instead of recursing on "" forever.
  Hierarchies h;
  h.layout = Layout::V1;
  mkdir_p(root + "/cpuset");
  h.v1["cpuset"] = root + "/cpuset";
  auto m = Manager::create_at(h, "", "c1", no_own);
  ASSERT_TRUE(m) << m.error().message();
  ASSERT_TRUE(m->destroy());
  EXPECT_FALSE(exists(root + "/cpuset/vsrv"));
}

TEST_F(CgroupFakeFs, FailedMakeLeavesNoHalfMadeCgroup) {
  Hierarchies h = v1_layout(true);
  // "vsrv" in the memory hierarchy is a regular file: mkdir below it fails (ENOTDIR) after the
  // cpu, cpuset (earlier in the controller order) directories were made.
  put(root + "/memory/vsrv", "");
  auto before = tree();
  auto m = Manager::create_at(h, "", "c1", no_own);
  ASSERT_FALSE(m);
  EXPECT_TRUE(contains(m.error().message(), root + "/memory/vsrv/c1")) << m.error().message();
  EXPECT_EQ(tree(), before);
}

TEST_F(CgroupFakeFs, JsonRoundTrip) {
  for (bool v2 : {false, true}) {
    Hierarchies h = v2 ? v2_layout() : v1_layout(true);
    std::map<std::string, std::string> own = {{"memory", "/m"}, {"", "/u"}};
    auto m = Manager::create_at(h, "rel/x", "x", own);
    ASSERT_TRUE(m) << m.error().message();
    auto saved = m->to_json();
    auto back = Manager::from_json(saved);
    ASSERT_TRUE(back) << back.error().message();
    EXPECT_EQ(back->layout(), m->layout());
    EXPECT_EQ(back->paths(), m->paths());
    EXPECT_EQ(back->created(), m->created());
    EXPECT_EQ(back->cgroup_path(), m->cgroup_path());
    EXPECT_EQ(back->to_json(), saved);
    if (v2) {
      EXPECT_GE(back->v2_dirfd(), 0);
    } else {
      EXPECT_EQ(back->v2_dirfd(), -1);
    }
    EXPECT_GE(back->clone_into_fd(), 0);  // v2 and hybrid both clone into the unified dir
    // The rebuilt manager removes exactly what the original made.
    ASSERT_TRUE(back->destroy()) << back->destroy().error().message();
    for (const auto& d : m->created()) EXPECT_FALSE(exists(d)) << d;
    if (!v2) {
      EXPECT_TRUE(is_dir(root + "/memory"));
    }
  }
}

TEST_F(CgroupFakeFs, JsonOfResolvedStateLetsDeleteCleanUp) {
  // State is saved between resolve and make: a create killed after make() must still be undone
  // by a manager rebuilt from that earlier JSON.
  Hierarchies h = v1_layout(true);
  auto before = tree();
  auto r = Manager::resolve_at(h, "", "k", no_own);
  ASSERT_TRUE(r);
  std::string saved = r->to_json();
  ASSERT_TRUE(r->make());
  auto back = Manager::from_json(saved);
  ASSERT_TRUE(back);
  ASSERT_TRUE(back->destroy()) << back->destroy().error().message();
  EXPECT_EQ(tree(), before);
}

// A new process moves itself into each v1 hierarchy through its `tasks` file: one per
// directory (cpu,cpuacct are co-mounted and share one), none for the unified hierarchy.
TEST_F(CgroupFakeFs, TaskFilesOnePerV1DirectoryOpenForWriting) {
  Hierarchies h = v1_layout(true);
  auto m = Manager::create_at(h, "", "c1", no_own);
  ASSERT_TRUE(m) << m.error().message();
  std::set<std::string> dirs;
  for (const auto& [c, d] : m->paths())
    if (c != "unified") dirs.insert(d);
  for (const auto& d : dirs) put(d + "/tasks", "");
  {
    auto t = m->task_files();
    ASSERT_TRUE(t) << t.error().message();
    std::set<std::string> got;
    for (const auto& f : *t) {
      got.insert(f.path);
      int fl = ::fcntl(f.fd.get(), F_GETFL);
      EXPECT_EQ(fl & O_ACCMODE, O_WRONLY) << f.path;
      EXPECT_TRUE(::fcntl(f.fd.get(), F_GETFD) & FD_CLOEXEC) << f.path;
    }
    std::set<std::string> want;
    for (const auto& d : dirs) want.insert(d + "/tasks");
    EXPECT_EQ(got, want);
    EXPECT_EQ(t->size(), dirs.size());
    EXPECT_TRUE(want.count(root + "/cpu,cpuacct/vsrv/c1/tasks"));
  }
  // A hierarchy without the file (not a cgroupfs) is an error naming it.
  ::unlink((root + "/memory/vsrv/c1/tasks").c_str());
  auto e = m->task_files();
  ASSERT_FALSE(e);
  EXPECT_TRUE(contains(e.error().message(), root + "/memory/vsrv/c1/tasks")) << e.error().message();
  for (const auto& d : dirs) ::unlink((d + "/tasks").c_str());
  ASSERT_TRUE(m->destroy()) << m->destroy().error().message();
}

// apply() on the fake: the kernel files are plain files here (created by the test in the leaf,
// and removed again before destroy(), since rmdir of a plain directory with files fails).
TEST_F(CgroupFakeFs, ApplyWritesV1FilesAndRollsBackARefusedValue) {
  Hierarchies h = v1_layout(false);
  auto m = Manager::create_at(h, "", "c1", no_own);
  ASSERT_TRUE(m) << m.error().message();
  const std::string mem = root + "/memory/vsrv/c1";
  const std::string pids = root + "/pids/vsrv/c1";
  put(mem + "/memory.limit_in_bytes", "old\n");
  put(pids + "/pids.max", "max\n");

  oci::Resources ok;
  ok.memory = oci::Memory{};
  ok.memory->limit = 1 << 20;
  ok.pids = oci::Pids{7};
  auto r = m->apply(ok);
  ASSERT_TRUE(r) << r.error().message();
  EXPECT_EQ(slurp(mem + "/memory.limit_in_bytes"), "1048576");
  EXPECT_EQ(slurp(pids + "/pids.max"), "7");

  // The second write is refused (a directory stands where the file is): the first is undone.
  put(mem + "/memory.limit_in_bytes", "old\n");
  mkdir_p(mem + "/memory.memsw.limit_in_bytes");
  oci::Resources both;
  both.memory = oci::Memory{};
  both.memory->limit = 2 << 20;
  both.memory->swap = 4 << 20;
  auto e = m->apply(both);
  ASSERT_FALSE(e);
  EXPECT_TRUE(contains(e.error().message(), "memory.memsw.limit_in_bytes")) << e.error().message();
  EXPECT_EQ(slurp(mem + "/memory.limit_in_bytes"), "old");

  // Bad input is refused before any write, naming the field.
  oci::Resources neg;
  neg.memory = oci::Memory{};
  neg.memory->limit = -2;
  neg.pids = oci::Pids{9};
  auto ne = m->apply(neg);
  ASSERT_FALSE(ne);
  EXPECT_TRUE(contains(ne.error().message(), "linux.resources.memory.limit")) << ne.error().message();
  EXPECT_EQ(slurp(pids + "/pids.max"), "7");

  oci::Resources unified;
  unified.unified["memory.high"] = "1";
  auto ue = m->apply(unified);
  ASSERT_FALSE(ue);
  EXPECT_TRUE(contains(ue.error().message(), "linux.resources.unified")) << ue.error().message();

  oci::Resources dev;
  dev.devices = {{true, "z", 1, 3, "rwm"}};
  auto de = m->apply(dev);
  ASSERT_FALSE(de);
  EXPECT_TRUE(contains(de.error().message(), "linux.resources.devices[0].type")) << de.error().message();

  ::unlink((mem + "/memory.limit_in_bytes").c_str());
  ::rmdir((mem + "/memory.memsw.limit_in_bytes").c_str());
  ::unlink((pids + "/pids.max").c_str());
  ASSERT_TRUE(m->destroy()) << m->destroy().error().message();
  EXPECT_FALSE(exists(root + "/memory/vsrv"));
}

TEST_F(CgroupFakeFs, ApplyWritesV2FilesInTheUnifiedDir) {
  Hierarchies h = v2_layout();
  auto m = Manager::create_at(h, "", "c2", no_own);
  ASSERT_TRUE(m) << m.error().message();
  const std::string d = root + "/v2/vsrv/c2";
  for (const char* f : {"cpu.weight", "cpu.max", "memory.max", "memory.swap.max"}) put(d + "/" + f, "x");
  oci::Resources r;
  r.cpu = oci::Cpu{};
  r.cpu->shares = 1024;
  r.cpu->quota = 50000;
  r.cpu->period = 100000;
  r.memory = oci::Memory{};
  r.memory->limit = 1000;
  r.memory->swap = 3000;
  auto a = m->apply(r);
  ASSERT_TRUE(a) << a.error().message();
  EXPECT_EQ(slurp(d + "/cpu.weight"), "39");
  EXPECT_EQ(slurp(d + "/cpu.max"), "50000 100000");
  EXPECT_EQ(slurp(d + "/memory.max"), "1000");
  EXPECT_EQ(slurp(d + "/memory.swap.max"), "2000");

  oci::Resources unknown;
  unknown.unified["foo.bar"] = "1";
  auto e = m->apply(unknown);
  ASSERT_FALSE(e);
  EXPECT_TRUE(contains(e.error().message(), "linux.resources.unified[foo.bar]")) << e.error().message();
  EXPECT_FALSE(exists(d + "/foo.bar"));

  for (const char* f : {"cpu.weight", "cpu.max", "memory.max", "memory.swap.max"}) ::unlink((d + "/" + f).c_str());
  ASSERT_TRUE(m->destroy()) << m->destroy().error().message();
  EXPECT_FALSE(exists(root + "/v2/vsrv"));
}

TEST(CgroupJson, CorruptStateRefused) {
  for (const char* bad : {"", "not json", "[1,2]", "{\"paths\": 5}", "{\"created\": {\"a\": 1}}"}) {
    auto m = Manager::from_json(bad);
    EXPECT_FALSE(m) << bad;
    if (!m) {
      EXPECT_TRUE(contains(m.error().message(), "corrupt cgroup state")) << m.error().message();
    }
  }
  auto empty = Manager::from_json("{}");
  ASSERT_TRUE(empty);
  EXPECT_TRUE(empty->paths().empty());
  EXPECT_TRUE(empty->destroy());  // nothing to remove
}

}  // namespace
}  // namespace vsrv::cgroup
