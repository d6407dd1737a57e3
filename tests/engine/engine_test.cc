// The placement engine end to end on small clusters: each filter alone rejects,
// best fit, gangs all or nothing, topology rules, reservations, determinism.
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <algorithm>
#include <random>
#include <set>

#include "engine_test_util.h"
#include "policy/baselines.h"

namespace accelpack::testing {
namespace {

using engine::PendingCode;
using ::testing::ElementsAre;
using ::testing::HasSubstr;
using ::testing::IsEmpty;
using ::testing::Not;

model::Snapshot OneNode(model::Node node, model::PendingJob job) {
  model::Snapshot snapshot;
  snapshot.now = 5000;
  snapshot.nodes = {std::move(node)};
  snapshot.pending = {std::move(job)};
  return snapshot;
}

// Each case: a node and a job that fit except for one thing; that filter's reason shows.
struct OnlyRejection {
  const char* name;
  model::Node node;
  model::PendingJob job;
  PendingCode code;
  const char* reason;
};

class EachFilterAlone : public ::testing::TestWithParam<OnlyRejection> {};

TEST_P(EachFilterAlone, RejectsWithItsReason) {
  const OnlyRejection& c = GetParam();
  // The same node and job with the obstacle removed would start: see FitsWhenUnobstructed.
  Outcome outcome = RunEngine(OneNode(c.node, c.job));
  EXPECT_THAT(outcome.plan.starts, IsEmpty());
  const auto* pending = outcome.Pending(1);
  ASSERT_NE(pending, nullptr);
  EXPECT_EQ(pending->code, c.code);
  EXPECT_THAT(pending->message, HasSubstr(Cat("0/1 nodes fit: 1 ", c.reason)));
}

const NodeBuilder kNode = NodeBuilder("n1").Hopper(8);
const JobBuilder kJob = JobBuilder(1).Gpus(2);

INSTANTIATE_TEST_SUITE_P(
    Filters, EachFilterAlone,
    ::testing::Values(
        OnlyRejection{"partition", kNode.Build(), JobBuilder(kJob).Partitions({"other"}).Build(),
                      PendingCode::kNeverFits, "not in partition"},
        OnlyRejection{"features", kNode.Build(), JobBuilder(kJob).Features({"cann"}).Build(),
                      PendingCode::kNeverFits, "missing a required feature"},
        OnlyRejection{"excluded", kNode.Build(), JobBuilder(kJob).Excluded({"n1"}).Build(),
                      PendingCode::kNeverFits, "excluded by the job (-x)"},
        OnlyRejection{"type", kNode.Build(), JobBuilder(kJob).Gpus(2, "h200").Build(),
                      PendingCode::kNeverFits, "no allowed accelerator type"},
        OnlyRejection{"too_many", kNode.Build(), JobBuilder(kJob).Gpus(9).Build(),
                      PendingCode::kNeverFits, "fewer devices than requested"},
        OnlyRejection{"capacity_cpu", kNode.Build(), JobBuilder(kJob).Cpus(65).Build(),
                      PendingCode::kNeverFits, "node too small (CPUs or memory)"},
        OnlyRejection{"node_state", NodeBuilder(kNode).State(model::NodeState::kDown).Build(),
                      kJob.Build(), PendingCode::kResources, "node down, drained or reserved"},
        OnlyRejection{"free_cpus", NodeBuilder(kNode).Cpus(64, 62).Build(), kJob.Build(),
                      PendingCode::kResources, "too few free CPUs"},
        OnlyRejection{"free_memory", NodeBuilder(kNode).MemoryMib(32768, 30000).Build(),
                      kJob.Build(), PendingCode::kResources, "too little free memory"},
        OnlyRejection{"free_devices", NodeBuilder(kNode).Busy({0, 1, 2, 3, 4, 5, 6}).Build(),
                      kJob.Build(), PendingCode::kResources, "too few free devices"},
        OnlyRejection{"ring_count", NodeBuilder("n1").Ascend910().Build(),
                      JobBuilder(1).Npus(3, "910").Build(), PendingCode::kNeverFits,
                      "device count not legal for the kind's topology"},
        OnlyRejection{"ring_shape", NodeBuilder("n1").Ascend910().Busy({0, 4}).Build(),
                      JobBuilder(1).Npus(4, "910").Build(), PendingCode::kTopology,
                      "free devices not in a legal topology shape"}),
    [](const auto& param_info) { return std::string(param_info.param.name); });

// --exclusive: an idle node or none; a node taken whole is full for the rest of the cycle.
TEST(Engine, ExclusiveJobWaitsForAnIdleNodeWhileOthersFillTheBusyOne) {
  model::Snapshot snapshot;
  snapshot.now = 5000;
  // n1 holds one 1-GPU job (7 free): a 6-GPU exclusive job cannot go there.
  snapshot.nodes = {NodeBuilder("n1").Hopper(8).Busy({0}).Cpus(64, 4).Build()};
  snapshot.running = {Running(100, "n1", "gpu", "h100", {0}, 4000, 3600)};
  snapshot.pending = {JobBuilder(1).Gpus(6).Exclusive().Priority(10).Build(),
                      JobBuilder(2).Gpus(2).Priority(1).TimeLimit(60).Build()};
  Outcome outcome = RunEngine(snapshot);
  EXPECT_EQ(outcome.Start(1), nullptr);
  ASSERT_NE(outcome.Pending(1), nullptr);
  EXPECT_THAT(outcome.Pending(1)->message, HasSubstr("exclusive job: node not idle"));
  // Job 2 ends long before job 1's reserved start (when job 100 ends): it backfills.
  EXPECT_EQ(outcome.Started().at(2), (std::vector<std::string>{"n1"}));
}

TEST(Engine, ExclusiveJobTakesItsNodeWhole) {
  model::Snapshot snapshot;
  snapshot.nodes = {NodeBuilder("a").Hopper(8).Build(), NodeBuilder("b").Hopper(8).Build()};
  snapshot.pending = {JobBuilder(1).Gpus(1).Exclusive().Priority(10).Build(),
                      JobBuilder(2).Gpus(1).Priority(5).Build(),
                      JobBuilder(3).Gpus(1).Priority(1).Build()};
  Outcome outcome = RunEngine(snapshot);
  const auto started = outcome.Started();
  ASSERT_EQ(started.size(), 3u);
  // Whichever node job 1 got, no other job shares it: 7 free GPUs there stay unused.
  for (uint32_t other : {2u, 3u}) EXPECT_NE(started.at(other), started.at(1));
}

// --exclusive=user: a job shares nodes only with its user's jobs, and a node whose
// running --exclusive=user job is one user's takes no other user's job.
constexpr uint32_t kAlice = 1001, kBob = 1002, kCarol = 1003;

model::RunningJob RunningOf(uint32_t user_id, bool exclusive_user, uint32_t id, std::string node) {
  model::RunningJob job = Running(id, std::move(node), "gpu", "h100", {0}, 4000, 3600);
  job.user_id = user_id;
  job.exclusive_user = exclusive_user;
  return job;
}

TEST(Engine, ExclusiveUserJobJoinsItsOwnUsersNodeOnly) {
  model::Snapshot snapshot;
  snapshot.now = 5000;
  snapshot.nodes = {NodeBuilder("a").Hopper(8).Busy({0}).Cpus(64, 4).Build(),
                    NodeBuilder("b").Hopper(8).Busy({0}).Cpus(64, 4).Build()};
  snapshot.running = {RunningOf(kBob, false, 100, "a"), RunningOf(kAlice, false, 101, "b")};
  snapshot.pending = {JobBuilder(1).User(kAlice).ExclusiveUser().Gpus(2).Build()};
  // Best fit alone ties a and b, and a comes first by name: the user decides.
  EXPECT_EQ(RunEngine(snapshot).Started().at(1), (std::vector<std::string>{"b"}));

  snapshot.running[1].user_id = kCarol;  // b is now another user's too
  Outcome outcome = RunEngine(snapshot);
  EXPECT_EQ(outcome.Start(1), nullptr);
  ASSERT_NE(outcome.Pending(1), nullptr);
  EXPECT_THAT(outcome.Pending(1)->message, HasSubstr("--exclusive=user"));
  // --exclusive=user (not whole-node): an idle node would do too.
  snapshot.nodes.push_back(NodeBuilder("c").Hopper(8).Build());
  EXPECT_EQ(RunEngine(snapshot).Started().at(1), (std::vector<std::string>{"c"}));
}

TEST(Engine, ANodeHeldExclusivelyByOneUserTakesNoOtherUsersJob) {
  model::Snapshot snapshot;
  snapshot.now = 5000;
  snapshot.nodes = {NodeBuilder("a").Hopper(8).Busy({0}).Cpus(64, 4).Build(),
                    NodeBuilder("b").Hopper(8).Build()};
  snapshot.running = {RunningOf(kAlice, true, 100, "a")};
  // The same shape for two users: best fit says a (the busier node) for both.
  snapshot.pending = {JobBuilder(1).User(kBob).Gpus(1).Priority(10).Build(),
                      JobBuilder(2).User(kAlice).Gpus(1).Priority(5).Build()};
  Outcome outcome = RunEngine(snapshot);
  EXPECT_EQ(outcome.Started().at(1), (std::vector<std::string>{"b"}));
  EXPECT_EQ(outcome.Started().at(2), (std::vector<std::string>{"a"}));

  snapshot.nodes.pop_back();  // only a: bob waits, and says why
  outcome = RunEngine(snapshot);
  EXPECT_EQ(outcome.Start(1), nullptr);
  ASSERT_NE(outcome.Pending(1), nullptr);
  EXPECT_THAT(outcome.Pending(1)->message, HasSubstr("exclusive to another user"));
  EXPECT_EQ(outcome.Started().at(2), (std::vector<std::string>{"a"}));
}

TEST(Engine, ExclusiveUserStartsDoNotShareANodeWithAnotherUserInOneCycle) {
  model::Snapshot snapshot;
  snapshot.now = 5000;
  snapshot.nodes = {NodeBuilder("a").Hopper(8).Build()};
  // Bob's job first: alice's --exclusive=user job may not join it this cycle.
  snapshot.pending = {JobBuilder(1).User(kBob).Gpus(1).Priority(10).TimeLimit(600).Build(),
                      JobBuilder(2).User(kAlice).ExclusiveUser().Gpus(1).Priority(5).Build()};
  Outcome outcome = RunEngine(snapshot);
  EXPECT_NE(outcome.Start(1), nullptr);
  EXPECT_EQ(outcome.Start(2), nullptr);
  // Alice's first: bob's job may not join hers.
  snapshot.pending[1].priority = 20;
  outcome = RunEngine(snapshot);
  EXPECT_NE(outcome.Start(2), nullptr);
  EXPECT_EQ(outcome.Start(1), nullptr);
}

TEST(Engine, NodesWhereSlurmRefusedTheStartAreAvoided) {
  model::Snapshot snapshot;
  snapshot.nodes = {NodeBuilder("a").Hopper(8).Busy({0, 1, 2, 3, 4, 5}).Build(),
                    NodeBuilder("b").Hopper(8).Build()};
  // Best fit says a; Slurm refused a twice lately (a limit the snapshot cannot show).
  snapshot.pending = {
      JobBuilder(1).Gpus(2).Refused({"a"}, 2, "select_nodes: Requested nodes are busy").Build()};
  EXPECT_EQ(RunEngine(snapshot).Started().at(1), (std::vector<std::string>{"b"}));

  snapshot.nodes.pop_back();  // only a: the job waits, and says why
  Outcome outcome = RunEngine(snapshot);
  ASSERT_NE(outcome.Pending(1), nullptr);
  EXPECT_THAT(outcome.Pending(1)->message, HasSubstr("Slurm refused the start here recently"));
}

TEST(Engine, RequestRulesHoldInAPolicyThatDoesNotListThem) {
  policy::PolicyConfig config = policy::DefaultPolicy();
  config.filters = {"partition", "accelerator_type", "free_cpus"};  // no "exclusive"
  model::Snapshot snapshot;
  snapshot.nodes = {NodeBuilder("n1").Hopper(8).Busy({0}).Cpus(64, 4).Build()};
  snapshot.pending = {JobBuilder(1).Gpus(2).Exclusive().Build()};
  EXPECT_EQ(RunEngine(snapshot, config).Start(1), nullptr);
}

// Advanced reservations: node/time windows. now = 5000; "maint" holds a from 5600.
model::Snapshot WithMaintenanceOnA() {
  model::Snapshot snapshot;
  snapshot.now = 5000;
  // a is the better fit (2 free of 8) for a 2-GPU job.
  snapshot.nodes = {NodeBuilder("a").Hopper(8).Busy({0, 1, 2, 3, 4, 5}).Build(),
                    NodeBuilder("b").Hopper(8).Build()};
  snapshot.reservations = {{"maint", 5600, 9000, {"a"}, false}};
  return snapshot;
}

TEST(Engine, AJobThatWouldRunIntoAReservationKeepsOff) {
  model::Snapshot snapshot = WithMaintenanceOnA();
  snapshot.pending = {JobBuilder(1).Gpus(2).TimeLimit(3600).Build(),  // would reach 8600
                      JobBuilder(2).Gpus(2).TimeLimit(600).Build()};  // ends at 5600
  policy::PolicyConfig device_fit = policy::DefaultPolicy();
  device_fit.scorers = {{"best_fit_devices", 1, {}}};
  Outcome outcome = RunEngine(snapshot, device_fit);
  EXPECT_EQ(outcome.Started().at(1), (std::vector<std::string>{"b"}));
  EXPECT_EQ(outcome.Started().at(2), (std::vector<std::string>{"a"}));

  snapshot.nodes.pop_back();  // only a: the long job waits and says why
  snapshot.pending.pop_back();
  outcome = RunEngine(snapshot);
  ASSERT_NE(outcome.Pending(1), nullptr);
  EXPECT_THAT(outcome.Pending(1)->message, HasSubstr("in an advanced reservation"));
}

TEST(Engine, AJobInAReservationStartsInsideItWhileItIsActive) {
  model::Snapshot snapshot = WithMaintenanceOnA();
  snapshot.pending = {JobBuilder(1).Gpus(2).InReservations({"maint"}).Build()};
  Outcome outcome = RunEngine(snapshot);  // not active until 5600: waits, not on b either
  EXPECT_EQ(outcome.Start(1), nullptr);
  ASSERT_NE(outcome.Pending(1), nullptr);
  snapshot.now = 5600;
  outcome = RunEngine(snapshot);
  EXPECT_EQ(outcome.Started().at(1), (std::vector<std::string>{"a"}));
  // FLEX: may also run outside it; b is free now.
  snapshot.now = 5000;
  snapshot.pending = {JobBuilder(1).Gpus(8).InReservations({"maint"}, false).Build()};
  EXPECT_EQ(RunEngine(snapshot).Started().at(1), (std::vector<std::string>{"b"}));
}

// Overlapping reservations over a larger cluster: a reservation-only job may run on
// the nodes of the reservations it names, found per node (not by scanning every
// reservation's node list for every node), and nowhere else.
TEST(Engine, AReservationOnlyJobRunsOnlyOnTheNodesOfItsReservations) {
  model::Snapshot snapshot;
  snapshot.now = 5000;
  // Nodes in no name order (index and name rank differ).
  for (int n = 0; n < 300; ++n) {
    snapshot.nodes.push_back(NodeBuilder(Cat("n", 1000 + (n * 7) % 300)).Hopper(8).Build());
  }
  // "even" and "odd" cover alternate nodes, "tail" the last 10; "pair", listed first
  // and over already, two nodes also in "even". The job names "even" only: on those
  // two nodes a reservation other than its own comes first.
  std::vector<std::string> even, odd, tail;
  for (int n = 0; n < 290; ++n) (n % 2 == 0 ? even : odd).push_back(Cat("n", 1000 + n));
  for (int n = 290; n < 300; ++n) tail.push_back(Cat("n", 1000 + n));
  snapshot.reservations = {{"pair", 1000, 2000, {"n1004", "n1006"}},
                           {"odd", 1000, 9000, odd},
                           {"tail", 1000, 9000, tail},
                           {"even", 1000, 9000, even}};
  for (uint32_t j = 1; j <= 200; ++j) {
    snapshot.pending.push_back(JobBuilder(j).Gpus(8).InReservations({"even"}).Build());
  }
  const Outcome outcome = RunEngine(snapshot);
  std::set<std::string> used;
  for (const auto& [job, nodes] : outcome.Started()) used.insert(nodes.begin(), nodes.end());
  const std::set<std::string> expected(even.begin(), even.end());
  EXPECT_EQ(used, expected);
  EXPECT_EQ(outcome.Started().size(), expected.size());
  ASSERT_NE(outcome.Pending(200), nullptr);
  EXPECT_THAT(outcome.Pending(200)->message, HasSubstr("outside the job's reservation"));
}

// A partial reservation (CoreCnt, TRES=gres/gpu:2): "debug" holds 2 GPUs and 8 CPUs
// of a from 4000 to 9000; now = 5000.
model::Snapshot WithDebugPartOfA() {
  model::Snapshot snapshot;
  snapshot.now = 5000;
  snapshot.nodes = {NodeBuilder("a").Hopper(8).Cpus(64, 0).Build()};
  snapshot.reservations = {{"debug", 4000, 9000, {"a"}, true, {8}, {2}}};
  return snapshot;
}

TEST(Engine, OtherJobsUseWhatAPartialReservationLeavesOfItsNode) {
  model::Snapshot snapshot = WithDebugPartOfA();
  snapshot.pending = {JobBuilder(1).Gpus(6).Build(), JobBuilder(2).Gpus(1).Build(),
                      JobBuilder(3).Gpus(2).InReservations({"debug"}).Build(),
                      JobBuilder(4).Gpus(1).InReservations({"debug"}).Build()};
  Outcome outcome = RunEngine(snapshot);
  EXPECT_EQ(outcome.Started().at(1), (std::vector<std::string>{"a"}));
  EXPECT_EQ(outcome.Started().at(3), (std::vector<std::string>{"a"}));
  // The last 2 GPUs are the reservation's: not for job 2; job 3 took them from job 4.
  ASSERT_NE(outcome.Pending(2), nullptr);
  EXPECT_THAT(outcome.Pending(2)->message, HasSubstr("in an advanced reservation"));
  EXPECT_NE(outcome.Pending(4), nullptr);

  // Counted as whole nodes when the plugin could not say how much is reserved.
  snapshot.reservations[0].reserved_cpus.clear();
  snapshot.reservations[0].reserved_devices.clear();
  outcome = RunEngine(snapshot);
  EXPECT_EQ(outcome.Start(1), nullptr);
  EXPECT_EQ(outcome.Started().at(3), (std::vector<std::string>{"a"}));
}

TEST(Engine, APartialReservationsJobsStartedThisCycleUseUpItsPart) {
  model::Snapshot snapshot = WithDebugPartOfA();
  // 8 GPUs free, 2 of them the reservation's: its second job has no room left there.
  snapshot.pending = {JobBuilder(3).Gpus(2).InReservations({"debug"}).Build(),
                      JobBuilder(4).Gpus(1).InReservations({"debug"}).Build(),
                      JobBuilder(5).Gpus(6).Build()};
  Outcome outcome = RunEngine(snapshot);
  EXPECT_EQ(outcome.Started().at(3), (std::vector<std::string>{"a"}));
  EXPECT_EQ(outcome.Start(4), nullptr);
  EXPECT_EQ(outcome.Started().at(5), (std::vector<std::string>{"a"}));
}

TEST(Engine, APartialReservationsOwnRunningJobsUseItsPartNotTheRest) {
  model::Snapshot snapshot = WithDebugPartOfA();
  // A job of the reservation holds 1 of its 2 GPUs; another job holds 4 outside it.
  snapshot.nodes = {NodeBuilder("a").Hopper(8).Busy({0, 1, 2, 3, 4}).Cpus(64, 10).Build()};
  model::RunningJob inside = Running(10, "a", "gpu", "h100", {0}, 4500, 3600, 2);
  inside.reservation = "debug";
  snapshot.running = {inside, Running(11, "a", "gpu", "h100", {1, 2, 3, 4}, 4500, 3600, 8)};
  snapshot.pending = {JobBuilder(1).Gpus(3).Build(), JobBuilder(2).Gpus(2).Build(),
                      JobBuilder(3).Gpus(1).InReservations({"debug"}).Build()};
  Outcome outcome = RunEngine(snapshot);
  // 3 free: 1 is the reservation's unused part, 2 are for anyone.
  EXPECT_EQ(outcome.Start(1), nullptr);
  EXPECT_EQ(outcome.Started().at(2), (std::vector<std::string>{"a"}));
  EXPECT_EQ(outcome.Started().at(3), (std::vector<std::string>{"a"}));
}

TEST(Engine, ACoreReservationsJobsShareTheGpusItDoesNotHold) {
  model::Snapshot snapshot = WithDebugPartOfA();
  snapshot.reservations[0].reserved_cpus = {56};  // CoreCnt=56 of 64, no GPUs
  snapshot.reservations[0].reserved_devices = {0};
  snapshot.pending = {JobBuilder(1).Gpus(2).Cpus(16).InReservations({"debug"}).Build(),
                      JobBuilder(2).Gpus(1).Cpus(16).Build(),  // 8 CPUs are not reserved
                      JobBuilder(3).Gpus(5).Cpus(4).Build(),
                      JobBuilder(4).Gpus(2).Cpus(4).Build()};  // 8 - 2 - 5: one GPU left
  Outcome outcome = RunEngine(snapshot);
  EXPECT_EQ(outcome.Started().at(1), (std::vector<std::string>{"a"}));
  EXPECT_EQ(outcome.Start(2), nullptr);
  EXPECT_EQ(outcome.Started().at(3), (std::vector<std::string>{"a"}));
  EXPECT_EQ(outcome.Start(4), nullptr);
}

TEST(Engine, AJobThatWouldRunIntoAPartialReservationLeavesItsPartFree) {
  model::Snapshot snapshot = WithDebugPartOfA();
  snapshot.reservations[0].start = 5600;
  snapshot.reservations[0].reserved_devices = {4};
  snapshot.pending = {JobBuilder(1).Gpus(6).TimeLimit(3600).Build(),  // into the window
                      JobBuilder(2).Gpus(4).TimeLimit(3600).Build(),  // fits beside its part
                      JobBuilder(3).Gpus(4).TimeLimit(600).Build()};  // ends at 5600
  Outcome outcome = RunEngine(snapshot);
  EXPECT_EQ(outcome.Start(1), nullptr);
  EXPECT_EQ(outcome.Started().at(2), (std::vector<std::string>{"a"}));
  EXPECT_EQ(outcome.Started().at(3), (std::vector<std::string>{"a"}));
}

TEST(Engine, FeatureAlternativesTakeEitherNode) {
  model::Snapshot snapshot;
  snapshot.nodes = {
      NodeBuilder("a").Hopper(8).Features({"x"}).Build(),
      NodeBuilder("b").Hopper(8).Busy({0, 1, 2, 3, 4, 5}).Features({"y", "z"}).Build(),
      NodeBuilder("c").Hopper(8).Busy({0, 1, 2, 3, 4, 5}).Features({"y"}).Build()};
  // "x|y&z": a or b; b is the better fit. c has y but not z.
  snapshot.pending = {JobBuilder(1).Gpus(2).FeatureAny({{"x"}, {"y", "z"}}).Build(),
                      JobBuilder(2).Gpus(2).FeatureAny({{"x"}, {"y", "z"}}).Build()};
  Outcome outcome = RunEngine(snapshot);
  EXPECT_EQ(outcome.Started().at(1), (std::vector<std::string>{"b"}));
  EXPECT_EQ(outcome.Started().at(2), (std::vector<std::string>{"a"}));
}

// Slurm's matching OR ("[a|b]"): a gang's nodes all carry the same alternative.
// Without brackets ("a|b") each node may carry either.
TEST(Engine, MatchingAlternativesKeepAGangOnOneAlternative) {
  model::Snapshot snapshot;
  snapshot.nodes = {
      NodeBuilder("a1").Hopper(8).Features({"a"}).Build(),
      NodeBuilder("b1").Hopper(8).Features({"b"}).Build(),
      NodeBuilder("b2").Hopper(8).Busy({0, 1, 2, 3, 4, 5, 6, 7}).Features({"b"}).Build(),
      NodeBuilder("c1").Hopper(8).Features({"c"}).Build()};
  // Only a1 and b1 are free among a|b: "[a|b]" waits, "a|b" takes both.
  snapshot.pending = {JobBuilder(1).Gpus(8).Nodes(2).FeatureAny({{"a"}, {"b"}}, true).Build(),
                      JobBuilder(2).Gpus(8).Nodes(2).FeatureAny({{"a"}, {"b"}}).Build()};
  Outcome outcome = RunEngine(snapshot);
  EXPECT_EQ(outcome.Start(1), nullptr);
  ASSERT_NE(outcome.Pending(1), nullptr);
  EXPECT_NE(outcome.Pending(1)->message.find("feature alternative"), std::string::npos)
      << outcome.Pending(1)->message;
  EXPECT_EQ(outcome.Started().at(2), (std::vector<std::string>{"a1", "b1"}));

  // With b2 free, the matching gang takes b1 and b2; the other one still mixes.
  snapshot.nodes[2] = NodeBuilder("b2").Hopper(8).Features({"b"}).Build();
  snapshot.pending = {JobBuilder(1).Gpus(8).Nodes(2).FeatureAny({{"a"}, {"b"}}, true).Build()};
  EXPECT_EQ(RunEngine(snapshot).Started().at(1), (std::vector<std::string>{"b1", "b2"}));
}

TEST(Engine, FitsWhenUnobstructed) {
  Outcome outcome = RunEngine(OneNode(kNode.Build(), kJob.Build()));
  EXPECT_EQ(outcome.Started().at(1), (std::vector<std::string>{"n1"}));
  EXPECT_EQ(outcome.Start(1)->placements[0].devices.size(), 2u);
}

// The device-fit scorer alone: the default policy's queue-aware `fragmentation`
// decides these small cases otherwise, since the one queued shape is the job's own
// (tests/engine/queue_shapes_test.cc).
policy::PolicyConfig DeviceFitOnly() {
  policy::PolicyConfig config = policy::DefaultPolicy();
  config.scorers = {{"best_fit_devices", 1, {}}};
  return config;
}

TEST(Engine, BestFitOnDevicesFirst) {
  model::Snapshot snapshot;
  // a: 8 free; b: 3 free; c: 1 free. A 2-device job belongs on b (leftover 1).
  snapshot.nodes = {NodeBuilder("a").Hopper(8).Build(),
                    NodeBuilder("b").Hopper(8).Busy({0, 1, 2, 3, 4}).Build(),
                    NodeBuilder("c").Hopper(8).Busy({0, 1, 2, 3, 4, 5, 6}).Build()};
  snapshot.pending = {JobBuilder(1).Gpus(2).Build()};
  EXPECT_EQ(RunEngine(snapshot, DeviceFitOnly()).Started().at(1), (std::vector<std::string>{"b"}));
  // Against the queue (its one shape: 2 devices), the 1 device left on b is fragment:
  // the default policy keeps b's 3 for a 2-device job and takes the empty node.
  EXPECT_EQ(RunEngine(snapshot).Started().at(1), (std::vector<std::string>{"a"}));
}

TEST(Engine, FindPlacementReturnsTheBestNodeNotTheLast) {
  model::Snapshot snapshot;
  snapshot.nodes = {NodeBuilder("a").Hopper(8).Busy({0, 1, 2, 3, 4, 5}).Build(),
                    NodeBuilder("b").Hopper(8).Build()};
  auto built = policy::BuildPolicy(policy::DefaultPolicy());
  ASSERT_TRUE(model::ValidateSnapshot(snapshot, built->catalog).ok());
  engine::ClusterState state(snapshot, built->catalog);
  const model::PendingJob request = JobBuilder(1).Gpus(2).Build();
  const engine::Job job = engine::MakeJob(request, *built->pipeline, 0);
  auto start = engine::FindPlacement(job, state, *built->pipeline);
  ASSERT_TRUE(start.has_value());
  EXPECT_EQ(snapshot.nodes[static_cast<size_t>(start->placements[0].node)].name, "a");
}

// Caches shared by a state and its look-ahead copies key on ClusterState::stamp:
// equal stamps must mean the same free resources, in any state of the process.
TEST(Engine, NodeStampsTellCopiesAndChangesApart) {
  model::Snapshot snapshot;
  snapshot.nodes = {NodeBuilder("a").Hopper(8).Build(), NodeBuilder("b").Hopper(8).Build()};
  auto built = policy::BuildPolicy(policy::DefaultPolicy());
  ASSERT_TRUE(model::ValidateSnapshot(snapshot, built->catalog).ok());
  const engine::ClusterState state(snapshot, built->catalog);
  EXPECT_NE(state.stamp(0), state.stamp(1));
  // Another state of the same snapshot shares no stamp: a cache cannot tell what
  // was done to it.
  const engine::ClusterState other(snapshot, built->catalog);
  EXPECT_NE(other.stamp(0), state.stamp(0));
  EXPECT_NE(other.stamp(1), state.stamp(1));
  engine::ClusterState copy = state;
  EXPECT_EQ(copy.stamp(0), state.stamp(0));
  copy.Take({.node = 0, .pool = 0, .devices = {0, 1}});
  EXPECT_NE(copy.stamp(0), state.stamp(0));
  EXPECT_EQ(copy.stamp(1), state.stamp(1));
  const uint64_t taken = copy.stamp(0);
  // Given back, the node is as in `state` again, but under a stamp of its own: a
  // stamp is never reused, so nothing cached under `taken` is read for it.
  copy.Give({.node = 0, .pool = 0, .devices = {0, 1}});
  EXPECT_NE(copy.stamp(0), taken);
  EXPECT_NE(copy.stamp(0), state.stamp(0));
}

// protect_accelerators reads each node's free device share from the state, kept as
// jobs come and go rather than summed per score.
TEST(Engine, NodeFreeShareFollowsTakesAndGives) {
  model::Snapshot snapshot;
  snapshot.nodes = {NodeBuilder("a").Hopper(8).Busy({7}).Build(), NodeBuilder("c").Build()};
  auto built = policy::BuildPolicy(policy::DefaultPolicy());
  ASSERT_TRUE(model::ValidateSnapshot(snapshot, built->catalog).ok());
  engine::ClusterState state(snapshot, built->catalog);
  EXPECT_EQ(state.devices_total(0), 8);
  EXPECT_EQ(state.free_milli(0), 7000);
  EXPECT_EQ(state.devices_total(1), 0);
  EXPECT_EQ(state.free_milli(1), 0);
  state.Take({.node = 0, .pool = 0, .devices = {0, 1}});
  state.Take({.node = 0, .pool = 0, .devices = {2}, .fraction_milli = 250});
  EXPECT_EQ(state.free_milli(0), 4750);
  // Device 7 is already full: taking it again changes nothing (use is capped).
  state.Take({.node = 0, .pool = 0, .devices = {7}, .fraction_milli = 500});
  EXPECT_EQ(state.free_milli(0), 4750);
  state.Give({.node = 0, .pool = 0, .devices = {0, 1}});
  EXPECT_EQ(state.free_milli(0), 6750);
  int summed = 0;
  for (int used : state.used_milli(0, 0)) summed += 1000 - used;
  EXPECT_EQ(state.free_milli(0), summed);
}

TEST(Engine, CpuFitBreaksDeviceTies) {
  model::Snapshot snapshot;
  // Same free devices; y has fewer free CPUs left after the job (leftover 4 vs 60).
  snapshot.nodes = {NodeBuilder("x").Hopper(8).Cpus(64, 0).Build(),
                    NodeBuilder("y").Hopper(8).Cpus(64, 56).Build()};
  snapshot.pending = {JobBuilder(1).Gpus(1).Cpus(4).Build()};
  EXPECT_EQ(RunEngine(snapshot).Started().at(1), (std::vector<std::string>{"y"}));
}

TEST(Engine, JobsWithoutDevicesKeepOffNodesWithFreeAccelerators) {
  model::Snapshot snapshot;
  // Equal CPU fit everywhere (48 of 64); on "a" the job would leave 16 CPUs for
  // 8 free devices, stranding 6 of them. "b" has no free devices, "c" none at all.
  snapshot.nodes = {NodeBuilder("a").Hopper(8).Build(),
                    NodeBuilder("b").Hopper(8).Busy({0, 1, 2, 3, 4, 5, 6, 7}).Build(),
                    NodeBuilder("c").Build()};
  snapshot.pending = {JobBuilder(1).Cpus(48).Build(), JobBuilder(2).Cpus(48).Build()};
  Outcome outcome = RunEngine(snapshot);
  std::vector<std::string> used = {outcome.Started().at(1)[0], outcome.Started().at(2)[0]};
  std::sort(used.begin(), used.end());
  EXPECT_EQ(used, (std::vector<std::string>{"b", "c"}));
}

TEST(Engine, ProtectAcceleratorsCountsStrandedDevices) {
  // 8 devices, 96 CPUs (12 per device); 4 devices and 60 CPUs free: none stranded.
  model::Snapshot snapshot;
  snapshot.nodes = {NodeBuilder("n").Hopper(8).Busy({0, 1, 2, 3}).Cpus(96, 36).Build()};
  auto built = policy::BuildPolicy(policy::DefaultPolicy());
  ASSERT_TRUE(model::ValidateSnapshot(snapshot, built->catalog).ok());
  const engine::ClusterState state(snapshot, built->catalog);
  auto scorer = policy::MakeScorer("protect_accelerators", {});
  ASSERT_TRUE(scorer.ok());
  auto score = [&](const model::PendingJob& request, engine::Candidate candidate) {
    return (*scorer)->Score(engine::MakeJob(request, *built->pipeline, 0), candidate, state);
  };
  // No devices, 30 CPUs: 30 left feed 2.5 of 4 free devices -> 1.5 stranded.
  EXPECT_DOUBLE_EQ(score(JobBuilder(1).Cpus(30).Build(), {0, -1, {}, 0}), 50 - 1.5 * 6.25);
  // One device with its 12 CPUs: 3 free, 48 CPUs feed 4 -> nothing stranded.
  EXPECT_DOUBLE_EQ(score(JobBuilder(2).Gpus(1).Cpus(12).Build(), {0, 0, {4}, 0}), 50);
  // A memory-hungry job strands devices as CPUs would: a quarter left feeds 2 of 4.
  const model::PendingJob hungry = JobBuilder(3).Cpus(1).MemoryMib(384 * 1024).Build();
  EXPECT_DOUBLE_EQ(score(hungry, {0, -1, {}, 0}), 50 - 2 * 6.25);
}

// The guard asks of a node's free CPUs what the work asks per device, not the node's
// own ratio when that is higher: a node with 52 CPUs per device need not keep 52 CPUs
// per device free. "a": 2 devices, 104 CPUs (52 per device); "b": 1 of 8 devices
// free, 44 of 114 CPUs (14.25 per device). A 40-CPU job without devices:
// - at the nodes' own ratios, on a 64 CPUs feed 1.23 of 2 devices (0.77 stranded,
//   45.2), on b 4 CPUs feed 0.28 of 1 (0.72 stranded, 45.5): b;
// - at 10 CPUs per device (the workload table's), a strands none (50), b 0.6
//   (46.25): a.
TEST(Engine, ProtectAcceleratorsGuardsAtWhatTheWorkAsksPerDevice) {
  model::Snapshot snapshot;
  snapshot.nodes = {NodeBuilder("a").Hopper(2).Cpus(104).Build(),
                    NodeBuilder("b").Hopper(8).Busy({0, 1, 2, 3, 4, 5, 6}).Cpus(114, 70).Build()};
  snapshot.pending = {JobBuilder(1).Cpus(40).MemoryMib(1024).Build()};
  auto guard_only = [](policy::PluginArgs args) {
    policy::PolicyConfig config = policy::DefaultPolicy();
    config.scorers = {{"protect_accelerators", 10000, std::move(args)}, {"best_fit_cpu", 1, {}}};
    return config;
  };
  EXPECT_EQ(RunEngine(snapshot, guard_only({})).Started().at(1), (std::vector<std::string>{"b"}));
  // The workload's table: one shape, 1 device with 10 CPUs.
  EXPECT_EQ(RunEngine(snapshot, guard_only({{"shapes", "10:1:1000::1"}})).Started().at(1),
            (std::vector<std::string>{"a"}));
  // Without a table the nodes' own ratios stand, whatever the running work asks (the
  // job on b's 7 devices holds 10 CPUs per device).
  snapshot.running = {Running(9, "b", "gpu", "h100", {0, 1, 2, 3, 4, 5, 6}, 0, 86400, 70)};
  EXPECT_EQ(RunEngine(snapshot, guard_only({})).Started().at(1), (std::vector<std::string>{"b"}));
  // A table without device work leaves the nodes' ratios too.
  EXPECT_EQ(RunEngine(snapshot, guard_only({{"shapes", "10:0:0::1"}})).Started().at(1),
            (std::vector<std::string>{"b"}));
}

// A table's memory per device counts only the shapes that give their memory. "m":
// 2 free devices, 200 GiB; "n": no free device. A job without devices asking 150 GiB
// leaves m 50 GiB: at the known shape's 40 GiB per device that feeds 1.25 of 2
// (0.75 stranded): n. Were the shape without a figure counted as asking nothing, the
// table would say 20 GiB per device, m would strand none and win the tie by name.
TEST(Engine, ProtectAcceleratorsCountsMemoryOnlyWhereTheTableGivesIt) {
  model::Snapshot snapshot;
  snapshot.nodes = {NodeBuilder("m").Hopper(2).MemoryMib(200 * 1024).Build(),
                    NodeBuilder("n").Hopper(8).Busy({0, 1, 2, 3, 4, 5, 6, 7}).Build()};
  snapshot.pending = {JobBuilder(1).Cpus(4).MemoryMib(150 * 1024).Build()};
  policy::PolicyConfig config = policy::DefaultPolicy();
  config.scorers = {
      {"protect_accelerators", 10000, {{"shapes", "1:1:1000::0.5:40960;1:1:1000::0.5"}}}};
  EXPECT_EQ(RunEngine(snapshot, config).Started().at(1), (std::vector<std::string>{"n"}));
}

policy::PolicyConfig WithKindSpeeds(policy::PluginArgs speeds) {
  policy::PolicyConfig config = policy::DefaultPolicy();
  config.scorers.insert(config.scorers.begin(), {"kind_preference", 100000, std::move(speeds)});
  return config;
}

TEST(Engine, PortableWorkGoesToTheFasterKind) {
  model::Snapshot snapshot;
  snapshot.nodes = {NodeBuilder("a").Hopper(8, "h100").Build(),
                    NodeBuilder("b").Hopper(8, "h200").Build()};
  snapshot.pending = {JobBuilder(1).Gres("gpu", {"h100", "h200"}, 1).Build()};
  // Without speeds the tie goes to the first node by name.
  EXPECT_EQ(RunEngine(snapshot).Started().at(1), (std::vector<std::string>{"a"}));
  EXPECT_EQ(RunEngine(snapshot, WithKindSpeeds({{"speeds", "h100=1,h200=1.4"}})).Started().at(1),
            (std::vector<std::string>{"b"}));
  // A class's own speeds win over the general ones (inference: partition "inference").
  snapshot.nodes[0].partitions = snapshot.nodes[1].partitions = {"inference"};
  snapshot.pending[0].partitions = {"inference"};
  EXPECT_EQ(RunEngine(snapshot, WithKindSpeeds({{"speeds", "h100=1,h200=1.4"},
                                                {"speeds.inference", "h100=2"}}))
                .Started()
                .at(1),
            (std::vector<std::string>{"a"}));
}

TEST(Engine, KindPreferenceRefusesUnknownKindsAndBadSpeeds) {
  auto unknown = policy::MakeScorer("kind_preference", {{"speeds", "b200=2"}});
  ASSERT_FALSE(unknown.ok());
  EXPECT_THAT(std::string(MessageOf(unknown.status())),
              HasSubstr("expected KIND=SPEED with a known kind, got \"b200=2\""));
  auto zero = policy::MakeScorer("kind_preference", {{"speeds", "h100=0"}});
  ASSERT_FALSE(zero.ok());
  EXPECT_THAT(std::string(MessageOf(zero.status())),
              HasSubstr("speed of h100 must be a number > 0"));
  auto bad_class = policy::MakeScorer("kind_preference", {{"speeds.batch", "h100=1"}});
  ASSERT_FALSE(bad_class.ok());
  EXPECT_THAT(std::string(MessageOf(bad_class.status())), HasSubstr("unknown class \"batch\""));
}

TEST(Engine, SharesPackOntoTheFullestDevice) {
  model::Snapshot snapshot;
  snapshot.nodes = {NodeBuilder("n").Hopper(2).UsedMilli({0, 600}).Build()};
  snapshot.pending = {JobBuilder(1).Gpus(1).Share(300).Build()};
  Outcome outcome = RunEngine(snapshot, DeviceFitOnly());
  ASSERT_NE(outcome.Start(1), nullptr);
  EXPECT_EQ(outcome.Start(1)->placements[0].devices, (std::vector<int>{1}));
  EXPECT_EQ(outcome.Start(1)->placements[0].fraction_milli, 300);
}

TEST(Engine, HigherPriorityGoesFirst) {
  model::Snapshot snapshot;
  snapshot.nodes = {NodeBuilder("n").Hopper(8).Busy({0, 1, 2, 3, 4, 5, 6}).Build()};
  snapshot.pending = {JobBuilder(1).Gpus(1).Priority(10).Build(),
                      JobBuilder(2).Gpus(1).Priority(20).Build()};
  Outcome outcome = RunEngine(snapshot);
  EXPECT_THAT(outcome.Started(), ::testing::Contains(::testing::Key(2u)));
  EXPECT_EQ(outcome.Start(1), nullptr);
}

TEST(Engine, TypelessRequestTakesAnyTypeOfTheName) {
  model::Snapshot snapshot;
  snapshot.nodes = {NodeBuilder("a").Hopper(8, "h200").Build()};
  snapshot.pending = {JobBuilder(1).Gres("gpu", {}, 4).Build()};
  Outcome outcome = RunEngine(snapshot);
  ASSERT_NE(outcome.Start(1), nullptr);
  EXPECT_EQ(model::Catalog::BuiltIn().kind(outcome.Start(1)->kind).name, "h200");
}

TEST(Gang, AllNodesOrNone) {
  model::Snapshot snapshot;
  snapshot.nodes = {NodeBuilder("a").Hopper(8).Build(),
                    NodeBuilder("b").Hopper(8).Busy({0}).Build()};
  snapshot.pending = {JobBuilder(1).Gpus(8).Nodes(2).Build()};
  Outcome outcome = RunEngine(snapshot);
  EXPECT_THAT(outcome.plan.starts, IsEmpty());
  EXPECT_THAT(outcome.Pending(1)->message, HasSubstr("1/2 nodes fit (need 2)"));

  snapshot.nodes[1] = NodeBuilder("b").Hopper(8).Build();
  EXPECT_EQ(RunEngine(snapshot).Started().at(1), (std::vector<std::string>{"a", "b"}));
}

TEST(Gang, StaysInOneSwitchWhenOneCanHoldIt) {
  model::Snapshot snapshot;
  // Best-fit alone would pick a1 and b1 (fuller); only switch B holds both gang nodes.
  snapshot.nodes = {NodeBuilder("a1").Hopper(8).Busy({0, 1, 2, 3}).Switch("A").Build(),
                    NodeBuilder("a2").Hopper(8).Busy({0, 1, 2, 3, 4, 5, 6}).Switch("A").Build(),
                    NodeBuilder("b1").Hopper(8).Busy({0, 1, 2, 3}).Switch("B").Build(),
                    NodeBuilder("b2").Hopper(8).Switch("B").Build()};
  snapshot.pending = {JobBuilder(1).Gpus(4).Nodes(2).Build()};
  EXPECT_EQ(RunEngine(snapshot).Started().at(1), (std::vector<std::string>{"b1", "b2"}));
}

TEST(Gang, Ascend910CNeverCrossesSuperPods) {
  model::Snapshot snapshot;
  snapshot.nodes = {NodeBuilder("p1").Ascend910C().SuperPod("pod1").Build(),
                    NodeBuilder("p2").Ascend910C().SuperPod("pod2").Build()};
  snapshot.pending = {JobBuilder(1).Npus(16, "910c").Nodes(2).Build()};
  Outcome split = RunEngine(snapshot);
  EXPECT_THAT(split.plan.starts, IsEmpty());
  EXPECT_EQ(split.Pending(1)->message,
            "2/2 nodes fit (need 2), but no single kind/SuperPoD holds the gang");

  snapshot.nodes[1].superpod = "pod1";
  EXPECT_EQ(RunEngine(snapshot).Started().at(1), (std::vector<std::string>{"p1", "p2"}));
}

// In a real cluster cons_tres, not the core, picks a job's devices inside the node
// (the lowest free ones): the core plans a start only where that pick keeps the
// rule. A 2-die 910C job with die 0 busy would get dies 1 and 2 (half of two modules),
// so it goes to the node whose lowest free dies are a whole module, or waits.
TEST(SlurmPicksDevices, AStartGoesOnlyWhereSlurmsPickKeepsTheRule) {
  model::Snapshot snapshot;
  snapshot.nodes = {NodeBuilder("a").Ascend910C().Busy({0}).Build(),
                    NodeBuilder("b").Ascend910C().Busy({0, 1, 5}).Build()};
  for (auto& node : snapshot.nodes) node.accelerators[0].slurm_picks_devices = true;
  snapshot.pending = {JobBuilder(1).Npus(2, "910c").Build()};
  Outcome outcome = RunEngine(snapshot);
  ASSERT_EQ(outcome.Started().at(1), (std::vector<std::string>{"b"}));
  EXPECT_EQ(outcome.Start(1)->placements[0].devices, (std::vector<int>{2, 3}));

  snapshot.nodes.pop_back();
  outcome = RunEngine(snapshot);
  EXPECT_THAT(outcome.plan.starts, IsEmpty());
  EXPECT_THAT(outcome.Pending(1)->message, HasSubstr("legal"));
  // Where the core's choice is the allocation (the simulator), it takes module 2-3.
  snapshot.nodes[0].accelerators[0].slurm_picks_devices = false;
  EXPECT_EQ(RunEngine(snapshot).Started().at(1), (std::vector<std::string>{"a"}));
}

// Where the plugin makes Slurm give a start the planned devices (it holds the others
// back), an exact count per node may take any legal set: module 2-3 next to busy die
// 0, on the partly used node that best fit prefers. A count per task still gets
// Slurm's own pick, which splits modules there.
TEST(SlurmPicksDevices, HeldPoolsTakeAnyLegalSetForAnExactCount) {
  model::Snapshot snapshot;
  snapshot.nodes = {NodeBuilder("a").Ascend910C().Busy({0}).Build(),
                    NodeBuilder("b").Ascend910C().Build()};
  for (auto& node : snapshot.nodes) {
    node.accelerators[0].slurm_picks_devices = true;
    node.accelerators[0].holds_planned_devices = true;
  }
  snapshot.pending = {JobBuilder(1).Npus(2, "910c").Build()};
  snapshot.pending[0].accelerators.exact_per_node = true;
  Outcome outcome = RunEngine(snapshot);
  ASSERT_EQ(outcome.Started().at(1), (std::vector<std::string>{"a"}));
  EXPECT_EQ(outcome.Start(1)->placements[0].devices, (std::vector<int>{2, 3}));

  snapshot.pending[0].accelerators.exact_per_node = false;
  outcome = RunEngine(snapshot);
  ASSERT_EQ(outcome.Started().at(1), (std::vector<std::string>{"b"}));
  EXPECT_EQ(outcome.Start(1)->placements[0].devices, (std::vector<int>{0, 1}));

  // A pool the plugin cannot hold (a shared GRES on the node): Slurm's pick again.
  snapshot.pending[0].accelerators.exact_per_node = true;
  snapshot.nodes[0].accelerators[0].holds_planned_devices = false;
  EXPECT_EQ(RunEngine(snapshot).Started().at(1), (std::vector<std::string>{"b"}));
}

TEST(Gang, UnlabelledSuperPodNodesFormOnePod) {
  model::Snapshot snapshot;
  snapshot.nodes = {NodeBuilder("p1").Ascend910C().Build(), NodeBuilder("p2").Ascend910C().Build()};
  snapshot.pending = {JobBuilder(1).Npus(16, "910c").Nodes(2).Build()};
  EXPECT_EQ(RunEngine(snapshot).Started().at(1), (std::vector<std::string>{"p1", "p2"}));
}

TEST(Gang, NeverMixesKinds) {
  model::Snapshot snapshot;
  snapshot.nodes = {NodeBuilder("h").Hopper(8, "h100").Build(),
                    NodeBuilder("j").Hopper(8, "h200").Build()};
  snapshot.pending = {JobBuilder(1).Gres("gpu", {}, 8).Nodes(2).Build()};
  EXPECT_THAT(RunEngine(snapshot).plan.starts, IsEmpty());
}

TEST(Gang, RequiredNodeIsIncluded) {
  model::Snapshot snapshot;
  snapshot.nodes = {NodeBuilder("a").Hopper(8).Build(), NodeBuilder("b").Hopper(8).Build(),
                    NodeBuilder("c").Hopper(8).Build()};
  snapshot.pending = {JobBuilder(1).Gpus(8).Nodes(2).Required({"c"}).Build()};
  EXPECT_EQ(RunEngine(snapshot).Started().at(1), (std::vector<std::string>{"a", "c"}));
}

// One 8-device node at t=0: 4 devices free, the other 4 freed by job 99 at t=1000.
model::Snapshot HalfFreeUntil1000(std::vector<model::PendingJob> pending) {
  model::Snapshot snapshot;
  snapshot.now = 0;
  snapshot.nodes = {NodeBuilder("n").Hopper(8).Busy({0, 1, 2, 3}).Build()};
  snapshot.running = {Running(99, "n", "gpu", "h100", {0, 1, 2, 3}, -500, 1500)};
  snapshot.pending = std::move(pending);
  return snapshot;
}

// Full 8-device nodes n0, n1, ..., node i freed at ends[i], and as many 8-device jobs
// waiting, job 1 first.
model::Snapshot FullNodesFreeingAt(const std::vector<int64_t>& ends) {
  model::Snapshot snapshot;
  snapshot.now = 0;
  for (size_t i = 0; i < ends.size(); ++i) {
    const std::string name = Cat("n", i);
    snapshot.nodes.push_back(NodeBuilder(name).Hopper(8).Busy({0, 1, 2, 3, 4, 5, 6, 7}).Build());
    snapshot.running.push_back(Running(static_cast<uint32_t>(100 + i), name, "gpu", "h100",
                                       {0, 1, 2, 3, 4, 5, 6, 7}, 0, ends[i]));
    snapshot.pending.push_back(JobBuilder(static_cast<uint32_t>(i + 1))
                                   .Gpus(8)
                                   .Priority(100 - static_cast<int64_t>(i))
                                   .Build());
  }
  return snapshot;
}

TEST(Backfill, ReservedJobIsNotDelayedBySmallerLaterOnes) {
  model::Snapshot snapshot =
      HalfFreeUntil1000({JobBuilder(1).Gpus(8).Priority(100).Build(),
                         JobBuilder(2).Gpus(2).Priority(50).TimeLimit(5000).Build(),
                         JobBuilder(3).Gpus(2).Priority(10).TimeLimit(600).Build()});
  Outcome outcome = RunEngine(snapshot);
  ASSERT_EQ(outcome.plan.reservations.size(), 1u);
  EXPECT_EQ(outcome.plan.reservations[0].job_id, 1u);
  EXPECT_EQ(outcome.plan.reservations[0].planned_start, 1000);
  // An absolute time, so the line does not change from one cycle to the next.
  EXPECT_THAT(outcome.Pending(1)->message, HasSubstr("reserved to start by 1970-01-01T00:16:40Z"));
  // Job 2 would run past t=1000 on the reserved node: held. Job 3 ends by then: backfills.
  EXPECT_EQ(outcome.Start(2), nullptr);
  EXPECT_EQ(outcome.Pending(2)->code, PendingCode::kPriority);
  EXPECT_NE(outcome.Start(3), nullptr);
}

// A reservation holds only what its job takes at the planned start: at t=1000 the
// node has 8 devices and 64 CPUs free, job 1 takes 6 and 16, so 2 devices and 48 CPUs
// are left over there for work that outlasts t=1000.
TEST(Backfill, WorkThatOutlastsTheReservedStartUsesWhatTheReservedJobLeaves) {
  model::Snapshot snapshot =
      HalfFreeUntil1000({JobBuilder(1).Gpus(6).Cpus(16).Priority(100).Build(),
                         // 2 devices, 8 CPUs of the spare: starts although it ends at 5000.
                         JobBuilder(2).Gpus(2).Cpus(8).Priority(50).TimeLimit(5000).Build(),
                         // No spare device left: held.
                         JobBuilder(3).Gpus(1).Cpus(1).Priority(40).TimeLimit(5000).Build(),
                         // 41 CPUs: 40 spare left: held, although the node has 56 free now.
                         JobBuilder(4).Cpus(41).Priority(30).TimeLimit(5000).Build(),
                         // 40 CPUs fit the spare exactly.
                         JobBuilder(5).Cpus(40).Priority(20).TimeLimit(5000).Build()});
  Outcome outcome = RunEngine(snapshot);
  ASSERT_EQ(outcome.plan.reservations.size(), 1u);
  EXPECT_EQ(outcome.plan.reservations[0].planned_start, 1000);
  EXPECT_NE(outcome.Start(2), nullptr);
  EXPECT_EQ(outcome.Start(3), nullptr);
  EXPECT_EQ(outcome.Start(4), nullptr);
  EXPECT_NE(outcome.Start(5), nullptr);

  // With the starts applied, job 1 still starts at t=1000 on the same node.
  model::Snapshot next = snapshot;
  next.pending = {snapshot.pending[0]};
  next.nodes[0].cpus_allocated = 4 + 8 + 40;
  next.nodes[0].accelerators[0].used_milli = {1000, 1000, 1000, 1000, 0, 0, 0, 0};
  for (const auto* start : {outcome.Start(2), outcome.Start(5)}) {
    model::RunningJob running;
    running.id = start->job_id;
    running.start_time = 0;
    running.time_limit_s = 5000;
    model::NodeAllocation alloc;
    alloc.node = "n";
    if (!start->placements[0].devices.empty()) {
      alloc.gres_name = "gpu";
      alloc.gres_type = "h100";
      alloc.device_indices = start->placements[0].devices;
      alloc.device_count = static_cast<int>(alloc.device_indices.size());
      for (int d : alloc.device_indices)
        next.nodes[0].accelerators[0].used_milli[static_cast<size_t>(d)] = 1000;
    }
    alloc.cpus = start->job_id == 2 ? 8 : 40;
    alloc.memory_mib = 16 * 1024;
    running.allocations.push_back(std::move(alloc));
    next.running.push_back(std::move(running));
  }
  next.nodes[0].accelerators[0].allocated = 6;
  next.nodes[0].memory_allocated_mib = 3 * 16 * 1024;
  Outcome again = RunEngine(next);
  ASSERT_EQ(again.plan.reservations.size(), 1u);
  EXPECT_EQ(again.plan.reservations[0].planned_start, 1000);
}

// Stock select/cons_tres: a one-node job goes to the node with the fewest CPUs free,
// absolute (here b, 32 free, where best_fit_cpu's share of the node and the name order
// pick a); equals by name; a multi-node job takes nodes in order.
TEST(SlurmBackfill, OneNodeJobGoesWhereFewestCpusAreFree) {
  model::Snapshot snapshot;
  snapshot.nodes = {NodeBuilder("a").Hopper(8).Cpus(256, 216).Build(),
                    NodeBuilder("b").Hopper(8).Cpus(64, 32).Build(),
                    NodeBuilder("c").Hopper(8).Cpus(64, 32).Build()};
  snapshot.pending = {JobBuilder(1).Gpus(1).Cpus(8).Build()};
  auto stock = policy::PresetPolicy("slurm-backfill", 1, {});
  ASSERT_TRUE(stock.ok());
  EXPECT_EQ(RunEngine(snapshot, *stock).Started().at(1), (std::vector<std::string>{"b"}));
  policy::PolicyConfig relative = *stock;
  relative.scorers = {{"best_fit_cpu", 1000, {}}, {"node_order", 1, {}}};
  EXPECT_EQ(RunEngine(snapshot, relative).Started().at(1), (std::vector<std::string>{"a"}));

  snapshot.pending = {JobBuilder(2).Gpus(1).Cpus(8).Nodes(2).Build()};
  EXPECT_EQ(RunEngine(snapshot, *stock).Started().at(2), (std::vector<std::string>{"a", "b"}));
}

// select/cons_tres first picks a run of consecutive nodes where the job fits (node
// order; a node that cannot take it ends the run): the tightest run that holds it,
// fewest CPUs free in all, not the first nodes nor the globally fullest node.
TEST(SlurmBackfill, JobsTakeTheTightestRunOfConsecutiveNodes) {
  const std::vector<int> all = {0, 1, 2, 3, 4, 5, 6, 7};
  model::Snapshot snapshot;
  snapshot.nodes = {NodeBuilder("n1").Hopper(8).Cpus(64).Build(),
                    NodeBuilder("n2").Hopper(8).Cpus(64).Build(),
                    NodeBuilder("n3").Hopper(8).Cpus(64).Build(),
                    NodeBuilder("n4").Hopper(8).Cpus(64).Busy(all).Build(),
                    NodeBuilder("n5").Hopper(8).Cpus(64).Build(),
                    NodeBuilder("n6").Hopper(8).Cpus(64).Build(),
                    NodeBuilder("n7").Hopper(8).Cpus(64).Busy(all).Build()};
  snapshot.pending = {JobBuilder(1).Gpus(8).Nodes(2).Build()};
  auto stock = policy::PresetPolicy("slurm-backfill", 1, {});
  ASSERT_TRUE(stock.ok());
  EXPECT_EQ(RunEngine(snapshot, *stock).Started().at(1), (std::vector<std::string>{"n5", "n6"}));
  policy::PolicyConfig in_order = *stock;
  in_order.limits.select_consecutive_runs = false;
  EXPECT_EQ(RunEngine(snapshot, in_order).Started().at(1), (std::vector<std::string>{"n1", "n2"}));

  // No run holds four: the largest is taken whole, the rest from the tightest run
  // that holds it.
  snapshot.pending = {JobBuilder(2).Gpus(8).Nodes(4).Build()};
  EXPECT_EQ(RunEngine(snapshot, *stock).Started().at(2),
            (std::vector<std::string>{"n1", "n2", "n3", "n5"}));

  // A one-node job: the run [a, b] has 69 CPUs free, [d] 30, so d, not a (5 free).
  snapshot.nodes = {NodeBuilder("a").Hopper(8).Cpus(64, 59).Build(),
                    NodeBuilder("b").Hopper(8).Cpus(64).Build(),
                    NodeBuilder("c").Hopper(8).Cpus(64).Busy(all).Build(),
                    NodeBuilder("d").Hopper(8).Cpus(64, 34).Build(),
                    NodeBuilder("e").Hopper(8).Cpus(64).Busy(all).Build()};
  snapshot.pending = {JobBuilder(3).Gpus(1).Cpus(4).Build()};
  EXPECT_EQ(RunEngine(snapshot, *stock).Started().at(3), (std::vector<std::string>{"d"}));
  EXPECT_EQ(RunEngine(snapshot, in_order).Started().at(3), (std::vector<std::string>{"a"}));
}

// Where the model departs from cons_tres on purpose: a gang runs on one kind here, so
// runs end where the kind changes (with equal node weights Slurm would see one run
// a1-b2 and take a1, a2), and no run is joined across kinds.
TEST(SlurmBackfill, RunsEndWhereTheKindChanges) {
  model::Snapshot snapshot;
  snapshot.nodes = {NodeBuilder("a1").Hopper(8, "h100").Cpus(64).Build(),
                    NodeBuilder("a2").Hopper(8, "h100").Cpus(64).Build(),
                    NodeBuilder("a3").Hopper(8, "h100").Cpus(64).Build(),
                    NodeBuilder("b1").Hopper(8, "h200").Cpus(64).Build(),
                    NodeBuilder("b2").Hopper(8, "h200").Cpus(64).Build()};
  // Any GPU model: the H200 run holds two with fewer CPUs free than the H100 run.
  snapshot.pending = {JobBuilder(1).Gres("gpu", {}, 8).Nodes(2).Build()};
  auto stock = policy::PresetPolicy("slurm-backfill", 1, {});
  ASSERT_TRUE(stock.ok());
  EXPECT_EQ(RunEngine(snapshot, *stock).Started().at(1), (std::vector<std::string>{"b1", "b2"}));
  // Four: no kind holds it, and the runs are not joined across kinds.
  snapshot.pending = {JobBuilder(2).Gres("gpu", {}, 8).Nodes(4).Build()};
  Outcome outcome = RunEngine(snapshot, *stock);
  EXPECT_EQ(outcome.Start(2), nullptr);
  ASSERT_NE(outcome.Pending(2), nullptr);
}

// A SuperPoD ends a run only for a gang (which must stay inside one); for a one-node job
// the 910C nodes run on across pods, as in cons_tres: one run, its fullest node.
TEST(SlurmBackfill, SuperPodsSplitRunsOnlyForGangs) {
  model::Snapshot snapshot;
  snapshot.nodes = {NodeBuilder("p1a").Ascend910C().Cpus(64, 54).SuperPod("x").Build(),
                    NodeBuilder("p1b").Ascend910C().Cpus(64).SuperPod("x").Build(),
                    NodeBuilder("p2a").Ascend910C().Cpus(64).SuperPod("y").Build()};
  snapshot.pending = {JobBuilder(1).Npus(1, "910c").Cpus(4).Build()};
  auto stock = policy::PresetPolicy("slurm-backfill", 1, {});
  ASSERT_TRUE(stock.ok());
  EXPECT_EQ(RunEngine(snapshot, *stock).Started().at(1), (std::vector<std::string>{"p1a"}));
  // A two-node gang: pod y cannot hold it, so pod x's run.
  snapshot.pending = {JobBuilder(2).Npus(16, "910c").Nodes(2).Build()};
  EXPECT_EQ(RunEngine(snapshot, *stock).Started().at(2), (std::vector<std::string>{"p1a", "p1b"}));
}

// A gang with matching alternatives ("[a|b]": all its nodes carry the same one) still
// starts with runs on: the choice is made per alternative, as without runs.
TEST(SlurmBackfill, MatchingAlternativesStillFindTheirNodes) {
  model::Snapshot snapshot;
  snapshot.nodes = {NodeBuilder("n1").Hopper(8).Features({"a"}).Build(),
                    NodeBuilder("n2").Hopper(8).Features({"b"}).Build(),
                    NodeBuilder("n3").Hopper(8).Busy({0, 1, 2, 3, 4, 5, 6, 7}).Build(),
                    NodeBuilder("n4").Hopper(8).Features({"a"}).Build(),
                    NodeBuilder("n5").Hopper(8).Features({"a"}).Build()};
  snapshot.pending = {JobBuilder(1).Gpus(8).Nodes(2).FeatureAny({{"a"}, {"b"}}, true).Build()};
  auto stock = policy::PresetPolicy("slurm-backfill", 1, {});
  ASSERT_TRUE(stock.ok());
  const auto started = RunEngine(snapshot, *stock).Started();
  ASSERT_TRUE(started.contains(1));
  EXPECT_EQ(started.at(1).size(), 2u);
}

// Stock sched/backfill plans per node: with whole-node holds nothing that outlasts the
// planned start runs on the reserved node, even where it fits beside the reserved job
// (the case above); work that ends by the start still backfills there.
TEST(Backfill, WholeNodeHoldsKeepWorkThatOutlastsTheStartOffTheNode) {
  model::Snapshot snapshot =
      HalfFreeUntil1000({JobBuilder(1).Gpus(6).Cpus(16).Priority(100).Build(),
                         JobBuilder(2).Gpus(2).Cpus(8).Priority(50).TimeLimit(5000).Build(),
                         JobBuilder(5).Cpus(40).Priority(20).TimeLimit(5000).Build(),
                         JobBuilder(6).Gpus(1).Cpus(8).Priority(10).TimeLimit(900).Build()});
  policy::PolicyConfig config = policy::DefaultPolicy();
  config.limits.reservations_hold_whole_nodes = true;
  Outcome outcome = RunEngine(snapshot, config);
  ASSERT_EQ(outcome.plan.reservations.size(), 1u);
  EXPECT_EQ(outcome.plan.reservations[0].planned_start, 1000);
  EXPECT_EQ(outcome.Start(2), nullptr);
  EXPECT_EQ(outcome.Start(5), nullptr);
  EXPECT_NE(outcome.Start(6), nullptr);  // ends at 900
  // The spare rule (the default) starts both beside job 1.
  Outcome spare = RunEngine(snapshot);
  EXPECT_NE(spare.Start(2), nullptr);
  EXPECT_NE(spare.Start(5), nullptr);
}

// Slurm's bf_window: a job whose planned start lies further out gets no reservation,
// and later work may take its nodes meanwhile.
TEST(Backfill, NoReservationBeyondTheWindow) {
  model::Snapshot snapshot =
      HalfFreeUntil1000({JobBuilder(1).Gpus(8).Priority(100).Build(),
                         JobBuilder(2).Gpus(2).Priority(50).TimeLimit(5000).Build()});
  policy::PolicyConfig config = policy::DefaultPolicy();
  config.limits.reservation_window_s = 999;  // the start is at t=1000
  Outcome outside = RunEngine(snapshot, config);
  EXPECT_THAT(outside.plan.reservations, IsEmpty());
  EXPECT_NE(outside.Start(2), nullptr);
  EXPECT_THAT(outside.Pending(1)->message, Not(HasSubstr("reserved to start")));
  config.limits.reservation_window_s = 1000;
  Outcome inside = RunEngine(snapshot, config);
  ASSERT_EQ(inside.plan.reservations.size(), 1u);
  EXPECT_EQ(inside.Start(2), nullptr);
}

// slurm-backfill is stock sched/backfill: a planned start for every blocked job it tests
// (the first bf_max_job_test, 500) within bf_window, a day.
TEST(Backfill, SlurmBackfillPlansEveryBlockedJobWithinADay) {
  // The last node frees after a day.
  model::Snapshot snapshot = FullNodesFreeingAt({1000, 2000, 3000, 4000, 5000, 2 * 86400});
  auto stock = policy::PresetPolicy("slurm-backfill", 1, {});
  ASSERT_TRUE(stock.ok());
  Outcome outcome = RunEngine(snapshot, *stock);
  ASSERT_EQ(outcome.plan.reservations.size(), 5u);
  for (uint32_t job = 1; job <= 5; ++job) {
    EXPECT_EQ(outcome.plan.reservations[job - 1].job_id, job);
    EXPECT_EQ(outcome.plan.reservations[job - 1].planned_start, 1000 * job);
  }
  // Behind jobs 1-6, 495 more: the 501st in queue order (job 1495) is not tested at all.
  for (uint32_t id = 1001; id <= 1495; ++id)
    snapshot.pending.push_back(JobBuilder(id).Gpus(8).Priority(0).Build());
  Outcome deep = RunEngine(snapshot, *stock);
  EXPECT_EQ(deep.plan.reservations.size(), 5u);
  EXPECT_THAT(deep.Pending(1494)->message, Not(HasSubstr("not evaluated")));
  EXPECT_THAT(deep.Pending(1495)->message, HasSubstr("not evaluated: beyond the first 500 jobs"));
}

// Every reservation drains its nodes while it waits: the default policy plans them
// for the first 4 blocked jobs in queue order only (docs/benchmarks-sim.md).
TEST(Backfill, DefaultPolicyReservesForTheFirstFourBlockedJobs) {
  model::Snapshot snapshot = FullNodesFreeingAt({1000, 2000, 3000, 4000, 5000, 6000});
  Outcome outcome = RunEngine(snapshot);
  ASSERT_EQ(outcome.plan.reservations.size(), 4u);
  for (uint32_t job = 1; job <= 4; ++job) {
    EXPECT_EQ(outcome.plan.reservations[job - 1].job_id, job);
    EXPECT_EQ(outcome.plan.reservations[job - 1].planned_start, 1000 * job);
  }
  policy::PolicyConfig more = policy::DefaultPolicy();
  more.limits.max_reservations = 16;
  EXPECT_EQ(RunEngine(snapshot, more).plan.reservations.size(), 6u);
}

TEST(Backfill, NoReservationsMeansSmallJobsOvertake) {
  model::Snapshot snapshot =
      HalfFreeUntil1000({JobBuilder(1).Gpus(8).Priority(100).Build(),
                         JobBuilder(2).Gpus(2).Priority(50).TimeLimit(5000).Build()});
  policy::PolicyConfig config = policy::DefaultPolicy();
  config.limits.max_reservations = 0;
  EXPECT_NE(RunEngine(snapshot, config).Start(2), nullptr);
}

TEST(Reasons, EveryPendingJobGetsOne) {
  model::Snapshot snapshot = SyntheticCluster(64, 400, 0.5, 7);
  Outcome outcome = RunEngine(snapshot);
  EXPECT_EQ(outcome.plan.starts.size() + outcome.plan.pending.size(), 400u);
  for (const auto& pending : outcome.plan.pending) EXPECT_FALSE(pending.message.empty());
}

TEST(Determinism, SameSnapshotSamePlan) {
  const model::Snapshot snapshot = SyntheticCluster(128, 1000, 0.6, 11);
  Outcome first = RunEngine(snapshot);
  Outcome second = RunEngine(snapshot);
  EXPECT_EQ(first.Started(), second.Started());
  ASSERT_EQ(first.plan.pending.size(), second.plan.pending.size());
  for (size_t i = 0; i < first.plan.pending.size(); ++i) {
    EXPECT_EQ(first.plan.pending[i].message, second.plan.pending[i].message);
  }
  EXPECT_FALSE(first.plan.starts.empty());
}

TEST(Determinism, InputOrderDoesNotMatter) {
  const model::Snapshot snapshot = SyntheticCluster(128, 1000, 0.6, 13);
  model::Snapshot shuffled = snapshot;
  std::mt19937 rng(5);
  std::shuffle(shuffled.nodes.begin(), shuffled.nodes.end(), rng);
  std::shuffle(shuffled.pending.begin(), shuffled.pending.end(), rng);
  EXPECT_EQ(RunEngine(snapshot).Started(), RunEngine(shuffled).Started());
}

// Issue 12, finding 3: the largest times validation lets through give sane reasons
// (the engine's sums of two times cannot overflow), never a start "by -9223372035...".
TEST(ExtremeTimes, LargestValidTimesGiveAReasonableReservation) {
  model::Snapshot snapshot;
  snapshot.now = model::kMaxTimeS - 10;
  snapshot.nodes = {NodeBuilder("a").Hopper(8).Busy({0, 1, 2, 3, 4, 5, 6, 7}).Build()};
  snapshot.running = {Running(9, "a", "gpu", "h100", {0, 1, 2, 3, 4, 5, 6, 7},
                              model::kMaxTimeS - 100, model::kMaxTimeS)};
  snapshot.pending = {
      JobBuilder(1).Gpus(8).TimeLimit(model::kMaxTimeS).Submitted(-model::kMaxTimeS).Build()};
  Outcome outcome = RunEngine(snapshot);
  ASSERT_NE(outcome.Pending(1), nullptr);
  EXPECT_THAT(outcome.Pending(1)->message, ::testing::Not(::testing::HasSubstr("by -")));
  for (const auto& reservation : outcome.plan.reservations) EXPECT_GT(reservation.planned_start, 0);
}

// Issue 12, finding 2: a cycle's work is bounded by the caller, deterministically
// for a given budget (no clock in the engine), and a caller that gave up stops it.
TEST(WorkBudget, ABudgetStopsTheCycleTheSameWayEveryTime) {
  model::Snapshot snapshot = SyntheticCluster(64, 200, 0.5, 3);
  auto built = policy::BuildPolicy(policy::DefaultPolicy());
  ASSERT_TRUE(model::ValidateSnapshot(snapshot, built->catalog).ok());
  engine::WorkBudget budget;
  budget.max_node_evaluations = 2000;
  const engine::Plan first = engine::Schedule(snapshot, built->catalog, *built->pipeline, budget);
  const engine::Plan second = engine::Schedule(snapshot, built->catalog, *built->pipeline, budget);
  const engine::Plan unbounded = engine::Schedule(snapshot, built->catalog, *built->pipeline);
  size_t not_evaluated = 0;
  for (const auto& reason : first.pending) {
    if (reason.code == PendingCode::kCycleLimit) {
      EXPECT_EQ(reason.message, "not evaluated: the cycle's work budget ran out");
      ++not_evaluated;
    }
  }
  EXPECT_GT(not_evaluated, 0u);
  EXPECT_EQ(first.starts.size() + first.pending.size(), snapshot.pending.size());
  EXPECT_LT(first.starts.size(), unbounded.starts.size());
  ASSERT_EQ(first.starts.size(), second.starts.size());
  for (size_t i = 0; i < first.starts.size(); ++i) {
    EXPECT_EQ(first.starts[i].job_id, second.starts[i].job_id);
  }
}

TEST(WorkBudget, ACancelledCallerStopsTheCycle) {
  model::Snapshot snapshot = SyntheticCluster(64, 200, 0.5, 3);
  auto built = policy::BuildPolicy(policy::DefaultPolicy());
  ASSERT_TRUE(model::ValidateSnapshot(snapshot, built->catalog).ok());
  int polls = 0;
  engine::WorkBudget budget;
  budget.cancelled = [&polls] { return ++polls > 0; };
  const engine::Plan plan = engine::Schedule(snapshot, built->catalog, *built->pipeline, budget);
  EXPECT_GE(polls, 1);
  EXPECT_TRUE(plan.starts.empty());
  ASSERT_EQ(plan.pending.size(), snapshot.pending.size());
  EXPECT_EQ(plan.pending[0].message, "not evaluated: the caller cancelled the cycle");
}

// Memory for job shapes is bounded: past it the cycle stops, as for the work budget
// (no job after that point takes what one before it waits for), the same way every time.
TEST(WorkBudget, ShapeMemoryStopsTheCycleTheSameWayEveryTime) {
  model::Snapshot snapshot;
  for (int n = 0; n < 2000; ++n)
    snapshot.nodes.push_back(NodeBuilder(Cat("n", n)).Hopper(8).Build());
  for (int j = 0; j < 100; ++j) {
    // Jobs 0, 2, 4, ... each exclude another node (a shape of their own); the odd
    // ones repeat job 0's shape. Equal priorities: queue order is job order.
    const int excluded = j % 2 == 0 ? j : 0;
    snapshot.pending.push_back(
        JobBuilder(static_cast<uint32_t>(j + 1)).Gpus(1).Excluded({Cat("n", excluded)}).Build());
  }
  auto built = policy::BuildPolicy(policy::DefaultPolicy());
  ASSERT_TRUE(model::ValidateSnapshot(snapshot, built->catalog).ok());
  engine::WorkBudget budget;
  budget.max_shape_bytes = 1 << 20;  // ~20 shapes of 2,000 nodes
  const engine::Plan first = engine::Schedule(snapshot, built->catalog, *built->pipeline, budget);
  const engine::Plan second = engine::Schedule(snapshot, built->catalog, *built->pipeline, budget);
  EXPECT_TRUE(first.shape_table_full);
  EXPECT_FALSE(first.work_budget_ran_out);
  uint32_t last_started = 0;
  for (const auto& start : first.starts) last_started = std::max(last_started, start.job_id);
  size_t waiting = 0;
  for (const auto& reason : first.pending) {
    EXPECT_EQ(reason.code, PendingCode::kCycleLimit);
    EXPECT_EQ(reason.message, "not evaluated: the cycle's table of job shapes is full (1 MiB)");
    EXPECT_GT(reason.job_id, last_started) << "a job after the stop started";
    ++waiting;
  }
  EXPECT_GT(waiting, 20u);
  EXPECT_LT(waiting, 90u) << "the first shapes fit";
  EXPECT_EQ(first.starts.size() + first.pending.size(), snapshot.pending.size());
  ASSERT_EQ(first.starts.size(), second.starts.size());
  for (size_t i = 0; i < first.starts.size(); ++i) {
    EXPECT_EQ(first.starts[i].job_id, second.starts[i].job_id);
  }
  // A bound below one shape still lets the first job through: the cycle stops after it.
  budget.max_shape_bytes = 100;
  const engine::Plan tiny = engine::Schedule(snapshot, built->catalog, *built->pipeline, budget);
  ASSERT_EQ(tiny.starts.size(), 1u);
  EXPECT_EQ(tiny.starts[0].job_id, 1u);
  EXPECT_EQ(tiny.pending[0].message,
            "not evaluated: the cycle's table of job shapes is full (100 bytes)");
  budget.max_shape_bytes = 0;  // unbounded: every job starts
  const engine::Plan unbounded =
      engine::Schedule(snapshot, built->catalog, *built->pipeline, budget);
  EXPECT_FALSE(unbounded.shape_table_full);
  EXPECT_EQ(unbounded.starts.size(), snapshot.pending.size());
}

// Issue 12, finding 2: long name lists (partitions, features, -x nodes) cost hash
// look-ups, not list x list scans, and give the same answers as short ones.
TEST(NameLists, LongListsFilterAsShortOnes) {
  model::Snapshot snapshot;
  for (int n = 0; n < 200; ++n) {
    snapshot.nodes.push_back(NodeBuilder(Cat("n", n))
                                 .Hopper(8)
                                 .Partitions({Cat("p", n % 7)})
                                 .Features({Cat("f", n % 5), "ib"})
                                 .Build());
  }
  std::vector<std::string> partitions, excluded;
  for (int p = 0; p < 1000; ++p) partitions.push_back(Cat("other", p));
  partitions.push_back("p3");
  for (int n = 0; n < 199; ++n) {
    if (n != 136) excluded.push_back(Cat("n", n));  // n136 is in p3 and has f1
  }
  snapshot.pending = {JobBuilder(1)
                          .Gpus(1)
                          .Partitions(partitions)
                          .Features({"ib", "f1", "ib"})
                          .Excluded(excluded)
                          .Build()};
  Outcome outcome = RunEngine(snapshot);
  EXPECT_EQ(outcome.Started().at(1), (std::vector<std::string>{"n136"}));
}

// A filter that lets everything through but forbids caching: the engine then
// evaluates every node for every job, the reference the caches must agree with.
class NoCacheFilter final : public engine::Filter {
 public:
  std::string_view name() const override { return "no_cache"; }
  engine::FilterStage stage() const override { return engine::FilterStage::kDynamic; }
  std::string_view Reject(const engine::Job&, int, const engine::ClusterState&) const override {
    return {};
  }
  bool DependsOnlyOnShape() const override { return false; }
};

// The shape caches (two levels, the per-shape ranking, the horizon check) make the
// same plan as evaluating everything afresh, also when every job has its own
// CPUs, memory and time limit.
TEST(ShapeCache, CachedPlansEqualUncachedOnes) {
  for (uint32_t seed : {1u, 2u, 3u}) {
    model::Snapshot snapshot = SyntheticCluster(96, 400, 0.6, seed);
    for (size_t j = 0; j < snapshot.pending.size(); ++j) {
      auto& job = snapshot.pending[j];
      job.cpus_per_node = 1 + static_cast<int>((j * 7 + seed) % 24);
      job.memory_per_node_mib = 1024 * static_cast<int64_t>(1 + (j * 13) % 40);
      job.time_limit_s = 600 + static_cast<int64_t>((j * 977) % 20000);
    }
    snapshot.running = {Running(100000, "node0-h100", "gpu", "h100", {}, 99000, 4000)};
    auto cached = policy::BuildPolicy(policy::DefaultPolicy());
    auto uncached = policy::BuildPolicy(policy::DefaultPolicy());
    uncached->pipeline->filters.push_back(std::make_unique<NoCacheFilter>());
    ASSERT_TRUE(model::ValidateSnapshot(snapshot, cached->catalog).ok());
    const engine::Plan a = engine::Schedule(snapshot, cached->catalog, *cached->pipeline);
    const engine::Plan b = engine::Schedule(snapshot, uncached->catalog, *uncached->pipeline);
    ASSERT_EQ(a.starts.size(), b.starts.size()) << "seed " << seed;
    for (size_t i = 0; i < a.starts.size(); ++i) {
      EXPECT_EQ(a.starts[i].job_id, b.starts[i].job_id);
      ASSERT_EQ(a.starts[i].placements.size(), b.starts[i].placements.size());
      for (size_t p = 0; p < a.starts[i].placements.size(); ++p) {
        EXPECT_EQ(a.starts[i].placements[p].node, b.starts[i].placements[p].node);
        EXPECT_EQ(a.starts[i].placements[p].devices, b.starts[i].placements[p].devices);
      }
    }
    ASSERT_EQ(a.pending.size(), b.pending.size());
    for (size_t i = 0; i < a.pending.size(); ++i) {
      EXPECT_EQ(a.pending[i].job_id, b.pending[i].job_id);
      EXPECT_EQ(a.pending[i].message, b.pending[i].message);
    }
    EXPECT_EQ(a.reservations.size(), b.reservations.size());
    EXPECT_GT(a.starts.size(), 50u);
    EXPECT_GT(a.reservations.size(), 0u) << "seed " << seed;
  }
}

// Forwards to a plugin but claims nothing optional: reads CPUs and memory, no node
// keys. A pipeline of these is cached only as the plain two levels are, without
// coarse scores, node classes or shared fine verdicts: the reference for those.
class PlainFilter final : public engine::Filter {
 public:
  explicit PlainFilter(std::unique_ptr<engine::Filter> inner) : inner_(std::move(inner)) {}
  std::string_view name() const override { return inner_->name(); }
  engine::FilterStage stage() const override { return inner_->stage(); }
  std::string_view Reject(const engine::Job& job, int n,
                          const engine::ClusterState& state) const override {
    return inner_->Reject(job, n, state);
  }

