// Harvest and reclaim: which running jobs the engine plans to requeue so that a
// non-preemptible job can start, and where preemptible work may run meanwhile.
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <algorithm>
#include <string>
#include <vector>

#include "engine_test_util.h"

namespace accelpack::testing {
namespace {

using ::testing::ElementsAre;
using ::testing::HasSubstr;
using ::testing::IsEmpty;

constexpr int64_t kNow = 100000;

policy::PolicyConfig Preempting() {
  policy::PolicyConfig config = policy::DefaultPolicy();
  config.preemption.partitions = {"scavenger"};
  return config;
}

// A preemptible, requeueable batch job holding `devices` of `node` since `start`.
model::RunningJob Scavenger(uint32_t id, std::string node, std::vector<int> devices, int64_t start,
                            std::string gres_name = "gpu", std::string gres_type = "h100") {
  model::RunningJob job = Running(id, std::move(node), std::move(gres_name), std::move(gres_type),
                                  std::move(devices), start, 86400);
  job.partition = "scavenger";
  job.requeueable = true;
  return job;
}

model::Node Node(std::string name, int gpus = 8) {
  return NodeBuilder(std::move(name)).Hopper(gpus).Partitions({"batch", "scavenger"}).Build();
}

// Marks what the running jobs hold as used on their nodes, as the controller reports it.
void Occupy(model::Snapshot& snapshot) {
  for (model::Node& node : snapshot.nodes) {
    node.cpus_allocated = 0;
    node.memory_allocated_mib = 0;
    for (model::AcceleratorPool& pool : node.accelerators) {
      pool.used_milli.assign(static_cast<size_t>(pool.count), 0);
      pool.allocated = 0;
    }
  }
  for (const model::RunningJob& job : snapshot.running) {
    for (const model::NodeAllocation& alloc : job.allocations) {
      for (model::Node& node : snapshot.nodes) {
        if (node.name != alloc.node) continue;
        node.cpus_allocated += alloc.cpus;
        node.memory_allocated_mib += alloc.memory_mib;
        for (model::AcceleratorPool& pool : node.accelerators) {
          if (pool.gres_name != alloc.gres_name || pool.gres_type != alloc.gres_type) continue;
          for (int d : alloc.device_indices) {
            pool.used_milli[static_cast<size_t>(d)] = model::kMilliPerDevice;
            ++pool.allocated;
          }
        }
      }
    }
  }
}

model::Snapshot Cluster(std::vector<model::Node> nodes, std::vector<model::RunningJob> running,
                        std::vector<model::PendingJob> pending) {
  model::Snapshot snapshot;
  snapshot.now = kNow;
  snapshot.nodes = std::move(nodes);
  snapshot.running = std::move(running);
  snapshot.pending = std::move(pending);
  Occupy(snapshot);
  return snapshot;
}

model::PendingJob Inference(uint32_t id, int gpus) {
  return JobBuilder(id).Gpus(gpus).Class(model::JobClass::kInference).Submitted(kNow).Build();
}

std::vector<uint32_t> VictimsOf(const Outcome& outcome, uint32_t job) {
  for (const auto& preemption : outcome.plan.preemptions) {
    if (preemption.job_id == job) return preemption.victims;
  }
  return {};
}

std::vector<std::string> NodesFor(const Outcome& outcome, uint32_t job) {
  std::vector<std::string> names;
  for (const auto& preemption : outcome.plan.preemptions) {
    if (preemption.job_id != job) continue;
    for (int n : preemption.nodes) {
      names.push_back(outcome.snapshot.nodes[static_cast<size_t>(n)].name);
    }
  }
  return names;
}

TEST(Preemption, NoVictimWhenAFreePlacementExists) {
  // a is full of preemptible work, b is free: the job starts on b, nothing is requeued.
  Outcome outcome = RunEngine(
      Cluster({Node("a"), Node("b")}, {Scavenger(50, "a", {0, 1, 2, 3, 4, 5, 6, 7}, kNow - 60)},
              {Inference(1, 8)}),
      Preempting());
  EXPECT_EQ(outcome.Started().at(1), (std::vector<std::string>{"b"}));
  EXPECT_THAT(outcome.plan.preemptions, IsEmpty());
}

TEST(Preemption, NothingIsPreemptedWithoutAPreemptiblePartitionOrQos) {
  Outcome outcome = RunEngine(Cluster(
      {Node("a")}, {Scavenger(50, "a", {0, 1, 2, 3, 4, 5, 6, 7}, kNow - 60)}, {Inference(1, 8)}));
  EXPECT_THAT(outcome.plan.preemptions, IsEmpty());
  EXPECT_EQ(outcome.Start(1), nullptr);
}

TEST(Preemption, TakesTheNodeNeedingFewestVictims) {
  // 4 GPUs wanted. a: four 2-GPU jobs (2 victims), all young; b: two 4-GPU jobs
  // (1 victim), older. Fewest victims first, then youngest: one job on b.
  Outcome outcome = RunEngine(
      Cluster({Node("a"), Node("b")},
              {Scavenger(10, "a", {0, 1}, kNow - 100), Scavenger(11, "a", {2, 3}, kNow - 110),
               Scavenger(12, "a", {4, 5}, kNow - 120), Scavenger(13, "a", {6, 7}, kNow - 130),
               Scavenger(20, "b", {0, 1, 2, 3}, kNow - 5000),
               Scavenger(21, "b", {4, 5, 6, 7}, kNow - 4000)},
              {Inference(1, 4)}),
      Preempting());
  EXPECT_THAT(VictimsOf(outcome, 1), ElementsAre(21u));  // b's younger one
  EXPECT_THAT(NodesFor(outcome, 1), ElementsAre("b"));
  EXPECT_EQ(outcome.Start(1), nullptr);  // it starts once job 21 has gone
  ASSERT_NE(outcome.Pending(1), nullptr);
  EXPECT_THAT(outcome.Pending(1)->message, HasSubstr("preempting 1 job (21) to start on b"));
  // Work lost: job 21 ran 4000 s on 4 GPUs.
  EXPECT_EQ(outcome.plan.preemptions.at(0).lost_device_s, 4000 * 4);
}

TEST(Preemption, TheYoungestOfEqualCountsGoes) {
  // Three 2-GPU jobs on a full 8-GPU node plus one 2-GPU: any one frees 2 GPUs.
  Outcome outcome = RunEngine(
      Cluster({Node("a")},
              {Scavenger(10, "a", {0, 1}, kNow - 3000), Scavenger(11, "a", {2, 3}, kNow - 900),
               Scavenger(12, "a", {4, 5}, kNow - 2000), Scavenger(13, "a", {6, 7}, kNow - 5000)},
              {Inference(1, 2)}),
      Preempting());
  EXPECT_THAT(VictimsOf(outcome, 1), ElementsAre(11u));
}

TEST(Preemption, NeverMoreVictimsThanNeeded) {
  // 6 GPUs wanted; a holds 2+2+2+2 GPU jobs: three must go, never four.
  Outcome outcome = RunEngine(
      Cluster({Node("a")},
              {Scavenger(10, "a", {0, 1}, kNow - 400), Scavenger(11, "a", {2, 3}, kNow - 300),
               Scavenger(12, "a", {4, 5}, kNow - 200), Scavenger(13, "a", {6, 7}, kNow - 100)},
              {Inference(1, 6)}),
      Preempting());
  EXPECT_THAT(VictimsOf(outcome, 1), ElementsAre(11u, 12u, 13u));  // the three youngest
}

TEST(Preemption, ExemptTimeAndNonRequeueableJobsAreRespected) {
  model::RunningJob interactive = Scavenger(12, "a", {4, 5}, kNow - 50000);
  interactive.requeueable = false;  // srun/salloc or --no-requeue: requeue would cancel it
  model::RunningJob protected_job = Running(13, "a", "gpu", "h100", {6, 7}, kNow - 60000, 86400);
  model::RunningJob young = Scavenger(10, "a", {0, 1}, kNow - 100);
  young.preempt_exempt_until = kNow - 100 + 600;  // PreemptExemptTime 600 s; it ran 100 s
  model::Snapshot snapshot = Cluster(
      {Node("a")}, {young, Scavenger(11, "a", {2, 3}, kNow - 7200), interactive, protected_job},
      {Inference(1, 2)});
  EXPECT_THAT(VictimsOf(RunEngine(snapshot, Preempting()), 1), ElementsAre(11u));

  // The policy's own minimum counts too: job 11 (2 h) is now too young as well.
  policy::PolicyConfig config = Preempting();
  config.preemption.min_runtime_s = 3 * 3600;
  Outcome outcome = RunEngine(snapshot, config);
  EXPECT_THAT(outcome.plan.preemptions, IsEmpty());
  EXPECT_EQ(outcome.Start(1), nullptr);
}

TEST(Preemption, AJobReclaimsOnlyAfterWaitingReclaimAfter) {
  model::Snapshot snapshot = Cluster(
      {Node("a")}, {Scavenger(10, "a", {0, 1, 2, 3, 4, 5, 6, 7}, kNow - 600)}, {Inference(1, 8)});
  policy::PolicyConfig config = Preempting();
  config.preemption.reclaim_after_s = 120;
  snapshot.pending[0].submit_time = kNow - 60;  // waited 60 s of 120
  EXPECT_THAT(RunEngine(snapshot, config).plan.preemptions, IsEmpty());
  snapshot.pending[0].submit_time = kNow - 120;
  EXPECT_THAT(VictimsOf(RunEngine(snapshot, config), 1), ElementsAre(10u));
}

TEST(Preemption, AQosMakesWorkPreemptible) {
  model::RunningJob job = Running(10, "a", "gpu", "h100", {0, 1, 2, 3, 4, 5, 6, 7}, 0, 86400);
  job.qos = "spot";
  job.requeueable = true;
  policy::PolicyConfig config = policy::DefaultPolicy();
  config.preemption.qos = {"spot"};
  EXPECT_THAT(VictimsOf(RunEngine(Cluster({Node("a")}, {job}, {Inference(1, 1)}), config), 1),
              ElementsAre(10u));
}

TEST(Preemption, HccsRingsDecideWhichVictimFreesALegalPlacement) {
  // Ascend 910: a 4-device job needs a whole ring (0-3 or 4-7). Ring 0-3 holds job 30
  // (oldest); ring 4-7 holds jobs 31 and 32 (younger). Freeing by age alone would
  // take both 31 and 32; job 30 alone frees a ring.
  auto node = NodeBuilder("a").Ascend910(8).Partitions({"batch", "scavenger"}).Build();
  Outcome outcome =
      RunEngine(Cluster({node},
                        {Scavenger(30, "a", {0}, kNow - 9000, "npu", "910"),
                         Scavenger(31, "a", {4}, kNow - 200, "npu", "910"),
                         Scavenger(32, "a", {5}, kNow - 100, "npu", "910")},
                        {JobBuilder(1).Npus(4, "910").Class(model::JobClass::kInference).Build()}),
                Preempting());
  EXPECT_THAT(VictimsOf(outcome, 1), ElementsAre(30u));

  // A 2-device job fits in either ring's free half: no victim at all.
  outcome = RunEngine(Cluster({node},
                              {Scavenger(30, "a", {0}, kNow - 9000, "npu", "910"),
                               Scavenger(31, "a", {4}, kNow - 200, "npu", "910")},
                              {JobBuilder(1).Npus(2, "910").Build()}),
                      Preempting());
  EXPECT_THAT(outcome.plan.preemptions, IsEmpty());
  EXPECT_NE(outcome.Start(1), nullptr);
}

TEST(Preemption, A910cGangStaysInsideOneSuperPod) {
  // Two whole 910C nodes wanted in one SuperPoD. a (pod 1) and c (pod 2) are free, but
  // a gang across pods is illegal; pod 1's b has one preemptible job, pod 2's d two.
  auto ascend = [](std::string name, std::string pod) {
    return NodeBuilder(std::move(name))
        .Ascend910C(16)
        .SuperPod(std::move(pod))
        .Partitions({"batch", "scavenger"})
        .Build();
  };
  Outcome outcome = RunEngine(
      Cluster({ascend("a", "p1"), ascend("b", "p1"), ascend("c", "p2"), ascend("d", "p2")},
              {Scavenger(40, "b", {0, 1}, kNow - 3000, "npu", "910c"),
               Scavenger(41, "d", {0, 1}, kNow - 100, "npu", "910c"),
               Scavenger(42, "d", {2, 3}, kNow - 50, "npu", "910c")},
              {JobBuilder(1).Npus(16, "910c").Nodes(2).Class(model::JobClass::kTraining).Build()}),
      Preempting());
  EXPECT_THAT(VictimsOf(outcome, 1), ElementsAre(40u));
  EXPECT_THAT(NodesFor(outcome, 1), ElementsAre("a", "b"));
}

TEST(Preemption, ScatteredSmallJobsAreConsolidatedForAGang) {
  // An 8-GPU, 2-node gang; each of three nodes has one young 1-GPU job: two of them go
  // (the two youngest), no more, and the gang gets those two nodes.
  Outcome outcome =
      RunEngine(Cluster({Node("a"), Node("b"), Node("c")},
                        {Scavenger(10, "a", {3}, kNow - 300), Scavenger(11, "b", {5}, kNow - 200),
                         Scavenger(12, "c", {0}, kNow - 100)},
                        {JobBuilder(1).Gpus(8).Nodes(2).Class(model::JobClass::kTraining).Build()}),
                Preempting());
  EXPECT_THAT(VictimsOf(outcome, 1), ElementsAre(11u, 12u));
  EXPECT_THAT(NodesFor(outcome, 1), ElementsAre("b", "c"));
}

TEST(Preemption, TheCostBoundLimitsVictims) {
  policy::PolicyConfig config = Preempting();
  config.preemption.max_victims_per_job = 2;
  Outcome outcome = RunEngine(
      Cluster({Node("a")},
              {Scavenger(10, "a", {0, 1}, kNow - 400), Scavenger(11, "a", {2, 3}, kNow - 300),
               Scavenger(12, "a", {4, 5}, kNow - 200), Scavenger(13, "a", {6, 7}, kNow - 100)},
              {Inference(1, 6)}),
      config);
  EXPECT_THAT(outcome.plan.preemptions, IsEmpty());
}

TEST(Preemption, DrainingVictimsCountAsFreedSoNoMoreArePicked) {
  // Job 10 is already being requeued (an earlier cycle's victim): the job waits for it.
  model::RunningJob draining = Scavenger(10, "a", {0, 1, 2, 3}, kNow - 400);
  draining.draining = true;
  Outcome outcome =
      RunEngine(Cluster({Node("a")}, {draining, Scavenger(11, "a", {4, 5, 6, 7}, kNow - 100)},
                        {Inference(1, 4)}),
                Preempting());
  ASSERT_EQ(outcome.plan.preemptions.size(), 1u);
  EXPECT_THAT(outcome.plan.preemptions[0].victims, IsEmpty());
  EXPECT_THAT(outcome.plan.preemptions[0].awaiting, ElementsAre(10u));
  EXPECT_THAT(outcome.Pending(1)->message, HasSubstr("waiting for 1 preempted job (10)"));
}

TEST(Preemption, EachVictimServesOneJob) {
  // Two 8-GPU inference jobs, two nodes each full with one preemptible job.
  Outcome outcome = RunEngine(Cluster({Node("a"), Node("b")},
                                      {Scavenger(10, "a", {0, 1, 2, 3, 4, 5, 6, 7}, kNow - 100),
                                       Scavenger(11, "b", {0, 1, 2, 3, 4, 5, 6, 7}, kNow - 200)},
                                      {Inference(1, 8), Inference(2, 8)}),
                              Preempting());
  ASSERT_EQ(outcome.plan.preemptions.size(), 2u);
  EXPECT_THAT(VictimsOf(outcome, 1), ElementsAre(10u));  // the younger for the first
  EXPECT_THAT(VictimsOf(outcome, 2), ElementsAre(11u));
}

TEST(Preemption, PreemptibleWorkNeverPreempts) {
  model::PendingJob scavenger = JobBuilder(1).Gpus(8).Partitions({"scavenger"}).Build();
  Outcome outcome = RunEngine(
      Cluster({Node("a")}, {Scavenger(10, "a", {0, 1, 2, 3, 4, 5, 6, 7}, 0)}, {scavenger}),
      Preempting());
  EXPECT_THAT(outcome.plan.preemptions, IsEmpty());
}

TEST(Preemption, HarvestFillsNodesHeldForAJobThatCanReclaimThem) {
  // a: 4 GPUs held by non-preemptible work until kNow + 1000. Job 1 (8 GPUs) reserves
  // a for then. Job 2 (preemptible, a day long) would delay it: plain backfill keeps it
  // off, harvest lets it in (job 1 will reclaim the node by preemption).
  model::RunningJob steady = Running(50, "a", "gpu", "h100", {0, 1, 2, 3}, kNow - 1000, 2000);
  model::PendingJob scavenger =
      JobBuilder(2).Gpus(2).Partitions({"scavenger"}).TimeLimit(86400).Build();
  model::Snapshot snapshot =
      Cluster({Node("a")}, {steady}, {JobBuilder(1).Gpus(8).Priority(100).Build(), scavenger});
  EXPECT_NE(RunEngine(snapshot, Preempting()).Start(2), nullptr);

  policy::PolicyConfig no_harvest = Preempting();
  no_harvest.preemption.harvest = false;
  EXPECT_EQ(RunEngine(snapshot, no_harvest).Start(2), nullptr);
  // Nor when the reserved job's class may not reclaim.
  policy::PolicyConfig no_reclaim = Preempting();
  no_reclaim.preemption.reclaim_for = {model::JobClass::kInference};
  EXPECT_EQ(RunEngine(snapshot, no_reclaim).Start(2), nullptr);
}

TEST(Preemption, HarvestTakesOnlyWhatOtherPendingWorkLeaves) {
  // One free GPU; the preemptible job has the higher Slurm priority, yet the other goes first.
  model::Snapshot snapshot =
      Cluster({Node("a", 1)}, {},
              {JobBuilder(1).Gpus(1).Partitions({"scavenger"}).Priority(1000).Build(),
               JobBuilder(2).Gpus(1).Priority(1).Build()});
  Outcome outcome = RunEngine(snapshot, Preempting());
  EXPECT_NE(outcome.Start(2), nullptr);
  EXPECT_EQ(outcome.Start(1), nullptr);
  EXPECT_NE(RunEngine(snapshot).Start(1), nullptr);  // without the rule, priority decides
}

// Random full nodes of young and old 1-3 GPU jobs and one job of 1-8 GPUs (or a
// 2-node gang) that must reclaim. Checked against fresh cycles: with the victims
// gone the job starts (on the planned node, for one node), with any one back it does not.
// The same cluster again with each victim also holding a CPU on a node no job can
// use gives the same plan: a victim that holds elsewhere takes the reclaimer's
// step-by-step search, one that holds only its node the counted shortcut.
TEST(Preemption, RandomReclaimsFreeALegalPlacementAndNoMore) {
  uint64_t rng = 7;
  auto below = [&rng](uint64_t n) {
    rng = rng * 6364136223846793005ULL + 1442695040888963407ULL;
    return static_cast<int>((rng >> 33) % n);
  };
  int checked = 0;
  for (int round = 0; round < 24; ++round) {
    std::vector<model::Node> nodes;
    std::vector<model::RunningJob> running;
    uint32_t id = 100;
    for (int n = 0; n < 6; ++n) {
      const std::string name = "n" + std::to_string(n);
      nodes.push_back(Node(name));
      for (int d = 0; d < 8;) {
        const int take = std::min(8 - d, 1 + below(3));
        std::vector<int> devices;
        for (int i = 0; i < take; ++i) devices.push_back(d + i);
        // Some devices stay free, so a few nodes need fewer victims.
        if (below(6) > 0)
          running.push_back(Scavenger(id++, name, devices, kNow - 60 - below(5000)));
        d += take;
      }
    }
    nodes.push_back(NodeBuilder("z").Partitions({"scavenger"}).Build());  // no GPUs
    const model::PendingJob job =
        round % 4 == 3 ? JobBuilder(1).Gpus(8).Nodes(2).Class(model::JobClass::kTraining).Build()
                       : Inference(1, 1 + below(8));
    const Outcome outcome = RunEngine(Cluster(nodes, running, {job}), Preempting());
    std::vector<model::RunningJob> spanning = running;
    for (model::RunningJob& victim : spanning) {
      model::NodeAllocation elsewhere;
      elsewhere.node = "z";
      elsewhere.cpus = 1;
      victim.allocations.push_back(elsewhere);
    }
    const Outcome stepwise = RunEngine(Cluster(nodes, spanning, {job}), Preempting());
    EXPECT_EQ(VictimsOf(stepwise, 1), VictimsOf(outcome, 1)) << "round " << round;
    EXPECT_EQ(NodesFor(stepwise, 1), NodesFor(outcome, 1)) << "round " << round;
    const std::vector<uint32_t> victims = VictimsOf(outcome, 1);
    if (victims.empty()) continue;
    ++checked;
    auto without = [&](const std::vector<uint32_t>& gone) {
      std::vector<model::RunningJob> left;
      for (const model::RunningJob& r : running) {
        if (std::find(gone.begin(), gone.end(), r.id) == gone.end()) left.push_back(r);
      }
      return RunEngine(Cluster(nodes, left, {job}), Preempting());
    };
    const Outcome freed = without(victims);
    ASSERT_NE(freed.Start(1), nullptr) << "round " << round;
    // A gang may then score another pair as well; a single node job has only this one.
    if (job.num_nodes <= 1) {
      EXPECT_EQ(freed.Started()[1], NodesFor(outcome, 1)) << "round " << round;
    }
    for (size_t keep = 0; keep < victims.size(); ++keep) {
      std::vector<uint32_t> fewer = victims;
      fewer.erase(fewer.begin() + static_cast<std::ptrdiff_t>(keep));
      EXPECT_EQ(without(fewer).Start(1), nullptr) << "round " << round << ", keeping " << keep;
    }
  }
  EXPECT_GE(checked, 12);
}

}  // namespace
}  // namespace accelpack::testing

