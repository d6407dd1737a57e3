// accelpackd as a real process on a temporary Unix socket, called through the
// generated gRPC client: Schedule, GetStatus, health, malformed snapshots,
// policy reload on SIGHUP, clean stop on SIGTERM.
#include <gmock/gmock.h>
#include <grpcpp/grpcpp.h>
#include <gtest/gtest.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <string>
#include <thread>
#include <vector>

#include "accelpack/v1/placement.grpc.pb.h"
#include "cluster_builder.h"
#include "raw_call.h"
#include "service/proto_convert.h"

namespace accelpack::testing {
namespace {

namespace v1 = ::accelpack::v1;
using ::testing::HasSubstr;
using ::testing::Not;

class Daemon : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = std::filesystem::temp_directory_path() /
           ("accelpackd-test-" + std::to_string(::getpid()) + "-" +
            ::testing::UnitTest::GetInstance()->current_test_info()->name());
    std::filesystem::create_directories(dir_);
    socket_ = (dir_ / "core.sock").string();
    policy_ = (dir_ / "policy.yaml").string();
    std::ofstream(policy_) << "name: first\n";
    pid_ = ::fork();
    ASSERT_GE(pid_, 0);
    if (pid_ == 0) {
      const std::string log = (dir_ / "daemon.log").string();
      FILE* out = std::freopen(log.c_str(), "w", stderr);
      (void)out;
      // ACCELPACKD_UNDER_TEST: run against another build (e.g. an older daemon).
      const char* under_test = std::getenv("ACCELPACKD_UNDER_TEST");
      std::vector<std::string> args = {"accelpackd", "--socket",    socket_, "--policy",
                                       policy_,      "--log-level", "debug"};
      args.insert(args.end(), extra_args_.begin(), extra_args_.end());
      std::vector<char*> argv;
      for (std::string& arg : args) argv.push_back(arg.data());
      argv.push_back(nullptr);
      ::execv(under_test != nullptr ? under_test : ACCELPACKD_PATH, argv.data());
      ::_exit(127);
    }
    channel_ = grpc::CreateChannel("unix:" + socket_, grpc::InsecureChannelCredentials());
    stub_ = v1::Placement::NewStub(channel_);
    ASSERT_TRUE(
        channel_->WaitForConnected(std::chrono::system_clock::now() + std::chrono::seconds(20)))
        << "accelpackd did not come up on " << socket_;
  }

  void TearDown() override {
    if (pid_ > 0) {
      ::kill(pid_, SIGKILL);
      ::waitpid(pid_, nullptr, 0);
    }
    std::error_code ignored;
    std::filesystem::remove_all(dir_, ignored);
  }

  grpc::Status Schedule(const model::Snapshot& snapshot, v1::ScheduleResponse* response) {
    grpc::ClientContext context;
    context.set_deadline(std::chrono::system_clock::now() + std::chrono::seconds(10));
    v1::ScheduleRequest request;
    *request.mutable_snapshot() = service::SnapshotToProto(snapshot);
    request.set_caller("daemon_test");
    return stub_->Schedule(&context, request, response);
  }

  // A unary call with raw request bytes: what another client, or garbage, would send.
  grpc::Status RawCall(const std::string& method, const std::string& bytes) {
    return RawUnaryCall(channel_, method, bytes);
  }

  v1::GetStatusResponse Status() {
    grpc::ClientContext context;
    context.set_deadline(std::chrono::system_clock::now() + std::chrono::seconds(10));
    v1::GetStatusResponse response;
    EXPECT_TRUE(stub_->GetStatus(&context, v1::GetStatusRequest{}, &response).ok());
    return response;
  }

  static model::Snapshot Sample() {
    model::Snapshot snapshot;
    snapshot.now = 1000;
    snapshot.nodes = {NodeBuilder("h100-0").Hopper(8).Build(),
                      NodeBuilder("910b-0").Ascend910B(8).Busy({0, 1}).Build()};
    snapshot.pending = {JobBuilder(1).Gpus(2).Build(), JobBuilder(2).Npus(8).Build()};
    return snapshot;
  }

