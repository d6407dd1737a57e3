// SPDX-License-Identifier: GPL-2.0-or-later
// The plan checker the fuzzers rely on: it passes the engine's plans and catches
// plans that break a rule. With ACCELPACK_WRITE_FUZZ_CORPUS=DIR it also writes the
// seed snapshots of tests/fuzz/corpus/snapshot.
#include "plan_checker.h"

#include <gtest/gtest.h>

#include <cstdlib>
#include <filesystem>
#include <fstream>

#include "cluster_builder.h"
#include "common/strings.h"
#include "engine/engine.h"
#include "policy/policy.h"
#include "service/proto_convert.h"

namespace accelpack::testing {
namespace {

struct Seed {
  std::string name;
  model::Snapshot snapshot;
};

// 910C nodes whose probe reports groups of `size` dies, asked for even counts.
model::Snapshot Ascend910CGroups(int size) {
  model::Snapshot snapshot;
  snapshot.now = 1000;
  for (int n = 0; n < 3; ++n) {
    model::Node node = NodeBuilder(Cat("c", n)).Ascend910C(16).Busy({n}).Build();
    auto& pool = node.accelerators.back();
    for (int first = 0; first < 16; first += size) {
      pool.device_groups.emplace_back();
      for (int d = first; d < std::min(16, first + size); ++d)
        pool.device_groups.back().push_back(d);
    }
    snapshot.nodes.push_back(node);
  }
  uint32_t id = 1;
  for (int count : {10, 6, 2, 1, 4, 14}) {
    snapshot.pending.push_back(JobBuilder(id++).Npus(count, "910c").Build());
  }
  return snapshot;
}

// H200s with 4 shards per GPU (some in use, one GPU held whole), a MIG node, and a
// queue of shard, whole-GPU and MIG jobs; `unguarded`: Slurm before 23.11.5.
model::Snapshot Shards(bool unguarded) {
  model::Snapshot snapshot;
  snapshot.now = 1000;
  snapshot.shard_rules.whole_and_shards_unguarded = unguarded;
  for (int n = 0; n < 3; ++n) {
    model::Node node = NodeBuilder(Cat("h200-", n)).Hopper(8, "h200").Busy({7}).Build();
    node.accelerators[0].shards_total.assign(8, 4);
    node.accelerators[0].shards_used = {n, 3, 0, 0, 0, 0, 0, 0};
    snapshot.nodes.push_back(node);
  }
  snapshot.nodes.push_back(
      NodeBuilder("mig").Gres("gpu", "1g.10gb", 14).Gres("gpu", "3g.40gb", 4).Build());
  uint32_t id = 1;
  for (int shards : {1, 2, 3, 4, 1, 2, 2, 1, 3}) {
    model::PendingJob job = JobBuilder(id++).Gres("gpu", {}, 1).Build();
    job.accelerators.shards_per_node = shards;
    snapshot.pending.push_back(job);
  }
  snapshot.pending.push_back(JobBuilder(id++).Gpus(2, "h200").Build());
  snapshot.pending.push_back(JobBuilder(id++).Gpus(3, "1g.10gb").Build());
  snapshot.pending.push_back(JobBuilder(id++).Gres("gpu", {}, 1).Build());
  return snapshot;
}

std::vector<Seed> Seeds() {
  std::vector<Seed> seeds;
  for (uint32_t seed = 1; seed <= 6; ++seed) {
    seeds.push_back({Cat("synthetic-", seed),
                     SyntheticCluster(8 + 4 * static_cast<int>(seed), 30, 0.1 * seed, seed)});
  }
  seeds.push_back({"910c-groups-8", Ascend910CGroups(8)});
  seeds.push_back({"910c-groups-4", Ascend910CGroups(4)});
  seeds.push_back({"910c-groups-3", Ascend910CGroups(3)});
  model::Snapshot shares;
  shares.nodes = {NodeBuilder("s0").Hopper(8).UsedMilli({500, 0, 0, 0, 0, 0, 0, 1000}).Build()};
  shares.pending = {JobBuilder(1).Gpus(1).Share(300).Build(),
                    JobBuilder(2).Gpus(1).Share(600).Build(),
                    JobBuilder(3).Gpus(1).Share(500).Build()};
  shares.running = {Running(9, "s0", "gpu", "h100", {7}, 0, 3600)};
  seeds.push_back({"shares", shares});
  seeds.push_back({"shards", Shards(false)});
  seeds.push_back({"shards-unguarded", Shards(true)});
  return seeds;
}

TEST(PlanChecker, EnginePlansKeepEveryRule) {
  auto built = policy::BuildPolicy(policy::DefaultPolicy());
  ASSERT_TRUE(built.ok());
  const char* corpus = std::getenv("ACCELPACK_WRITE_FUZZ_CORPUS");
  for (Seed& seed : Seeds()) {
    if (corpus != nullptr) {
      std::ofstream(std::filesystem::path(corpus) / seed.name, std::ios::binary)
          << service::SnapshotToProto(seed.snapshot).SerializeAsString();
    }
    ASSERT_TRUE(model::ValidateSnapshot(seed.snapshot, built->catalog).ok()) << seed.name;
    const engine::Plan plan = engine::Schedule(seed.snapshot, built->catalog, *built->pipeline);
    EXPECT_FALSE(plan.starts.empty()) << seed.name;
    const auto problems = fuzz::CheckPlan(seed.snapshot, built->catalog, plan, fuzz::AllFilters());
    EXPECT_TRUE(problems.empty()) << seed.name << ": " << problems.front();
  }
}

// The placements issue 12 found: 10 dies as [0-4, 8-12] and 6 as [0,1,2,4,5,6].
TEST(PlanChecker, CatchesASplitModuleAndOverCommit) {
  auto built = policy::BuildPolicy(policy::DefaultPolicy());
  model::Snapshot snapshot = Ascend910CGroups(8);
  ASSERT_TRUE(model::ValidateSnapshot(snapshot, built->catalog).ok());
  for (auto& node : snapshot.nodes) node.accelerators[0].used_milli.assign(16, 0);
  engine::Plan plan;
  plan.starts.push_back({1, {{0, 0, {0, 1, 2, 3, 4, 8, 9, 10, 11, 12}, 0}}, -1});
  plan.starts.push_back({2, {{1, 0, {0, 1, 2, 4, 5, 6}, 0}}, -1});
  plan.starts.push_back({3, {{1, 0, {6, 7}, 0}}, -1});  // dies 6 and 7 taken twice
  for (uint32_t id = 4; id <= 6; ++id)
    plan.pending.push_back({id, engine::PendingCode::kResources, "r"});
  const auto problems = fuzz::CheckPlan(snapshot, built->catalog, plan, fuzz::AllFilters());
  const std::string all = Join(problems, "\n");
  EXPECT_NE(all.find("job 1 on c0: module of device 4 split"), std::string::npos) << all;
  EXPECT_NE(all.find("job 2 on c1: module of device 2 split"), std::string::npos) << all;
  EXPECT_NE(all.find("job 3 on c1: device 6 not free"), std::string::npos) << all;
}

TEST(PlanChecker, CatchesShardOverCommitAndWholeOnAShardedGpu) {
  auto built = policy::BuildPolicy(policy::DefaultPolicy());
  model::Snapshot snapshot = Shards(true);
  ASSERT_TRUE(model::ValidateSnapshot(snapshot, built->catalog).ok());
  engine::Plan plan;
  plan.starts.push_back({1, {{0, 0, {1}, 250, {1}}}, -1});   // GPU 1: 3 + 1 of 4, fine
  plan.starts.push_back({2, {{0, 0, {1}, 500, {2}}}, -1});   // GPU 1 again: 6 of 4
  plan.starts.push_back({3, {{0, 0, {7}, 750, {3}}}, -1});   // GPU 7 is held whole
  plan.starts.push_back({10, {{1, 0, {2, 3}, 0, {}}}, -1});  // h200-1 GPU 0 carries shards
  for (uint32_t id : {4u, 5u, 6u, 7u, 8u, 9u, 11u, 12u})
    plan.pending.push_back({id, engine::PendingCode::kResources, "r"});
  const auto problems = fuzz::CheckPlan(snapshot, built->catalog, plan, fuzz::AllFilters());
  const std::string all = Join(problems, "\n");
  EXPECT_EQ(all.find("job 1 "), std::string::npos) << all;
  EXPECT_NE(all.find("job 2 on h200-0: device 1 over-committed (6 of 4 shards)"), std::string::npos)
      << all;
  EXPECT_NE(all.find("job 3 on h200-0: shards on device 7, held whole"), std::string::npos) << all;
  EXPECT_NE(all.find("job 10 on h200-1: whole devices on a node where Slurm may hand out GPU 0"),
            std::string::npos)
      << all;
}

TEST(PlanChecker, CatchesAMissingOutcomeAndAWrongPartition) {
  auto built = policy::BuildPolicy(policy::DefaultPolicy());
  model::Snapshot snapshot;
  snapshot.nodes = {NodeBuilder("a").Hopper(8).Partitions({"x"}).Build()};
  snapshot.pending = {JobBuilder(1).Gpus(1).Build(), JobBuilder(2).Gpus(1).Build()};
  ASSERT_TRUE(model::ValidateSnapshot(snapshot, built->catalog).ok());
  engine::Plan plan;
  plan.starts.push_back({1, {{0, 0, {0}, 0}}, -1});
  const auto problems = fuzz::CheckPlan(snapshot, built->catalog, plan, fuzz::AllFilters());
  const std::string all = Join(problems, "\n");
  EXPECT_NE(all.find("job 1 on a: not in any of the job's partitions"), std::string::npos) << all;
  EXPECT_NE(all.find("job 2 has 0 outcomes"), std::string::npos) << all;
}

}  // namespace
}  // namespace accelpack::testing