 private:
  std::unique_ptr<engine::Filter> inner_;
};

class PlainScorer final : public engine::Scorer {
 public:
  explicit PlainScorer(std::unique_ptr<engine::Scorer> inner) : inner_(std::move(inner)) {}
  std::string_view name() const override { return inner_->name(); }
  double Score(const engine::Job& job, const engine::Candidate& candidate,
               const engine::ClusterState& state) const override {
    return inner_->Score(job, candidate, state);
  }

 private:
  std::unique_ptr<engine::Scorer> inner_;
};

bool SamePlans(const engine::Plan& a, const engine::Plan& b) {
  EXPECT_EQ(a.starts.size(), b.starts.size());
  EXPECT_EQ(a.pending.size(), b.pending.size());
  EXPECT_EQ(a.reservations.size(), b.reservations.size());
  if (a.starts.size() != b.starts.size() || a.pending.size() != b.pending.size()) return false;
  bool same = true;
  for (size_t i = 0; i < a.starts.size(); ++i) {
    same = same && a.starts[i].job_id == b.starts[i].job_id &&
           a.starts[i].placements.size() == b.starts[i].placements.size();
    for (size_t p = 0; same && p < a.starts[i].placements.size(); ++p) {
      same = a.starts[i].placements[p].node == b.starts[i].placements[p].node &&
             a.starts[i].placements[p].pool == b.starts[i].placements[p].pool &&
             a.starts[i].placements[p].devices == b.starts[i].placements[p].devices;
    }
  }
  for (size_t i = 0; i < a.pending.size(); ++i) {
    same = same && a.pending[i].job_id == b.pending[i].job_id &&
           a.pending[i].message == b.pending[i].message;
  }
  for (size_t i = 0; same && i < a.reservations.size(); ++i) {
    same = a.reservations[i].job_id == b.reservations[i].job_id &&
           a.reservations[i].planned_start == b.reservations[i].planned_start &&
           a.reservations[i].nodes == b.reservations[i].nodes;
  }
  return same;
}

// Issue 12, finding 2: scores of scorers that read neither CPUs nor memory are
// cached per coarse shape, static verdicts per node class (capacity: node size),
// and fine shapes that those verdicts treat alike share one eligibility. None of
// it may change a placement: a pipeline whose coarse scorers decide most choices
// (node order, device fit) against the same plugins claiming none of it, on nodes
// of three sizes, with every job's CPUs and memory its own.
TEST(ShapeCache, CoarseScoresAndNodeClassesChangeNoPlacement) {
  policy::PolicyConfig config = policy::DefaultPolicy();
  config.scorers = {{"best_fit_devices", 100, {}},
                    {"protect_accelerators", 30, {}},
                    {"node_order", 7, {}},
                    {"best_fit_cpu", 3, {}},
                    {"kind_preference", 50, {{"speeds", "h200=1.4,ascend910c=1.2"}}}};
  for (uint32_t seed : {4u, 5u}) {
    model::Snapshot snapshot = SyntheticCluster(120, 500, 0.6, seed);
    for (size_t n = 0; n < snapshot.nodes.size(); ++n) {
      auto& node = snapshot.nodes[n];
      node.cpus_total = n % 3 == 0 ? 64 : n % 3 == 1 ? 128 : 256;
      node.cpus_allocated = std::min(node.cpus_allocated, node.cpus_total);
      node.memory_total_mib = 1024 * static_cast<int64_t>(n % 3 == 0 ? 256 : 1024);
    }
    for (size_t j = 0; j < snapshot.pending.size(); ++j) {
      auto& job = snapshot.pending[j];
      job.cpus_per_node = 1 + static_cast<int>((j * 11 + seed) % 160);
      job.memory_per_node_mib = 1024 * static_cast<int64_t>(1 + (j * 17) % 400);
      job.time_limit_s = 600 + static_cast<int64_t>((j * 733) % 30000);
    }
    auto optimized = policy::BuildPolicy(config);
    auto plain = policy::BuildPolicy(config);
    ASSERT_TRUE(optimized.ok()) << optimized.status().message();
    ASSERT_TRUE(plain.ok());
    for (auto& filter : plain->pipeline->filters) {
      filter = std::make_unique<PlainFilter>(std::move(filter));
    }
    for (auto& ws : plain->pipeline->scorers) {
      ws.scorer = std::make_unique<PlainScorer>(std::move(ws.scorer));
    }
    auto uncached = policy::BuildPolicy(config);
    uncached->pipeline->filters.push_back(std::make_unique<NoCacheFilter>());
    ASSERT_TRUE(model::ValidateSnapshot(snapshot, optimized->catalog).ok());
    const engine::Plan a = engine::Schedule(snapshot, optimized->catalog, *optimized->pipeline);
    const engine::Plan b = engine::Schedule(snapshot, plain->catalog, *plain->pipeline);
    const engine::Plan c = engine::Schedule(snapshot, uncached->catalog, *uncached->pipeline);
    EXPECT_TRUE(SamePlans(a, b)) << "seed " << seed;
    EXPECT_TRUE(SamePlans(a, c)) << "seed " << seed;
    EXPECT_GT(a.starts.size(), 40u);
    // Some jobs are too big for the small nodes only: the node classes matter.
    EXPECT_TRUE(std::any_of(a.pending.begin(), a.pending.end(), [](const auto& p) {
      return p.message.find("node too small") != std::string::npos;
    }));
  }
}

// The simulator's path: one PlacementCache across many placements scores each
// candidate as a fresh evaluation does (coarse scores come from the cache).
TEST(ShapeCache, CachedCoarseScoresEqualFreshOnes) {
  policy::PolicyConfig config = policy::DefaultPolicy();
  config.scorers = {{"best_fit_devices", 100, {}}, {"node_order", 7, {}}, {"best_fit_cpu", 3, {}}};
  auto built = policy::BuildPolicy(config);
  ASSERT_TRUE(built.ok());
  model::Snapshot snapshot = SyntheticCluster(64, 300, 0.5, 9);
  ASSERT_TRUE(model::ValidateSnapshot(snapshot, built->catalog).ok());
  engine::ClusterState state(snapshot, built->catalog);
  engine::PlacementCache cache(state, *built->pipeline);
  int placed = 0;
  for (size_t j = 0; j < snapshot.pending.size(); ++j) {
    auto& request = snapshot.pending[j];
    request.cpus_per_node = 1 + static_cast<int>(j % 13);
    if (request.num_nodes != 1) continue;
    engine::Job job = engine::MakeJob(request, *built->pipeline, snapshot.now);
    const auto cached = engine::FindPlacement(job, state, *built->pipeline, nullptr, &cache);
    const auto fresh = engine::FindPlacement(job, state, *built->pipeline);
    ASSERT_EQ(cached.has_value(), fresh.has_value()) << "job " << request.id;
    if (!cached) continue;
    ASSERT_EQ(cached->placements.size(), 1u);
    EXPECT_EQ(cached->placements[0].node, fresh->placements[0].node) << "job " << request.id;
    EXPECT_EQ(cached->placements[0].devices, fresh->placements[0].devices);
    state.Apply(*cached, request.cpus_per_node, request.memory_per_node_mib);
    ++placed;
  }
  EXPECT_GT(placed, 30);
}

}  // namespace
}  // namespace accelpack::testing
