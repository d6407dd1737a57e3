// Conversion between the C snapshot/plan and accelpack.v1, and the plan checks that
// turn a garbage answer into an error. SPDX-License-Identifier: GPL-2.0-or-later
#include "convert.h"

#include <google/protobuf/util/message_differencer.h>
#include <gtest/gtest.h>

#include "accelpack/v1/wire_text.h"
#include "c_snapshot.h"
#include "snapshot_builder.h"

namespace accelpack::bridge {
namespace {

using test::SnapshotBuilder;
namespace pb = accelpack::v1;

TEST(SnapshotToProto, CopiesNodesAndJobs) {
  SnapshotBuilder b;
  b.Node({.name = "h100-1",
          .state = AP_NODE_MIXED,
          .features = {"cuda"},
          .cpus_alloc = 8,
          .mem_alloc = 1024,
          .devices_alloc = 3});
  b.Job({.id = 42,
         .priority = 7,
         .nodes = 2,
         .types = {"h100", "h200"},
         .per_node = 4,
         .cpus = 16,
         .mem = 2048,
         .features = {"cuda"},
         .required = {"h100-1"},
         .excluded = {"h200-9"}});
  pb::ClusterSnapshot out = SnapshotToProto(b.Get());

  EXPECT_EQ(out.now_unix(), 5000);
  ASSERT_EQ(out.nodes_size(), 1);
  const pb::Node& n = out.nodes(0);
  EXPECT_EQ(n.name(), "h100-1");
  EXPECT_EQ(n.state(), pb::NODE_STATE_MIXED);
  EXPECT_EQ(n.partitions(0), "batch");
  EXPECT_EQ(n.features(0), "cuda");
  EXPECT_EQ(n.cpus_total(), 64u);
  EXPECT_EQ(n.cpus_allocated(), 8u);
  EXPECT_EQ(n.memory_allocated_mib(), 1024u);
  ASSERT_EQ(n.accelerators_size(), 1);
  EXPECT_EQ(n.accelerators(0).gres_name(), "gpu");
  EXPECT_EQ(n.accelerators(0).gres_type(), "h100");
  EXPECT_EQ(n.accelerators(0).count(), 8u);
  EXPECT_EQ(n.accelerators(0).allocated(), 3u);
  // A count-only GRES: Slurm picks no devices, the core's choice stands.
  EXPECT_FALSE(n.accelerators(0).slurm_picks_devices());

  ASSERT_EQ(out.pending_jobs_size(), 1);
  const pb::PendingJob& j = out.pending_jobs(0);
  EXPECT_EQ(j.job_id(), 42u);
  EXPECT_EQ(j.user(), "alice");
  EXPECT_EQ(j.priority(), 7);
  EXPECT_EQ(j.num_nodes(), 2u);
  EXPECT_EQ(j.time_limit_s(), 3600);
  EXPECT_EQ(j.accelerators().gres_name(), "gpu");
  EXPECT_EQ(j.accelerators().count_per_node(), 4u);
  ASSERT_EQ(j.accelerators().allowed_types_size(), 2);
  EXPECT_EQ(j.accelerators().allowed_types(1), "h200");
  EXPECT_EQ(j.cpus_per_node(), 16u);
  EXPECT_EQ(j.memory_per_node_mib(), 2048u);
  EXPECT_EQ(j.required_nodes(0), "h100-1");
  EXPECT_EQ(j.excluded_nodes(0), "h200-9");
}

// Every field the C records carry reaches the wire: a snapshot with each of them
// set, copied into C records as the plugin fills them and converted back, is the
// snapshot it was.
TEST(SnapshotToProto, EveryFieldOfEveryRecordKindComesThrough) {
  const pb::ClusterSnapshot rich = test::RichSnapshot();
  const test::CSnapshot c(rich);
  std::string diff;
  google::protobuf::util::MessageDifferencer differ;
  differ.ReportDifferencesToString(&diff);
  EXPECT_TRUE(differ.Compare(rich, SnapshotToProto(c.get()))) << diff;
}

TEST(SnapshotToProto, CarriesTopologyLabelsWhereSlurmHasThem) {
  SnapshotBuilder b;
  b.Node({.name = "a910c-1", .network_switch = "leaf3", .superpod = "pod-a"});
  b.Node({.name = "h100-1"});
  pb::ClusterSnapshot out = SnapshotToProto(b.Get());
  ASSERT_EQ(out.nodes_size(), 2);
  EXPECT_EQ(out.nodes(0).topology().network_switch(), "leaf3");
  EXPECT_EQ(out.nodes(0).topology().superpod(), "pod-a");
  EXPECT_FALSE(out.nodes(1).has_topology());
}

TEST(SnapshotToProto, JobWithoutAcceleratorsHasNoRequest) {
  SnapshotBuilder b;
  b.Job({.id = 1, .gres_name = "", .per_node = 0});
  pb::ClusterSnapshot out = SnapshotToProto(b.Get());
  EXPECT_FALSE(out.pending_jobs(0).has_accelerators());
}

TEST(SnapshotToProto, PerDeviceUseAndRunningJobs) {
  const uint32_t used[] = {1000, 0, 1000};
  ap_pool_t pool{"gpu", "h100", 3, 2, used, 3, nullptr, nullptr, 0, false, true, false};
  ap_node_t node{};
  node.name = "n1";
  node.state = AP_NODE_MIXED;
  node.pools = &pool;
  node.pool_cnt = 1;
  const uint32_t idx[] = {0, 2};
  ap_alloc_t alloc{"n1", "gpu", "h100", 2, idx, 2, 4, 100, nullptr};
  ap_running_job_t run{7,    &alloc, 1,    1234, 600,  "scavenger", "spot",
                       true, true,   1294, 1001, true, "debug"};
  // A partial reservation: per node what it holds; without counts, nothing per node.
  const char* const resv_nodes[] = {"n1", "n2"};
  const uint32_t resv_cpus[] = {8, 4};
  const uint32_t resv_devices[] = {2, 0};
  const ap_adv_resv_t resv[] = {{"debug", 10, 20, resv_nodes, 2, true, resv_cpus, resv_devices},
                                {"maint", 10, 20, resv_nodes, 2, true, nullptr, nullptr}};
  ap_snapshot_t snap{};
  snap.nodes = &node;
  snap.node_cnt = 1;
  snap.running = &run;
  snap.running_cnt = 1;
  snap.adv_resv = resv;
  snap.adv_resv_cnt = 2;
  pb::ClusterSnapshot out = SnapshotToProto(snap);
  ASSERT_EQ(out.reservations_size(), 2);
  ASSERT_EQ(out.reservations(0).reserved_cpus_size(), 2);
  EXPECT_EQ(out.reservations(0).reserved_cpus(1), 4u);
  ASSERT_EQ(out.reservations(0).reserved_devices_size(), 2);
  EXPECT_EQ(out.reservations(0).reserved_devices(0), 2u);
  EXPECT_TRUE(out.reservations(1).partial());
  EXPECT_EQ(out.reservations(1).reserved_cpus_size(), 0);
  EXPECT_EQ(out.nodes(0).accelerators(0).device_used_milli_size(), 3);
  EXPECT_EQ(out.nodes(0).accelerators(0).device_used_milli(2), 1000u);
  // Devices Slurm tracks: cons_tres picks a start's, the core plans with its pick.
  EXPECT_TRUE(out.nodes(0).accelerators(0).slurm_picks_devices());
  // ... unless the plugin can hold the others back for a start (device_pick.h).
  EXPECT_TRUE(out.nodes(0).accelerators(0).holds_planned_devices());
  ASSERT_EQ(out.running_jobs_size(), 1);
  const pb::RunningJob& r = out.running_jobs(0);
  EXPECT_EQ(r.job_id(), 7u);
  EXPECT_EQ(r.start_time_unix(), 1234);
  EXPECT_EQ(r.time_limit_s(), 600);
  EXPECT_EQ(r.allocations(0).device_indices(1), 2u);
  EXPECT_EQ(r.allocations(0).cpus(), 4u);
  EXPECT_EQ(r.allocations(0).memory_mib(), 100u);
  // What the core chooses preemption victims by.
  EXPECT_EQ(r.partition(), "scavenger");
  EXPECT_EQ(r.qos(), "spot");
  EXPECT_TRUE(r.requeueable());
  EXPECT_TRUE(r.draining());
  EXPECT_EQ(r.preempt_exempt_until_unix(), 1294);
  EXPECT_EQ(r.reservation(), "debug");
}

TEST(SnapshotToProto, RunningJobWithoutPreemptionFieldsIsNoVictim) {
  ap_alloc_t alloc{"n1", nullptr, nullptr, 0, nullptr, 0, 1, 0, nullptr};
  ap_running_job_t run{8, &alloc, 1, 10, 0, nullptr, nullptr, false, false, 0, 0, false, nullptr};
  ap_snapshot_t snap{};
  snap.running = &run;
  snap.running_cnt = 1;
  pb::ClusterSnapshot out = SnapshotToProto(snap);
  ASSERT_EQ(out.running_jobs_size(), 1);
  EXPECT_FALSE(out.running_jobs(0).requeueable());
  EXPECT_TRUE(out.running_jobs(0).partition().empty());
  EXPECT_TRUE(out.running_jobs(0).qos().empty());
  EXPECT_EQ(out.running_jobs(0).preempt_exempt_until_unix(), 0);
}

TEST(SnapshotToProto, ShardCountsRequestsAndRules) {
  const uint32_t used[] = {1000, 0};
  const uint32_t shards_total[] = {8, 4};
  const uint32_t shards_used[] = {0, 3};
  ap_pool_t pool{"gpu", "h100", 2, 1, used, 2, shards_total, shards_used, 2, true, false, false};
  ap_node_t node{};
  node.name = "n1";
  node.pools = &pool;
  node.pool_cnt = 1;
  ap_pending_job_t job{};
  job.job_id = 5;
  job.num_nodes = 1;
  job.gres_name = "gpu";
  job.gres_per_node = 1;
  job.shards_per_node = 3;
  const uint32_t idx[] = {1};
  const uint32_t held[] = {3};
  ap_alloc_t alloc{"n1", "gpu", "h100", 1, idx, 1, 1, 100, held};
  ap_running_job_t run{7,     &alloc, 1, 1234, 600,   nullptr, nullptr,
                       false, false,  0, 0,    false, nullptr};
  ap_snapshot_t snap{};
  snap.nodes = &node;
  snap.node_cnt = 1;
  snap.pending = &job;
  snap.pending_cnt = 1;
  snap.running = &run;
  snap.running_cnt = 1;
  snap.shards_unguarded = true;
  pb::ClusterSnapshot out = SnapshotToProto(snap);
  const pb::AcceleratorPool& p = out.nodes(0).accelerators(0);
  ASSERT_EQ(p.device_shards_total_size(), 2);
  EXPECT_EQ(p.device_shards_total(1), 4u);
  EXPECT_EQ(p.device_shards_used(1), 3u);
  EXPECT_TRUE(p.shards_one_sharing());
  EXPECT_EQ(out.pending_jobs(0).accelerators().shards_per_node(), 3u);
  EXPECT_EQ(out.pending_jobs(0).accelerators().count_per_node(), 1u);
  ASSERT_EQ(out.running_jobs(0).allocations(0).device_shards_size(), 1);
  EXPECT_EQ(out.running_jobs(0).allocations(0).device_shards(0), 3u);
  EXPECT_TRUE(out.shard_rules().whole_and_shards_unguarded());
  EXPECT_FALSE(out.shard_rules().least_loaded());
}

// Slurm's names are C strings in no declared encoding. A Latin-1 user name (and
// node name) must reach the core: with proto3 `string` fields the core could not
// even parse the request, and the whole cycle fell back.
TEST(SnapshotToProto, NonUtf8NamesSurviveTheWire) {
  SnapshotBuilder b;
  b.Node({.name = "gpu-\xe9t\xe9"});  // Latin-1 "gpu-ete" with accents
  b.Job({.id = 7, .required = {"gpu-\xe9t\xe9"}, .user = "j\xf6rg"});
  const std::string bytes = SnapshotToProto(b.Get()).SerializeAsString();
  pb::ClusterSnapshot parsed;
  ASSERT_TRUE(parsed.ParseFromString(bytes));
  EXPECT_EQ(parsed.pending_jobs(0).user(), "j\xf6rg");
  EXPECT_EQ(parsed.nodes(0).name(), "gpu-\xe9t\xe9");
  EXPECT_EQ(parsed.pending_jobs(0).required_nodes(0), "gpu-\xe9t\xe9");
}

class PlanFromProtoTest : public ::testing::Test {
 protected:
  void SetUp() override {
    b_.Node({.name = "a"}).Node({.name = "b"});
    b_.Job({.id = 1, .nodes = 2}).Job({.id = 2});
  }
  pb::JobStart* Start(uint32_t job, std::initializer_list<const char*> nodes) {
    pb::JobStart* s = response_.mutable_plan()->add_starts();
    s->set_job_id(job);
    for (const char* n : nodes) {
      pb::NodePlacement* p = s->add_placements();
      p->set_node(n);
      p->set_gres_type("h100");
    }
    return s;
  }
  absl::StatusOr<PlanData> Convert() { return PlanFromProto(response_, b_.Get()); }

