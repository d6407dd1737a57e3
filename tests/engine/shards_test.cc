// Shard GRES and MIG slices: Slurm's device rule, packing, no over-commitment.
#include "model/shards.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <algorithm>

#include "engine/explain.h"
#include "engine/usage.h"
#include "engine_test_util.h"
#include "model/mig.h"

namespace accelpack {
namespace {

using model::PickShardDevices;
using model::ShardRules;
using testing::JobBuilder;
using testing::NodeBuilder;
using testing::RunEngine;

std::optional<model::ShardPick> Pick(const std::vector<int>& whole, const std::vector<int>& used,
                                     const std::vector<int>& total, int shards, bool one_sharing,
                                     const ShardRules& rules) {
  return model::PickShardDevices(whole, used, total, shards, one_sharing, rules);
}

TEST(ShardMilli, RoundsUpSoAnyShardMakesADeviceBusy) {
  EXPECT_EQ(model::ShardMilli(0, 8), 0);
  EXPECT_EQ(model::ShardMilli(1, 3), 334);
  EXPECT_EQ(model::ShardMilli(3, 3), 1000);
  EXPECT_EQ(model::ShardMilli(1, 100000), 1);
}

TEST(PickShardDevices, FirstDeviceByIndexWithRoom) {
  // cons_tres without LL_SHARED_GRES: the first GPU whose free shards cover the request.
  const std::vector<int> whole = {0, 0, 0};
  const auto pick = Pick(whole, {7, 2, 0}, {8, 8, 8}, 4, false, ShardRules{});
  ASSERT_TRUE(pick);
  EXPECT_EQ(pick->devices, std::vector<int>{1});
  EXPECT_EQ(pick->shards, std::vector<int>{4});
}

TEST(PickShardDevices, LeastLoadedSpreads) {
  ShardRules rules;
  rules.least_loaded = true;
  const std::vector<int> whole = {0, 0, 0};
  const auto pick = Pick(whole, {2, 1, 0}, {8, 8, 8}, 1, false, rules);
  ASSERT_TRUE(pick);
  EXPECT_EQ(pick->devices, std::vector<int>{2});
  // The free fraction decides, not the free count: 3 of 4 free beats 5 of 8.
  const auto ratio = Pick(whole, {3, 1, 4}, {8, 4, 8}, 1, false, rules);
  ASSERT_TRUE(ratio);
  EXPECT_EQ(ratio->devices, std::vector<int>{1});
}

TEST(PickShardDevices, OneJobsShardsFromOneDeviceUnlessMultipleAllowed) {
  const std::vector<int> whole = {0, 0};
  EXPECT_FALSE(Pick(whole, {5, 5}, {8, 8}, 4, false, ShardRules{}));
  ShardRules rules;
  rules.multiple_per_job = true;
  const auto pick = Pick(whole, {5, 5}, {8, 8}, 4, false, rules);
  ASSERT_TRUE(pick);
  EXPECT_EQ(pick->devices, (std::vector<int>{0, 1}));
  EXPECT_EQ(pick->shards, (std::vector<int>{3, 1}));
  EXPECT_FALSE(Pick(whole, {5, 5}, {8, 8}, 7, false, rules));
}

TEST(PickShardDevices, OneSharingUsesOnlyBusyDevices) {
  const std::vector<int> whole = {0, 0};
  const auto idle = Pick(whole, {0, 0}, {4, 4}, 2, true, ShardRules{});
  ASSERT_TRUE(idle);
  EXPECT_EQ(idle->devices, std::vector<int>{0});
  EXPECT_FALSE(Pick(whole, {3, 0}, {4, 4}, 2, true, ShardRules{}));
  EXPECT_TRUE(Pick(whole, {3, 0}, {4, 4}, 2, false, ShardRules{}));
}

TEST(PickShardDevices, WholeHeldDeviceNeverTakesShards) {
  const std::vector<int> whole = {1000, 0};
  const auto guarded = Pick(whole, {0, 0}, {4, 4}, 1, false, ShardRules{});
  ASSERT_TRUE(guarded);
  EXPECT_EQ(guarded->devices, std::vector<int>{1});
  // Slurm 22.05: its own pick (GPU 0) ignores the whole allocation: keep off the node.
  ShardRules unguarded;
  unguarded.whole_and_shards_unguarded = true;
  EXPECT_FALSE(Pick(whole, {0, 0}, {4, 4}, 1, false, unguarded));
  // Unless Slurm would pick another device first anyway.
  const std::vector<int> second_held = {0, 1000};
  EXPECT_TRUE(Pick(second_held, {0, 0}, {4, 4}, 1, false, unguarded));
}

model::Node ShardNode(std::string name, int gpus, int shards_per_gpu) {
  model::Node node = NodeBuilder(std::move(name)).Hopper(gpus).Cpus(256).Build();
  node.accelerators[0].shards_total.assign(static_cast<size_t>(gpus), shards_per_gpu);
  node.accelerators[0].shards_used.assign(static_cast<size_t>(gpus), 0);
  return node;
}

model::PendingJob ShardJob(uint32_t id, int shards) {
  model::PendingJob job = JobBuilder(id).Gres("gpu", {}, 1).Cpus(1).MemoryMib(1024).Build();
  job.accelerators.shards_per_node = shards;
  return job;
}

// Applies a plan's shard starts to the snapshot's per-device counts, as Slurm would.
void ApplyShards(model::Snapshot& snapshot, const engine::Plan& plan) {
  for (const auto& start : plan.starts) {
    for (const auto& placement : start.placements) {
      auto& pool = snapshot.nodes[static_cast<size_t>(placement.node)]
                       .accelerators[static_cast<size_t>(placement.pool)];
      ASSERT_EQ(placement.devices.size(), placement.device_shards.size());
      for (size_t i = 0; i < placement.devices.size(); ++i) {
        pool.shards_used[static_cast<size_t>(placement.devices[i])] += placement.device_shards[i];
      }
    }
  }
}

TEST(ShardEngine, SixteenHalfGpuJobsOnEightGpusNeverOverCommit) {
  // The peer scheduler's bug: 16 jobs of half a GPU on 8 GPUs put up to 4 on one card.
  model::Snapshot snapshot;
  snapshot.nodes = {ShardNode("a", 4, 2), ShardNode("b", 4, 2)};
  for (uint32_t id = 1; id <= 16; ++id) snapshot.pending.push_back(ShardJob(id, 1));
  auto outcome = RunEngine(snapshot);
  EXPECT_EQ(outcome.plan.starts.size(), 16u);  // 8 GPUs of 2 halves each
  ApplyShards(outcome.snapshot, outcome.plan);
  int occupied = 0;
  for (const auto& node : outcome.snapshot.nodes) {
    for (size_t d = 0; d < 4; ++d) {
      EXPECT_LE(node.accelerators[0].shards_used[d], 2) << node.name << " GPU " << d;
      occupied += node.accelerators[0].shards_used[d] > 0 ? 1 : 0;
    }
  }
  EXPECT_EQ(occupied, 8);
}

TEST(ShardEngine, AllJobsStartWhenShardsSuffice) {
  model::Snapshot snapshot;
  snapshot.nodes = {ShardNode("a", 8, 4), ShardNode("b", 8, 4)};
  for (uint32_t id = 1; id <= 16; ++id) snapshot.pending.push_back(ShardJob(id, 2));
  auto outcome = RunEngine(snapshot);
  ASSERT_EQ(outcome.plan.starts.size(), 16u);
  ApplyShards(outcome.snapshot, outcome.plan);
  int occupied = 0;
  for (const auto& node : outcome.snapshot.nodes) {
    for (int used : node.accelerators[0].shards_used) {
      EXPECT_LE(used, 4);
      occupied += used > 0 ? 1 : 0;
    }
  }
  EXPECT_EQ(occupied, 8);  // 32 shards of 4 per GPU: eight GPUs, none half empty
}

TEST(ShardEngine, PacksOntoTheNodeWhoseDeviceItFills) {
  model::Snapshot snapshot;
  snapshot.nodes = {ShardNode("a", 8, 4), ShardNode("b", 8, 4)};
  snapshot.nodes[1].accelerators[0].shards_used[0] = 2;
  snapshot.pending = {ShardJob(1, 2)};
  auto outcome = RunEngine(snapshot);
  ASSERT_NE(outcome.Start(1), nullptr);
  EXPECT_EQ(outcome.Started().at(1), std::vector<std::string>{"b"});
  EXPECT_EQ(outcome.Start(1)->placements[0].devices, std::vector<int>{0});
}

// The GPU cons_tres gives a shard job on `node` (none held whole), or -1.
int ConsTresGpu(const model::Node& node, int shards, const ShardRules& rules) {
  const auto& pool = node.accelerators[0];
  const std::vector<int> none_whole(pool.shards_total.size(), 0);
  const auto pick =
      PickShardDevices(none_whole, pool.shards_used, pool.shards_total, shards, false, rules);
  return pick ? pick->devices.front() : -1;
}

// sched/backfill's node for a one-node job (cons_tres eval_nodes, "best fit single
// node"): the node with the fewest free CPUs that fit, the first of equals.
size_t SlurmBestFitNode(const model::Snapshot& snapshot, int cpus, int shards) {
  size_t best = snapshot.nodes.size();
  int best_free = 0;
  for (size_t n = 0; n < snapshot.nodes.size(); ++n) {
    const model::Node& node = snapshot.nodes[n];
    const int free = node.cpus_total - node.cpus_allocated;
    if (free < cpus || ConsTresGpu(node, shards, snapshot.shard_rules) < 0) continue;
    if (best == snapshot.nodes.size() || free < best_free) {
      best = n;
      best_free = free;
    }
  }
  return best;
}

int OccupiedGpus(const model::Snapshot& snapshot) {
  int occupied = 0;
  for (const auto& node : snapshot.nodes) {
    for (int used : node.accelerators[0].shards_used) occupied += used > 0 ? 1 : 0;
  }
  return occupied;
}

TEST(ShardEngine, BestFitOnTheGpuConsTresWillPickNotTheNodesFullest) {
  // a: GPU 0 at 1/4, GPU 1 at 3/4; cons_tres puts a shard on GPU 0 (first with
  // room), ending at 2/4. b: GPU 0 at 2/4, ending at 3/4. Slurm takes a (the first
  // of nodes with equal free CPUs).
  model::Snapshot snapshot;
  snapshot.nodes = {ShardNode("a", 2, 4), ShardNode("b", 2, 4)};
  snapshot.nodes[0].accelerators[0].shards_used = {1, 3};
  snapshot.nodes[1].accelerators[0].shards_used = {2, 0};
  snapshot.pending = {ShardJob(1, 1)};
  ASSERT_EQ(SlurmBestFitNode(snapshot, 1, 1), 0u);
  EXPECT_EQ(ConsTresGpu(snapshot.nodes[0], 1, snapshot.shard_rules), 0);
  auto outcome = RunEngine(snapshot);
  EXPECT_EQ(outcome.Started().at(1), std::vector<std::string>{"b"});
  EXPECT_EQ(outcome.Start(1)->placements[0].devices, std::vector<int>{0});
}

// Where the plugin makes Slurm take a start's shards from the planned GPU, the core
// chooses it: a's GPU 1 at 3/4 ends full, better than any GPU cons_tres would pick
// itself (a's GPU 0, ending at 2/4; b's GPU 0 at 3/4). A fresh GPU is never chosen
// while a busy one has room, and a GPU held whole never at all.
TEST(ShardEngine, WhereShardsAreHeldTheCoreChoosesTheFullestGpuWithRoom) {
  model::Snapshot snapshot;
  snapshot.nodes = {ShardNode("a", 2, 4), ShardNode("b", 2, 4)};
  snapshot.nodes[0].accelerators[0].shards_used = {1, 3};
  snapshot.nodes[1].accelerators[0].shards_used = {2, 0};
  for (auto& node : snapshot.nodes) node.accelerators[0].holds_planned_shards = true;
  snapshot.pending = {ShardJob(1, 1)};
  snapshot.pending[0].accelerators.exact_per_node = true;
  auto outcome = RunEngine(snapshot);
  EXPECT_EQ(outcome.Started().at(1), std::vector<std::string>{"a"});
  EXPECT_EQ(outcome.Start(1)->placements[0].devices, std::vector<int>{1});
  EXPECT_EQ(outcome.Start(1)->placements[0].device_shards, std::vector<int>{1});

  // A count Slurm derives from the job's tasks: its own pick again (b's GPU 0).
  snapshot.pending[0].accelerators.exact_per_node = false;
  outcome = RunEngine(snapshot);
  EXPECT_EQ(outcome.Started().at(1), std::vector<std::string>{"b"});
  EXPECT_EQ(outcome.Start(1)->placements[0].devices, std::vector<int>{0});

  // a's GPU 1 held whole (its shard count aside): b's GPU 0, not a's fresh one.
  snapshot.pending[0].accelerators.exact_per_node = true;
  snapshot.nodes[0].accelerators[0].shards_used = {0, 0};
  snapshot.nodes[0].accelerators[0].used_milli = {0, 1000};
  snapshot.nodes[0].accelerators[0].allocated = 1;
  outcome = RunEngine(snapshot);
  EXPECT_EQ(outcome.Started().at(1), std::vector<std::string>{"b"});
  EXPECT_EQ(outcome.Start(1)->placements[0].devices, std::vector<int>{0});
}

TEST(ShardEngine, NeverOpensAFreshGpuWhileABusyOneHasRoom) {
  // Devices of different shard counts: a's fresh GPU of 4 would end at 3/4, b's
  // busy GPU of 16 at 4/16. Filling by fraction alone would open a's, as Slurm does
  // (the first of nodes with equal free CPUs); the busy one wins.
  model::Snapshot snapshot;
  snapshot.nodes = {ShardNode("a", 1, 4), ShardNode("b", 1, 16)};
  snapshot.nodes[1].accelerators[0].shards_used = {1};
  snapshot.pending = {ShardJob(1, 3)};
  EXPECT_EQ(SlurmBestFitNode(snapshot, 1, 3), 0u);
  EXPECT_EQ(RunEngine(snapshot).Started().at(1), std::vector<std::string>{"b"});
}

TEST(ShardEngine, RefillsBusyGpusWhereSlurmsCpuBestFitOpensFreshOnes) {
  // The e2e burst with holes, second wave: a keeps one shard (GPU 0 at 1/4) and 40 of
  // 64 CPUs busy; b's eight GPUs are at 2/4 with 16 CPUs busy. Slurm takes the node
  // with the fewest free CPUs: 16 single shards on a fill GPU 0 and open GPUs 1-4
  // (13 GPUs occupied). Packing fills b's busy GPUs: 9.
  model::Snapshot snapshot;
  snapshot.nodes = {ShardNode("a", 8, 4), ShardNode("b", 8, 4)};
  for (auto& node : snapshot.nodes) node.cpus_total = 64;
  snapshot.nodes[0].cpus_allocated = 40;
  snapshot.nodes[0].accelerators[0].shards_used[0] = 1;
  snapshot.nodes[1].cpus_allocated = 16;
  snapshot.nodes[1].accelerators[0].shards_used.assign(8, 2);
  model::Snapshot slurm = snapshot;
  for (uint32_t id = 1; id <= 16; ++id) {
    snapshot.pending.push_back(ShardJob(id, 1));
    const size_t node = SlurmBestFitNode(slurm, 1, 1);
    ASSERT_EQ(node, 0u);  // 24 free CPUs and fewer as it fills, against b's 48
    const int gpu = ConsTresGpu(slurm.nodes[node], 1, slurm.shard_rules);
    ++slurm.nodes[node].accelerators[0].shards_used[static_cast<size_t>(gpu)];
    ++slurm.nodes[node].cpus_allocated;
  }
  EXPECT_EQ(OccupiedGpus(slurm), 13);
  auto outcome = RunEngine(snapshot);
  ASSERT_EQ(outcome.plan.starts.size(), 16u);
  ApplyShards(outcome.snapshot, outcome.plan);
  EXPECT_EQ(OccupiedGpus(outcome.snapshot), 9);
  EXPECT_EQ(outcome.snapshot.nodes[1].accelerators[0].shards_used, std::vector<int>(8, 4));
}

TEST(ShardEngine, NoRoomNamesTheReason) {
  model::Snapshot snapshot;
  snapshot.nodes = {ShardNode("a", 2, 2)};
  snapshot.nodes[0].accelerators[0].shards_used = {2, 1};
  snapshot.pending = {ShardJob(1, 2)};
  auto outcome = RunEngine(snapshot);
  ASSERT_NE(outcome.Pending(1), nullptr);
  EXPECT_THAT(outcome.Pending(1)->message, ::testing::HasSubstr("no device with room"));
}

TEST(ShardEngine, WholeGpuKeepsOffShardCarryingNodesWhereSlurmDoesNotGuard) {
  model::Snapshot snapshot;
  snapshot.nodes = {ShardNode("a", 8, 4), ShardNode("b", 8, 4)};
  snapshot.nodes[0].accelerators[0].shards_used[3] = 1;
  snapshot.nodes[1].accelerators[0].shards_used[0] = 1;
  snapshot.pending = {JobBuilder(1).Gpus(1).Build()};
  // 23.11.5 and newer: Slurm skips GPUs carrying shards itself.
  EXPECT_EQ(RunEngine(snapshot).plan.starts.size(), 1u);
  snapshot.shard_rules.whole_and_shards_unguarded = true;
  auto outcome = RunEngine(snapshot);
  EXPECT_TRUE(outcome.plan.starts.empty());
  ASSERT_NE(outcome.Pending(1), nullptr);
  EXPECT_THAT(outcome.Pending(1)->message, ::testing::HasSubstr("GPU carrying shards"));
  // A shard job is still welcome there.
  snapshot.pending = {ShardJob(2, 1)};
  EXPECT_EQ(RunEngine(snapshot).plan.starts.size(), 1u);
  // Where the plugin makes Slurm give the planned GPUs, an exact count takes a GPU
  // that carries no shards, on a node that carries some.
  snapshot.pending = {JobBuilder(3).Gpus(1).Build()};
  snapshot.pending[0].accelerators.exact_per_node = true;
  for (auto& node : snapshot.nodes) node.accelerators[0].holds_planned_devices = true;
  outcome = RunEngine(snapshot);
  ASSERT_EQ(outcome.plan.starts.size(), 1u);
  const auto& placement = outcome.plan.starts[0].placements[0];
  const auto& shards = snapshot.nodes[static_cast<size_t>(placement.node)].accelerators[0];
  ASSERT_EQ(placement.devices.size(), 1u);
  EXPECT_EQ(shards.shards_used[static_cast<size_t>(placement.devices[0])], 0);
}

TEST(ShardEngine, ShardJobKeepsOffNodeWhereSlurmWouldPickAWholeHeldGpu) {
  model::Snapshot snapshot;
  snapshot.nodes = {ShardNode("a", 2, 4)};
  snapshot.nodes[0].accelerators[0].used_milli = {1000, 0};
  snapshot.nodes[0].accelerators[0].allocated = 1;
  snapshot.pending = {ShardJob(1, 1)};
  auto guarded = RunEngine(snapshot);
  ASSERT_EQ(guarded.plan.starts.size(), 1u);
  EXPECT_EQ(guarded.plan.starts[0].placements[0].devices, std::vector<int>{1});
  snapshot.shard_rules.whole_and_shards_unguarded = true;
  EXPECT_TRUE(RunEngine(snapshot).plan.starts.empty());
}

TEST(ShardEngine, RunningShardJobsFreeTheirShardsForLookAhead) {
  // A running job's shards go back when it ends: the blocked job gets a reservation.
  model::Snapshot snapshot;
  snapshot.now = 10000;
  snapshot.nodes = {ShardNode("a", 1, 2)};
  snapshot.nodes[0].accelerators[0].shards_used = {2};
  model::RunningJob running;
  running.id = 9;
  running.start_time = 9000;
  running.time_limit_s = 3600;
  running.allocations.push_back({"a", "gpu", "h100", 1, {0}, 0, 1, 1024, {2}});
  snapshot.running = {running};
  snapshot.pending = {ShardJob(1, 2)};
  auto outcome = RunEngine(snapshot);
  EXPECT_TRUE(outcome.plan.starts.empty());
  ASSERT_EQ(outcome.plan.reservations.size(), 1u);
  EXPECT_EQ(outcome.plan.reservations[0].planned_start, 9000 + 3600);
}

TEST(ShardEngine, UsageCountsShardCarryingGpusAsAllocated) {
  model::Snapshot snapshot;
  snapshot.nodes = {ShardNode("a", 4, 4)};
  snapshot.nodes[0].accelerators[0].shards_used = {1, 0, 0, 0};
  snapshot.pending = {ShardJob(1, 4)};
  auto outcome = RunEngine(snapshot);
  ASSERT_EQ(outcome.plan.starts.size(), 1u);
  const auto usage = engine::UsageByKind(outcome.snapshot, model::Catalog::BuiltIn(), outcome.plan);
  ASSERT_EQ(usage.size(), 1u);
  EXPECT_EQ(usage[0].devices_allocated, 2);  // GPU 0 (1 shard) and the planned GPU 1 (4)
  EXPECT_EQ(usage[0].devices_idle, 2);
}

TEST(ShardEngine, ExplainNamesTheShards) {
  EXPECT_THAT(engine::DescribeRequest(ShardJob(1, 3)),
              ::testing::HasSubstr("gpu:any:1 (3 shards of one device)"));
}

TEST(ShardValidation, RejectsCountsThatDoNotAddUp) {
  model::Snapshot snapshot;
  snapshot.nodes = {ShardNode("a", 2, 4)};
  snapshot.nodes[0].accelerators[0].shards_used = {5, 0};
  absl::Status status = model::ValidateSnapshot(snapshot, model::Catalog::BuiltIn());
  EXPECT_THAT(
      std::string(status.message()),
      ::testing::HasSubstr("nodes[0].accelerators[0].device_shards_used[0]: 5 outside 0..4"));
  snapshot.nodes[0].accelerators[0].shards_used = {0, 0};
  snapshot.nodes[0].accelerators[0].shards_total = {4};
  status = model::ValidateSnapshot(snapshot, model::Catalog::BuiltIn());
  EXPECT_THAT(std::string(status.message()), ::testing::HasSubstr("1 entries for 2 devices"));
  snapshot.nodes = {ShardNode("a", 2, 4)};
  snapshot.pending = {ShardJob(1, 2)};
  snapshot.pending[0].accelerators.count_per_node = 2;
  status = model::ValidateSnapshot(snapshot, model::Catalog::BuiltIn());
  EXPECT_THAT(std::string(status.message()), ::testing::HasSubstr("shards_per_node"));
}

TEST(MigCatalog, ProfilesAreKindsOfTheirOwn) {
  const model::Catalog& catalog = model::Catalog::BuiltIn();
  EXPECT_EQ(model::MigProfiles().size(), 12u);
  for (const char* type : {"1g.10gb", "nvidia_h100_80gb_hbm3_1g.10gb"}) {
    const auto kind = catalog.KindForGres("gpu", type);
    ASSERT_TRUE(kind) << type;
    EXPECT_EQ(catalog.kind(*kind).name, "h100-mig-1g.10gb");
    EXPECT_EQ(catalog.kind(*kind).mig_parent, "h100");
    EXPECT_EQ(catalog.kind(*kind).memory_gib, 10);
  }
  const auto h200 = catalog.KindForGres("gpu", "3g.71gb");
  ASSERT_TRUE(h200);
  EXPECT_EQ(catalog.kind(*h200).mig_parent, "h200");
  EXPECT_EQ(catalog.kind(*h200).rule.devices_per_node, 16);  // 2 per GPU, 8 GPUs
  EXPECT_FALSE(catalog.kind(*catalog.KindForGres("gpu", "h100")).IsMigSlice());
}

model::Snapshot MigCluster() {
  model::Snapshot snapshot;
  snapshot.nodes = {NodeBuilder("mig").Gres("gpu", "1g.10gb", 28).Gres("gpu", "3g.40gb", 4).Build(),
                    NodeBuilder("whole").Hopper(8).Build()};
  return snapshot;
}

TEST(MigEngine, TypedRequestsLandOnTheirProfile) {
  model::Snapshot snapshot = MigCluster();
  snapshot.pending = {JobBuilder(1).Gpus(2, "1g.10gb").Build(),
                      JobBuilder(2).Gpus(1, "3g.40gb").Build(),
                      JobBuilder(3).Gpus(1, "h100").Build()};
  auto outcome = RunEngine(snapshot);
  EXPECT_EQ(outcome.Started().at(1), std::vector<std::string>{"mig"});
  EXPECT_EQ(outcome.Started().at(2), std::vector<std::string>{"mig"});
  EXPECT_EQ(outcome.Started().at(3), std::vector<std::string>{"whole"});
}

TEST(MigEngine, TypedWholeGpuNeverGetsASlice) {
  model::Snapshot snapshot = MigCluster();
  snapshot.nodes[1].accelerators[0].used_milli.assign(8, 1000);
  snapshot.nodes[1].accelerators[0].allocated = 8;
  snapshot.pending = {JobBuilder(1).Gpus(1, "h100").Build()};
  auto outcome = RunEngine(snapshot);
  EXPECT_TRUE(outcome.plan.starts.empty());
}

TEST(MigEngine, UntypedRequestKeepsOffSlicedNodesUnderTheDefaultPolicy) {
  model::Snapshot snapshot = MigCluster();
  snapshot.pending = {JobBuilder(1).Gres("gpu", {}, 1).Build()};
  EXPECT_EQ(RunEngine(snapshot).Started().at(1), std::vector<std::string>{"whole"});
  snapshot.nodes.pop_back();
  auto outcome = RunEngine(snapshot);
  EXPECT_TRUE(outcome.plan.starts.empty());
  ASSERT_NE(outcome.Pending(1), nullptr);
  EXPECT_THAT(outcome.Pending(1)->message, ::testing::HasSubstr("MIG slices"));
  // A policy without the filter lets Slurm hand out a slice.
  policy::PolicyConfig config = policy::DefaultPolicy();
  std::erase(config.filters, "untyped_whole_devices");
  EXPECT_EQ(RunEngine(snapshot, config).plan.starts.size(), 1u);
}

}  // namespace
}  // namespace accelpack
