// Per-kind usage: allocated, idle, unusable and idle while demanded.
#include "engine/usage.h"

#include <gtest/gtest.h>

#include "engine_test_util.h"

namespace accelpack::testing {
namespace {

TEST(Usage, CountsAfterThePlanAndIdleWhileDemanded) {
  model::Snapshot snapshot;
  snapshot.nodes = {NodeBuilder("h").Hopper(8).Busy({0, 1}).Build(),
                    NodeBuilder("a").Ascend910B(8).Build(),
                    NodeBuilder("d").Ascend910B(8).State(model::NodeState::kDown).Build()};
  // Job 1 starts (2 H100s). Job 2 (8 H100 + more than exist free) stays pending and
  // wants H100: the 4 idle H100s are idle while demanded; nobody wants 910B.
  snapshot.pending = {JobBuilder(1).Gpus(2).Build(), JobBuilder(2).Gpus(8).Build()};
  Outcome outcome = RunEngine(snapshot);
  ASSERT_EQ(outcome.plan.starts.size(), 1u);
  const auto usage = engine::UsageByKind(outcome.snapshot, model::Catalog::BuiltIn(), outcome.plan);
  ASSERT_EQ(usage.size(), 2u);
  const auto& catalog = model::Catalog::BuiltIn();
  EXPECT_EQ(catalog.kind(usage[0].kind).name, "h100");
  EXPECT_EQ(usage[0].devices_total, 8);
  EXPECT_EQ(usage[0].devices_allocated, 4);
  EXPECT_EQ(usage[0].devices_idle, 4);
  EXPECT_EQ(usage[0].devices_idle_while_demanded, 4);
  EXPECT_EQ(catalog.kind(usage[1].kind).name, "ascend910b");
  EXPECT_EQ(usage[1].devices_total, 8);
  EXPECT_EQ(usage[1].devices_unusable, 8);
  EXPECT_EQ(usage[1].devices_idle_while_demanded, 0);
}

// The engine counts a cycle's usage from its own state (Plan::usage, what the
// service reports); it must be the count from the snapshot with the starts applied.
TEST(Usage, ThePlansOwnCountEqualsTheRecount) {
  const auto& catalog = model::Catalog::BuiltIn();
  auto same = [](const engine::KindUsage& a, const engine::KindUsage& b) {
    return a.kind == b.kind && a.devices_total == b.devices_total &&
           a.devices_allocated == b.devices_allocated && a.devices_idle == b.devices_idle &&
           a.devices_unusable == b.devices_unusable &&
           a.devices_idle_while_demanded == b.devices_idle_while_demanded;
  };
  for (uint32_t seed : {1u, 2u, 3u}) {
    model::Snapshot snapshot = SyntheticCluster(48, 400, 0.5, seed);
    snapshot.nodes[3].state = model::NodeState::kDown;
    Outcome outcome = RunEngine(std::move(snapshot));
    ASSERT_FALSE(outcome.plan.starts.empty());
    ASSERT_FALSE(outcome.plan.pending.empty());
    const auto recount = engine::UsageByKind(outcome.snapshot, catalog, outcome.plan);
    ASSERT_EQ(outcome.plan.usage.size(), recount.size()) << "seed " << seed;
    for (size_t k = 0; k < recount.size(); ++k) {
      EXPECT_TRUE(same(outcome.plan.usage[k], recount[k])) << "seed " << seed << " kind " << k;
      EXPECT_GT(recount[k].devices_allocated, 0);
    }
  }
}

}  // namespace
}  // namespace accelpack::testing
