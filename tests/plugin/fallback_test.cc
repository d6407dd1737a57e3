// The plugin's fallback: the core's engine and default policy, in-process. Priority
// order, best fit, gangs all or nothing, and every vendor topology rule the core keeps.
// SPDX-License-Identifier: GPL-2.0-or-later
#include "fallback.h"

#include <gtest/gtest.h>

#include "snapshot_builder.h"

namespace accelpack::fallback {
namespace {

using test::SnapshotBuilder;

bridge::PlanData Plan(SnapshotBuilder& b) {
  absl::StatusOr<bridge::PlanData> plan = Schedule(b.Get());
  EXPECT_TRUE(plan.ok()) << plan.status();
  return plan.ok() ? *std::move(plan) : bridge::PlanData{};
}

std::string ReasonOf(const bridge::PlanData& plan, uint32_t job) {
  for (const auto& r : plan.reasons) {
    if (r.job_id == job) return r.message;
  }
  return {};
}

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
  bridge::PlanData plan = Plan(b);
  EXPECT_EQ(NodesOf(plan, 1), std::vector<std::string>{"a"});
  EXPECT_EQ(plan.policy_name, kPolicyName);
}

// Slurm 22.05.8 may hand out a GPU whole that carries shards: the fallback keeps the
// whole-GPU job off the node with shards and packs the shard job onto it.
TEST(Fallback, ShardsAndWholeGpusKeepApartBefore23_11_5) {
  const uint32_t used[] = {0, 0};
  const uint32_t total[] = {4, 4};
  const uint32_t on_a[] = {1, 0};
  const uint32_t on_b[] = {0, 0};
  ap_pool_t pools[] = {{"gpu", "h100", 2, 0, used, 2, total, on_a, 2, false, false, false},
                       {"gpu", "h100", 2, 0, used, 2, total, on_b, 2, false, false, false}};
  ap_node_t nodes[2] = {};
  const char* names[] = {"a", "b"};
  for (int n = 0; n < 2; ++n) {
    nodes[n].name = names[n];
    nodes[n].state = AP_NODE_MIXED;
    nodes[n].cpus_total = 64;
    nodes[n].mem_total_mib = 512000;
    nodes[n].pools = &pools[n];
    nodes[n].pool_cnt = 1;
  }
  ap_pending_job_t jobs[2] = {};
  const char* h100[] = {"h100"};
  for (uint32_t j = 0; j < 2; ++j) {
    jobs[j].job_id = j + 1;
    jobs[j].num_nodes = 1;
    jobs[j].gres_name = "gpu";
    jobs[j].gres_per_node = 1;
    jobs[j].cpus_per_node = 1;
    jobs[j].submit_time = 100 + j;
  }
  jobs[0].gres_types = h100;  // whole GPU
  jobs[0].gres_type_cnt = 1;
  jobs[1].shards_per_node = 3;  // fills GPU 0 of a
  ap_snapshot_t snap{};
  snap.now = 5000;
  snap.nodes = nodes;
  snap.node_cnt = 2;
  snap.pending = jobs;
  snap.pending_cnt = 2;
  snap.shards_unguarded = true;
  absl::StatusOr<bridge::PlanData> plan = Schedule(snap);
  ASSERT_TRUE(plan.ok()) << plan.status();
  EXPECT_EQ(NodesOf(*plan, 1), std::vector<std::string>{"b"});
  EXPECT_EQ(NodesOf(*plan, 2), std::vector<std::string>{"a"});
}

TEST(Fallback, PriorityOrderDecidesWhoGetsTheLastDevices) {
  SnapshotBuilder b;
  b.Node({.name = "a", .devices_alloc = 4});  // 4 free
  b.Job({.id = 1, .priority = 10, .per_node = 4});
  b.Job({.id = 2, .priority = 50, .per_node = 4});
  bridge::PlanData plan = Plan(b);
  ASSERT_EQ(plan.starts.size(), 1u);
  EXPECT_EQ(plan.starts[0].job_id, 2u);
  ASSERT_EQ(plan.reasons.size(), 1u);
  EXPECT_EQ(plan.reasons[0].job_id, 1u);
  EXPECT_EQ(plan.reasons[0].code, AP_REASON_RESOURCES);
  EXPECT_NE(plan.reasons[0].message.find("too few free devices"), std::string::npos)
      << plan.reasons[0].message;
}

TEST(Fallback, EqualPriorityOlderFirstThenLowerId) {
  SnapshotBuilder b;
  b.Node({.name = "a", .devices_alloc = 7});  // room for one
  b.Job({.id = 5, .submit = 200});
  b.Job({.id = 9, .submit = 100});
  EXPECT_EQ(Plan(b).starts.at(0).job_id, 9u);
}

TEST(Fallback, GangIsAllOrNothingAndHoldsNothingWhenBlocked) {
  SnapshotBuilder b;
  b.Node({.name = "a"}).Node({.name = "b", .devices_alloc = 8});
  // Job 1 wants 2 whole nodes: only a fits -> not started, a stays free for job 2.
  b.Job({.id = 1, .priority = 100, .nodes = 2, .per_node = 8});
  b.Job({.id = 2, .priority = 1, .per_node = 8});
  bridge::PlanData plan = Plan(b);
  EXPECT_TRUE(NodesOf(plan, 1).empty());
  EXPECT_EQ(NodesOf(plan, 2), std::vector<std::string>{"a"});
}

TEST(Fallback, MultiNodeJobGetsDistinctNodes) {
  SnapshotBuilder b;
  b.Node({.name = "a"}).Node({.name = "b"}).Node({.name = "c"});
  b.Job({.id = 1, .nodes = 2, .per_node = 8});
  bridge::PlanData plan = Plan(b);
  std::vector<std::string> nodes = NodesOf(plan, 1);
  ASSERT_EQ(nodes.size(), 2u);
  EXPECT_NE(nodes[0], nodes[1]);
}

TEST(Fallback, TypedRequestOnlyUsesThatType) {
  SnapshotBuilder b;
  b.Node({.name = "h100", .gres_type = "h100"}).Node({.name = "h200", .gres_type = "h200"});
  b.Job({.id = 1, .types = {"h200"}, .per_node = 8});
  bridge::PlanData plan = Plan(b);
  EXPECT_EQ(NodesOf(plan, 1), std::vector<std::string>{"h200"});
  EXPECT_EQ(plan.starts.at(0).gres_types, std::vector<std::string>{"h200"});
}

TEST(Fallback, NeverPlacesOnDownDrainedOrReservedNodes) {
  SnapshotBuilder b;
  b.Node({.name = "d", .state = AP_NODE_DOWN})
      .Node({.name = "r", .state = AP_NODE_DRAINED})
      .Node({.name = "x", .state = AP_NODE_RESERVED});
  b.Job({.id = 1});
  bridge::PlanData plan = Plan(b);
  EXPECT_TRUE(plan.starts.empty());
  EXPECT_NE(plan.reasons.at(0).message.find("3 node down, drained or reserved"), std::string::npos)
      << plan.reasons.at(0).message;
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
  bridge::PlanData plan = Plan(b);
  // Job 1: best fit is w (1 free -> 0 left); job 2 must go to ok.
  EXPECT_EQ(NodesOf(plan, 1), std::vector<std::string>{"w"});
  EXPECT_EQ(NodesOf(plan, 2), std::vector<std::string>{"ok"});
}

TEST(Fallback, CpuOnlyJobsUseCpusAndMemory) {
  SnapshotBuilder b;
  b.Node({.name = "a", .cpus = 64, .cpus_alloc = 60}).Node({.name = "b", .cpus = 64});
  b.Job({.id = 1, .gres_name = "", .per_node = 0, .cpus = 8});
  b.Job({.id = 2, .gres_name = "", .per_node = 0, .cpus = 4, .mem = 1000});
  bridge::PlanData plan = Plan(b);
  EXPECT_EQ(NodesOf(plan, 1), std::vector<std::string>{"b"});  // a has 4 CPUs free
  EXPECT_EQ(NodesOf(plan, 2), std::vector<std::string>{"a"});  // exactly 4 left there
}

TEST(Fallback, SameSnapshotSamePlan) {
  SnapshotBuilder b;
  for (int i = 0; i < 6; ++i) b.Node({.name = "n" + std::to_string(i)});
  for (uint32_t j = 1; j <= 20; ++j) b.Job({.id = j, .priority = j % 3, .per_node = j % 8 + 1});
  const ap_snapshot_t& snap = b.Get();
  ASSERT_TRUE(Schedule(snap).ok());
  bridge::PlanData one = *Schedule(snap), two = *Schedule(snap);
  ASSERT_EQ(one.starts.size(), two.starts.size());
  for (size_t i = 0; i < one.starts.size(); ++i) {
    EXPECT_EQ(one.starts[i].job_id, two.starts[i].job_id);
    EXPECT_EQ(one.starts[i].nodes, two.starts[i].nodes);
  }
  EXPECT_TRUE(bridge::CheckPlanShape(one, snap).ok());
}

// The rules the core keeps hold while it is away (one rule table, one engine).
TEST(Fallback, LeavesAnIllegal910cCountPending) {
  SnapshotBuilder b;
  b.Node({.name = "a910c-0", .gres_name = "npu", .gres_type = "910c", .devices = 16});
  // 910C: odd counts above 1 would split a two-die module.
  b.Job({.id = 1, .gres_name = "npu", .types = {"910c"}, .per_node = 3});
  b.Job({.id = 2, .gres_name = "npu", .types = {"910c"}, .per_node = 4});
  bridge::PlanData plan = Plan(b);
  EXPECT_TRUE(NodesOf(plan, 1).empty());
  EXPECT_FALSE(ReasonOf(plan, 1).empty());
  EXPECT_EQ(NodesOf(plan, 2), std::vector<std::string>{"a910c-0"});
}

// A 910C node of 16 devices in SuperPoD `pod`, `busy` of them allocated.
SnapshotBuilder::NodeSpec Node910c(std::string name, std::string pod, uint32_t busy = 0) {
  return {.name = std::move(name),
          .gres_name = "npu",
          .gres_type = "910c",
          .devices = 16,
          .devices_alloc = busy,
          .superpod = std::move(pod)};
}

TEST(Fallback, NeverSplitsA910cGangAcrossSuperPods) {
  const SnapshotBuilder::JobSpec gang{
      .id = 1, .nodes = 2, .gres_name = "npu", .types = {"910c"}, .per_node = 16};
  SnapshotBuilder b;
  // One free node in each of two SuperPoDs: a 2-node gang fits by count, not by pod.
  b.Node(Node910c("p1-0", "pod1"))
      .Node(Node910c("p1-1", "pod1", 16))
      .Node(Node910c("p2-0", "pod2"));
  b.Job(gang);
  bridge::PlanData plan = Plan(b);
  EXPECT_TRUE(NodesOf(plan, 1).empty());
  EXPECT_FALSE(ReasonOf(plan, 1).empty());

  SnapshotBuilder same_pod;
  same_pod.Node(Node910c("p1-0", "pod1")).Node(Node910c("p1-1", "pod1"));
  same_pod.Job(gang);
  EXPECT_EQ(NodesOf(Plan(same_pod), 1).size(), 2u);
}

TEST(Fallback, RefusesASnapshotTheEngineWouldRefuse) {
  SnapshotBuilder b;
  b.Node({.name = "a"}).Node({.name = "a"});  // the same node twice
  b.Job({.id = 1});
  absl::StatusOr<bridge::PlanData> plan = Schedule(b.Get());
  EXPECT_FALSE(plan.ok());
}

}  // namespace
}  // namespace accelpack::fallback
