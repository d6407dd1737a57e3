// The C API of the bridge against a fake core over a real Unix socket: every way the
// core can fail maps to a status the plugin acts on, and nothing throws.
// SPDX-License-Identifier: GPL-2.0-or-later
#include <accelpack/v1/placement.grpc.pb.h>
#include <gmock/gmock.h>
#include <grpcpp/grpcpp.h>
#include <gtest/gtest.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <memory>
#include <string>
#include <thread>

#include "accelpack_bridge.h"
#include "snapshot_builder.h"

namespace accelpack {
namespace {

namespace pb = accelpack::v1;
using test::SnapshotBuilder;

enum class Mode { kGood, kSlow, kGarbage, kReject };

class FakeCore final : public pb::Placement::Service {
 public:
  std::atomic<Mode> mode{Mode::kGood};
  std::atomic<int> calls{0};
  std::string last_caller;
  pb::ControllerStats last_stats;
  bool had_stats = false;

  grpc::Status Schedule(grpc::ServerContext*, const pb::ScheduleRequest* request,
                        pb::ScheduleResponse* response) override {
    ++calls;
    last_caller = request->caller();
    had_stats = request->has_controller_stats();
    last_stats = request->controller_stats();
    switch (mode.load()) {
      case Mode::kSlow:
        std::this_thread::sleep_for(std::chrono::milliseconds(300));
        break;
      case Mode::kReject:
        return {grpc::StatusCode::INVALID_ARGUMENT, "nodes[0].accelerators[0]: bad"};
      case Mode::kGarbage: {
        pb::JobStart* s = response->mutable_plan()->add_starts();
        s->set_job_id(999);  // not pending
        s->add_placements()->set_node("a");
        return grpc::Status::OK;
      }
      case Mode::kGood:
        break;
    }
    pb::JobStart* s = response->mutable_plan()->add_starts();
    s->set_job_id(request->snapshot().pending_jobs(0).job_id());
    s->add_placements()->set_node(request->snapshot().nodes(0).name());
    response->set_policy_name("fake");
    return grpc::Status::OK;
  }
};

class BridgeApiTest : public ::testing::Test {
 protected:
  void SetUp() override {
    socket_ = "/tmp/accelpack-bridge-test-" + std::to_string(getpid()) + ".sock";
    unlink(socket_.c_str());
    grpc::ServerBuilder builder;
    builder.AddListeningPort("unix:" + socket_, grpc::InsecureServerCredentials());
    builder.RegisterService(&core_);
    server_ = builder.BuildAndStart();
    ASSERT_NE(server_, nullptr);
    char err[256] = "";
    client_ = ap_client_create(("unix:" + socket_).c_str(), "test@here", err, sizeof(err));
    ASSERT_NE(client_, nullptr) << err;
    b_.Node({.name = "a"});
    b_.Job({.id = 7});
  }
  void TearDown() override {
    ap_client_destroy(client_);
    if (server_) server_->Shutdown(std::chrono::system_clock::now());
    unlink(socket_.c_str());
  }
  ap_status_t Call(uint32_t deadline_ms = 1000) {
    ap_plan_free(&plan_);
    return ap_client_schedule(client_, &b_.Get(), deadline_ms, &plan_, err_, sizeof(err_));
  }

  FakeCore core_;
  std::string socket_;
  std::unique_ptr<grpc::Server> server_;
  ap_client_t* client_ = nullptr;
  SnapshotBuilder b_;
  ap_plan_t plan_{};
  char err_[512] = "";