namespace accelpack::policy {
namespace {

using ::testing::ElementsAre;
using ::testing::HasSubstr;

TEST(PreemptionPolicy, ParsedShownAndParsedAgain) {
  auto parsed = ParsePolicyYaml(R"(
preemption:
  partitions: [scavenger]
  qos: [spot]
  harvest: false
  reclaim_for: [inference]
  reclaim_after_s: 60
  min_runtime_s: 300
  max_victims_per_job: 3
  max_reclaims_per_cycle: 5
)",
                                "site.yaml");
  ASSERT_TRUE(parsed.ok()) << MessageOf(parsed.status());
  const engine::PreemptionRules& rules = parsed->preemption;
  EXPECT_THAT(rules.partitions, ElementsAre("scavenger"));
  EXPECT_THAT(rules.qos, ElementsAre("spot"));
  EXPECT_FALSE(rules.harvest);
  EXPECT_THAT(rules.reclaim_for, ElementsAre(model::JobClass::kInference));
  EXPECT_EQ(rules.min_runtime_s, 300);
  EXPECT_EQ(rules.reclaim_after_s, 60);
  EXPECT_EQ(rules.max_victims_per_job, 3);
  EXPECT_EQ(rules.max_reclaims_per_cycle, 5);
  auto again = ParsePolicyYaml(PolicyToYaml(*parsed), "shown.yaml");
  ASSERT_TRUE(again.ok()) << MessageOf(again.status());
  EXPECT_EQ(PolicyToYaml(*again), PolicyToYaml(*parsed));
  // Without the section nothing is preemptible.
  EXPECT_FALSE(DefaultPolicy().preemption.enabled());
}

TEST(PreemptionPolicy, MistakesNameTheirPlace) {
  for (const auto& [yaml, expected] : std::vector<std::pair<std::string, std::string>>{
           {"preemption: {partitons: [x]}\n", "1:14: preemption.partitons: unknown key"},
           {"preemption: {max_victims_per_job: -1}\n",
            "preemption.max_victims_per_job: -1 outside 0.."},
           {"preemption: {reclaim_for: [batch]}\n", "preemption.reclaim_for[0]: unknown class"},
           {"preemption: {partitions: scavenger}\n", "preemption.partitions: expected a list"},
           {"preemption: {qos: [\"\"]}\n", "preemption.qos[0]: empty name"},
           {"preemption: {harvest: maybe}\n", "preemption.harvest: expected true or false"}}) {
    auto parsed = ParsePolicyYaml(yaml, "site.yaml");
    ASSERT_FALSE(parsed.ok()) << yaml;
    EXPECT_THAT(MessageOf(parsed.status()), HasSubstr(expected)) << yaml;
  }
}

}  // namespace
}  // namespace accelpack::policy
