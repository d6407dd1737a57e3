// Delta snapshots on the core's side: applying a delta to a base, and when the
// core asks for the whole snapshot instead. SPDX-License-Identifier: GPL-2.0-or-later
#include "service/snapshot_bases.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <memory>
#include <random>
#include <string>

#include "cluster_builder.h"
#include "common/strings.h"
#include "engine/engine.h"
#include "service/proto_convert.h"

namespace accelpack::service {
namespace {

v1::ClusterSnapshot Base() {
  v1::ClusterSnapshot s;
  s.set_now_unix(100);
  for (const char* name : {"a", "b", "c"}) {
    v1::Node* n = s.add_nodes();
    n->set_name(name);
    n->set_cpus_total(64);
  }
  for (uint32_t id : {1u, 2u, 3u}) {
    v1::PendingJob* j = s.add_pending_jobs();
    j->set_job_id(id);
    j->set_priority(id * 10);
  }
  v1::RunningJob* r = s.add_running_jobs();
  r->set_job_id(9);
  r->add_allocations()->set_node("a");
  v1::AdvancedReservation* resv = s.add_reservations();
  resv->set_name("maint");
  resv->add_nodes("c");
  return s;
}

v1::ScheduleRequest Whole(uint64_t epoch, uint64_t sequence) {
  v1::ScheduleRequest request;
  *request.mutable_snapshot() = Base();
  request.mutable_identity()->set_controller("slurmctld@head");
  request.mutable_identity()->set_epoch(epoch);
  request.mutable_identity()->set_sequence(sequence);
  return request;
}

v1::ScheduleRequest Delta(uint64_t epoch, uint64_t base, uint64_t sequence) {
  v1::ScheduleRequest request;
  request.mutable_snapshot()->set_now_unix(200);
  request.mutable_identity()->set_controller("slurmctld@head");
  request.mutable_identity()->set_epoch(epoch);
  request.mutable_identity()->set_sequence(sequence);
  request.set_base_sequence(base);
  return request;
}

// What the service does with an accepted whole snapshot.
void KeepWhole(SnapshotBases& bases, const v1::ScheduleRequest& whole) {
  SnapshotBase base;
  base.controller = whole.identity().controller();
  base.epoch = whole.identity().epoch();
  base.sequence = whole.identity().sequence();
  base.snapshot = whole.snapshot();
  ASSERT_TRUE(IndexBase(base).ok());
  bases.Keep(std::move(base));
}

TEST(ApplyDelta, ReplacesAddsAndRemovesByKeyKeepingTheRest) {
  SnapshotBase base;
  base.snapshot = Base();
  ASSERT_TRUE(IndexBase(base).ok());
  v1::ClusterSnapshot changes;
  changes.set_now_unix(200);
  changes.add_pending_jobs()->set_job_id(2);  // replaced: priority back to 0
  changes.mutable_pending_jobs(0)->set_priority(77);
  changes.add_pending_jobs()->set_job_id(4);  // new
  v1::Node* node = changes.add_nodes();
  node->set_name("b");
  node->set_cpus_total(32);
  v1::SnapshotRemovals removed;
  removed.add_pending_jobs(1);
  removed.add_running_jobs(9);
  removed.add_reservations("maint");
  ASSERT_TRUE(ApplyDelta(changes, removed, base).ok());

  const v1::ClusterSnapshot& s = base.snapshot;
  EXPECT_EQ(s.now_unix(), 200);
  // 1, 2, 3 and the new 4 last; 1 removed: the last record takes its place.
  ASSERT_EQ(s.pending_jobs_size(), 3);
  EXPECT_EQ(s.pending_jobs(0).job_id(), 4u);
  EXPECT_EQ(s.pending_jobs(1).job_id(), 2u);
  EXPECT_EQ(s.pending_jobs(1).priority(), 77);
  EXPECT_EQ(s.pending_jobs(2).job_id(), 3u);
  EXPECT_EQ(s.pending_jobs(2).priority(), 30);  // untouched
  ASSERT_EQ(s.nodes_size(), 3);
  EXPECT_EQ(s.nodes(1).cpus_total(), 32u);
  EXPECT_EQ(s.nodes(0).cpus_total(), 64u);
  EXPECT_EQ(s.running_jobs_size(), 0);
  EXPECT_EQ(s.reservations_size(), 0);
  // The indexes follow: a second delta finds the moved records.
  v1::ClusterSnapshot more;
  more.add_pending_jobs()->set_job_id(4);
  more.mutable_pending_jobs(0)->set_priority(5);
  v1::SnapshotRemovals gone;
  gone.add_pending_jobs(3);
  ASSERT_TRUE(ApplyDelta(more, gone, base).ok());
  ASSERT_EQ(base.snapshot.pending_jobs_size(), 2);
  EXPECT_EQ(base.snapshot.pending_jobs(0).job_id(), 4u);
  EXPECT_EQ(base.snapshot.pending_jobs(0).priority(), 5);
  EXPECT_EQ(base.snapshot.pending_jobs(1).job_id(), 2u);
}

TEST(ApplyDelta, MalformedDeltasAreRefusedNamingTheRecord) {
  SnapshotBase base;
  base.snapshot = Base();
  ASSERT_TRUE(IndexBase(base).ok());
  v1::ClusterSnapshot twice;
  twice.add_pending_jobs()->set_job_id(5);
  twice.add_pending_jobs()->set_job_id(5);
  absl::Status s = ApplyDelta(twice, {}, base);
  EXPECT_TRUE(absl::IsInvalidArgument(s));
  EXPECT_NE(s.message().find("pending_jobs[1]: job 5 given twice"), std::string::npos) << s;

  SnapshotBase other;
  other.snapshot = Base();
  ASSERT_TRUE(IndexBase(other).ok());
  v1::ClusterSnapshot changed;
  changed.add_nodes()->set_name("a");
  v1::SnapshotRemovals removed;
  removed.add_nodes("a");
  s = ApplyDelta(changed, removed, other);
  EXPECT_TRUE(absl::IsInvalidArgument(s));
  EXPECT_NE(s.message().find("\"a\" is also changed"), std::string::npos) << s;

  // The same key removed twice, for the last record and for one in the middle: it
  // used to drop one position twice (past the end, or the record moved there).
  for (const std::string name : {"c", "a"}) {
    SnapshotBase repeated;
    repeated.snapshot = Base();
    ASSERT_TRUE(IndexBase(repeated).ok());
    v1::SnapshotRemovals twice_removed;
    twice_removed.add_nodes(name);
    twice_removed.add_nodes(name);
    s = ApplyDelta({}, twice_removed, repeated);
    EXPECT_TRUE(absl::IsInvalidArgument(s)) << s;
    EXPECT_NE(s.message().find(Cat("removed.nodes: \"", name, "\" given twice")), std::string::npos)
        << s;
  }

  SnapshotBase third;
  third.snapshot = Base();
  ASSERT_TRUE(IndexBase(third).ok());
  v1::SnapshotRemovals unknown;
  unknown.add_running_jobs(42);
  s = ApplyDelta({}, unknown, third);
  EXPECT_TRUE(absl::IsFailedPrecondition(s));
  EXPECT_NE(s.message().find("job 42"), std::string::npos) << s;
}

TEST(SnapshotBases, WholeSnapshotIsLeftInTheRequest) {
  SnapshotBases bases;
  SnapshotBases::Resolved resolved;
  ASSERT_TRUE(bases.Resolve(Whole(1, 1), resolved).ok());
  EXPECT_EQ(resolved.kind, SnapshotBases::Kind::kWhole);
}

TEST(SnapshotBases, DeltaOnTheKeptBaseApplies) {
  SnapshotBases bases;
  KeepWhole(bases, Whole(7, 1));
  v1::ScheduleRequest delta = Delta(7, 1, 2);
  delta.mutable_removed()->add_pending_jobs(3);
  SnapshotBases::Resolved resolved;
  ASSERT_TRUE(bases.Resolve(delta, resolved).ok());
  ASSERT_EQ(resolved.kind, SnapshotBases::Kind::kDelta) << resolved.reason;
  EXPECT_EQ(resolved.base.sequence, 2u);
  EXPECT_EQ(resolved.base.snapshot.pending_jobs_size(), 2);
  EXPECT_EQ(resolved.base.snapshot.nodes_size(), 3);
  EXPECT_EQ(resolved.base.snapshot.now_unix(), 200);
  // Taken out while in use: until it is kept again, a second delta resyncs.
  EXPECT_EQ(bases.size(), 0u);
}

TEST(SnapshotBases, UnknownBaseAsksForTheWholeSnapshot) {
  SnapshotBases bases;  // a core just restarted
  SnapshotBases::Resolved resolved;
  ASSERT_TRUE(bases.Resolve(Delta(7, 1, 2), resolved).ok());
  EXPECT_EQ(resolved.kind, SnapshotBases::Kind::kResync);
  EXPECT_NE(resolved.reason.find("no base"), std::string::npos) << resolved.reason;
}

TEST(SnapshotBases, OtherEpochAsksForTheWholeSnapshotAndDropsTheOldBase) {
  SnapshotBases bases;
  KeepWhole(bases, Whole(7, 1));
  SnapshotBases::Resolved resolved;
  ASSERT_TRUE(bases.Resolve(Delta(8, 1, 2), resolved).ok());  // slurmctld restarted
  EXPECT_EQ(resolved.kind, SnapshotBases::Kind::kResync);
  EXPECT_NE(resolved.reason.find("epoch 7"), std::string::npos) << resolved.reason;
  EXPECT_EQ(bases.size(), 0u);
}

TEST(SnapshotBases, OtherSequenceAsksForTheWholeSnapshot) {
  SnapshotBases bases;
  KeepWhole(bases, Whole(7, 5));
  SnapshotBases::Resolved resolved;
  ASSERT_TRUE(bases.Resolve(Delta(7, 4, 6), resolved).ok());
  EXPECT_EQ(resolved.kind, SnapshotBases::Kind::kResync);
  EXPECT_NE(resolved.reason.find("snapshot 5"), std::string::npos) << resolved.reason;
}

TEST(SnapshotBases, RemovalTheBaseDoesNotHoldAsksForTheWholeSnapshot) {
  SnapshotBases bases;
  KeepWhole(bases, Whole(7, 1));
  v1::ScheduleRequest delta = Delta(7, 1, 2);
  delta.mutable_removed()->add_nodes("zz");
  SnapshotBases::Resolved resolved;
  ASSERT_TRUE(bases.Resolve(delta, resolved).ok());
  EXPECT_EQ(resolved.kind, SnapshotBases::Kind::kResync);
  EXPECT_NE(resolved.reason.find("\"zz\""), std::string::npos) << resolved.reason;
}

TEST(SnapshotBases, SequenceMustGrow) {
  SnapshotBases bases;
  KeepWhole(bases, Whole(7, 3));
  SnapshotBases::Resolved resolved;
  absl::Status s = bases.Resolve(Delta(7, 3, 3), resolved);
  EXPECT_TRUE(absl::IsInvalidArgument(s));
}

TEST(SnapshotBases, BoundedLeastRecentlyUsedGoesFirst) {
  SnapshotBases bases(2);
  for (const char* controller : {"one", "two", "three"}) {
    v1::ScheduleRequest whole = Whole(1, 1);
    whole.mutable_identity()->set_controller(controller);
    KeepWhole(bases, whole);
  }
  EXPECT_EQ(bases.size(), 2u);
  v1::ScheduleRequest delta = Delta(1, 1, 2);
  delta.mutable_identity()->set_controller("one");
  SnapshotBases::Resolved resolved;
  ASSERT_TRUE(bases.Resolve(delta, resolved).ok());
  EXPECT_EQ(resolved.kind, SnapshotBases::Kind::kResync);  // evicted: resync, no harm
  delta.mutable_identity()->set_controller("three");
  ASSERT_TRUE(bases.Resolve(delta, resolved).ok());
  EXPECT_EQ(resolved.kind, SnapshotBases::Kind::kDelta);
}

// The engine's snapshot of a delta base, converted and checked record by record,
// against the whole snapshot converted and checked afresh: the same records, so
// the same plans, delta after delta (changes, additions, removals, nodes going).
class ModelBase : public ::testing::Test {
 protected:
  void SetUp() override {
    auto built = policy::BuildPolicy(policy::DefaultPolicy());
    ASSERT_TRUE(built.ok());
    policy_ = std::make_shared<const policy::BuiltPolicy>(std::move(*built));
    model::Snapshot cluster = testing::SyntheticCluster(24, 120, 0.5, 7);
    for (uint32_t id : {40001u, 40002u, 40003u}) {
      cluster.running.push_back(testing::Running(id, cluster.nodes[id % 24].name, "gpu", "h100", {},
                                                 cluster.now - 60, 3600, 1));
    }
    base_.snapshot = SnapshotToProto(cluster);
    ASSERT_TRUE(IndexBase(base_).ok());
    ASSERT_TRUE(PrepareModel(base_, policy_, nullptr).ok());  // no model yet: whole
  }
  // The whole snapshot, as a cycle without a base would read it.
  std::string Fresh() const {
    auto fresh = ModelOf(base_.snapshot, *policy_, nullptr);
    EXPECT_TRUE(fresh.ok()) << fresh.status();
    return fresh.ok() ? SnapshotToProto(**fresh).SerializeAsString() : "";
  }
  std::string Kept() const { return SnapshotToProto(*base_.model).SerializeAsString(); }
  std::string PlanOf(const model::Snapshot& snapshot) const {
    const engine::Plan plan = engine::Schedule(snapshot, policy_->catalog, *policy_->pipeline);
    return PlanToProto(plan, snapshot, policy_->catalog).SerializeAsString();
  }

