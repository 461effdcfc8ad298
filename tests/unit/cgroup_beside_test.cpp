// Unit tests for the v1 cgroup made beside the init: Manager::v1_steps / v1_made_elsewhere /
// v1_made (runtime/cgroup/manager.cpp) and the helper that carries the steps out
// (runtime/cgroup_beside.cpp), against the fake cgroupfs of cgroup_fakefs.h.
#include <gtest/gtest.h>

#include <optional>

#include <string>
#include <vector>

#include "runtime/cgroup/manager.h"
#include "runtime/cgroup_beside.h"
#include "tests/unit/cgroup_fakefs.h"

namespace vsrv::cgroup {
namespace {

using namespace fakefs;
using runtime::CgroupBeside;

const std::vector<std::string> kV1 = {"cpu,cpuacct", "cpuset", "memory", "pids", "freezer", "devices"};

// A directory of the fake cpuset hierarchy (`rel` below its mount) with these cpus and mems.
void cpuset_dir(const std::string& root, const std::string& rel, const std::string& cpus, const std::string& mems) {
  mkdir_p(root + "/cpuset" + rel);
  put(root + "/cpuset" + rel + "/cpuset.cpus", cpus);
  put(root + "/cpuset" + rel + "/cpuset.mems", mems);
}

// Container c1 resolved at `path` in `h`, with its v1 steps; nullopt when either is refused.
struct Planned {
  Manager m;
  Manager::V1Steps steps;
};
std::optional<Planned> plan_c1(const Hierarchies& h, const std::string& path) {
  auto m = Manager::resolve_at(h, path, "c1", {});
  if (!m) return std::nullopt;
  auto s = m->v1_steps(nullptr);
  if (!s) return std::nullopt;
  return Planned{std::move(*m), std::move(*s)};
}

// Starts the helper, or skips: a sanitizer build starts none (runtime/cgroup_beside.h).
#define START_OR_SKIP(b, m, steps)                                                  \
  do {                                                                              \
    if (!(b).start((m), std::move(steps))) GTEST_SKIP() << "no helper can start here (a sanitizer build)"; \
  } while (0)

TEST_F(CgroupFakeFs, V1StepsListEveryLevelSeedTheCpusetAndLeaveTheUnifiedDir) {
  Hierarchies h = v1_layout(true);
  auto m = Manager::resolve_at(h, "", "c1", no_own);
  ASSERT_TRUE(m) << m.error().message();
  auto steps = m->v1_steps(nullptr);
  ASSERT_TRUE(steps);
  std::vector<std::string> dirs, leaves;
  for (const auto& d : steps->mkdirs) {
    dirs.push_back(d.path);
    if (d.leaf) leaves.push_back(d.path);
  }
  std::vector<std::string> want_dirs, want_leaves, want_tasks;
  for (const auto& v : kV1) {
    want_dirs.push_back(root + "/" + v + "/vsrv");
    want_dirs.push_back(root + "/" + v + "/vsrv/c1");
    want_leaves.push_back(root + "/" + v + "/vsrv/c1");
    want_tasks.push_back(root + "/" + v + "/vsrv/c1/tasks");
  }
  EXPECT_EQ(sorted(dirs), sorted(want_dirs));  // nothing in the unified hierarchy
  EXPECT_EQ(sorted(leaves), sorted(want_leaves));
  EXPECT_EQ(sorted(steps->tasks), sorted(want_tasks));  // cpu,cpuacct once
  // Each hierarchy top-down: a parent before its child.
  for (size_t i = 1; i < steps->mkdirs.size(); ++i) {
    if (!steps->mkdirs[i - 1].leaf) {
      EXPECT_EQ(steps->mkdirs[i].path.rfind(steps->mkdirs[i - 1].path + "/", 0), 0u);
    }
  }
  // The new cpuset directories get the root's cpus and mems, as make() gives them.
  ASSERT_EQ(steps->writes.size(), 4u);
  EXPECT_EQ(steps->writes[0].file, root + "/cpuset/vsrv/cpuset.cpus");
  EXPECT_EQ(steps->writes[0].value, "0-3");
  EXPECT_EQ(steps->writes[3].file, root + "/cpuset/vsrv/c1/cpuset.mems");
  EXPECT_EQ(steps->writes[3].value, "0");
  for (const auto& w : steps->writes) EXPECT_TRUE(w.seed);
}

TEST_F(CgroupFakeFs, V1StepsAreRefusedWhereTheUsualWayMustMakeTheCgroup) {
  {
    Hierarchies h = v2_layout();
    auto m = Manager::resolve_at(h, "", "c1", no_own);
    ASSERT_TRUE(m);
    EXPECT_FALSE(m->v1_steps(nullptr)) << "pure v2: nothing to make beside";
  }
  {
    Hierarchies h = v1_layout(false);
    mkdir_p(root + "/memory/vsrv/c2");  // someone's cgroup: made_all() is false
    auto m = Manager::resolve_at(h, "", "c2", no_own);
    ASSERT_TRUE(m);
    EXPECT_FALSE(m->v1_steps(nullptr));
  }
  {
    Hierarchies h = v1_layout(false);
    put(root + "/cpuset/cpuset.cpus", "");  // no ancestor to seed the new cpuset from
    auto m = Manager::resolve_at(h, "", "c3", no_own);
    ASSERT_TRUE(m);
    EXPECT_FALSE(m->v1_steps(nullptr));
  }
}

TEST_F(CgroupFakeFs, V1StepsSeedAnEmptyCpusetParentToo) {
  Hierarchies h = v1_layout(false);
  cpuset_dir(root, "/mid", "\n", "");
  auto p = plan_c1(h, "/mid/c1");
  ASSERT_TRUE(p);
  const auto* steps = &p->steps;
  ASSERT_EQ(steps->writes.size(), 4u);
  EXPECT_EQ(steps->writes[0].file, root + "/cpuset/mid/cpuset.cpus");  // top-down
  EXPECT_EQ(steps->writes[2].file, root + "/cpuset/mid/c1/cpuset.cpus");
  EXPECT_EQ(steps->writes[2].value, "0-3");
}

// A prefix that exists when the steps are planned is seeded too, but only if the helper makes it
// again (a concurrent delete removed "/vsrv" with its last container) or finds it empty: each
// seed names its directory. The values come from the deepest directory that has them.
TEST_F(CgroupFakeFs, V1StepsSeedEveryLevelSoAPrefixMadeAgainIsSeeded) {
  Hierarchies h = v1_layout(false);
  cpuset_dir(root, "/vsrv", "0-1\n", "0\n");
  auto p = plan_c1(h, "");
  ASSERT_TRUE(p);
  const auto* steps = &p->steps;
  ASSERT_EQ(steps->writes.size(), 4u);
  EXPECT_EQ(steps->writes[0].file, root + "/cpuset/vsrv/cpuset.cpus");
  EXPECT_EQ(steps->writes[0].dir, root + "/cpuset/vsrv");
  EXPECT_EQ(steps->writes[0].value, "0-1");
  EXPECT_EQ(steps->writes[3].file, root + "/cpuset/vsrv/c1/cpuset.mems");
  EXPECT_EQ(steps->writes[3].dir, root + "/cpuset/vsrv/c1");
  for (const auto& w : steps->writes) EXPECT_TRUE(w.seed);
}

// The helper writes a seed where it made the directory or the file is empty, never over a value
// someone set (the prefix's own cpus stay).
TEST_F(CgroupFakeFs, TheHelperSeedsOnlyWhatItMadeOrFindsEmpty) {
  Hierarchies h = v1_layout(false);
  cpuset_dir(root, "/vsrv", "0-1\n", "\n");  // the mems empty: seeded
  auto p = plan_c1(h, "");
  ASSERT_TRUE(p);
  for (auto& w : p->steps.writes) w.value = "7";  // a value that shows where it was written
  CgroupBeside b;
  START_OR_SKIP(b, p->m, p->steps);
  ASSERT_TRUE(b.wait()) << b.wait().error().message();
  EXPECT_EQ(slurp(root + "/cpuset/vsrv/cpuset.cpus"), "0-1\n") << "a value someone set stays";
  EXPECT_EQ(slurp(root + "/cpuset/vsrv/cpuset.mems"), "7") << "an empty one is seeded";
  (void)p->m.destroy();
}

// The helper's tests: container c1 resolved at `path` (v1 hierarchies, and a unified one when
// asked), its v1 steps taken.
class CgroupBesideTest : public CgroupFakeFs {
 protected:
  void prepare(const std::string& path, bool unified) {
    Hierarchies h = v1_layout(unified);
    before = tree();
    auto r = Manager::resolve_at(h, path, "c1", no_own);
    ASSERT_TRUE(r) << r.error().message();
    m = std::move(*r);
    planned = m.created();
    auto st = m.v1_steps(nullptr);
    ASSERT_TRUE(st);
    steps = std::move(*st);
  }
  std::set<std::string> before;
  Manager m;
  std::vector<std::string> planned;
  Manager::V1Steps steps;
};

TEST_F(CgroupBesideTest, HelperMakesTheV1DirectoriesAndTheManagerKeepsThemListed) {
  ASSERT_NO_FATAL_FAILURE(prepare("", true));
  CgroupBeside b;
  START_OR_SKIP(b, m, steps);
  ASSERT_TRUE(m.make());  // now the unified directory alone
  EXPECT_EQ(sorted(m.created()), sorted(planned));  // the state saved before stays right
  ASSERT_TRUE(b.wait()) << b.wait().error().message();
  EXPECT_EQ(b.shared()->status, 1);
  EXPECT_EQ(b.shared()->running, 0);  // cleared by the kernel at the helper's exit
  EXPECT_EQ(sorted(m.created()), sorted(planned));
  for (const auto& d : planned) EXPECT_TRUE(is_dir(d)) << d;
  ASSERT_TRUE(m.destroy());
  EXPECT_EQ(tree(), before);
}

// On two CPUs the helper waits for the network namespace made ahead first (runtime/prefetch.h);
// a word that never turns (that helper killed, say) delays it 2 ms at most, and it goes on.
TEST_F(CgroupBesideTest, HelperGoesOnWhenTheWordItWaitsForNeverTurns) {
  ASSERT_NO_FATAL_FAILURE(prepare("", false));
  const int never = 0;
  CgroupBeside b;
  if (!b.start(m, std::move(steps), &never)) GTEST_SKIP() << "no helper can start here (a sanitizer build)";
  ASSERT_TRUE(b.wait()) << b.wait().error().message();
  EXPECT_TRUE(is_dir(root + "/memory/vsrv/c1"));
  ASSERT_TRUE(m.destroy());
  EXPECT_EQ(tree(), before);
}

TEST_F(CgroupBesideTest, HelperUsesAParentMadeMeanwhileAndLeavesItThere) {
  // (Not "/vsrv": that prefix goes with its last container, whoever made it: destroy().)
  ASSERT_NO_FATAL_FAILURE(prepare("/shared/c1", false));
  mkdir_p(root + "/memory/shared");  // a concurrent create made the shared parent
  CgroupBeside b;
  START_OR_SKIP(b, m, steps);
  ASSERT_TRUE(m.make());
  ASSERT_TRUE(b.wait()) << b.wait().error().message();
  EXPECT_TRUE(is_dir(root + "/memory/shared/c1"));
  auto made = m.created();
  EXPECT_EQ(std::find(made.begin(), made.end(), root + "/memory/shared"), made.end()) << "not ours to remove";
  ASSERT_TRUE(m.destroy());
  EXPECT_TRUE(is_dir(root + "/memory/shared"));
  EXPECT_FALSE(exists(root + "/memory/shared/c1"));
}

TEST_F(CgroupBesideTest, HelperStopsAtALeafMadeMeanwhileAndOnlyWhatItMadeIsRemoved) {
  ASSERT_NO_FATAL_FAILURE(prepare("", false));
  mkdir_p(root + "/memory/vsrv/c1");  // somebody else's container, with our cgroupsPath
  CgroupBeside b;
  START_OR_SKIP(b, m, steps);
  ASSERT_TRUE(m.make());
  auto r = b.wait();
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error().errnum, EEXIST);
  EXPECT_TRUE(contains(r.error().message(), root + "/memory/vsrv/c1")) << r.error().message();
  EXPECT_TRUE(contains(r.error().message(), "someone else")) << r.error().message();
  EXPECT_NE(b.shared()->status, 1);
  auto made = m.created();
  EXPECT_EQ(std::find(made.begin(), made.end(), root + "/memory/vsrv/c1"), made.end());
  (void)m.destroy();
  EXPECT_TRUE(is_dir(root + "/memory/vsrv/c1")) << "somebody else's stays";
  EXPECT_FALSE(exists(root + "/cpuset/vsrv")) << "what the helper made goes";
}

}  // namespace
}  // namespace vsrv::cgroup
