// SPDX-License-Identifier: GPL-2.0-or-later
// What a reservation (a blocked job's planned start) leaves to later work, and how its
// look-ahead reads Slurm's advanced reservations: work that outlasts a planned start
// may use only what the reserved job does not need there, in the pool it takes
// devices from and, where devices are not interchangeable, none of them.
#include <gtest/gtest.h>

#include <algorithm>

#include "engine_test_util.h"

namespace accelpack::testing {
namespace {

// Slurm's advanced reservation "maint" holding node n over [start, end).
model::AdvancedReservation Maintenance(int64_t start, int64_t end) {
  model::AdvancedReservation window;
  window.name = "maint";
  window.start = start;
  window.end = end;
  window.nodes = {"n"};
  return window;
}

// The next cycle's snapshot: `started` runs on node 0's last pool from `now` on.
model::Snapshot WithStarted(model::Snapshot snapshot, const engine::JobStart& start, int64_t now,
                            int64_t limit) {
  snapshot.now = now;
  auto& pool = snapshot.nodes[0].accelerators.back();
  for (int d : start.placements[0].devices) pool.used_milli[static_cast<size_t>(d)] = 1000;
  pool.allocated += static_cast<int>(start.placements[0].devices.size());
  snapshot.running.push_back(Running(start.job_id, snapshot.nodes[0].name, pool.gres_name,
                                     pool.gres_type, start.placements[0].devices, now, limit));
  snapshot.pending.erase(std::remove_if(snapshot.pending.begin(), snapshot.pending.end(),
                                        [&](const auto& j) { return j.id == start.job_id; }),
                         snapshot.pending.end());
  return snapshot;
}

// Ascend 910: HCCS rings 0-3 and 4-7. Devices 0,1 free at t=100, 4,5 busy for long,
// 2,3,6,7 free now. Job 1 (4 NPUs) is planned for t=100 on ring 0-3; by count two
// devices are spare there, but job 2 (2 NPUs, past t=100) on 2,3 would break the
// ring: it must not run on the node's ring job 1 needs (its start stays at t=100).
TEST(Holds, ALaterJobKeepsOffTheDevicesOfARingTheReservedJobNeeds) {
  model::Snapshot snapshot;
  snapshot.now = 10;
  snapshot.nodes = {NodeBuilder("n").Ascend910(8).Busy({0, 1, 4, 5}).Build()};
  snapshot.running = {Running(100, "n", "npu", "910", {0, 1}, 0, 100),
                      Running(101, "n", "npu", "910", {4, 5}, 0, 100000)};
  snapshot.pending = {JobBuilder(1).Npus(4, "910").Priority(100).Build(),
                      JobBuilder(2).Npus(2, "910").Priority(10).TimeLimit(3600).Build()};
  Outcome outcome = RunEngine(snapshot);
  ASSERT_EQ(outcome.plan.reservations.size(), 1u);
  EXPECT_EQ(outcome.plan.reservations[0].planned_start, 100);
  // Which devices job 1 takes at t=100 is not known to job 2's device choice: none of
  // the pool is spare (before, job 2 took 2,3, and job 1's start moved to t=3610).
  EXPECT_EQ(outcome.Start(2), nullptr);
}

// The same on an H100 (NVSwitch: any devices do): job 1 (3 GPUs) planned for t=100,
// when 0,1,6,7 are free, leaves one device spare; job 2 (1 GPU, past t=100) takes it
// now and job 1 still starts at t=100.
TEST(Holds, InterchangeableDevicesLeaveTheirSpareToLaterWork) {
  model::Snapshot snapshot;
  snapshot.now = 10;
  snapshot.nodes = {NodeBuilder("n").Hopper(8).Busy({0, 1, 2, 3, 4, 5}).Build()};
  snapshot.running = {Running(100, "n", "gpu", "h100", {0, 1}, 0, 100),
                      Running(101, "n", "gpu", "h100", {2, 3, 4, 5}, 0, 100000)};
  snapshot.pending = {JobBuilder(1).Gpus(3).Priority(100).Build(),
                      JobBuilder(2).Gpus(1).Priority(10).TimeLimit(3600).Build()};
  Outcome outcome = RunEngine(snapshot);
  ASSERT_EQ(outcome.plan.reservations.size(), 1u);
  EXPECT_EQ(outcome.plan.reservations[0].planned_start, 100);
  const engine::JobStart* start = outcome.Start(2);
  ASSERT_NE(start, nullptr) << "the one spare device was not offered";
  Outcome next = RunEngine(WithStarted(snapshot, *start, 20, 3600));
  ASSERT_EQ(next.plan.reservations.size(), 1u);
  EXPECT_EQ(next.plan.reservations[0].planned_start, 100);
}

// Spare devices are the reserved job's pool's: job 1 takes all six H100s free at
// t=100, so an H100 job that outlasts it may not take 6,7 now (8 free H200s do not
// make them spare), while an H200 job may run beside it.
TEST(Holds, SpareDevicesAreCountedInTheReservedJobsPool) {
  model::Snapshot snapshot;
  snapshot.now = 10;
  snapshot.nodes = {NodeBuilder("n").Hopper(8, "h200").Hopper(8).Busy({0, 1, 2, 3, 4, 5}).Build()};
  snapshot.running = {Running(100, "n", "gpu", "h100", {0, 1, 2, 3}, 0, 100),
                      Running(101, "n", "gpu", "h100", {4, 5}, 0, 100000)};
  snapshot.pending = {JobBuilder(1).Gpus(6, "h100").Priority(100).Build(),
                      JobBuilder(2).Gpus(2, "h100").Priority(10).TimeLimit(3600).Build(),
                      JobBuilder(3).Gpus(2, "h200").Priority(5).TimeLimit(3600).Build()};
  Outcome outcome = RunEngine(snapshot);
  ASSERT_EQ(outcome.plan.reservations.size(), 1u);
  EXPECT_EQ(outcome.plan.reservations[0].job_id, 1u);
  EXPECT_EQ(outcome.plan.reservations[0].planned_start, 100);
  EXPECT_EQ(outcome.Start(2), nullptr) << "job 2 took H100s job 1 needs at t=100";
  EXPECT_NE(outcome.Start(3), nullptr);
}

// The look-ahead asks Slurm's advanced reservations about the planned start, not
// about now: the node frees at t=1600, inside a maintenance window [1000, 5000), so
// job 1 has no start there before 5000.
TEST(Holds, ALookAheadStartKeepsOutOfAnAdvancedReservationOpenThen) {
  model::Snapshot snapshot;
  snapshot.now = 0;
  snapshot.nodes = {NodeBuilder("n").Hopper(8).Busy({0, 1, 2, 3, 4, 5, 6, 7}).Build()};
  snapshot.running = {Running(100, "n", "gpu", "h100", {0, 1, 2, 3, 4, 5, 6, 7}, 0, 1600)};
  snapshot.reservations = {Maintenance(1000, 5000)};
  snapshot.pending = {JobBuilder(1).Gpus(8).TimeLimit(500).Build()};
  Outcome outcome = RunEngine(snapshot);
  for (const auto& reservation : outcome.plan.reservations) {
    EXPECT_FALSE(reservation.planned_start > 500 && reservation.planned_start < 5000)
        << "planned at " << reservation.planned_start << ", inside maint";
  }
}

// A job past its time limit (OverTimeLimit, KillWait) "ends" in the past: the start
// its end makes room for runs from now, and a maintenance window opening before the
// job would end then keeps it off that node (n), though not off m.
TEST(Holds, ALookAheadAtAnOverdueEndChecksWindowsFromNow) {
  model::Snapshot snapshot;
  snapshot.now = 2000;
  for (const char* name : {"k", "m", "n"})
    snapshot.nodes.push_back(NodeBuilder(name).Hopper(8).Busy({0, 1, 2, 3, 4, 5, 6, 7}).Build());
  const std::vector<int> all = {0, 1, 2, 3, 4, 5, 6, 7};
  snapshot.running = {Running(100, "n", "gpu", "h100", all, 0, 1500),
                      Running(101, "m", "gpu", "h100", all, 0, 1500),
                      Running(102, "k", "gpu", "h100", all, 0, 50000)};
  snapshot.reservations = {Maintenance(2600, 5000)};
  snapshot.pending = {JobBuilder(1).Gpus(8).Nodes(2).TimeLimit(1000).Build()};
  Outcome outcome = RunEngine(snapshot);
  for (const auto& reservation : outcome.plan.reservations) {
    for (int n : reservation.nodes) {
      EXPECT_FALSE(reservation.planned_start < 5000 &&
                   outcome.snapshot.nodes[static_cast<size_t>(n)].name == "n")
          << "planned at " << reservation.planned_start << " on n, into maint";
    }
  }
}

// Count-only GRES (no device files) gives running jobs no device indices: busy
// devices stand in, and two jobs on one node must not stand in with the same ones.
// Three 2-device jobs hold 0-5 until t=100, 200 and ever; a 6-device job's room is
// there once the first two have ended (a look-ahead that gave back the same two
// devices twice found none).
TEST(Holds, JobsWithoutDeviceIndicesGiveBackDevicesOfTheirOwn) {
  model::Snapshot snapshot;
  snapshot.now = 10;
  snapshot.nodes = {NodeBuilder("n").Ascend910B(8).Busy({0, 1, 2, 3, 4, 5}).Build()};
  for (auto [id, limit] : {std::pair{100u, 100}, {101u, 200}, {102u, 0}}) {
    model::RunningJob job = Running(id, "n", "npu", "910b", {}, 0, limit);
    job.allocations[0].device_count = 2;
    snapshot.running.push_back(job);
  }
  snapshot.pending = {JobBuilder(1).Npus(6).Build()};
  Outcome outcome = RunEngine(snapshot);
  ASSERT_EQ(outcome.plan.reservations.size(), 1u);
  EXPECT_EQ(outcome.plan.reservations[0].planned_start, 200);
}

}  // namespace
}  // namespace accelpack::testing