  std::filesystem::path dir_;
  std::string socket_;
  std::string policy_;
  std::vector<std::string> extra_args_;  // more accelpackd options, set by a fixture
  pid_t pid_ = -1;
  std::shared_ptr<grpc::Channel> channel_;
  std::unique_ptr<v1::Placement::Stub> stub_;
};

TEST_F(Daemon, SchedulesAndReportsStatus) {
  v1::ScheduleResponse response;
  ASSERT_TRUE(Schedule(Sample(), &response).ok());
  ASSERT_EQ(response.plan().starts_size(), 1);
  EXPECT_EQ(response.plan().starts(0).job_id(), 1u);
  EXPECT_EQ(response.plan().starts(0).placements(0).node(), "h100-0");
  EXPECT_EQ(response.plan().starts(0).placements(0).device_count(), 2u);
  EXPECT_EQ(response.plan().starts(0).kind(), "h100");
  ASSERT_EQ(response.plan().pending_size(), 1);
  EXPECT_EQ(response.plan().pending(0).job_id(), 2u);
  EXPECT_EQ(response.plan().pending(0).code(), v1::PENDING_REASON_RESOURCES);
  EXPECT_THAT(response.plan().pending(0).message(), HasSubstr("too few free devices"));
  EXPECT_EQ(response.policy_name(), "first");

  const v1::GetStatusResponse status = Status();
  EXPECT_TRUE(status.has_cycle());
  EXPECT_EQ(status.cycles_total(), 1u);
  EXPECT_EQ(status.pending_jobs(), 1u);
  EXPECT_EQ(status.started_last_cycle(), 1u);
  ASSERT_EQ(status.kinds_size(), 2);
  EXPECT_EQ(status.kinds(0).kind(), "h100");
  EXPECT_EQ(status.kinds(0).devices_allocated(), 2u);
  EXPECT_EQ(status.kinds(1).kind(), "ascend910b");
  EXPECT_EQ(status.kinds(1).devices_idle_while_demanded(), 6u);
}

TEST_F(Daemon, AnswersTheStandardHealthCheck) {
  // grpc.health.v1.Health/Check with an empty request: a serialized empty message.
  const grpc::Status result = RawCall("/grpc.health.v1.Health/Check", "");
  EXPECT_TRUE(result.ok()) << result.error_message();
}

struct Malformed {
  const char* name;
  void (*mutate)(model::Snapshot&);
  const char* field;
};

class MalformedSnapshot : public Daemon, public ::testing::WithParamInterface<Malformed> {};

TEST_P(MalformedSnapshot, IsRefusedNamingTheFieldAndTheDaemonKeepsServing) {
  model::Snapshot bad = Sample();
  GetParam().mutate(bad);
  v1::ScheduleResponse response;
  const grpc::Status status = Schedule(bad, &response);
  EXPECT_EQ(status.error_code(), grpc::StatusCode::INVALID_ARGUMENT);
  EXPECT_THAT(status.error_message(), HasSubstr(GetParam().field));
  // Still answering, and a good snapshot still schedules.
  ASSERT_TRUE(Schedule(Sample(), &response).ok());
  EXPECT_EQ(response.plan().starts_size(), 1);
  EXPECT_EQ(Status().rejected_snapshots_total(), 1u);
}

