// Delta snapshots on the plugin's side: which records a cycle sends, and the bridge
// against a real core (in-process PlacementService over a Unix socket) through a
// core restart. SPDX-License-Identifier: GPL-2.0-or-later
#include "delta.h"

#include <accelpack/v1/placement.grpc.pb.h>
#include <grpcpp/grpcpp.h>
#include <gtest/gtest.h>
#include <unistd.h>

#include <chrono>
#include <memory>
#include <string>

#include "accelpack_bridge.h"
#include "convert.h"
#include "policy/policy.h"
#include "service/placement_service.h"
#include "service/policy_store.h"
#include "snapshot_builder.h"

namespace accelpack {
namespace {

namespace pb = accelpack::v1;
using bridge::DeltaSender;
using test::SnapshotBuilder;

SnapshotBuilder Cluster() {
  SnapshotBuilder b;
  b.Node({.name = "a"}).Node({.name = "b"});
  b.Job({.id = 1}).Job({.id = 2}).Job({.id = 3});
  return b;
}

TEST(DeltaSender, FirstCycleIsWholeThenOnlyWhatChanged) {
  DeltaSender sender("ctld", 42);
  SnapshotBuilder b = Cluster();
  pb::ClusterSnapshot whole = bridge::SnapshotToProto(b.Get());
  pb::SnapshotIdentity id;
  pb::ScheduleRequest delta;
  DeltaSender::Cycle first = sender.Prepare(whole, &id, &delta);
  EXPECT_FALSE(first.has_delta);  // nothing acknowledged yet
  EXPECT_EQ(id.controller(), "ctld");
  EXPECT_EQ(id.epoch(), 42u);
  EXPECT_EQ(id.sequence(), 1u);
  sender.Acknowledged(first);

  delta.Clear();
  DeltaSender::Cycle same = sender.Prepare(whole, &id, &delta);
  ASSERT_TRUE(same.has_delta);
  EXPECT_EQ(same.changed, 0u);
  EXPECT_EQ(same.removed, 0u);
  EXPECT_EQ(delta.base_sequence(), 1u);
  EXPECT_EQ(delta.identity().sequence(), 2u);
  EXPECT_EQ(delta.snapshot().now_unix(), whole.now_unix());
  sender.Acknowledged(same);

  // A nested field of one node, one job's priority, one job gone, one new.
  pb::ClusterSnapshot next = whole;
  next.mutable_nodes(1)->mutable_accelerators(0)->set_allocated(3);
  next.mutable_pending_jobs(0)->set_priority(999);
  next.mutable_pending_jobs()->DeleteSubrange(2, 1);
  next.add_running_jobs()->set_job_id(3);
  delta.Clear();
  DeltaSender::Cycle moved = sender.Prepare(next, &id, &delta);
  ASSERT_TRUE(moved.has_delta);
  EXPECT_EQ(delta.base_sequence(), 2u);
  ASSERT_EQ(delta.snapshot().nodes_size(), 1);
  EXPECT_EQ(delta.snapshot().nodes(0).name(), "b");
  ASSERT_EQ(delta.snapshot().pending_jobs_size(), 1);
  EXPECT_EQ(delta.snapshot().pending_jobs(0).job_id(), 1u);
  ASSERT_EQ(delta.snapshot().running_jobs_size(), 1);
  ASSERT_EQ(delta.removed().pending_jobs_size(), 1);
  EXPECT_EQ(delta.removed().pending_jobs(0), 3u);
  EXPECT_EQ(moved.changed, 3u);
  EXPECT_EQ(moved.removed, 1u);

  // Not acknowledged (an error): the next cycle is whole again.
  sender.Reset();
  delta.Clear();
  EXPECT_FALSE(sender.Prepare(next, &id, &delta).has_delta);
}

TEST(DeltaSender, KeyTwiceMakesNoDeltaAndNoBase) {
  DeltaSender sender("ctld", 1);
  SnapshotBuilder b = Cluster();
  pb::ClusterSnapshot whole = bridge::SnapshotToProto(b.Get());
  pb::SnapshotIdentity id;
  pb::ScheduleRequest delta;
  sender.Acknowledged(sender.Prepare(whole, &id, &delta));
  *whole.add_pending_jobs() = whole.pending_jobs(0);
  delta.Clear();
  DeltaSender::Cycle cycle = sender.Prepare(whole, &id, &delta);
  EXPECT_FALSE(cycle.has_delta);  // sent whole: the core names the duplicate
  sender.Acknowledged(cycle);
  EXPECT_FALSE(sender.has_base());
}

// The bridge's C API against the real core service.
class DeltaWithCore : public ::testing::Test {
 protected:
  void SetUp() override {
    socket_ = "/tmp/accelpack-delta-test-" + std::to_string(getpid()) + ".sock";
    StartCore();
    char err[256] = "";
    client_ = ap_client_create(("unix:" + socket_).c_str(), "ctld@test", err, sizeof(err));
    ASSERT_NE(client_, nullptr) << err;
  }
  void TearDown() override {
    ap_plan_free(&plan_);
    ap_client_destroy(client_);
    StopCore();
  }
  void StartCore() {
    unlink(socket_.c_str());
    service_ = std::make_unique<service::PlacementService>(&policies_);
    grpc::ServerBuilder builder;
    builder.AddListeningPort("unix:" + socket_, grpc::InsecureServerCredentials());
    builder.RegisterService(service_.get());
    server_ = builder.BuildAndStart();
    ASSERT_NE(server_, nullptr);
  }
  void StopCore() {
    if (server_) server_->Shutdown(std::chrono::system_clock::now());
    server_.reset();
    service_.reset();
    unlink(socket_.c_str());
  }
  uint64_t CoreCycles() {
    auto stub = pb::Placement::NewStub(
        grpc::CreateChannel("unix:" + socket_, grpc::InsecureChannelCredentials()));
    grpc::ClientContext context;
    pb::GetStatusResponse status;
    EXPECT_TRUE(stub->GetStatus(&context, {}, &status).ok());
    return status.cycles_total();
  }
  ap_status_t Call(SnapshotBuilder& b) {
    ap_plan_free(&plan_);
    return ap_client_schedule(client_, &b.Get(), 5000, &plan_, err_, sizeof(err_));
  }

