// runtime/control.cpp merge_resources: what `vsrv update` stores back into the config.
#include <gtest/gtest.h>

#include "runtime/control.h"

namespace vsrv::runtime {
namespace {

TEST(MergeResources, SetFieldsReplaceAndOthersStay) {
  oci::Resources base;
  base.memory.emplace().limit = 64 << 20;
  base.memory->reservation = 32 << 20;
  base.cpu.emplace().quota = 50000;
  base.cpu->cpus = "0";
  oci::Resources u;
  u.memory.emplace().limit = 128 << 20;
  u.cpu.emplace().period = 200000;
  u.pids = oci::Pids{30};
  merge_resources(base, u);
  EXPECT_EQ(*base.memory->limit, 128 << 20);
  EXPECT_EQ(*base.memory->reservation, 32 << 20);  // not named by the update: kept
  EXPECT_EQ(*base.cpu->quota, 50000);
  EXPECT_EQ(*base.cpu->period, 200000u);
  EXPECT_EQ(base.cpu->cpus, "0");
  ASSERT_TRUE(base.pids);
  EXPECT_EQ(base.pids->limit, 30);
}

TEST(MergeResources, HugepagesReplacedPerSizeUnifiedMerged) {
  oci::Resources base;
  base.hugepage_limits = {{"2MB", 1 << 21}, {"1GB", 1u << 30}};
  base.unified = {{"memory.high", "100"}};
  oci::Resources u;
  u.hugepage_limits = {{"2MB", 4 << 21}};
  u.unified = {{"pids.max", "10"}};
  merge_resources(base, u);
  ASSERT_EQ(base.hugepage_limits.size(), 2u);
  for (const auto& h : base.hugepage_limits)
    EXPECT_EQ(h.limit, h.page_size == "2MB" ? (4u << 21) : (1u << 30));
  EXPECT_EQ(base.unified.at("memory.high"), "100");
  EXPECT_EQ(base.unified.at("pids.max"), "10");
}

TEST(MergeResources, EmptyUpdateChangesNothing) {
  oci::Resources base;
  base.memory.emplace().limit = 1 << 20;
  merge_resources(base, oci::Resources{});
  EXPECT_EQ(*base.memory->limit, 1 << 20);
  EXPECT_FALSE(base.cpu);
  EXPECT_FALSE(base.pids);
}

}  // namespace
}  // namespace vsrv::runtime