INSTANTIATE_TEST_SUITE_P(
    Fields, MalformedSnapshot,
    ::testing::Values(
        Malformed{"unknown_kind",
                  [](model::Snapshot& s) { s.nodes[0].accelerators[0].kind = "x1"; },
                  "nodes[0].accelerators[0].kind"},
        Malformed{"impossible_count",
                  [](model::Snapshot& s) { s.nodes[1].accelerators[0].allocated = 12; },
                  "nodes[1].accelerators[0].allocated"},
        Malformed{"huge_count",
                  [](model::Snapshot& s) { s.pending[0].accelerators.count_per_node = 1 << 30; },
                  "pending_jobs[0].accelerators.count_per_node"},
        Malformed{"duplicate_node", [](model::Snapshot& s) { s.nodes[1].name = "h100-0"; },
                  "nodes[1].name"},
        Malformed{"duplicate_job", [](model::Snapshot& s) { s.pending[1].id = 1; },
                  "pending_jobs[1].job_id"},
        Malformed{"overlong_name",
                  [](model::Snapshot& s) { s.nodes[0].name = std::string(5000, 'n'); },
                  "nodes[0].name: 5000 bytes, longer than the 1024 allowed"},
        Malformed{"dangling_node",
                  [](model::Snapshot& s) { s.pending[0].required_nodes = {"ghost"}; },
                  "pending_jobs[0].required_nodes[0]"}),
    [](const auto& param_info) { return std::string(param_info.param.name); });

std::string ReadAll(const std::filesystem::path& path) {
  std::ifstream in(path, std::ios::binary);
  return {std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>()};
}

// Slurm's names are bytes in no declared encoding. A Latin-1 user name made the
// request unparsable (proto3 `string`): INTERNAL, no message, not counted, and
// every cycle fell back while that job waited.
TEST_F(Daemon, Latin1NamesAreScheduledAndNodeNamesEchoedExactly) {
  model::Snapshot snapshot = Sample();
  snapshot.nodes[0].name = "h100-\xe9";  // Latin-1
  snapshot.pending[0].user = "j\xf6rg";
  snapshot.pending[0].account = "f\xfcr";
  snapshot.pending[0].required_nodes = {"h100-\xe9"};
  v1::ScheduleResponse response;
  const grpc::Status status = Schedule(snapshot, &response);
  ASSERT_TRUE(status.ok()) << status.error_code() << ": " << status.error_message();
  ASSERT_EQ(response.plan().starts_size(), 1);
  EXPECT_EQ(response.plan().starts(0).placements(0).node(), "h100-\xe9");
  EXPECT_EQ(Status().rejected_snapshots_total(), 0u);
}

// A node name with a newline forged a daemon log line; a 20 MB name made a 20 MB one.
TEST_F(Daemon, NamesInLogsAreEscapedAndBounded) {
  const std::string forged = "\n2026-01-01T00:00:00.000 accelpackd[1] error: FORGED";
  model::Snapshot bad = Sample();
  bad.nodes[1].name = "h100-0";
  bad.nodes[0].name = bad.nodes[1].name = "dup" + forged;  // refused: duplicate, quoted
  v1::ScheduleResponse response;
  grpc::Status status = Schedule(bad, &response);
  EXPECT_EQ(status.error_code(), grpc::StatusCode::INVALID_ARGUMENT);
  EXPECT_THAT(status.error_message(), HasSubstr("nodes[1].name"));
  EXPECT_THAT(status.error_message(), HasSubstr("dup\\x0a2026"));

  bad = Sample();
  bad.nodes[0].name = std::string(20 << 20, 'n');
  status = Schedule(bad, &response);
  EXPECT_EQ(status.error_code(), grpc::StatusCode::INVALID_ARGUMENT);
  EXPECT_LT(status.error_message().size(), 2048u);

  // An accepted cycle logs its caller (debug level in this test).
  grpc::ClientContext context;
  context.set_deadline(std::chrono::system_clock::now() + std::chrono::seconds(10));
  v1::ScheduleRequest request;
  *request.mutable_snapshot() = service::SnapshotToProto(Sample());
  request.set_caller("slurmctld" + forged);
  ASSERT_TRUE(stub_->Schedule(&context, request, &response).ok());
  EXPECT_EQ(Status().rejected_snapshots_total(), 2u);

  const std::string log = ReadAll(dir_ / "daemon.log");
  EXPECT_THAT(log, Not(HasSubstr("\n2026-01-01T00:00:00.000 accelpackd[1] error: FORGED")));
  EXPECT_THAT(log, HasSubstr("\\x0a2026-01-01T00:00:00.000 accelpackd[1] error: FORGED"));
  EXPECT_LT(log.size(), 64u << 10) << "a 20 MB name must not make a 20 MB log";
}

