// SPDX-License-Identifier: GPL-2.0-or-later
// Snapshots a broken or hostile controller could send: names holding the engine's
// own separators, counts whose sums overflow, lists whose product is the cost. Each
// is either refused by validation with the field named, or planned by the rules.
#include <gtest/gtest.h>

#include <string>
#include <vector>

#include "common/strings.h"
#include "engine/engine.h"
#include "engine_test_util.h"

namespace accelpack::testing {
namespace {

// Jobs of one shape share the engine's cached node verdicts: a name holding the key's
// separators must not make two shapes one ("a,b" is one partition, not a and b).
TEST(HostileInput, NamesHoldingSeparatorsAreShapesOfTheirOwn) {
  model::Snapshot snapshot;
  snapshot.now = 5000;
  snapshot.nodes = {NodeBuilder("n1").Partitions({"a"}).Build()};
  snapshot.pending = {JobBuilder(1).Partitions({"a", "b"}).Priority(100).Build(),
                      JobBuilder(2).Partitions({"a,b"}).Priority(10).Build()};
  Outcome outcome = RunEngine(snapshot);
  EXPECT_NE(outcome.Start(1), nullptr);
  EXPECT_EQ(outcome.Start(2), nullptr) << "partition \"a,b\" ran on a node of partition a";

  model::Snapshot other;
  other.now = 5000;
  other.nodes = {NodeBuilder("n1").Build()};
  other.pending = {JobBuilder(1).InReservations({"!"}, /*only=*/false).Priority(100).Build(),
                   JobBuilder(2).InReservations({}, /*only=*/true).Priority(10).Build()};
  Outcome second = RunEngine(other);
  EXPECT_NE(second.Start(1), nullptr);
  EXPECT_EQ(second.Start(2), nullptr) << "a reservation-only job without reservations ran";
}

// kind_pressure with a table keeps its pressure between placements outside a cycle;
// a state made from changed nodes (here the same snapshot object, its pools swapped)
// must not read the old one. Pinned H100 work presses on the H100s: the portable job
// takes the H200 node, wherever it is.
TEST(HostileInput, KindPressureOutsideACycleFollowsTheStateItIsAsked) {
  policy::PolicyConfig config;
  config.filters = policy::DefaultPolicy().filters;
  config.scorers = {{"kind_pressure", 1000, {{"shapes", "4:1:1000:h100:0.5;4:1:1000::0.5"}}},
                    {"node_order", 1, {}}};
  auto built = policy::BuildPolicy(config);
  ASSERT_TRUE(built.ok()) << built.status();
  model::Snapshot snapshot;
  const model::PendingJob portable = JobBuilder(1).Gres("gpu", {}, 1).Build();
  for (const char* first : {"h100", "h200", "h100"}) {
    const std::string second = std::string(first) == "h100" ? "h200" : "h100";
    snapshot.nodes = {NodeBuilder("a").Hopper(8, first).Build(),
                      NodeBuilder("b").Hopper(8, second).Build()};
    ASSERT_TRUE(model::ValidateSnapshot(snapshot, built->catalog).ok());
    engine::ClusterState state(snapshot, built->catalog);
    const engine::Job job = engine::MakeJob(portable, *built->pipeline, 0);
    auto start = engine::FindPlacement(job, state, *built->pipeline);
    ASSERT_TRUE(start.has_value());
    const model::Node& node = snapshot.nodes[static_cast<size_t>(start->placements[0].node)];
    EXPECT_EQ(node.accelerators[0].gres_type, "h200") << "placed on " << node.name;
  }
}

// Validation bounds what the filters multiply: feature_any's names in all, a running
// allocation's device indices, a reservation's nodes (once each, counts not negative).
TEST(HostileInput, ValidationBoundsListsWhoseSizesMultiply) {
  auto built = policy::BuildPolicy(policy::DefaultPolicy());
  ASSERT_TRUE(built.ok());
  model::Snapshot snapshot;
  snapshot.nodes = {NodeBuilder("n").Hopper(8).Build()};
  std::vector<std::string> clause(600, "f");
  snapshot.pending = {JobBuilder(1).FeatureAny({clause, clause}).Build()};
  absl::Status status = model::ValidateSnapshot(snapshot, built->catalog);
  EXPECT_NE(status.message().find("feature_any: 1200 names in all"), std::string::npos) << status;

  snapshot.pending = {JobBuilder(1).FeatureAny({clause}).Build()};
  EXPECT_TRUE(model::ValidateSnapshot(snapshot, built->catalog).ok());
  model::RunningJob running = Running(9, "n", "gpu", "h100", {0, 1}, 0, 100);
  running.allocations[0].device_indices.push_back(5000);
  snapshot.running = {running};
  status = model::ValidateSnapshot(snapshot, built->catalog);
  EXPECT_NE(status.message().find("running_jobs[0].allocations[0].device_indices: 5000 outside"),
            std::string::npos)
      << status;

  snapshot.running.clear();
  model::AdvancedReservation window;
  window.name = "r";
  window.start = 0;
  window.end = 100;
  window.nodes = {"n", "n"};
  snapshot.reservations = {window};
  status = model::ValidateSnapshot(snapshot, built->catalog);
  EXPECT_NE(status.message().find("reservations[0].nodes[1]: node \"n\" twice"), std::string::npos)
      << status;
}

// Partial reservations' CPUs summed per node saturate rather than wrap: 200 windows of
// 2^24 CPUs each on one node reserve all of it, they do not free it.
TEST(HostileInput, PartialReservationSumsSaturate) {
  model::Snapshot snapshot;
  snapshot.now = 5000;
  snapshot.nodes = {NodeBuilder("n").Hopper(8).Build()};
  for (int r = 0; r < 200; ++r) {
    model::AdvancedReservation window;
    window.name = Cat("r", r);
    window.start = 0;
    window.end = 100000;
    window.partial = true;
    window.nodes = {"n"};
    window.reserved_cpus = {1 << 24};
    window.reserved_devices = {0};
    snapshot.reservations.push_back(window);
  }
  snapshot.pending = {JobBuilder(1).Gpus(1).Build()};
  EXPECT_EQ(RunEngine(snapshot).Start(1), nullptr);
}

// Work lost by a victim (seconds run x devices) saturates: a job that ran 2^41 s on
// eight allocations of 1000 devices each does not lose a negative amount.
TEST(HostileInput, LostDeviceSecondsSaturate) {
  policy::PolicyConfig config = policy::DefaultPolicy();
  config.preemption.partitions = {"scavenger"};
  model::Snapshot snapshot;
  snapshot.now = int64_t{1} << 40;
  snapshot.nodes = {NodeBuilder("n")
                        .Hopper(8)
                        .Busy({0, 1, 2, 3, 4, 5, 6, 7})
                        .Partitions({"batch", "scavenger"})
                        .Build()};
  model::RunningJob victim = Running(10, "n", "gpu", "h100", {}, -(int64_t{1} << 40), 0);
  for (int i = 0; i < 1000; ++i) victim.allocations[0].device_indices.push_back(i % 8);
  victim.allocations[0].device_count = 8;
  victim.allocations.resize(8, victim.allocations[0]);
  victim.partition = "scavenger";
  victim.requeueable = true;
  snapshot.running = {victim};
  snapshot.pending = {
      JobBuilder(1).Gpus(8).Submitted(0).Class(model::JobClass::kInference).Build()};
  Outcome outcome = RunEngine(snapshot, config);
  ASSERT_EQ(outcome.plan.preemptions.size(), 1u);
  EXPECT_GE(outcome.plan.preemptions[0].lost_device_s, 0);
}

}  // namespace
}  // namespace accelpack::testing