 public:
  ~BridgeApiTest() override { ap_plan_free(&plan_); }
};

TEST_F(BridgeApiTest, GoodAnswerBecomesAPlan) {
  ASSERT_EQ(Call(), AP_OK) << err_;
  ASSERT_EQ(plan_.start_cnt, 1u);
  EXPECT_EQ(plan_.starts[0].job_id, 7u);
  EXPECT_STREQ(plan_.starts[0].nodes[0], "a");
  EXPECT_STREQ(plan_.policy_name, "fake");
  EXPECT_EQ(core_.last_caller, "test@here");
}

// What only the controller knows travels with the snapshot, when the plugin has it.
TEST_F(BridgeApiTest, ControllerFiguresTravelWithTheSnapshot) {
  ASSERT_EQ(Call(), AP_OK) << err_;
  EXPECT_FALSE(core_.had_stats);
  ap_plan_free(&plan_);
  ap_snapshot_t snap = b_.Get();
  snap.has_stats = true;
  snap.lock_hold_us = 2500;
  snap.snapshot_us = 2100;
  snap.fallback_cycles_total = 3;
  snap.dropped_decisions_total = 4;
  ASSERT_EQ(ap_client_schedule(client_, &snap, 1000, &plan_, err_, sizeof(err_)), AP_OK) << err_;
  ASSERT_TRUE(core_.had_stats);
  EXPECT_EQ(core_.last_stats.lock_hold_us(), 2500u);
  EXPECT_EQ(core_.last_stats.snapshot_us(), 2100u);
  EXPECT_EQ(core_.last_stats.fallback_cycles_total(), 3u);
  EXPECT_EQ(core_.last_stats.dropped_decisions_total(), 4u);
}

TEST_F(BridgeApiTest, LateCoreIsDeadline) {
  core_.mode = Mode::kSlow;
  auto t0 = std::chrono::steady_clock::now();
  EXPECT_EQ(Call(50), AP_DEADLINE) << err_;
  EXPECT_LT(std::chrono::steady_clock::now() - t0, std::chrono::milliseconds(250));
  EXPECT_EQ(plan_.start_cnt, 0u);
}

TEST_F(BridgeApiTest, GarbagePlanIsRefused) {
  core_.mode = Mode::kGarbage;
  EXPECT_EQ(Call(), AP_GARBAGE);
  EXPECT_NE(std::string(err_).find("not a pending job"), std::string::npos) << err_;
  EXPECT_EQ(plan_.starts, nullptr);
}

TEST_F(BridgeApiTest, RejectedSnapshotSaysWhy) {
  core_.mode = Mode::kReject;
  EXPECT_EQ(Call(), AP_REJECTED);
  EXPECT_NE(std::string(err_).find("nodes[0]"), std::string::npos) << err_;
}

TEST_F(BridgeApiTest, CoreGoneIsUnavailableThenBack) {
  ASSERT_EQ(Call(), AP_OK) << err_;
  server_->Shutdown(std::chrono::system_clock::now());
  server_.reset();
  EXPECT_EQ(Call(200), AP_UNAVAILABLE) << err_;
  // The core comes back on the same socket: the client reconnects by itself.
  unlink(socket_.c_str());
  grpc::ServerBuilder builder;
  builder.AddListeningPort("unix:" + socket_, grpc::InsecureServerCredentials());
  builder.RegisterService(&core_);
  server_ = builder.BuildAndStart();
  ap_status_t status = AP_UNAVAILABLE;
  for (int i = 0; i < 40 && status != AP_OK; ++i) {
    status = Call(200);
    if (status != AP_OK) std::this_thread::sleep_for(std::chrono::milliseconds(100));
  }
  EXPECT_EQ(status, AP_OK) << err_;
}

TEST(BridgeApi, NoCoreAtAllIsUnavailable) {
  char err[256] = "";
  ap_client_t* client = ap_client_create("unix:/nonexistent/accelpack.sock", "t", err, sizeof(err));
  ASSERT_NE(client, nullptr) << err;
  SnapshotBuilder b;
  b.Node({.name = "a"}).Job({.id = 1});
  ap_plan_t plan{};
  EXPECT_EQ(ap_client_schedule(client, &b.Get(), 200, &plan, err, sizeof(err)), AP_UNAVAILABLE);
  ap_client_destroy(client);
}

TEST(BridgeApi, BadArgumentsAreErrorsNotCrashes) {
  char err[64] = "";
  EXPECT_EQ(ap_client_create("", "t", err, sizeof(err)), nullptr);
  EXPECT_STRNE(err, "");
  ap_plan_t plan{};
  EXPECT_EQ(ap_client_schedule(nullptr, nullptr, 10, &plan, err, sizeof(err)), AP_INTERNAL);
  EXPECT_EQ(ap_fallback_schedule(nullptr, nullptr, &plan, err, sizeof(err)), AP_INTERNAL);
  EXPECT_EQ(ap_fallback_schedule(nullptr, nullptr, nullptr, nullptr, 0), AP_INTERNAL);
  ap_plan_free(nullptr);
  ap_client_destroy(nullptr);
  EXPECT_STREQ(ap_status_str(AP_DEADLINE), "deadline exceeded");
}

TEST(BridgeApi, FallbackThroughTheCApi) {
  SnapshotBuilder b;
  b.Node({.name = "a", .devices_alloc = 6}).Node({.name = "b"});
  b.Job({.id = 1, .per_node = 2}).Job({.id = 2, .per_node = 8}).Job({.id = 3, .per_node = 8});
  ap_plan_t plan{};
  char err[128] = "";
  ASSERT_EQ(ap_fallback_schedule(&b.Get(), nullptr, &plan, err, sizeof(err)), AP_OK) << err;
  ASSERT_EQ(plan.start_cnt, 2u);  // 1 -> a (best fit), 2 -> b; 3 waits
  EXPECT_STREQ(plan.starts[0].nodes[0], "a");
  EXPECT_STREQ(plan.starts[1].nodes[0], "b");
  ASSERT_EQ(plan.reason_cnt, 1u);
  EXPECT_EQ(plan.reasons[0].job_id, 3u);
  ap_plan_free(&plan);
}

// The built-in cycle runs on the thread slurmctld joins when it stops: asked to
// stop, it ends at once with nothing started, every job told why it waits.
TEST(BridgeApi, FallbackStopsWhenAskedWithEveryJobExplained) {
  SnapshotBuilder b;
  b.Node({.name = "a"}).Node({.name = "b"});
  b.Job({.id = 1, .per_node = 2}).Job({.id = 2, .per_node = 8});
  const ap_fallback_bounds_t stop_now = {.max_ms = 0, .stop = [] { return true; }};
  ap_plan_t plan{};
  char err[128] = "";
  ASSERT_EQ(ap_fallback_schedule(&b.Get(), &stop_now, &plan, err, sizeof(err)), AP_OK) << err;
  EXPECT_EQ(plan.start_cnt, 0u);
  ASSERT_EQ(plan.reason_cnt, 2u);
  EXPECT_THAT(std::string(plan.reasons[0].message), ::testing::HasSubstr("not evaluated"));
  ap_plan_free(&plan);
  // Bounds that do not bind leave the plan as without them.
  const ap_fallback_bounds_t loose = {.max_ms = 60000, .stop = [] { return false; }};
  ASSERT_EQ(ap_fallback_schedule(&b.Get(), &loose, &plan, err, sizeof(err)), AP_OK) << err;
  EXPECT_EQ(plan.start_cnt, 2u);
  ap_plan_free(&plan);
}

}  // namespace
}  // namespace accelpack