  SnapshotBuilder b_;
  pb::ScheduleResponse response_;
};

TEST_F(PlanFromProtoTest, GoodPlan) {
  Start(1, {"a", "b"});
  pb::PendingReason* r = response_.mutable_plan()->add_pending();
  r->set_job_id(2);
  r->set_code(pb::PENDING_REASON_PRIORITY);
  r->set_message("held for job 1\nsecond line");
  response_.mutable_plan()->add_reservations()->set_job_id(2);
  response_.set_policy_name("default");
  response_.set_engine_latency_us(17);
  absl::StatusOr<PlanData> plan = Convert();
  ASSERT_TRUE(plan.ok()) << plan.status();
  EXPECT_EQ(plan->starts.at(0).nodes, (std::vector<std::string>{"a", "b"}));
  EXPECT_EQ(plan->starts.at(0).gres_types.at(1), "h100");
  EXPECT_EQ(plan->reasons.at(0).code, AP_REASON_PRIORITY);
  EXPECT_EQ(plan->reasons.at(0).message, "held for job 1 second line");  // one line
  ASSERT_EQ(plan->reservations.size(), 1u);
  EXPECT_EQ(plan->reservations[0].job_id, 2u);
  EXPECT_EQ(plan->policy_name, "default");
  EXPECT_EQ(plan->engine_latency_us, 17u);
}

// squeue shows the reason as is: never half a character, never a terminal command.
TEST_F(PlanFromProtoTest, ReasonsAreOnePrintableLineCutAtACharacterBoundary) {
  pb::PendingReason* cut = response_.mutable_plan()->add_pending();
  cut->set_job_id(1);
  cut->set_message(std::string(199, 'x') + "\xc3\xa9 and more");  // U+00E9 spans bytes 199-200
  pb::PendingReason* ansi = response_.mutable_plan()->add_pending();
  ansi->set_job_id(2);
  ansi->set_message("\x1b[31mred\x1b[0m \x1b]0;title\x07ok\tnow\xff");
  absl::StatusOr<PlanData> plan = Convert();
  ASSERT_TRUE(plan.ok()) << plan.status();
  EXPECT_EQ(plan->reasons.at(0).message, std::string(199, 'x'));     // not 199 x + half of U+00E9
  EXPECT_EQ(plan->reasons.at(1).message, "red ok now\xEF\xBF\xBD");  // invalid byte: U+FFFD
}

// The plugin logs the policy name each cycle: a 10 MB name is a 10 MB log line.
TEST_F(PlanFromProtoTest, PolicyNameIsBoundedAndPrintable) {
  Start(1, {"a", "b"});
  response_.mutable_plan()->add_pending()->set_job_id(2);
  response_.set_policy_name("evil\n" + std::string(10 << 20, 'p'));
  absl::StatusOr<PlanData> plan = Convert();
  ASSERT_TRUE(plan.ok()) << plan.status();
  EXPECT_LE(plan->policy_name.size(), wire::kMaxLabelBytes);
  EXPECT_EQ(plan->policy_name.substr(0, 6), "evil p");
}

TEST(CopyError, EscapesControlCharactersAndFitsTheBuffer) {
  char err[32];
  CopyError("core said: bad\nforged line \x1b[2J", err, sizeof(err));
  const std::string text = err;
  EXPECT_EQ(text.find('\n'), std::string::npos);
  EXPECT_EQ(text.find('\x1b'), std::string::npos);
  EXPECT_LT(text.size(), sizeof(err));
  EXPECT_EQ(text.substr(0, 16), "core said: bad\\x");
}

TEST_F(PlanFromProtoTest, WholeDevicesAndShardGpusComeThroughOtherSharesDoNot) {
  pb::JobStart* start = Start(1, {"a", "b"});
  start->mutable_placements(0)->add_device_indices(6);
  start->mutable_placements(0)->add_device_indices(7);
  start->mutable_placements(1)->add_device_indices(0);
  start->mutable_placements(1)->set_fraction_milli(500);  // a share: Slurm picks
  response_.mutable_plan()->add_pending()->set_job_id(2);
  absl::StatusOr<PlanData> plan = Convert();
  ASSERT_TRUE(plan.ok()) << plan.status();
  EXPECT_EQ(plan->starts.at(0).devices, (std::vector<std::vector<uint32_t>>{{6, 7}, {}}));

  // Shards: the plugin holds the node's other GPUs, so the planned one must come through.
  start->mutable_placements(1)->add_device_shards(2);
  plan = Convert();
  ASSERT_TRUE(plan.ok()) << plan.status();
  EXPECT_EQ(plan->starts.at(0).devices, (std::vector<std::vector<uint32_t>>{{6, 7}, {0}}));
}

// The plugin holds back every free device but the planned ones: indices it cannot
// map would hold back the wrong ones.
TEST_F(PlanFromProtoTest, DevicesOutsideThePoolOrTwiceOrOfAnotherTypeAreGarbage) {
  struct Case {
    std::vector<uint32_t> devices;
    std::string type;
    std::string says;
  };
  for (const Case& c :
       std::vector<Case>{{{8}, "h100", "device 8 of a pool of 8"},
                         {{1, 1}, "h100", "a device twice"},
                         {{0, 1, 2, 3, 4, 5, 6, 7, 0}, "h100", "9 devices"},
                         {{0}, "910c", "devices of a pool it does not have ('gpu:910c')"}}) {
    response_.Clear();
    pb::JobStart* start = Start(1, {"a", "b"});
    start->mutable_placements(1)->set_gres_type(c.type);
    for (uint32_t d : c.devices) start->mutable_placements(1)->add_device_indices(d);
    response_.mutable_plan()->add_pending()->set_job_id(2);
    absl::StatusOr<PlanData> plan = Convert();
    ASSERT_FALSE(plan.ok()) << c.says;
    EXPECT_NE(plan.status().message().find("node 'b': " + c.says), std::string::npos)
        << plan.status();
  }
}

// A node with typeless gpu and npu pools: the npu start's devices are checked against the
// npu pool, not against the first pool of that (empty) type.
TEST(PlanFromProto, DevicesAreOfThePoolOfTheJobsGres) {
  SnapshotBuilder b;
  b.Node({.name = "a", .gres_name = "gpu", .gres_type = "", .devices = 4});
  b.Job({.id = 1, .gres_name = "npu"});
  ap_snapshot_t snap = b.Get();
  std::vector<ap_node_t> nodes(snap.nodes, snap.nodes + snap.node_cnt);
  ap_pool_t pools[2] = {nodes[0].pools[0], {}};
  pools[1].gres_name = "npu";
  pools[1].gres_type = "";
  pools[1].count = 8;
  nodes[0].pools = pools;
  nodes[0].pool_cnt = 2;
  snap.nodes = nodes.data();
  pb::ScheduleResponse response;
  pb::JobStart* start = response.mutable_plan()->add_starts();
  start->set_job_id(1);
  pb::NodePlacement* p = start->add_placements();
  p->set_node("a");
  p->add_device_indices(6);
  absl::StatusOr<PlanData> plan = PlanFromProto(response, snap);
  ASSERT_TRUE(plan.ok()) << plan.status();
  EXPECT_EQ(plan->starts.at(0).devices.at(0), std::vector<uint32_t>{6});
}

TEST_F(PlanFromProtoTest, UnknownJobIsGarbage) {
  Start(99, {"a"});
  EXPECT_EQ(Convert().status().code(), absl::StatusCode::kInvalidArgument);
}

TEST_F(PlanFromProtoTest, WrongNodeCountIsGarbage) {
  Start(1, {"a"});  // job 1 needs 2
  absl::StatusOr<PlanData> plan = Convert();
  EXPECT_FALSE(plan.ok());
  EXPECT_NE(plan.status().message().find("1 nodes, job needs 2"), std::string::npos);
}

TEST_F(PlanFromProtoTest, UnknownOrRepeatedNodeIsGarbage) {
  Start(1, {"a", "zzz"});
  EXPECT_NE(Convert().status().message().find("unknown node 'zzz'"), std::string::npos);
  response_.Clear();
  Start(1, {"a", "a"});
  EXPECT_NE(Convert().status().message().find("twice"), std::string::npos);
}

TEST_F(PlanFromProtoTest, AJobWithNeitherStartNorReasonIsGarbage) {
  Start(1, {"a", "b"});  // job 2: nothing said
  absl::StatusOr<PlanData> plan = Convert();
  EXPECT_FALSE(plan.ok());
  EXPECT_NE(plan.status().message().find("pending job 2 has neither a start nor a reason"),
            std::string::npos)
      << plan.status();
}

TEST_F(PlanFromProtoTest, AnEmptyPlanThatExplainsEveryJobIsHealthy) {
  for (uint32_t job : {1u, 2u}) {
    pb::PendingReason* r = response_.mutable_plan()->add_pending();
    r->set_job_id(job);
    r->set_code(pb::PENDING_REASON_RESOURCES);
    r->set_message("no room");
  }
  absl::StatusOr<PlanData> plan = Convert();
  ASSERT_TRUE(plan.ok()) << plan.status();
  EXPECT_TRUE(plan->starts.empty());
}

TEST_F(PlanFromProtoTest, AReservationMustBeForAWaitingJobOnKnownNodes) {
  Start(1, {"a", "b"});
  response_.mutable_plan()->add_pending()->set_job_id(2);
  pb::Reservation* reservation = response_.mutable_plan()->add_reservations();
  reservation->set_job_id(2);
  reservation->add_nodes("zzz");
  EXPECT_NE(Convert().status().message().find("unknown node 'zzz'"), std::string::npos);
  reservation->clear_nodes();
  reservation->set_job_id(1);  // starts now: cannot also be reserved
  EXPECT_NE(Convert().status().message().find("not a job left pending"), std::string::npos);
}

// apply shows each planned start under slurmctld's locks: one per job, or a reply
// repeating one job's would hold them for as long as it is long.
TEST_F(PlanFromProtoTest, OneReservationPerJob) {
  Start(1, {"a", "b"});
  response_.mutable_plan()->add_pending()->set_job_id(2);
  response_.mutable_plan()->add_reservations()->set_job_id(2);
  ASSERT_TRUE(Convert().ok());
  response_.mutable_plan()->add_reservations()->set_job_id(2);
  EXPECT_NE(
      Convert().status().message().find("reservations[1] (job 2): not a job left pending, once"),
      std::string::npos)
      << Convert().status();
}

// The bridge keeps the answered reasons to merge the next reason delta onto: a reason
// for a job the snapshot does not hold would stay there, one more with each answer.
TEST_F(PlanFromProtoTest, AReasonForAJobNotPendingIsGarbage) {
  Start(1, {"a", "b"});
  response_.mutable_plan()->add_pending()->set_job_id(2);
  ASSERT_TRUE(Convert().ok());
  response_.mutable_plan()->add_pending()->set_job_id(77);
  EXPECT_NE(Convert().status().message().find("reasons[1]: job 77 is not pending in the snapshot"),
            std::string::npos)
      << Convert().status();
}

TEST_F(PlanFromProtoTest, SameJobTwiceIsGarbage) {
  Start(2, {"a"});
  Start(2, {"b"});
  EXPECT_NE(Convert().status().message().find("started twice"), std::string::npos);
}

// A planned preemption names a job left pending and running victims of the snapshot.
class PreemptionPlanTest : public PlanFromProtoTest {
 protected:
  void SetUp() override {
    PlanFromProtoTest::SetUp();
    for (uint32_t id : {10u, 11u})
      running_.push_back(
          ap_running_job_t{id, nullptr, 0, 1, 0, "s", nullptr, true, false, 0, 0, false, nullptr});
    snap_ = b_.Get();
    snap_.running = running_.data();
    snap_.running_cnt = static_cast<uint32_t>(running_.size());
    for (uint32_t job : {1u, 2u}) {
      pb::PendingReason* r = response_.mutable_plan()->add_pending();
      r->set_job_id(job);
      r->set_code(pb::PENDING_REASON_RESOURCES);
    }
  }
  pb::Preemption* Preempt(uint32_t job, std::initializer_list<uint32_t> victims,
                          std::initializer_list<const char*> nodes) {
    pb::Preemption* p = response_.mutable_plan()->add_preemptions();
    p->set_job_id(job);
    for (uint32_t v : victims) p->add_victims(v);
    for (const char* n : nodes) p->add_nodes(n);
    return p;
  }
  absl::StatusOr<PlanData> Convert() { return PlanFromProto(response_, snap_); }

