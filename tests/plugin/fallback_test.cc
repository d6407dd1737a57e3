// Built-in policy: priority order, best fit, gangs all or nothing.
// SPDX-License-Identifier: GPL-2.0-or-later
#include "fallback.h"

#include <gtest/gtest.h>

#include "snapshot_builder.h"

namespace accelpack::fallback {
namespace {

using test::SnapshotBuilder;

std::vector<std::string> NodesOf(const bridge::PlanData& plan, uint32_t job) {
  for (const auto& s : plan.starts) {
    if (s.job_id == job) return s.nodes;
  }
  return {};
}

TEST(Fallback, BestFitPacksIntoThePartlyUsedNode) {
  SnapshotBuilder b;
  // a: 6 of 8 busy (2 free); b: idle. A 2-GPU job fits a exactly: 0 left vs 6 left.
  b.Node({.name = "a", .devices_alloc = 6}).Node({.name = "b"});
  b.Job({.id = 1, .per_node = 2});
  bridge::PlanData plan = Schedule(b.Get());
  EXPECT_EQ(NodesOf(plan, 1), std::vector<std::string>{"a"});
  EXPECT_EQ(plan.policy_name, kPolicyName);
}

TEST(Fallback, PriorityOrderDecidesWhoGetsTheLastDevices) {
  SnapshotBuilder b;
  b.Node({.name = "a", .devices_alloc = 4});  // 4 free
  b.Job({.id = 1, .priority = 10, .per_node = 4});
  b.Job({.id = 2, .priority = 50, .per_node = 4});
  bridge::PlanData plan = Schedule(b.Get());
  ASSERT_EQ(plan.starts.size(), 1u);
  EXPECT_EQ(plan.starts[0].job_id, 2u);
  ASSERT_EQ(plan.reasons.size(), 1u);
  EXPECT_EQ(plan.reasons[0].job_id, 1u);
  EXPECT_EQ(plan.reasons[0].code, AP_REASON_RESOURCES);
  EXPECT_NE(plan.reasons[0].message.find("too few free gpu"), std::string::npos)
      << plan.reasons[0].message;
}

TEST(Fallback, EqualPriorityOlderFirstThenLowerId) {
  SnapshotBuilder b;
  b.Node({.name = "a", .devices_alloc = 7});  // room for one
  b.Job({.id = 5, .submit = 200});
  b.Job({.id = 9, .submit = 100});
  EXPECT_EQ(Schedule(b.Get()).starts.at(0).job_id, 9u);
}

TEST(Fallback, GangIsAllOrNothingAndHoldsNothingWhenBlocked) {
  SnapshotBuilder b;
  b.Node({.name = "a"}).Node({.name = "b", .devices_alloc = 8});
  // Job 1 wants 2 whole nodes: only a fits -> not started, a stays free for job 2.
  b.Job({.id = 1, .priority = 100, .nodes = 2, .per_node = 8});
  b.Job({.id = 2, .priority = 1, .per_node = 8});
  bridge::PlanData plan = Schedule(b.Get());
  EXPECT_TRUE(NodesOf(plan, 1).empty());
  EXPECT_EQ(NodesOf(plan, 2), std::vector<std::string>{"a"});
}

TEST(Fallback, MultiNodeJobGetsDistinctNodes) {
  SnapshotBuilder b;
  b.Node({.name = "a"}).Node({.name = "b"}).Node({.name = "c"});
  b.Job({.id = 1, .nodes = 2, .per_node = 8});
  bridge::PlanData plan = Schedule(b.Get());
  std::vector<std::string> nodes = NodesOf(plan, 1);
  ASSERT_EQ(nodes.size(), 2u);
  EXPECT_NE(nodes[0], nodes[1]);
}

TEST(Fallback, TypedRequestOnlyUsesThatType) {
  SnapshotBuilder b;
  b.Node({.name = "h100", .gres_type = "h100"}).Node({.name = "h200", .gres_type = "h200"});
  b.Job({.id = 1, .types = {"h200"}, .per_node = 8});
  bridge::PlanData plan = Schedule(b.Get());
  EXPECT_EQ(NodesOf(plan, 1), std::vector<std::string>{"h200"});
  EXPECT_EQ(plan.starts.at(0).gres_types, std::vector<std::string>{"h200"});
}

TEST(Fallback, NeverPlacesOnDownDrainedOrReservedNodes) {
  SnapshotBuilder b;
  b.Node({.name = "d", .state = AP_NODE_DOWN})
      .Node({.name = "r", .state = AP_NODE_DRAINED})
      .Node({.name = "x", .state = AP_NODE_RESERVED});
  b.Job({.id = 1});
  bridge::PlanData plan = Schedule(b.Get());
  EXPECT_TRUE(plan.starts.empty());
  EXPECT_NE(plan.reasons.at(0).message.find("3 down/drained/reserved"), std::string::npos);
}

TEST(Fallback, HonoursPartitionFeaturesExclusionsAndRequiredNodes) {
  SnapshotBuilder b;
  b.Node({.name = "p", .partitions = {"other"}})
      .Node({.name = "f", .features = {"cann"}})
      .Node({.name = "x", .features = {"cuda"}})
      .Node({.name = "ok", .features = {"cuda", "hopper"}})
      .Node({.name = "w", .features = {"cuda"}, .devices_alloc = 7});
  b.Job({.id = 1, .features = {"cuda"}, .excluded = {"x"}});
  b.Job({.id = 2, .features = {"cuda"}, .required = {"ok"}});
  bridge::PlanData plan = Schedule(b.Get());
  // Job 1: best fit is w (1 free -> 0 left); job 2 must go to ok.
  EXPECT_EQ(NodesOf(plan, 1), std::vector<std::string>{"w"});
  EXPECT_EQ(NodesOf(plan, 2), std::vector<std::string>{"ok"});
}

TEST(Fallback, CpuOnlyJobsUseCpusAndMemory) {
  SnapshotBuilder b;
  b.Node({.name = "a", .cpus = 64, .cpus_alloc = 60}).Node({.name = "b", .cpus = 64});
  b.Job({.id = 1, .gres_name = "", .per_node = 0, .cpus = 8});
  b.Job({.id = 2, .gres_name = "", .per_node = 0, .cpus = 4, .mem = 1000});
  bridge::PlanData plan = Schedule(b.Get());
  EXPECT_EQ(NodesOf(plan, 1), std::vector<std::string>{"b"});  // a has 4 CPUs free
  EXPECT_EQ(NodesOf(plan, 2), std::vector<std::string>{"a"});  // exactly 4 left there
}

TEST(Fallback, SameSnapshotSamePlan) {
  SnapshotBuilder b;
  for (int i = 0; i < 6; ++i) b.Node({.name = "n" + std::to_string(i)});
  for (uint32_t j = 1; j <= 20; ++j) b.Job({.id = j, .priority = j % 3, .per_node = j % 8 + 1});
  const ap_snapshot_t& snap = b.Get();
  bridge::PlanData one = Schedule(snap), two = Schedule(snap);
  ASSERT_EQ(one.starts.size(), two.starts.size());
  for (size_t i = 0; i < one.starts.size(); ++i) {
    EXPECT_EQ(one.starts[i].job_id, two.starts[i].job_id);
    EXPECT_EQ(one.starts[i].nodes, two.starts[i].nodes);
  }
  EXPECT_TRUE(bridge::CheckPlanShape(one, snap).ok());
}

}  // namespace
}  // namespace accelpack::fallback
