// SPDX-License-Identifier: GPL-2.0-or-later
// The operators' explanation of a pending job, per-node usage and the policy
// what-if, on builder-made snapshots run through the real engine.
#include "engine/explain.h"

#include <gmock/gmock.h>

#include "engine/usage.h"
#include "engine_test_util.h"

namespace accelpack::testing {
namespace {

using ::testing::HasSubstr;

struct Explained {
  Outcome outcome;
  std::optional<engine::Explanation> explanation;
};

Explained ExplainJob(model::Snapshot snapshot, uint32_t job,
                     const policy::PolicyConfig& config = policy::DefaultPolicy()) {
  auto built = policy::BuildPolicy(config);
  Outcome outcome = RunEngine(std::move(snapshot), config);
  auto explanation =
      engine::Explain(job, outcome.snapshot, built->catalog, *built->pipeline, outcome.plan, 3);
  return {std::move(outcome), std::move(explanation)};
}

TEST(Explain, UnknownJobHasNoExplanation) {
  model::Snapshot snapshot;
  snapshot.nodes = {NodeBuilder("n").Hopper(8).Build()};
  snapshot.pending = {JobBuilder(1).Gpus(1).Build()};
  EXPECT_FALSE(ExplainJob(snapshot, 2).explanation.has_value());
}

TEST(Explain, ReservedJobNamesTheRunningJobThatFreesItsRoom) {
  model::Snapshot snapshot;
  snapshot.now = 0;
  snapshot.nodes = {NodeBuilder("n").Hopper(8).Busy({0, 1, 2, 3}).Build()};
  snapshot.running = {Running(812, "n", "gpu", "h100", {0, 1, 2, 3}, -500, 1500)};
  snapshot.pending = {JobBuilder(1).Gpus(8).Priority(100).Build(),
                      JobBuilder(2).Gpus(2).Priority(50).TimeLimit(5000).Build()};
  auto [outcome, e] = ExplainJob(snapshot, 1);
  ASSERT_TRUE(e.has_value());
  EXPECT_EQ(e->queue_position, 1);
  EXPECT_EQ(e->queue_length, 2);
  EXPECT_EQ(e->code, engine::PendingCode::kResources);
  ASSERT_TRUE(e->reservation.has_value());
  EXPECT_EQ(e->reservation->planned_start, 1000);
  EXPECT_THAT(e->what_must_change, HasSubstr("job 812 ends on n by 1970-01-01T00:16:40Z"));
  ASSERT_EQ(e->rejections.size(), 1u);
  EXPECT_EQ(e->rejections[0].reason, "too few free devices");
  EXPECT_FALSE(e->rejections[0].never);

  // Job 2 fits on n but is held for job 1: the explanation says by how much.
  auto [outcome2, held] = ExplainJob(snapshot, 2);
  ASSERT_TRUE(held.has_value());
  EXPECT_EQ(held->queue_position, 2);
  EXPECT_EQ(held->code, engine::PendingCode::kPriority);
  EXPECT_THAT(held->what_must_change, HasSubstr("held for job 1"));
  EXPECT_THAT(held->what_must_change, HasSubstr("time limit of at most 1000 s"));
  ASSERT_EQ(held->candidates.size(), 1u);
  // one score per scorer of the default policy
  EXPECT_EQ(held->candidates[0].scores.size(), policy::DefaultPolicy().scorers.size());
}

TEST(Explain, NeverFittingJobNamesTheStaticFilter) {
  model::Snapshot snapshot;
  snapshot.nodes = {NodeBuilder("a").Ascend910C().Build(), NodeBuilder("b").Hopper(8).Build()};
  snapshot.pending = {JobBuilder(7).Npus(3, "910c").Build()};
  auto [outcome, e] = ExplainJob(snapshot, 7);
  ASSERT_TRUE(e.has_value());
  EXPECT_EQ(e->code, engine::PendingCode::kNeverFits);
  EXPECT_THAT(e->what_must_change, HasSubstr("no node can ever host it"));
  EXPECT_THAT(e->what_must_change, HasSubstr("device count not legal"));
  // Never-fitting demand does not make idle 910C devices "wanted".
  auto built = policy::BuildPolicy(policy::DefaultPolicy());
  for (const auto& usage : engine::UsageByKind(outcome.snapshot, built->catalog, outcome.plan)) {
    EXPECT_EQ(usage.devices_idle_while_demanded, 0) << built->catalog.kind(usage.kind).name;
  }
}

TEST(Explain, TopologyShortfallDescribesTheBestNodesModules) {
  model::Snapshot snapshot;
  // 16 dies = 8 modules; dies 1,3,5 busy: 13 free, but only 5 whole modules.
  snapshot.nodes = {NodeBuilder("a910c-7").Ascend910C().Busy({1, 3, 5}).Build()};
  snapshot.running = {Running(5, "a910c-7", "npu", "910c", {1, 3, 5}, 0, 600)};
  snapshot.pending = {JobBuilder(9).Npus(12, "910c").Build()};
  auto [outcome, e] = ExplainJob(snapshot, 9);
  ASSERT_TRUE(e.has_value());
  EXPECT_THAT(e->what_must_change, HasSubstr("as whole modules"));
  EXPECT_THAT(e->what_must_change, HasSubstr("best node a910c-7 has 13 free"));
  EXPECT_THAT(e->what_must_change, HasSubstr("3 half-used modules"));
  EXPECT_THAT(e->what_must_change, HasSubstr("job 5 ends on a910c-7"));
}

TEST(UsageByNode, CountsSharesAndStrandedDevices) {
  model::Snapshot snapshot;
  // 8 devices, 64 CPUs (8 per device): 4 free devices but 16 free CPUs feed only 2.
  snapshot.nodes = {NodeBuilder("n")
                        .Hopper(8)
                        .Busy({0, 1, 2})
                        .UsedMilli({1000, 1000, 1000, 500, 0, 0, 0, 0})
                        .Cpus(64, 48)
                        .Build()};
  auto built = policy::BuildPolicy(policy::DefaultPolicy());
  ASSERT_TRUE(model::ValidateSnapshot(snapshot, built->catalog).ok());
  const auto nodes = engine::UsageByNode(snapshot, built->catalog, engine::Plan{});
  ASSERT_EQ(nodes.size(), 1u);
  ASSERT_EQ(nodes[0].pools.size(), 1u);
  const auto& pool = nodes[0].pools[0];
  EXPECT_EQ(pool.free, 4);
  EXPECT_EQ(pool.shared, 1);
  EXPECT_EQ(pool.used, 4);
  // 4.5 free devices, 16 CPUs feed 2: 2.5 stranded.
  EXPECT_DOUBLE_EQ(pool.stranded, 2.5);
}

TEST(ComparePlans, SamePolicyHasNoDifferenceAndNodeOrderMovesAStart) {
  model::Snapshot snapshot;
  snapshot.nodes = {NodeBuilder("a").Hopper(8).Build(),
                    NodeBuilder("b").Hopper(8).Busy({0, 1, 2, 3, 4, 5}).Build()};
  snapshot.running = {Running(50, "b", "gpu", "h100", {0, 1, 2, 3, 4, 5}, 0, 600)};
  snapshot.pending = {JobBuilder(1).Gpus(2).Build()};
  auto built = policy::BuildPolicy(policy::DefaultPolicy());
  ASSERT_TRUE(model::ValidateSnapshot(snapshot, built->catalog).ok());
  const engine::Plan plan = engine::Schedule(snapshot, built->catalog, *built->pipeline);
  const auto same =
      engine::ComparePlans(snapshot, built->catalog, plan, snapshot, built->catalog, plan);
  EXPECT_TRUE(same.starts.empty());
  EXPECT_TRUE(same.reasons.empty());

  // Best fit fills b; stock Slurm's node order takes the first node by name.
  policy::PolicyConfig worst = policy::DefaultPolicy();
  worst.name = "first-by-name";
  worst.scorers = {{"node_order", 1, {}}};
  auto other = policy::BuildPolicy(worst);
  ASSERT_TRUE(other.ok()) << MessageOf(other.status());
  const engine::Plan plan_b = engine::Schedule(snapshot, other->catalog, *other->pipeline);
  const auto diff =
      engine::ComparePlans(snapshot, built->catalog, plan, snapshot, other->catalog, plan_b);
  ASSERT_EQ(diff.starts.size(), 1u);
  EXPECT_EQ(diff.starts[0].a, "b[6,7]");
  EXPECT_THAT(diff.starts[0].b, HasSubstr("a["));
  // Two devices taken either way: the idle count per kind is equal.
  ASSERT_EQ(diff.kinds.size(), 1u);
  EXPECT_EQ(diff.kinds[0].idle_a, diff.kinds[0].idle_b);
}

}  // namespace
}  // namespace accelpack::testing
