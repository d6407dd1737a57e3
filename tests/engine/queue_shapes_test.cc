// SPDX-License-Identifier: GPL-2.0-or-later
// Queue-aware workload scorers: without a shape table of their own, `fragmentation`
// and `kind_pressure` read the shapes of the cycle's pending queue, made once per
// cycle by the engine (Scorer::PreScore); outside a cycle they stay neutral.
#include <gtest/gtest.h>

#include <algorithm>
#include <string>
#include <vector>

#include "engine/engine.h"
#include "engine_test_util.h"
#include "policy/fragmentation.h"

namespace accelpack::testing {
namespace {

policy::PolicyConfig Scorers(std::vector<policy::ScorerConfig> scorers) {
  policy::PolicyConfig config = policy::DefaultPolicy();
  config.scorers = std::move(scorers);
  return config;
}

// Two 8-GPU nodes: a has 5 free, b has 6. Job 1 (first in the queue) wants 2 GPUs;
// three more want 4 each. Queue shapes: 4 GPUs 0.75, 2 GPUs 0.25.
//   on a: 3 left, too few for the 4-GPU shape: fragment 0 -> 0.75 x 3 = 2.25 devices,
//         score 50 - 6.25 x 2.25 = 35.94;
//   on b: 4 left, both shapes still fit: fragment stays 0, score 50.
// Best fit takes a (3 of 8 left instead of 4 of 8); queue-aware fragmentation takes b.
model::Snapshot FourGpuQueue() {
  model::Snapshot snapshot;
  snapshot.now = 2000;
  snapshot.nodes = {NodeBuilder("a").Hopper(8).Busy({0, 1, 2}).Build(),
                    NodeBuilder("b").Hopper(8).Busy({0, 1}).Build()};
  snapshot.pending = {JobBuilder(1).Gpus(2).Priority(100).Build()};
  for (uint32_t id = 2; id <= 4; ++id) snapshot.pending.push_back(JobBuilder(id).Gpus(4).Build());
  return snapshot;
}

std::string NodeOf(const Outcome& outcome, uint32_t job) {
  const auto started = outcome.Started();
  const auto it = started.find(job);
  return it == started.end() || it->second.empty() ? "" : it->second.front();
}

TEST(QueueShapes, FragmentationAgainstTheQueueChoosesOtherThanBestFit) {
  EXPECT_EQ(NodeOf(RunEngine(FourGpuQueue(), Scorers({{"best_fit_devices", 1, {}}})), 1), "a");
  EXPECT_EQ(NodeOf(RunEngine(FourGpuQueue(), Scorers({{"fragmentation", 1, {}}})), 1), "b");
  // The default policy: fragmentation outweighs device fit.
  EXPECT_EQ(NodeOf(RunEngine(FourGpuQueue()), 1), "b");
}

TEST(QueueShapes, FragmentationScoreFromTheCycle) {
  model::Snapshot snapshot = FourGpuQueue();
  auto built = policy::BuildPolicy(Scorers({{"fragmentation", 1, {}}}));
  ASSERT_TRUE(built.ok());
  ASSERT_TRUE(model::ValidateSnapshot(snapshot, built->catalog).ok());
  const engine::ClusterState state(snapshot, built->catalog);
  const engine::Scorer& scorer = *built->pipeline->scorers.front().scorer;
  const engine::CycleState cycle = engine::PreScoreCycle(snapshot, built->pipeline->scorers);
  engine::Job job = engine::MakeJob(snapshot.pending[0], *built->pipeline, snapshot.now);
  const engine::Candidate on_a{0, 0, {3, 4}, 0};
  const engine::Candidate on_b{1, 0, {2, 3}, 0};
  // Outside a cycle and without a table: no opinion.
  EXPECT_DOUBLE_EQ(scorer.Score(job, on_a, state), 50);
  job.cycle = &cycle;
  EXPECT_DOUBLE_EQ(scorer.Score(job, on_a, state), 50 - 6.25 * 2.25);
  EXPECT_DOUBLE_EQ(scorer.Score(job, on_b, state), 50);
}

// The scorer keeps each node's fragmentation before a placement for the cycle; a
// node changed since, in the cycle's state or in a copy of it (a look-ahead), must
// be scored from what it has now, and again from what it had when asked there.
TEST(QueueShapes, FragmentationFollowsNodeChangesWithinACycle) {
  model::Snapshot snapshot = FourGpuQueue();
  auto built = policy::BuildPolicy(Scorers({{"fragmentation", 1, {}}}));
  ASSERT_TRUE(built.ok());
  ASSERT_TRUE(model::ValidateSnapshot(snapshot, built->catalog).ok());
  const engine::ClusterState state(snapshot, built->catalog);
  const engine::Scorer& scorer = *built->pipeline->scorers.front().scorer;
  const engine::CycleState cycle = engine::PreScoreCycle(snapshot, built->pipeline->scorers);
  engine::Job job = engine::MakeJob(snapshot.pending[0], *built->pipeline, snapshot.now);
  job.cycle = &cycle;
  const engine::Candidate on_b{1, 0, {5, 6}, 0};
  // b with 6 free keeps hosting both shapes: 50.
  EXPECT_DOUBLE_EQ(scorer.Score(job, on_b, state), 50);
  // With 3 more taken, b has 3 free: fragment 0.75 x 3 = 2.25 devices before, 1 left
  // after (both shapes stranded): 1 device; +1.25 -> 57.8125.
  engine::ClusterState ahead = state;
  ahead.Take({.node = 1, .pool = 0, .devices = {2, 3, 4}});
  EXPECT_DOUBLE_EQ(scorer.Score(job, on_b, ahead), 50 + 6.25 * 1.25);
  EXPECT_DOUBLE_EQ(scorer.Score(job, on_b, state), 50);
  ahead.Give({.node = 1, .pool = 0, .devices = {2, 3, 4}});
  EXPECT_DOUBLE_EQ(scorer.Score(job, on_b, ahead), 50);
}

// The model keeps, per node, the "after" sums of placements it has scored; one is
// reused only for a job whose CPUs and memory leave the same shapes room, and only
// while the node is as it was. Shapes: 4 GPUs + 8 CPUs + 64 GiB (0.75), 2 GPUs + 4
// CPUs (0.25); b (64 CPUs, 512 GiB) gets 2 GPUs, leaving 4 of 8 free:
//   a 4-CPU job leaves room for both: fragment 0 before and after, decrease 0;
//   a 60-CPU job leaves 4 CPUs: the 4-GPU shape no longer fits, 0.75 x 4 devices;
//   a job taking all but 1 GiB leaves too little memory for it: the same 3 devices.
TEST(QueueShapes, FragmentationAfterSumsFollowTheJobsRoomAndTheNode) {
  const policy::ShapeTable shapes = {{8, 4, 1000, {}, 0.75, 64 * 1024}, {4, 2, 1000, {}, 0.25, 0}};
  const policy::FragModel model(shapes, /*count_memory=*/true);
  model::Snapshot snapshot = FourGpuQueue();
  snapshot.pending = {JobBuilder(1).Gpus(2).Cpus(4).Build(), JobBuilder(2).Gpus(2).Cpus(60).Build(),
                      JobBuilder(3).Gpus(2).MemoryMib(511 * 1024).Build()};
  auto built = policy::BuildPolicy(policy::DefaultPolicy());
  ASSERT_TRUE(built.ok());
  ASSERT_TRUE(model::ValidateSnapshot(snapshot, built->catalog).ok());
  engine::ClusterState state(snapshot, built->catalog);
  std::vector<engine::Job> jobs;
  for (const auto& request : snapshot.pending) {
    jobs.push_back(engine::MakeJob(request, *built->pipeline, snapshot.now));
  }
  const engine::Candidate on_b{1, 0, {5, 6}, 0};
  policy::FragModel::NodeMemo memo;
  const std::vector<double> expected = {0, -3000, -3000};
  // Each job twice, interleaved, through the memo: each as computed afresh.
  for (size_t round = 0; round < 2; ++round) {
    for (size_t j = 0; j < jobs.size(); ++j) {
      EXPECT_DOUBLE_EQ(model.Decrease(jobs[j], on_b, state, &memo), expected[j]) << j;
      EXPECT_EQ(model.Decrease(jobs[j], on_b, state, &memo),
                model.Decrease(jobs[j], on_b, state, nullptr));
    }
  }
  // b changes (3 more taken: 1 left after, which hosts neither shape): every after
  // sum known for b is dropped.
  state.Take({.node = 1, .pool = 0, .devices = {2, 3, 4}});
  for (const engine::Job& job : jobs) {
    EXPECT_EQ(model.Decrease(job, on_b, state, &memo), model.Decrease(job, on_b, state, nullptr));
  }
  EXPECT_NE(model.Decrease(jobs[0], on_b, state, &memo), expected[0]);
}

// A memoised after sum is keyed by which devices a placement takes, not how many:
// on b, device 2 is half used and device 3 free; a quarter share on either leaves
// different room (2: 250 left, too little for a half share; 3: 750 left, no longer
// a whole device). Each placement asked through the memo, interleaved, must equal
// the sum computed afresh.
TEST(QueueShapes, FragmentationAfterSumsFollowTheDevicesTaken) {
  const policy::ShapeTable shapes = {{1, 1, 500, {}, 0.5, 0}, {1, 1, 1000, {}, 0.5, 0}};
  const policy::FragModel model(shapes, /*count_memory=*/true);
  model::Snapshot snapshot;
  snapshot.now = 2000;
  snapshot.nodes = {NodeBuilder("b").Hopper(4).UsedMilli({1000, 1000, 500, 0}).Build()};
  snapshot.pending = {JobBuilder(1).Gpus(1).Share(250).Build()};
  auto built = policy::BuildPolicy(policy::DefaultPolicy());
  ASSERT_TRUE(built.ok());
  ASSERT_TRUE(model::ValidateSnapshot(snapshot, built->catalog).ok());
  const engine::ClusterState state(snapshot, built->catalog);
  const engine::Job job = engine::MakeJob(snapshot.pending[0], *built->pipeline, snapshot.now);
  const engine::Candidate on_shared{0, 0, {2}, 250};
  const engine::Candidate on_free{0, 0, {3}, 250};
  const double shared_fresh = model.Decrease(job, on_shared, state, nullptr);
  const double free_fresh = model.Decrease(job, on_free, state, nullptr);
  ASSERT_NE(shared_fresh, free_fresh);
  policy::FragModel::NodeMemo memo;
  for (int round = 0; round < 2; ++round) {
    EXPECT_EQ(model.Decrease(job, on_shared, state, &memo), shared_fresh) << round;
    EXPECT_EQ(model.Decrease(job, on_free, state, &memo), free_fresh) << round;
  }
}

// A table in the policy wins over the queue (the static protocol's rule): with a table
// of 2-GPU tasks only, 3 left on a still hosts one, so fragmentation has no preference
// between a and b (both 50); the queue of 4-GPU tasks does not count.
TEST(QueueShapes, AStaticTableIgnoresTheQueue) {
  const policy::ShapeTable two_gpus = {{4, 2, 1000, {}, 1.0}};
  auto config = Scorers({{"fragmentation", 1, {{"shapes", policy::ShapesToArg(two_gpus)}}},
                         {"best_fit_devices", 0.001, {}}});
  EXPECT_EQ(NodeOf(RunEngine(FourGpuQueue(), config), 1), "a");
}

// Outside a cycle (the static protocol's FindPlacement) without a table the default
// policy is best fit: the queue is not consulted.
TEST(QueueShapes, NoCycleNoQueue) {
  model::Snapshot snapshot = FourGpuQueue();
  auto built = policy::BuildPolicy(policy::DefaultPolicy());
  ASSERT_TRUE(built.ok());
  ASSERT_TRUE(model::ValidateSnapshot(snapshot, built->catalog).ok());
  const engine::ClusterState state(snapshot, built->catalog);
  const engine::Job job = engine::MakeJob(snapshot.pending[0], *built->pipeline, snapshot.now);
  auto start = engine::FindPlacement(job, state, *built->pipeline);
  ASSERT_TRUE(start.has_value());
  EXPECT_EQ(start->placements.front().node, 0);
}

// An H100 node with 4 of 8 free and an H200 node with 2 of 8 free. Job 1 takes any
// GPU; three more are pinned to H200. Queue demand: 1 device any (reachable
// everywhere: presses on nothing), 3 pinned to H200, half the cluster's devices:
// pressure(h200) = 0.75 / 0.5 = 1.5 -> score 0, pressure(h100) = 0 -> 100.
// Best fit takes the H200 node (1 of 8 left); kind_pressure keeps job 1 off it.
model::Snapshot PinnedQueue() {
  model::Snapshot snapshot;
  snapshot.now = 2000;
  snapshot.nodes = {NodeBuilder("a").Hopper(8, "h100").Busy({0, 1, 2, 3}).Build(),
                    NodeBuilder("b").Hopper(8, "h200").Busy({0, 1, 2, 3, 4, 5}).Build()};
  snapshot.pending = {JobBuilder(1).Gres("gpu", {}, 1).Priority(100).Build()};
  for (uint32_t id = 2; id <= 4; ++id)
    snapshot.pending.push_back(JobBuilder(id).Gpus(1, "h200").Build());
  return snapshot;
}

TEST(QueueShapes, KindPressureAgainstTheQueueChoosesOtherThanBestFit) {
  EXPECT_EQ(NodeOf(RunEngine(PinnedQueue(), Scorers({{"best_fit_devices", 1, {}}})), 1), "b");
  EXPECT_EQ(NodeOf(RunEngine(PinnedQueue(),
                             Scorers({{"kind_pressure", 1000, {}}, {"best_fit_devices", 1, {}}})),
                   1),
            "a");
  // Pinned jobs themselves see one value on every node they may use: they still
  // go where they fit, the H200 node.
  const Outcome outcome =
      RunEngine(PinnedQueue(), Scorers({{"kind_pressure", 1000, {}}, {"best_fit_devices", 1, {}}}));
  EXPECT_EQ(NodeOf(outcome, 2), "b");
  EXPECT_EQ(NodeOf(outcome, 3), "b");
}

TEST(QueueShapes, TableFromThePendingQueue) {
  model::Snapshot snapshot;
  snapshot.nodes = {NodeBuilder("g").Hopper(8, "h100").Build(),
                    NodeBuilder("n").Ascend910B(8).Build()};
  snapshot.pending = {
      JobBuilder(1).Gres("gpu", {}, 2).Cpus(8).Build(),     // any GPU: only H100 here
      JobBuilder(2).Gpus(2, "h100").Cpus(8).Build(),        // the same shape, by name
      JobBuilder(3).Npus(4).Nodes(2).Cpus(16).Build(),      // a gang: two tasks
      JobBuilder(4).Gres("gpu", {}, 1).Share(500).Build(),  // half a device
      JobBuilder(5).Gpus(1, "h800").Build(),                // no such pool: left out
      JobBuilder(6).Cpus(2).Build(),                        // no devices
  };
  const policy::ShapeTable table = policy::QueueShapes(snapshot);
  ASSERT_EQ(table.size(), 4u);
  // Most popular first; equal counts in key order (cpus, count, milli, types).
  EXPECT_EQ(table[0].gpu_count, 2);
  EXPECT_EQ(table[0].allowed_types, std::vector<std::string>{"h100"});
  EXPECT_DOUBLE_EQ(table[0].weight, 2.0 / 6);
  EXPECT_EQ(table[1].cpus, 16);
  EXPECT_EQ(table[1].gpu_count, 4);
  EXPECT_EQ(table[1].allowed_types, std::vector<std::string>{"910b"});
  EXPECT_DOUBLE_EQ(table[1].weight, 2.0 / 6);
  EXPECT_EQ(table[2].cpus, 2);
  EXPECT_EQ(table[2].gpu_count, 0);
  EXPECT_EQ(table[3].gpu_milli, 500);
  EXPECT_EQ(table[3].gpu_count, 1);
  EXPECT_EQ(table[3].memory_mib, 16 * 1024);
}

// One 1-GPU job waits; node c runs an 8-GPU job, b a 2-GPU one, a is idle. From the
// queue alone (one shape, 1 GPU) a and b score alike and a, first in name order,
// wins. With the running work as shapes too (1, 2 and 8 GPUs, a third each): on a
// the 8-GPU shape loses its node (fragment 0 -> 7/3 devices), on b it had none
// already (6/3 -> 5/3): b.
model::Snapshot OneGpuJobBesideRunningWork() {
  model::Snapshot snapshot;
  snapshot.now = 2000;
  snapshot.nodes = {NodeBuilder("a").Hopper(8).Build(),
                    NodeBuilder("b").Hopper(8).Busy({0, 1}).Build(),
                    NodeBuilder("c").Hopper(8).Busy({0, 1, 2, 3, 4, 5, 6, 7}).Build()};
  snapshot.running = {Running(98, "b", "gpu", "h100", {0, 1}, 0, 0),
                      Running(99, "c", "gpu", "h100", {0, 1, 2, 3, 4, 5, 6, 7}, 0, 0)};
  snapshot.pending = {JobBuilder(1).Gpus(1).Build()};
  return snapshot;
}

TEST(QueueShapes, RunningWorkAsShapesKeepsAWholeNodeWhole) {
  const model::Snapshot snapshot = OneGpuJobBesideRunningWork();
  EXPECT_EQ(NodeOf(RunEngine(snapshot, Scorers({{"fragmentation", 1, {}}})), 1), "a");
  EXPECT_EQ(
      NodeOf(RunEngine(snapshot, Scorers({{"fragmentation", 1, {{"running_weight", "1"}}}})), 1),
      "b");
}

TEST(QueueShapes, RunningWorkCountsAtItsWeightPerNode) {
  model::Snapshot snapshot = OneGpuJobBesideRunningWork();
  snapshot.running[1].allocations.push_back(snapshot.running[1].allocations[0]);
  snapshot.running[1].allocations[1].node = "a";  // a 2-node job of 8 GPUs each
  EXPECT_EQ(policy::QueueShapes(snapshot).size(), 1u);
  const policy::ShapeTable table = policy::QueueShapes(snapshot, nullptr, 0.5);
  ASSERT_EQ(table.size(), 3u);
  EXPECT_EQ(table[0].gpu_count, 1);  // the pending job: weight 1 of 2.5
  EXPECT_DOUBLE_EQ(table[0].weight, 1 / 2.5);
  EXPECT_EQ(table[1].gpu_count, 8);  // two nodes at 0.5
  EXPECT_DOUBLE_EQ(table[1].weight, 1 / 2.5);
  EXPECT_TRUE(table[1].allowed_types.empty());
  EXPECT_EQ(table[2].gpu_count, 2);
  EXPECT_DOUBLE_EQ(table[2].weight, 0.5 / 2.5);
}

TEST(QueueShapes, RunningWeightMustBeANonNegativeNumber) {
  for (const char* bad : {"-1", "many"}) {
    auto built = policy::BuildPolicy(Scorers({{"fragmentation", 1, {{"running_weight", bad}}}}));
    ASSERT_FALSE(built.ok()) << bad;
    EXPECT_NE(built.status().message().find("running_weight"), std::string::npos)
        << built.status().message();
  }
}

// Same snapshot, same plan, whatever order it lists its pending jobs in.
TEST(QueueShapes, DeterministicWhateverTheQueueOrder) {
  for (uint32_t seed : {4u, 5u}) {
    model::Snapshot snapshot = SyntheticCluster(64, 200, 0.5, seed);
    const Outcome first = RunEngine(snapshot);
    const Outcome again = RunEngine(snapshot);
    std::reverse(snapshot.pending.begin(), snapshot.pending.end());
    const Outcome reversed = RunEngine(snapshot);
    EXPECT_GT(first.plan.starts.size(), 10u);
    EXPECT_EQ(first.Started(), again.Started()) << "seed " << seed;
    EXPECT_EQ(first.Started(), reversed.Started()) << "seed " << seed;
  }
}

}  // namespace
}  // namespace accelpack::testing