// Bytes that are no ScheduleRequest fail inside gRPC before Schedule runs: that was
// INTERNAL with an empty message, and not counted.
TEST_F(Daemon, UnparsableRequestIsRefusedWithAMessageAndCounted) {
  const grpc::Status result = RawCall("/accelpack.v1.Placement/Schedule", "\xff\xff\xff\xff");
  EXPECT_EQ(result.error_code(), grpc::StatusCode::INVALID_ARGUMENT);
  EXPECT_THAT(result.error_message(), HasSubstr("not a valid accelpack.v1.ScheduleRequest"));
  EXPECT_EQ(Status().rejected_snapshots_total(), 1u);
  v1::ScheduleResponse response;
  EXPECT_TRUE(Schedule(Sample(), &response).ok());
}

TEST_F(Daemon, BadPolicyReloadKeepsTheGoodPolicy) {
  std::ofstream(policy_) << "name: second\n";
  ::kill(pid_, SIGHUP);
  v1::ScheduleResponse response;
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(10);
  while (Status().policy_name() != "second" && std::chrono::steady_clock::now() < deadline) {
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
  }
  EXPECT_EQ(Status().policy_name(), "second");
  std::ofstream(policy_) << "name: third\nscorers: [{name: nonsense}]\n";
  ::kill(pid_, SIGHUP);
  std::this_thread::sleep_for(std::chrono::milliseconds(300));
  EXPECT_EQ(Status().policy_name(), "second");
  ASSERT_TRUE(Schedule(Sample(), &response).ok());
}

// The running job's preemption fields cross the wire, and the plan's victims come back.
TEST_F(Daemon, PlansPreemptionsThroughTheWire) {
  std::ofstream(policy_) << "name: preempting\npreemption: {partitions: [scavenger]}\n";
  ::kill(pid_, SIGHUP);
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(10);
  while (Status().policy_name() != "preempting" && std::chrono::steady_clock::now() < deadline) {
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
  }
  ASSERT_EQ(Status().policy_name(), "preempting");
  model::Snapshot snapshot;
  snapshot.now = 10000;
  snapshot.nodes = {NodeBuilder("a").Hopper(8).Busy({0, 1, 2, 3, 4, 5, 6, 7}).Build()};
  model::RunningJob victim = Running(50, "a", "gpu", "h100", {0, 1, 2, 3, 4, 5, 6, 7}, 9000, 0);
  victim.partition = "scavenger";
  victim.requeueable = true;
  snapshot.running = {victim};
  snapshot.pending = {JobBuilder(1).Gpus(8).Class(model::JobClass::kInference).Build()};
  v1::ScheduleResponse response;
  ASSERT_TRUE(Schedule(snapshot, &response).ok());
  ASSERT_EQ(response.plan().preemptions_size(), 1);
  const v1::Preemption& preemption = response.plan().preemptions(0);
  EXPECT_EQ(preemption.job_id(), 1u);
  ASSERT_EQ(preemption.victims_size(), 1);
  EXPECT_EQ(preemption.victims(0), 50u);
  ASSERT_EQ(preemption.nodes_size(), 1);
  EXPECT_EQ(preemption.nodes(0), "a");
  EXPECT_EQ(preemption.lost_device_s(), 1000 * 8);

  // Not requeueable (an srun job): never a victim.
  snapshot.running[0].requeueable = false;
  ASSERT_TRUE(Schedule(snapshot, &response).ok());
  EXPECT_EQ(response.plan().preemptions_size(), 0);
}

// accelpackd --max-node-evaluations: the service passes the budget to the engine.
class BudgetedDaemon : public Daemon {
 protected:
  BudgetedDaemon() { extra_args_ = {"--max-node-evaluations", "600"}; }
};

