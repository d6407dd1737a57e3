// One scheduling cycle at cluster scale: the engine alone, and the same cycle
// through gRPC over a real Unix socket (serialize, send, validate, schedule,
// answer). The ratio of the two is the transport's share of a cycle.
//
//   build/tests/bench/bench_cycle --benchmark_min_time=2
#include <benchmark/benchmark.h>
#include <grpcpp/grpcpp.h>
#include <spdlog/spdlog.h>
#include <unistd.h>

#include <filesystem>

#include "accelpack/v1/placement.grpc.pb.h"
#include "cluster_builder.h"
#include "engine/engine.h"
#include "policy/policy.h"
#include "service/placement_service.h"
#include "service/policy_store.h"
#include "service/proto_convert.h"

namespace accelpack {
namespace {

constexpr double kBusyShare = 0.7;  // a cluster in steady state: most devices taken

void BM_EngineCycle(benchmark::State& state) {
  model::Snapshot snapshot = testing::SyntheticCluster(
      static_cast<int>(state.range(0)), static_cast<int>(state.range(1)), kBusyShare, 42);
  auto built = policy::BuildPolicy(policy::DefaultPolicy());
  if (!model::ValidateSnapshot(snapshot, built->catalog).ok())
    state.SkipWithError("invalid snapshot");
  size_t started = 0;
  for (auto _ : state) {
    engine::Plan plan = engine::Schedule(snapshot, built->catalog, *built->pipeline);
    started = plan.starts.size();
    benchmark::DoNotOptimize(plan);
  }
  state.counters["started"] = static_cast<double>(started);
}

class GrpcFixture {
 public:
  GrpcFixture() : policies_(policy::DefaultPolicy()), service_(&policies_) {
    spdlog::set_level(spdlog::level::warn);  // the per-cycle log line is not what we measure
    socket_ =
        (std::filesystem::temp_directory_path() / ("bench-" + std::to_string(::getpid()) + ".sock"))
            .string();
    grpc::ServerBuilder builder;
    builder.AddListeningPort("unix:" + socket_, grpc::InsecureServerCredentials());
    builder.SetMaxReceiveMessageSize(256 * 1024 * 1024);
    builder.RegisterService(&service_);
    server_ = builder.BuildAndStart();
    grpc::ChannelArguments args;
    args.SetMaxReceiveMessageSize(256 * 1024 * 1024);
    stub_ = v1::Placement::NewStub(
        grpc::CreateCustomChannel("unix:" + socket_, grpc::InsecureChannelCredentials(), args));
  }
  ~GrpcFixture() {
    server_->Shutdown();
    std::filesystem::remove(socket_);
  }
  v1::Placement::Stub& stub() { return *stub_; }

 private:
  service::PolicyStore policies_;
  service::PlacementService service_;
  std::string socket_;
  std::unique_ptr<grpc::Server> server_;
  std::unique_ptr<v1::Placement::Stub> stub_;
};

void BM_GrpcCycle(benchmark::State& state) {
  static GrpcFixture* fixture = new GrpcFixture();
  const model::Snapshot snapshot = testing::SyntheticCluster(
      static_cast<int>(state.range(0)), static_cast<int>(state.range(1)), kBusyShare, 42);
  v1::ScheduleRequest request;
  *request.mutable_snapshot() = service::SnapshotToProto(snapshot);
  double engine_us = 0;
  for (auto _ : state) {
    grpc::ClientContext context;
    v1::ScheduleResponse response;
    grpc::Status status = fixture->stub().Schedule(&context, request, &response);
    if (!status.ok()) state.SkipWithError(status.error_message().c_str());
    engine_us = static_cast<double>(response.engine_latency_us());
  }
  state.counters["server_us"] = engine_us;
  state.counters["request_MiB"] = static_cast<double>(request.ByteSizeLong()) / (1024.0 * 1024.0);
}

void Sizes(benchmark::internal::Benchmark* bench) {
  for (int nodes : {512, 4096}) {
    for (int pending : {1000, 10000}) bench->Args({nodes, pending});
  }
  bench->ArgNames({"nodes", "pending"})->Unit(benchmark::kMillisecond)->UseRealTime();
}

BENCHMARK(BM_EngineCycle)->Apply(Sizes);
BENCHMARK(BM_GrpcCycle)->Apply(Sizes);

}  // namespace
}  // namespace accelpack

BENCHMARK_MAIN();
