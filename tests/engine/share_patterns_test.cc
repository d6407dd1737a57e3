// SPDX-License-Identifier: GPL-2.0-or-later
// `share_patterns`: GPU shares go where the device's fill stays on a pattern of the
// cutting-stock LP's optimum over the workload's share sizes.
#include "policy/share_patterns.h"

#include <gtest/gtest.h>

#include <cmath>
#include <limits>
#include <numeric>
#include <string>
#include <vector>

#include "engine/engine.h"
#include "engine_test_util.h"

namespace accelpack::testing {
namespace {

using policy::SharePatterns;

// Shares of 700, 300 and 500 milli, equally popular. The only optimum (no waste):
// every 700 with a 300 (1/3 device per unit of weight), the 500s in pairs (1/6);
// a 500 with a 300 would waste 200 of each device, a 700 alone 300.
const SharePatterns::Demand kThreeSizes = {{700, 1}, {300, 1}, {500, 1}};

TEST(SharePatterns, SolvesTheCuttingStockLpOfAHandComputedDemand) {
  auto solved = SharePatterns::Solve(kThreeSizes);
  ASSERT_TRUE(solved.ok()) << solved.status().message();
  ASSERT_EQ(solved->patterns().size(), 2u);
  EXPECT_EQ(solved->patterns()[0].first, (std::vector<int>{700, 300}));
  EXPECT_NEAR(solved->patterns()[0].second, 1.0 / 3, 1e-9);
  EXPECT_EQ(solved->patterns()[1].first, (std::vector<int>{500, 500}));
  EXPECT_NEAR(solved->patterns()[1].second, 1.0 / 6, 1e-9);
  for (int level : {0, 300, 500, 700, 1000}) EXPECT_TRUE(solved->OnPattern(level)) << level;
  // 500 + 300: nothing in the workload fills the 200 left.
  for (int level : {200, 800, 1100, -1}) EXPECT_FALSE(solved->OnPattern(level)) << level;
}

TEST(SharePatterns, ManySizesStayPackable) {
  // 99 sizes: far more patterns than one could list (column generation adds them
  // as the LP needs them); every pattern fits a device and every size is covered.
  SharePatterns::Demand demand;
  for (int size = 10; size < 1000; size += 10) demand.emplace_back(size, 1000.0 / size);
  auto solved = SharePatterns::Solve(demand);
  ASSERT_TRUE(solved.ok()) << solved.status().message();
  std::vector<double> covered(1000, 0);
  for (const auto& [pattern, weight] : solved->patterns()) {
    EXPECT_LE(std::accumulate(pattern.begin(), pattern.end(), 0), 1000);
    for (int size : pattern) covered[static_cast<size_t>(size)] += weight;
  }
  double total = 0;
  for (const auto& [size, weight] : demand) total += weight;
  for (const auto& [size, weight] : demand) {
    EXPECT_GE(covered[static_cast<size_t>(size)], weight / total - 1e-9) << size;
  }
}

TEST(SharePatterns, BadDemandIsAnErrorThatNamesTheSize) {
  for (const SharePatterns::Demand& bad :
       {SharePatterns::Demand{{0, 1}}, SharePatterns::Demand{{1000, 1}},
        SharePatterns::Demand{{300, 0}},
        SharePatterns::Demand{{300, std::numeric_limits<double>::quiet_NaN()}}}) {
    auto solved = SharePatterns::Solve(bad);
    ASSERT_FALSE(solved.ok());
    EXPECT_NE(std::string(solved.status().message()).find(std::to_string(bad[0].first)),
              std::string::npos)
        << solved.status().message();
  }
  // Weights at the edge of double's range still solve (their sum would overflow).
  auto huge = SharePatterns::Solve({{700, 1e308}, {300, 1e308}, {500, 1e308}, {500, 1e-300}});
  ASSERT_TRUE(huge.ok()) << huge.status().message();
  EXPECT_TRUE(huge->OnPattern(1000));
  EXPECT_FALSE(huge->OnPattern(800));
  auto none = SharePatterns::Solve({});
  ASSERT_TRUE(none.ok());
  EXPECT_TRUE(none->empty());
}

// One 8-GPU node: GPU 0 carries a running 500 share, GPU 1 is free, the rest are
// busy. A 300 share waits first, a 700 share after it. Best fit puts the 300 on
// GPU 0 (-> 800: off every pattern) and opens GPU 1 for the 700; share_patterns
// opens GPU 1 for the 300 (-> 300) and the 700 fills it (-> 1000), so GPU 0 keeps
// the 500 left for another 500.
model::Snapshot SharesWaiting() {
  model::Snapshot snapshot;
  snapshot.now = 1000;
  snapshot.nodes = {
      NodeBuilder("a").Hopper(8).UsedMilli({500, 0, 1000, 1000, 1000, 1000, 1000, 1000}).Build()};
  model::RunningJob running;
  running.id = 9;
  running.start_time = 500;
  model::NodeAllocation allocation;
  allocation.node = "a";
  allocation.gres_name = "gpu";
  allocation.gres_type = "h100";
  allocation.device_count = 1;
  allocation.device_indices = {0};
  allocation.fraction_milli = 500;
  running.allocations = {allocation};
  snapshot.running = {running};
  snapshot.pending = {JobBuilder(1).Gpus(1).Share(300).Priority(100).Build(),
                      JobBuilder(2).Gpus(1).Share(700).Priority(50).Build()};
  return snapshot;
}

std::vector<int> DevicesOf(const Outcome& outcome, uint32_t job) {
  const engine::JobStart* start = outcome.Start(job);
  if (start == nullptr || start->placements.empty()) return {};
  return start->placements.front().devices;
}

policy::PolicyConfig Scorers(std::vector<policy::ScorerConfig> scorers) {
  policy::PolicyConfig config = policy::DefaultPolicy();
  config.scorers = std::move(scorers);
  return config;
}

TEST(SharePatterns, ChoosesOtherThanBestFitFromATable) {
  const std::string table = "1:1:700::1;1:1:300::1;1:1:500::1";
  const Outcome best_fit = RunEngine(SharesWaiting(), Scorers({{"best_fit_devices", 1, {}}}));
  EXPECT_EQ(DevicesOf(best_fit, 1), std::vector<int>{0});
  EXPECT_EQ(DevicesOf(best_fit, 2), std::vector<int>{1});
  const Outcome patterns = RunEngine(
      SharesWaiting(),
      Scorers({{"share_patterns", 100, {{"shapes", table}}}, {"best_fit_devices", 1, {}}}));
  EXPECT_EQ(DevicesOf(patterns, 1), std::vector<int>{1});
  EXPECT_EQ(DevicesOf(patterns, 2), std::vector<int>{1});
}

TEST(SharePatterns, WithoutATableReadsTheRunningAndPendingShares) {
  // The same demand from the snapshot: 500 running, 300 and 700 pending.
  const model::Snapshot snapshot = SharesWaiting();
  const SharePatterns::Demand demand = policy::ShareDemand(snapshot);
  EXPECT_EQ(demand, (SharePatterns::Demand{{300, 1}, {500, 1}, {700, 1}}));
  const Outcome patterns =
      RunEngine(snapshot, Scorers({{"share_patterns", 100, {}}, {"best_fit_devices", 1, {}}}));
  EXPECT_EQ(DevicesOf(patterns, 1), std::vector<int>{1});
  EXPECT_EQ(DevicesOf(patterns, 2), std::vector<int>{1});
  // The default policy, which reads the snapshot the same way.
  const Outcome defaults = RunEngine(snapshot);
  EXPECT_EQ(DevicesOf(defaults, 1), std::vector<int>{1});
  EXPECT_EQ(DevicesOf(defaults, 2), std::vector<int>{1});
}

TEST(SharePatterns, NeutralForWholeDevicesAndOutsideACycle) {
  const model::Snapshot snapshot = SharesWaiting();
  auto built = policy::BuildPolicy(Scorers({{"share_patterns", 1, {}}}));
  ASSERT_TRUE(built.ok());
  const engine::ClusterState state(snapshot, built->catalog);
  const engine::Scorer& scorer = *built->pipeline->scorers.front().scorer;
  engine::Job share = engine::MakeJob(snapshot.pending[0], *built->pipeline, snapshot.now);
  const engine::Candidate on_gpu0{0, 0, {0}, 300};
  const engine::Candidate on_gpu1{0, 0, {1}, 300};
  EXPECT_DOUBLE_EQ(scorer.Score(share, on_gpu0, state), scorer.Score(share, on_gpu1, state));
  const engine::CycleState cycle = engine::PreScoreCycle(snapshot, built->pipeline->scorers);
  share.cycle = &cycle;
  EXPECT_DOUBLE_EQ(scorer.Score(share, on_gpu0, state), 0);
  EXPECT_DOUBLE_EQ(scorer.Score(share, on_gpu1, state), 100);
  model::PendingJob whole_request = JobBuilder(5).Gpus(1).Build();
  engine::Job whole = engine::MakeJob(whole_request, *built->pipeline, snapshot.now);
  whole.cycle = &cycle;
  EXPECT_DOUBLE_EQ(scorer.Score(whole, {0, 0, {1}, 0}, state), 100);
}

TEST(SharePatterns, ABadTableIsRefused) {
  auto built = policy::BuildPolicy(Scorers({{"share_patterns", 1, {{"shapes", "1:1:300::-1"}}}}));
  EXPECT_FALSE(built.ok());
  auto unknown = policy::BuildPolicy(Scorers({{"share_patterns", 1, {{"size", "1"}}}}));
  ASSERT_FALSE(unknown.ok());
  EXPECT_NE(std::string(unknown.status().message()).find("size"), std::string::npos);
}

}  // namespace
}  // namespace accelpack::testing