  std::shared_ptr<const policy::BuiltPolicy> policy_;
  SnapshotBase base_;
};

// Checked record by record, a delta could add reservations past the count a whole
// snapshot is refused for (every reservation-only job's filter reads them all).
TEST_F(ModelBase, ADeltaCannotGrowPastWhatAWholeSnapshotMayHold) {
  v1::ClusterSnapshot changes;
  changes.set_now_unix(base_.snapshot.now_unix() + 1);
  for (size_t r = 0; r <= model::kMaxReservations; ++r) {
    v1::AdvancedReservation* window = changes.add_reservations();
    window->set_name(Cat("r", r));
    window->set_start_unix(2000);
    window->set_end_unix(3000);
    window->add_nodes(base_.snapshot.nodes(0).name());
  }
  ASSERT_TRUE(ApplyDelta(changes, {}, base_).ok());
  const absl::Status by_delta = PrepareModel(base_, policy_, nullptr);
  EXPECT_NE(by_delta.message().find("reservations: 10001 entries, more than 10000"),
            std::string::npos)
      << by_delta;
  EXPECT_FALSE(ModelOf(base_.snapshot, *policy_, nullptr).ok());
}

TEST_F(ModelBase, RecordByRecordEqualsTheWholeConvertedAfresh) {
  uint32_t next_id = 50000;
  for (int round = 0; round < 12; ++round) {
    const v1::ClusterSnapshot& now = base_.snapshot;
    v1::ClusterSnapshot changes;
    v1::SnapshotRemovals removed;
    changes.set_now_unix(now.now_unix() + 10 * round);
    // Priorities move, one job grows, one leaves, one arrives.
    for (int j = round; j < now.pending_jobs_size() - 1; j += 9) {  // the last one leaves
      v1::PendingJob* job = changes.add_pending_jobs();
      *job = now.pending_jobs(j);
      job->set_priority(job->priority() + 1 + round);
      if (j == round) job->set_cpus_per_node(job->cpus_per_node() + 2);
    }
    const uint32_t leaving = now.pending_jobs(now.pending_jobs_size() - 1).job_id();
    removed.add_pending_jobs(leaving);
    removed.add_pending_jobs(now.pending_jobs(round + 4).job_id());  // from the middle
    v1::PendingJob* arriving = changes.add_pending_jobs();
    *arriving = now.pending_jobs(0);
    arriving->set_job_id(next_id++);
    arriving->add_excluded_nodes(now.nodes(round % now.nodes_size()).name());
    // A job starts (runs on a node), another one ends.
    v1::RunningJob* started = changes.add_running_jobs();
    started->set_job_id(next_id++);
    started->set_start_time_unix(changes.now_unix());
    v1::NodeAllocation* alloc = started->add_allocations();
    alloc->set_node(now.nodes(round).name());
    alloc->set_cpus(1);
    if (round % 3 == 1 && now.running_jobs_size() > 0)
      removed.add_running_jobs(now.running_jobs(0).job_id());
    // A node's use changes; every fourth round a new node comes, then goes again.
    v1::Node* node = changes.add_nodes();
    *node = now.nodes((round * 5) % now.nodes_size());
    node->set_cpus_allocated(node->cpus_allocated() / 2);
    if (round % 4 == 0) {
      v1::Node* added = changes.add_nodes();
      *added = now.nodes(1);
      added->set_name("extra-" + std::to_string(round));
    } else if (round % 4 == 1) {
      removed.add_nodes("extra-" + std::to_string(round - 1));
    }
    absl::Status applied = ApplyDelta(changes, removed, base_);
    ASSERT_TRUE(applied.ok()) << "round " << round << ": " << applied;
    absl::Status prepared = PrepareModel(base_, policy_, nullptr);
    ASSERT_TRUE(prepared.ok()) << "round " << round << ": " << prepared;
    ASSERT_EQ(Kept(), Fresh()) << "round " << round;
  }
  auto fresh = ModelOf(base_.snapshot, *policy_, nullptr);
  ASSERT_TRUE(fresh.ok());
  const std::string plan = PlanOf(*base_.model);
  EXPECT_EQ(plan, PlanOf(**fresh));
  // Removals move records: the plan does not depend on the records' order.
  model::Snapshot shuffled = **fresh;
  std::mt19937 rng(3);
  std::shuffle(shuffled.pending.begin(), shuffled.pending.end(), rng);
  std::shuffle(shuffled.running.begin(), shuffled.running.end(), rng);
  EXPECT_EQ(plan, PlanOf(shuffled));
}

TEST_F(ModelBase, ChangedRecordsAreCheckedAgainstTheRest) {
  // A running job on a node the snapshot does not have.
  v1::ClusterSnapshot changes;
  changes.set_now_unix(base_.snapshot.now_unix());
  v1::RunningJob* job = changes.add_running_jobs();
  job->set_job_id(90001);
  job->add_allocations()->set_node("nowhere");
  ASSERT_TRUE(ApplyDelta(changes, {}, base_).ok());
  absl::Status s = PrepareModel(base_, policy_, nullptr);
  EXPECT_TRUE(absl::IsInvalidArgument(s));
  EXPECT_NE(s.message().find(".allocations[0].node: unknown node \"nowhere\""), std::string::npos)
      << s;
  EXPECT_EQ(base_.model, nullptr);  // dropped: the next cycle starts again from the whole
}

TEST_F(ModelBase, APendingJobMayNotTakeARunningJobsId) {
  ASSERT_GT(base_.snapshot.running_jobs_size(), 0);
  v1::ClusterSnapshot changes;
  changes.set_now_unix(base_.snapshot.now_unix());
  *changes.add_pending_jobs() = base_.snapshot.pending_jobs(0);
  changes.mutable_pending_jobs(0)->set_job_id(base_.snapshot.running_jobs(0).job_id());
  ASSERT_TRUE(ApplyDelta(changes, {}, base_).ok());
  absl::Status s = PrepareModel(base_, policy_, nullptr);
  EXPECT_NE(s.message().find("duplicate job id"), std::string::npos) << s;
}

TEST_F(ModelBase, ANodeThatGoesFailsTheJobsThatNameIt) {
  ASSERT_GT(base_.snapshot.running_jobs_size(), 0);
  const std::string used = base_.snapshot.running_jobs(0).allocations(0).node();
  v1::SnapshotRemovals removed;
  removed.add_nodes(used);
  v1::ClusterSnapshot changes;
  changes.set_now_unix(base_.snapshot.now_unix());
  ASSERT_TRUE(ApplyDelta(changes, removed, base_).ok());
  absl::Status s = PrepareModel(base_, policy_, nullptr);
  EXPECT_NE(s.message().find("unknown node \"" + used + "\""), std::string::npos) << s;
}

TEST_F(ModelBase, AnotherPolicyChecksTheWholeAgain) {
  auto other = policy::BuildPolicy(policy::DefaultPolicy());
  ASSERT_TRUE(other.ok());
  auto reloaded = std::make_shared<const policy::BuiltPolicy>(std::move(*other));
  // A model that no longer matches its snapshot (which cannot happen) shows which
  // path ran: only converting the whole again repairs it.
  base_.model->nodes[0].cpus_total += 1;
  v1::ClusterSnapshot changes;
  changes.set_now_unix(base_.snapshot.now_unix());
  ASSERT_TRUE(ApplyDelta(changes, {}, base_).ok());
  ASSERT_TRUE(PrepareModel(base_, policy_, nullptr).ok());
  EXPECT_NE(Kept(), Fresh());  // same policy: only the (no) changes were checked
  ASSERT_TRUE(ApplyDelta(changes, {}, base_).ok());
  ASSERT_TRUE(PrepareModel(base_, reloaded, nullptr).ok());
  EXPECT_EQ(base_.checked_with, reloaded);
  EXPECT_EQ(Kept(), Fresh());
}

TEST(SnapshotBases, ADeltaLeavesTheModelAReaderHoldsAsItWas) {
  auto built = policy::BuildPolicy(policy::DefaultPolicy());
  ASSERT_TRUE(built.ok());
  auto policy = std::make_shared<const policy::BuiltPolicy>(std::move(*built));
  SnapshotBases bases;
  const v1::ScheduleRequest whole = Whole(7, 1);
  SnapshotBase base;
  base.controller = whole.identity().controller();
  base.epoch = 7;
  base.sequence = 1;
  base.snapshot = whole.snapshot();
  for (v1::PendingJob& job : *base.snapshot.mutable_pending_jobs()) job.set_num_nodes(1);
  base.snapshot.mutable_reservations(0)->set_start_unix(1000);
  base.snapshot.mutable_reservations(0)->set_end_unix(2000);
  ASSERT_TRUE(IndexBase(base).ok());
  absl::Status prepared = PrepareModel(base, policy, nullptr);
  ASSERT_TRUE(prepared.ok()) << prepared;
  std::shared_ptr<const model::Snapshot> reader = base.model;  // e.g. operators' views
  bases.Keep(std::move(base));
  v1::ScheduleRequest delta = Delta(7, 1, 2);
  delta.mutable_removed()->add_pending_jobs(3);
  SnapshotBases::Resolved resolved;
  ASSERT_TRUE(bases.Resolve(delta, resolved).ok());
  ASSERT_EQ(resolved.kind, SnapshotBases::Kind::kDelta);
  ASSERT_TRUE(PrepareModel(resolved.base, policy, nullptr).ok());
  EXPECT_EQ(reader->pending.size(), 3u);
  EXPECT_EQ(reader->now, 100);
  EXPECT_EQ(resolved.base.model->pending.size(), 2u);
  EXPECT_EQ(resolved.base.model->now, 200);
}

}  // namespace
}  // namespace accelpack::service