// Issue 12, finding 2: a cycle over the configured work stops, says so for every
// job it did not reach, and plans the same for the same snapshot and budget.
TEST_F(BudgetedDaemon, ACycleOverBudgetStopsWithReasonsTheSameWayEveryTime) {
  const model::Snapshot snapshot = SyntheticCluster(64, 300, 0.5, 3);
  v1::ScheduleResponse first;
  v1::ScheduleResponse second;
  ASSERT_TRUE(Schedule(snapshot, &first).ok());
  ASSERT_TRUE(Schedule(snapshot, &second).ok());
  int not_evaluated = 0;
  for (const auto& reason : first.plan().pending()) {
    if (reason.message() == "not evaluated: the cycle's work budget ran out") {
      EXPECT_EQ(reason.code(), v1::PENDING_REASON_CYCLE_LIMIT);
      ++not_evaluated;
    }
  }
  EXPECT_GT(not_evaluated, 0);
  EXPECT_GT(first.plan().starts_size(), 0) << "the budget let the first jobs through";
  // Every job has an answer: a start or a reason (the plugin's health rule).
  EXPECT_EQ(first.plan().starts_size() + first.plan().pending_size(),
            static_cast<int>(snapshot.pending.size()));
  ASSERT_EQ(first.plan().starts_size(), second.plan().starts_size());
  for (int i = 0; i < first.plan().starts_size(); ++i) {
    EXPECT_EQ(first.plan().starts(i).job_id(), second.plan().starts(i).job_id());
    EXPECT_EQ(first.plan().starts(i).placements(0).node(),
              second.plan().starts(i).placements(0).node());
  }
  ASSERT_EQ(first.plan().pending_size(), second.plan().pending_size());
  for (int i = 0; i < first.plan().pending_size(); ++i) {
    EXPECT_EQ(first.plan().pending(i).message(), second.plan().pending(i).message());
  }
  std::ifstream log(dir_ / "daemon.log");
  const std::string text((std::istreambuf_iterator<char>(log)), std::istreambuf_iterator<char>());
  EXPECT_THAT(text, HasSubstr("cycle stopped by --max-node-evaluations 600"));
}

// Without the option every job is evaluated (the same snapshot as above).
TEST_F(Daemon, WithoutABudgetEveryJobIsEvaluated) {
  v1::ScheduleResponse response;
  ASSERT_TRUE(Schedule(SyntheticCluster(64, 300, 0.5, 3), &response).ok());
  for (const auto& reason : response.plan().pending()) {
    EXPECT_THAT(reason.message(), Not(HasSubstr("not evaluated")));
  }
}

TEST_F(Daemon, StopsCleanlyOnSigterm) {
  ::kill(pid_, SIGTERM);
  int status = 0;
  ASSERT_EQ(::waitpid(pid_, &status, 0), pid_);
  pid_ = -1;
  EXPECT_TRUE(WIFEXITED(status));
  EXPECT_EQ(WEXITSTATUS(status), 0);
  EXPECT_FALSE(std::filesystem::exists(socket_)) << "socket left behind";
}

TEST_F(Daemon, RefusesASecondDaemonOnTheSameSocket) {
  const std::string command = std::string(ACCELPACKD_PATH) + " --socket " + socket_ + " 2>&1";
  FILE* pipe = ::popen(command.c_str(), "r");
  ASSERT_NE(pipe, nullptr);
  char buffer[512] = {};
  const size_t read = std::fread(buffer, 1, sizeof(buffer) - 1, pipe);
  const int status = ::pclose(pipe);
  EXPECT_NE(WEXITSTATUS(status), 0);
  EXPECT_THAT(std::string(buffer, read), HasSubstr("another accelpackd is serving this socket"));
  v1::ScheduleResponse response;
  EXPECT_TRUE(Schedule(Sample(), &response).ok());
}

}  // namespace
}  // namespace accelpack::testing
