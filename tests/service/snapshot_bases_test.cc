// Delta snapshots on the core's side: applying a delta to a base, and when the
// core asks for the whole snapshot instead. SPDX-License-Identifier: GPL-2.0-or-later
#include "service/snapshot_bases.h"

#include <gtest/gtest.h>

#include <string>

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
  ASSERT_EQ(s.pending_jobs_size(), 3);
  EXPECT_EQ(s.pending_jobs(0).job_id(), 2u);  // base order kept, removed one gone
  EXPECT_EQ(s.pending_jobs(0).priority(), 77);
  EXPECT_EQ(s.pending_jobs(1).job_id(), 3u);
  EXPECT_EQ(s.pending_jobs(1).priority(), 30);  // untouched
  EXPECT_EQ(s.pending_jobs(2).job_id(), 4u);    // new ones last
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
  EXPECT_EQ(base.snapshot.pending_jobs(1).job_id(), 4u);
  EXPECT_EQ(base.snapshot.pending_jobs(1).priority(), 5);
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

}  // namespace
}  // namespace accelpack::service
