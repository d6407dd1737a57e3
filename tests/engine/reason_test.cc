// Pending lines read back into their causes: by hand-written lines, and by the lines
// the real engine writes (a change to its wording must not silently empty the
// simulator's "why jobs waited" table).
#include "engine/reason.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "engine_test_util.h"

namespace accelpack::testing {
namespace {

using engine::PendingCauses;
using Causes = std::vector<std::string>;

TEST(PendingCauses, NamesEachReasonOnceWithoutItsCount) {
  EXPECT_EQ(PendingCauses("0/64 nodes fit: 47 too few free devices, 17 too few free CPUs; reserved "
                          "to start by 2026-12-04T10:00:00Z"),
            (Causes{"too few free devices", "too few free CPUs", "reserved a start"}));
  // A reason with a comma of its own stays whole.
  EXPECT_EQ(
      PendingCauses("0/4 nodes fit: 3 node down, drained or reserved, 1 too little free memory"),
      (Causes{"node down, drained or reserved", "too little free memory"}));
  // A gang: its reason, then the nodes' tally.
  EXPECT_EQ(PendingCauses("2/8 nodes fit (need 2), but no single kind/SuperPoD holds the gang; 6 "
                          "too few free devices"),
            (Causes{"no single kind/SuperPoD holds the gang", "too few free devices"}));
  EXPECT_EQ(PendingCauses("0/2 nodes fit: 1 held for a reserved job; preempting 1 job (7) to start "
                          "on h100-0001"),
            (Causes{"held for a reserved job", "making room by preemption"}));
  EXPECT_EQ(PendingCauses("0/2 nodes fit: 2 too few free devices; waiting for 2 preempted jobs (7, "
                          "8) to leave a,b"),
            (Causes{"too few free devices", "making room by preemption"}));
  EXPECT_EQ(PendingCauses("not evaluated: beyond the first 5 jobs"), (Causes{"not evaluated"}));
  EXPECT_EQ(PendingCauses("0/3 nodes fit: 2 too few free CPUs, 1 too few free CPUs"),
            (Causes{"too few free CPUs"}));
  EXPECT_EQ(PendingCauses("2/2 nodes fit (need 3): no nodes"),
            (Causes{"fewer nodes than it needs"}));
  EXPECT_EQ(PendingCauses(""), Causes{});
}

TEST(PendingCauses, ReadsTheEnginesOwnLines) {
  // Job 1 (8 GPUs) waits for the 4 devices job 99 frees on n at t=1000 and reserves
  // them (m has no CPU free until 5000); job 2 (2 GPUs, past that start) is held off n,
  // finds no CPU on m and reserves m's start.
  model::Snapshot snapshot;
  snapshot.now = 0;
  snapshot.nodes = {NodeBuilder("n").Hopper(8).Busy({0, 1, 2, 3}).Build(),
                    NodeBuilder("m").Hopper(8).Busy({0}).Cpus(8, 8).Build()};
  snapshot.running = {Running(99, "n", "gpu", "h100", {0, 1, 2, 3}, -500, 1500),
                      Running(98, "m", "gpu", "h100", {0}, -500, 5500, 8)};
  snapshot.pending = {JobBuilder(1).Gpus(8).Priority(100).Build(),
                      JobBuilder(2).Gpus(2).Priority(50).TimeLimit(5000).Build()};
  Outcome outcome = RunEngine(snapshot);
  ASSERT_NE(outcome.Pending(1), nullptr);
  EXPECT_THAT(PendingCauses(outcome.Pending(1)->message),
              ::testing::UnorderedElementsAre("too few free devices", "too few free CPUs",
                                              "reserved a start"))
      << outcome.Pending(1)->message;
  ASSERT_NE(outcome.Pending(2), nullptr);
  EXPECT_THAT(PendingCauses(outcome.Pending(2)->message),
              ::testing::UnorderedElementsAre("held for a reserved job", "too few free CPUs",
                                              "reserved a start"))
      << outcome.Pending(2)->message;

  // A gang no one SuperPoD holds: the gang's own reason.
  model::Snapshot pods;
  pods.nodes = {NodeBuilder("p1").Ascend910C().SuperPod("pod1").Build(),
                NodeBuilder("p2").Ascend910C().SuperPod("pod2").Build()};
  pods.pending = {JobBuilder(1).Npus(16, "910c").Nodes(2).Build()};
  Outcome split = RunEngine(pods);
  ASSERT_NE(split.Pending(1), nullptr);
  EXPECT_EQ(PendingCauses(split.Pending(1)->message),
            (Causes{std::string(engine::kReasonGangDoesNotFit)}));

  // A gang of more nodes than the cluster has.
  model::Snapshot small = pods;
  small.pending = {JobBuilder(1).Npus(16, "910c").Nodes(3).Build()};
  Outcome too_big = RunEngine(small);
  ASSERT_NE(too_big.Pending(1), nullptr);
  EXPECT_EQ(PendingCauses(too_big.Pending(1)->message),
            (Causes{std::string(engine::kCauseTooFewNodes)}))
      << too_big.Pending(1)->message;

  // Beyond the policy's per-cycle limit: not evaluated.
  policy::PolicyConfig limited = policy::DefaultPolicy();
  limited.limits.max_jobs_per_cycle = 1;
  Outcome cut = RunEngine(snapshot, limited);
  ASSERT_NE(cut.Pending(2), nullptr);
  EXPECT_EQ(PendingCauses(cut.Pending(2)->message), (Causes{"not evaluated"}));
}

}  // namespace
}  // namespace accelpack::testing