  std::vector<ap_running_job_t> running_;
  ap_snapshot_t snap_{};
};

TEST_F(PreemptionPlanTest, CarriesVictimsAwaitingAndNodes) {
  Preempt(1, {10}, {"a", "b"})->add_awaiting(11);
  absl::StatusOr<PlanData> plan = Convert();
  ASSERT_TRUE(plan.ok()) << plan.status();
  ASSERT_EQ(plan->preemptions.size(), 1u);
  EXPECT_EQ(plan->preemptions[0].job_id, 1u);
  EXPECT_EQ(plan->preemptions[0].victims, (std::vector<uint32_t>{10}));
  EXPECT_EQ(plan->preemptions[0].awaiting, (std::vector<uint32_t>{11}));
  EXPECT_EQ(plan->preemptions[0].nodes, (std::vector<std::string>{"a", "b"}));
}

TEST_F(PreemptionPlanTest, AVictimThatIsNotRunningIsGarbage) {
  Preempt(1, {12}, {"a"});
  absl::StatusOr<PlanData> plan = Convert();
  ASSERT_FALSE(plan.ok());
  EXPECT_NE(plan.status().message().find("victim 12"), std::string::npos) << plan.status();
}

TEST_F(PreemptionPlanTest, AVictimTwiceIsGarbage) {
  Preempt(1, {10}, {"a"});
  Preempt(2, {10}, {"b"});
  EXPECT_FALSE(Convert().ok());
}

TEST_F(PreemptionPlanTest, PreemptingForAStartedOrUnknownJobOrOnUnknownNodesIsGarbage) {
  Start(2, {"a"});
  response_.mutable_plan()->mutable_pending()->DeleteSubrange(1, 1);
  Preempt(2, {10}, {"a"});
  EXPECT_FALSE(Convert().ok());
  response_.mutable_plan()->clear_preemptions();
  Preempt(9, {10}, {"a"});
  EXPECT_FALSE(Convert().ok());
  response_.mutable_plan()->clear_preemptions();
  Preempt(1, {10}, {"z"});
  EXPECT_FALSE(Convert().ok());
  response_.mutable_plan()->clear_preemptions();
  Preempt(1, {10}, {"a"});
  EXPECT_TRUE(Convert().ok());
}

TEST(ExportPlan, CopiesPreemptionsAndFrees) {
  PlanData data;
  data.preemptions.push_back({5, {10, 11}, {12}, {"x"}});
  data.policy_name = "p";
  ap_plan_t plan{};
  ASSERT_TRUE(ExportPlan(data, &plan).ok());
  ASSERT_EQ(plan.preemption_cnt, 1u);
  EXPECT_EQ(plan.preemptions[0].job_id, 5u);
  ASSERT_EQ(plan.preemptions[0].victim_cnt, 2u);
  EXPECT_EQ(plan.preemptions[0].victims[1], 11u);
  ASSERT_EQ(plan.preemptions[0].awaiting_cnt, 1u);
  EXPECT_EQ(plan.preemptions[0].awaiting[0], 12u);
  ASSERT_EQ(plan.preemptions[0].node_cnt, 1u);
  EXPECT_STREQ(plan.preemptions[0].nodes[0], "x");
  ap_plan_free(&plan);
  EXPECT_EQ(plan.preemptions, nullptr);
  EXPECT_EQ(plan.preemption_cnt, 0u);
}

TEST(ExportPlan, RoundTripsAndFrees) {
  PlanData data;
  data.starts.push_back({3, {"x", "y"}, {"h100", ""}, {{2, 3}, {}}});
  data.reasons.push_back({4, AP_REASON_RESOURCES, "no room"});
  data.reservations.push_back({4, 1700000000, {"x", "y"}});
  data.policy_name = "p";
  ap_plan_t plan{};
  ASSERT_TRUE(ExportPlan(data, &plan).ok());
  ASSERT_EQ(plan.start_cnt, 1u);
  EXPECT_EQ(plan.starts[0].job_id, 3u);
  ASSERT_EQ(plan.starts[0].node_cnt, 2u);
  EXPECT_STREQ(plan.starts[0].nodes[1], "y");
  EXPECT_STREQ(plan.starts[0].gres_types[1], "");
  ASSERT_EQ(plan.starts[0].device_cnt[0], 2u);
  EXPECT_EQ(plan.starts[0].devices[0][1], 3u);
  EXPECT_EQ(plan.starts[0].device_cnt[1], 0u);
  EXPECT_EQ(plan.starts[0].devices[1], nullptr);
  EXPECT_STREQ(plan.reasons[0].message, "no room");
  EXPECT_STREQ(plan.policy_name, "p");
  ASSERT_EQ(plan.reservation_cnt, 1u);
  EXPECT_EQ(plan.reservations[0].start_time, 1700000000);
  EXPECT_STREQ(plan.reservations[0].nodes, "x,y");  // as squeue --start shows them
  ap_plan_free(&plan);
  EXPECT_EQ(plan.starts, nullptr);
  EXPECT_EQ(plan.start_cnt, 0u);
  ap_plan_free(&plan);  // safe twice
}

}  // namespace
}  // namespace accelpack::bridge
