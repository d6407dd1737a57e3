// A malformed snapshot is refused with a message naming the field.
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <limits>

#include "cluster_builder.h"
#include "common/strings.h"
#include "model/cluster.h"

namespace accelpack::testing {
namespace {

using ::testing::HasSubstr;

model::Snapshot Good() {
  model::Snapshot snapshot;
  snapshot.nodes = {NodeBuilder("a").Hopper(8).Build(), NodeBuilder("b").Ascend910B(8).Build()};
  snapshot.pending = {JobBuilder(1).Gpus(2).Build()};
  snapshot.running = {Running(7, "a", "gpu", "h100", {0}, 0, 3600)};
  return snapshot;
}

std::string ErrorOf(model::Snapshot snapshot) {
  absl::Status status = model::ValidateSnapshot(snapshot, model::Catalog::BuiltIn());
  EXPECT_EQ(status.code(), absl::StatusCode::kInvalidArgument);
  return std::string(MessageOf(status));
}

TEST(Validate, AcceptsAGoodSnapshotAndResolvesKinds) {
  model::Snapshot snapshot = Good();
  ASSERT_TRUE(model::ValidateSnapshot(snapshot, model::Catalog::BuiltIn()).ok());
  EXPECT_EQ(model::Catalog::BuiltIn().kind(snapshot.nodes[1].accelerators[0].kind_index).name,
            "ascend910b");
  EXPECT_EQ(snapshot.nodes[0].accelerators[0].used_milli.size(), 8u);
}

// Features are looked up by halving on every node: validation leaves them in order,
// each once, and the look-up answers as a scan of the list as given would.
TEST(Validate, NodeFeaturesAreKeptInOrderForLookUp) {
  model::Snapshot snapshot = Good();
  snapshot.nodes[0].features = {"zeta", "hopper", "alpha", "hopper", "nvlink"};
  ASSERT_TRUE(model::ValidateSnapshot(snapshot, model::Catalog::BuiltIn()).ok());
  const model::Node& node = snapshot.nodes[0];
  EXPECT_TRUE(node.features_sorted);
  EXPECT_EQ(node.features, (std::vector<std::string>{"alpha", "hopper", "nvlink", "zeta"}));
  EXPECT_TRUE(node.HasFeatures({"zeta", "alpha"}));
  EXPECT_TRUE(node.HasFeatures({}));
  EXPECT_FALSE(node.HasFeatures({"hopper", "beta"}));
}

TEST(Validate, UnknownKind) {
  auto snapshot = Good();
  snapshot.nodes[1].accelerators[0].kind = "tpu-v9";
  EXPECT_EQ(ErrorOf(snapshot), "nodes[1].accelerators[0].kind: unknown kind \"tpu-v9\"");
}

TEST(Validate, UnmappedGres) {
  auto snapshot = Good();
  snapshot.nodes[0].accelerators[0].gres_type = "a100";
  EXPECT_THAT(ErrorOf(snapshot),
              HasSubstr("nodes[0].accelerators[0].kind: no kind is mapped to gres gpu:a100"));
}

TEST(Validate, AllocatedBeyondCount) {
  auto snapshot = Good();
  snapshot.nodes[0].accelerators[0].allocated = 9;
  EXPECT_EQ(ErrorOf(snapshot), "nodes[0].accelerators[0].allocated: 9 exceeds count 8");
}

TEST(Validate, CpusAllocatedBeyondTotal) {
  auto snapshot = Good();
  snapshot.nodes[1].cpus_allocated = 65;
  EXPECT_EQ(ErrorOf(snapshot), "nodes[1].cpus_allocated: 65 outside 0..64");
}

TEST(Validate, PerDeviceUsageOutOfRange) {
  auto snapshot = Good();
  snapshot.nodes[0].accelerators[0].used_milli = {0, 0, 0, 1200, 0, 0, 0, 0};
  EXPECT_EQ(ErrorOf(snapshot),
            "nodes[0].accelerators[0].device_used_milli[3]: 1200 outside 0..1000");
}

TEST(Validate, DuplicateNode) {
  auto snapshot = Good();
  snapshot.nodes[1].name = "a";
  EXPECT_EQ(ErrorOf(snapshot), "nodes[1].name: duplicate node \"a\"");
}

TEST(Validate, DuplicateJobAcrossPendingAndRunning) {
  auto snapshot = Good();
  snapshot.running[0].id = 1;
  EXPECT_EQ(ErrorOf(snapshot), "running_jobs[0].job_id: duplicate job id 1");
}

TEST(Validate, DanglingRequiredNode) {
  auto snapshot = Good();
  snapshot.pending[0].required_nodes = {"zz"};
  EXPECT_EQ(ErrorOf(snapshot), "pending_jobs[0].required_nodes[0]: unknown node \"zz\"");
}

TEST(Validate, DanglingRunningAllocation) {
  auto snapshot = Good();
  snapshot.running[0].allocations[0].node = "gone";
  EXPECT_EQ(ErrorOf(snapshot), "running_jobs[0].allocations[0].node: unknown node \"gone\"");
}

TEST(Validate, ShareOfMoreThanOneDevice) {
  auto snapshot = Good();
  snapshot.pending[0].accelerators.fraction_milli = 500;
  EXPECT_EQ(ErrorOf(snapshot),
            "pending_jobs[0].accelerators.fraction_milli: a device share needs count_per_node = 1");
}

TEST(Validate, DeviceGroupOutOfRange) {
  auto snapshot = Good();
  snapshot.nodes[1].accelerators[0].device_groups = {{0, 1, 2, 3}, {4, 5, 6, 8}};
  EXPECT_EQ(ErrorOf(snapshot), "nodes[1].accelerators[0].device_groups[1]: device 8 outside 0..7");
}

TEST(Validate, DeviceInTwoGroups) {
  auto snapshot = Good();
  snapshot.nodes[1].accelerators[0].device_groups = {{0, 1, 2, 3}, {3, 4, 5, 6}};
  EXPECT_EQ(ErrorOf(snapshot), "nodes[1].accelerators[0].device_groups[1]: device 3 in two groups");
}

TEST(Validate, ZeroNodeJob) {
  auto snapshot = Good();
  snapshot.pending[0].num_nodes = 0;
  EXPECT_EQ(ErrorOf(snapshot), "pending_jobs[0].num_nodes: 0 is not a node count");
}

// Issue 12, finding 3: times near int64's limits used to pass (only negatives were
// refused) and overflowed now + limit, start + limit and now - submit in the engine.
TEST(Validate, TimesBeyondTheBoundAreRefused) {
  constexpr int64_t kHuge = std::numeric_limits<int64_t>::max() - 5;
  auto snapshot = Good();
  snapshot.now = kHuge;
  EXPECT_THAT(ErrorOf(snapshot), HasSubstr("now_unix: 9223372036854775802 outside 0.."));
  snapshot = Good();
  snapshot.pending[0].time_limit_s = kHuge;
  EXPECT_THAT(ErrorOf(snapshot), HasSubstr("pending_jobs[0].time_limit_s: 9223372036854775802"));
  snapshot = Good();
  snapshot.pending[0].submit_time = std::numeric_limits<int64_t>::min();
  EXPECT_THAT(ErrorOf(snapshot),
              HasSubstr("pending_jobs[0].submit_time_unix: -9223372036854775808"));
  snapshot = Good();
  snapshot.running[0].start_time = kHuge;
  EXPECT_THAT(ErrorOf(snapshot), HasSubstr("running_jobs[0].start_time_unix:"));
  snapshot = Good();
  snapshot.running[0].time_limit_s = kHuge;
  EXPECT_THAT(ErrorOf(snapshot), HasSubstr("running_jobs[0].time_limit_s:"));
}

// Issue 12, finding 2: list lengths are bounded, so a request's cost is the cluster's.
TEST(Validate, OverlongListsAreRefused) {
  auto snapshot = Good();
  snapshot.pending[0].partitions.assign(model::kMaxNamesPerList + 1, "p");
  EXPECT_THAT(ErrorOf(snapshot),
              HasSubstr("pending_jobs[0].partitions: 1025 entries, more than 1024"));
  snapshot = Good();
  snapshot.pending[0].features.assign(5000, "f");
  EXPECT_THAT(ErrorOf(snapshot), HasSubstr("pending_jobs[0].features: 5000 entries"));
  snapshot = Good();
  snapshot.pending[0].excluded_nodes = {"a", "b", "a"};
  EXPECT_THAT(ErrorOf(snapshot),
              HasSubstr("pending_jobs[0].excluded_nodes: 3 entries, more than 2"));
  snapshot = Good();
  snapshot.nodes[0].features.assign(2000, "f");
  EXPECT_THAT(ErrorOf(snapshot), HasSubstr("nodes[0].features: 2000 entries"));
  snapshot = Good();
  for (int p = 0; p < 65; ++p) {
    model::AcceleratorPool pool = snapshot.nodes[0].accelerators[0];
    pool.gres_type = Cat("t", p);
    pool.kind = "h100";
    snapshot.nodes[0].accelerators.push_back(pool);
  }
  EXPECT_THAT(ErrorOf(snapshot), HasSubstr("nodes[0].accelerators: 66 entries, more than 64"));
  // Lists every placement filter reads on every node: unbounded, one job's lists made
  // a cycle run for hours.
  snapshot = Good();
  snapshot.pending[0].refused_nodes = {"a", "b", "a"};
  EXPECT_THAT(ErrorOf(snapshot),
              HasSubstr("pending_jobs[0].refused_nodes: 3 entries, more than 2"));
  snapshot = Good();
  snapshot.pending[0].reservations.assign(model::kMaxNamesPerList + 1, "r");
  EXPECT_THAT(ErrorOf(snapshot), HasSubstr("pending_jobs[0].reservations: 1025 entries"));
  snapshot = Good();
  snapshot.pending[0].feature_any.assign(2, std::vector<std::string>(2000, "f"));
  EXPECT_THAT(ErrorOf(snapshot), HasSubstr("pending_jobs[0].feature_any: 4000 names in all"));
  snapshot = Good();
  snapshot.pending[0].feature_any.assign(model::kMaxNamesPerList + 1, {"f"});
  EXPECT_THAT(ErrorOf(snapshot), HasSubstr("pending_jobs[0].feature_any: 1025 entries"));
  snapshot = Good();
  for (size_t r = 0; r <= model::kMaxReservations; ++r) {
    model::AdvancedReservation reservation;
    reservation.name = Cat("r", r);
    reservation.end = 1;
    snapshot.reservations.push_back(reservation);
  }
  EXPECT_THAT(ErrorOf(snapshot), HasSubstr("reservations: 10001 entries, more than 10000"));
}

}  // namespace
}  // namespace accelpack::testing