  service::PolicyStore policies_{policy::DefaultPolicy()};
  std::unique_ptr<service::PlacementService> service_;
  std::string socket_;
  std::unique_ptr<grpc::Server> server_;
  ap_client_t* client_ = nullptr;
  ap_plan_t plan_{};
  char err_[512] = "";
};

TEST_F(DeltaWithCore, DeltasPlanLikeWholeSnapshotsAndACoreRestartResyncsInTheSameCall) {
  SnapshotBuilder b;
  b.Node({.name = "a"}).Node({.name = "b"});
  // 16 devices on an 8-device node: never fits, so every plan explains each job.
  for (uint32_t id = 1; id <= 3; ++id) b.Job({.id = id, .per_node = 16});
  ASSERT_EQ(Call(b), AP_OK) << err_;
  EXPECT_TRUE(plan_.sent_whole);
  EXPECT_EQ(plan_.sent_records, 5u);
  EXPECT_EQ(plan_.reason_cnt, 3u);

  b.Job({.id = 4, .per_node = 2});  // fits: the core starts it
  ASSERT_EQ(Call(b), AP_OK) << err_;
  EXPECT_FALSE(plan_.sent_whole);
  EXPECT_EQ(plan_.sent_records, 1u);  // only the new job travelled
  ASSERT_EQ(plan_.start_cnt, 1u);     // planned on the base's nodes
  EXPECT_EQ(plan_.starts[0].job_id, 4u);
  EXPECT_EQ(plan_.reason_cnt, 3u);  // and the base's jobs are still there
  EXPECT_EQ(plan_.resync_reason, nullptr);

  StopCore();  // restarted between two cycles: the plugin saw no error
  StartCore();
  ASSERT_EQ(Call(b), AP_OK) << err_;
  ASSERT_NE(plan_.resync_reason, nullptr);
  EXPECT_NE(std::string(plan_.resync_reason).find("no base"), std::string::npos)
      << plan_.resync_reason;
  EXPECT_TRUE(plan_.sent_whole);
  ASSERT_EQ(plan_.start_cnt, 1u);
  EXPECT_EQ(plan_.reason_cnt, 3u);

  ASSERT_EQ(Call(b), AP_OK) << err_;  // deltas again
  EXPECT_FALSE(plan_.sent_whole);
  EXPECT_EQ(plan_.resync_reason, nullptr);
}

TEST_F(DeltaWithCore, NothingChangedRestsUntilARecordChanges) {
  ap_client_set_idle_replan(client_, 60000);
  SnapshotBuilder b;
  b.Node({.name = "a"});
  b.Job({.id = 1, .per_node = 16});
  ASSERT_EQ(Call(b), AP_OK) << err_;
  ASSERT_EQ(Call(b), AP_OK) << err_;  // acknowledged base, nothing changed: rest
  EXPECT_TRUE(plan_.unchanged);
  EXPECT_EQ(plan_.reason_cnt, 0u);
  EXPECT_EQ(CoreCycles(), 1u);

  b.Job({.id = 2, .per_node = 16});
  ASSERT_EQ(Call(b), AP_OK) << err_;
  EXPECT_FALSE(plan_.unchanged);
  EXPECT_EQ(plan_.reason_cnt, 2u);
  EXPECT_EQ(CoreCycles(), 2u);

  ap_client_resync(client_);  // a reconfigure: whole, and no rest before it
  ASSERT_EQ(Call(b), AP_OK) << err_;
  EXPECT_FALSE(plan_.unchanged);
  EXPECT_TRUE(plan_.sent_whole);
}

TEST_F(DeltaWithCore, WithoutIdleReplanTheCoreIsAskedEveryCycle) {
  SnapshotBuilder b;
  b.Node({.name = "a"});
  b.Job({.id = 1, .per_node = 16});
  ASSERT_EQ(Call(b), AP_OK) << err_;
  ASSERT_EQ(Call(b), AP_OK) << err_;
  EXPECT_FALSE(plan_.unchanged);
  EXPECT_FALSE(plan_.sent_whole);
  EXPECT_EQ(plan_.sent_records, 0u);
  EXPECT_EQ(CoreCycles(), 2u);
}

}  // namespace
}  // namespace accelpack
