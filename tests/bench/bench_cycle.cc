// One scheduling cycle at cluster scale: the engine alone, and the same cycle
// through gRPC over a real Unix socket accepted as accelpackd accepts it
// (peer credentials, fd handed to gRPC; serialize, send, validate, schedule,
// answer). The ratio of the two is the transport's share of a cycle.
//
//   build/tests/bench/bench_cycle --benchmark_min_time=2
#include <benchmark/benchmark.h>
#include <google/protobuf/arena.h>
#include <grpcpp/grpcpp.h>
#include <grpcpp/server_posix.h>
#include <spdlog/spdlog.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <deque>
#include <filesystem>
#include <fstream>
#include <string_view>
#include <unordered_map>

#include "accelpack/v1/placement.grpc.pb.h"
#include "accelpack_bridge.h"
#include "c_snapshot.h"
#include "cluster_builder.h"
#include "common/strings.h"
#include "convert.h"
#include "delta.h"
#include "engine/engine.h"
#include "policy/policy.h"
#include "service/placement_service.h"
#include "service/policy_store.h"
#include "service/proto_convert.h"
#include "service/server.h"
#include "service/unix_listener.h"

namespace accelpack {
namespace {

constexpr double kBusyShare = 0.7;  // a cluster in steady state: most devices taken

// The engine with the default policy on `snapshot`, once per iteration.
void RunEngineCycles(benchmark::State& state, model::Snapshot& snapshot) {
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

void BM_EngineCycle(benchmark::State& state) {
  model::Snapshot snapshot = testing::SyntheticCluster(
      static_cast<int>(state.range(0)), static_cast<int>(state.range(1)), kBusyShare, 42);
  RunEngineCycles(state, snapshot);
}

// The synthetic cycle where every busy device is held by running work in partition
// `spot` (requeueable jobs of 1-2 devices, started up to 10 h ago) and a fifth of the
// queue asks for `spot` too.
model::Snapshot SpotCluster(int nodes, int pending, uint32_t seed) {
  model::Snapshot snapshot = testing::SyntheticCluster(nodes, pending, kBusyShare, seed);
  uint32_t next_id = 1u << 24;
  uint64_t rng = 11;
  auto below = [&rng](uint64_t n) {
    rng = rng * 6364136223846793005ULL + 1442695040888963407ULL;
    return static_cast<int64_t>((rng >> 33) % n);
  };
  for (model::Node& node : snapshot.nodes) {
    node.partitions.push_back("spot");
    for (const model::AcceleratorPool& pool : node.accelerators) {
      std::vector<int> busy;
      for (size_t d = 0; d < pool.used_milli.size(); ++d) {
        if (pool.used_milli[d] > 0) busy.push_back(static_cast<int>(d));
      }
      for (size_t d = 0; d < busy.size();) {
        const size_t take = std::min<size_t>(busy.size() - d, 1 + static_cast<size_t>(below(2)));
        model::RunningJob job;
        job.id = next_id++;
        job.start_time = snapshot.now - 60 - below(36000);
        job.time_limit_s = 86400;
        job.partition = "spot";
        job.requeueable = true;
        model::NodeAllocation alloc;
        alloc.node = node.name;
        alloc.gres_name = pool.gres_name;
        alloc.gres_type = pool.gres_type;
        alloc.device_indices.assign(busy.begin() + static_cast<std::ptrdiff_t>(d),
                                    busy.begin() + static_cast<std::ptrdiff_t>(d + take));
        alloc.device_count = static_cast<int>(take);
        alloc.cpus = 8 * static_cast<int>(take);
        job.allocations.push_back(std::move(alloc));
        snapshot.running.push_back(std::move(job));
        d += take;
      }
    }
  }
  for (size_t j = 0; j < snapshot.pending.size(); j += 5) snapshot.pending[j].partitions = {"spot"};
  return snapshot;
}

policy::PolicyConfig SpotPolicy(bool preemptible) {
  policy::PolicyConfig config = policy::DefaultPolicy();
  if (preemptible) config.preemption.partitions = {"spot"};
  return config;
}

// SpotCluster; with preemption on, `spot` is preemptible: each blocked job may plan
// victims (up to the policy's 16 per cycle), the fifth is harvested last.
void BM_EngineCyclePreemption(benchmark::State& state) {
  model::Snapshot snapshot =
      SpotCluster(static_cast<int>(state.range(0)), static_cast<int>(state.range(1)), 42);
  auto built = policy::BuildPolicy(SpotPolicy(state.range(2) != 0));
  if (!model::ValidateSnapshot(snapshot, built->catalog).ok()) {
    state.SkipWithError("invalid snapshot");
    return;
  }
  engine::Plan plan;
  for (auto _ : state) {
    plan = engine::Schedule(snapshot, built->catalog, *built->pipeline);
    benchmark::DoNotOptimize(plan);
  }
  size_t victims = 0;
  for (const auto& preemption : plan.preemptions) victims += preemption.victims.size();
  state.counters["started"] = static_cast<double>(plan.starts.size());
  state.counters["reclaims"] = static_cast<double>(plan.preemptions.size());
  state.counters["victims"] = static_cast<double>(victims);
}

// Per-job CPUs, memory and time limits drawn from real traces, as a queue of many
// users has them: (CPUs, memory) pairs of the Alibaba openb pod list (103 distinct
// pairs), time limits from Microsoft Philly runtimes x U(1.5, 3) rounded up to
// minutes (thousands of distinct values). Falls back to nothing when the traces
// (../shared/traces, or $ACCELPACK_TRACES) are absent.
struct TraceShapes {
  std::vector<std::pair<int, int64_t>> cpus_memory;
  std::vector<int64_t> runtimes_s;
  bool ok() const { return !cpus_memory.empty() && !runtimes_s.empty(); }
};

const TraceShapes& Shapes() {
  static const TraceShapes* const kShapes = [] {
    auto* shapes = new TraceShapes;
    const char* from_env = std::getenv("ACCELPACK_TRACES");
    const std::filesystem::path traces =
        from_env != nullptr
            ? std::filesystem::path(from_env)
            : std::filesystem::path(ACCELPACK_SOURCE_DIR) / ".." / "shared" / "traces";
    std::ifstream pods(traces / "alibaba-openb" / "openb_pod_list_default.csv");
    std::string line;
    std::getline(pods, line);  // header: name,cpu_milli,memory_mib,...
    while (std::getline(pods, line)) {
      const auto fields = Split(line, ',');
      if (fields.size() < 3) continue;
      const int cpus = std::max(1, (std::stoi(std::string(fields[1])) + 999) / 1000);
      shapes->cpus_memory.emplace_back(std::min(cpus, 64), std::stoll(std::string(fields[2])));
    }
    std::ifstream runtimes(traces / "philly" / "job_runtimes_s.csv");
    std::getline(runtimes, line);
    while (std::getline(runtimes, line)) {
      shapes->runtimes_s.push_back(static_cast<int64_t>(std::stod(line)));
    }
    return shapes;
  }();
  return *kShapes;
}

enum class Diversity { kSame, kTrace, kEveryMemoryDistinct };

// The synthetic cycle with each job's CPUs, memory and time limit varied as `diversity` says.
model::Snapshot DiverseCluster(int nodes, int pending, Diversity diversity, uint32_t seed = 42) {
  model::Snapshot snapshot = testing::SyntheticCluster(nodes, pending, kBusyShare, seed);
  const TraceShapes& shapes = Shapes();
  uint64_t rng = 7;
  auto next = [&rng](uint64_t below) {
    rng = rng * 6364136223846793005ULL + 1442695040888963407ULL;
    return (rng >> 33) % below;
  };
  for (size_t j = 0; j < snapshot.pending.size(); ++j) {
    model::PendingJob& job = snapshot.pending[j];
    if (diversity == Diversity::kTrace) {
      const auto& [cpus, memory] = shapes.cpus_memory[next(shapes.cpus_memory.size())];
      job.cpus_per_node = cpus;
      job.memory_per_node_mib = memory;
      const int64_t runtime = shapes.runtimes_s[next(shapes.runtimes_s.size())];
      const int64_t limit = static_cast<int64_t>(static_cast<double>(runtime) *
                                                 (1.5 + static_cast<double>(next(1000)) / 666.0));
      job.time_limit_s = std::max<int64_t>(600, (limit + 59) / 60 * 60);
    } else if (diversity == Diversity::kEveryMemoryDistinct) {
      job.memory_per_node_mib = 16 * 1024 + static_cast<int64_t>(j);  // the issue's --mem case
    }
  }
  return snapshot;
}

// Same-shape, trace-diverse and all-distinct-memory queues in one benchmark run, so
// their ratio is robust to the shared machine's speed.
void BM_EngineCycleShapes(benchmark::State& state) {
  const auto diversity = static_cast<Diversity>(state.range(2));
  if (diversity == Diversity::kTrace && !Shapes().ok()) {
    state.SkipWithError("../shared/traces not found");
    return;
  }
  model::Snapshot snapshot =
      DiverseCluster(static_cast<int>(state.range(0)), static_cast<int>(state.range(1)), diversity);
  RunEngineCycles(state, snapshot);
}

class GrpcFixture {
 public:
  GrpcFixture()
      : policies_(policy::DefaultPolicy()),
        shared_(&policies_),
        service_(shared_, [](const grpc::ServerContext&) { return service::Role::kScheduler; }) {
    spdlog::set_level(spdlog::level::warn);  // the per-cycle log line is not what we measure
    service::KeepCycleMemoryMapped();        // as accelpackd does
    socket_ =
        (std::filesystem::temp_directory_path() / ("bench-" + std::to_string(::getpid()) + ".sock"))
            .string();
    // accelpackd's own path: it accepts, checks the peer, hands the fd to gRPC, whose
    // Schedule calls pass the unparsable-request interceptor.
    grpc::ServerBuilder builder;
    builder.SetMaxReceiveMessageSize(256 * 1024 * 1024);
    builder.RegisterService(&service_);
    std::vector<std::unique_ptr<grpc::experimental::ServerInterceptorFactoryInterface>> counters;
    counters.push_back(service::PlacementService::CountUnparsableRequests(&service_));
    builder.experimental().SetInterceptorCreators(std::move(counters));
    server_ = builder.BuildAndStart();
    listener_ = std::move(
        service::UnixListener::Open({.path = socket_, .mode = 0600, .group = ""}).value());
    listener_->Start([this](int fd, const service::PeerIdentity&) {
      grpc::AddInsecureChannelFromFd(server_.get(), fd);
    });
    grpc::ChannelArguments args;
    args.SetMaxReceiveMessageSize(256 * 1024 * 1024);
    stub_ = v1::Placement::NewStub(
        grpc::CreateCustomChannel("unix:" + socket_, grpc::InsecureChannelCredentials(), args));
  }
  ~GrpcFixture() {
    listener_.reset();
    server_->Shutdown();
  }
  v1::Placement::Stub& stub() { return *stub_; }
  const std::string& socket() const { return socket_; }

 private:
  service::PolicyStore policies_;
  service::PlacementService shared_;
  service::PlacementService service_;
  std::string socket_;
  std::unique_ptr<grpc::Server> server_;
  std::unique_ptr<service::UnixListener> listener_;
  std::unique_ptr<v1::Placement::Stub> stub_;
};

GrpcFixture& Fixture() {
  static GrpcFixture* fixture = new GrpcFixture();
  return *fixture;
}

// Each iteration runs `one_cycle` (timed) and then the engine alone on the same
// snapshot (untimed for the benchmark, timed here), so the transport's share is a
// ratio of interleaved runs, robust to the machine slowing down between two
// separate benchmarks.
// `after` sees the engine's plan of each iteration, untimed, and may change the
// snapshot for the next one.
template <typename OneCycle, typename After = void (*)(const engine::Plan&)>
void RunTimedCycles(
    benchmark::State& state, model::Snapshot& snapshot, OneCycle one_cycle,
    After after = [](const engine::Plan&) {}) {
  auto built = policy::BuildPolicy(policy::DefaultPolicy());
  if (!model::ValidateSnapshot(snapshot, built->catalog).ok())
    state.SkipWithError("invalid snapshot");
  double cycle_total_s = 0;
  double engine_total_s = 0;
  using Clock = std::chrono::steady_clock;
  for (auto _ : state) {
    const auto cycle_begin = Clock::now();
    one_cycle();
    cycle_total_s += std::chrono::duration<double>(Clock::now() - cycle_begin).count();
    state.PauseTiming();
    const auto engine_begin = Clock::now();
    const engine::Plan plan = engine::Schedule(snapshot, built->catalog, *built->pipeline);
    engine_total_s += std::chrono::duration<double>(Clock::now() - engine_begin).count();
    after(plan);
    state.ResumeTiming();
  }
  if (engine_total_s > 0) {
    state.counters["engine_alone_ms"] =
        1000.0 * engine_total_s / static_cast<double>(state.iterations());
    state.counters["grpc_adds_pct"] = 100.0 * (cycle_total_s / engine_total_s - 1.0);
  }
}

// A Schedule call per iteration against the engine alone. `next` gives the request
// to send (inside the timed part: what the plugin does per cycle), `answered` sees
// each answer.
template <typename Next, typename Answered>
void RunGrpcCycles(benchmark::State& state, model::Snapshot& snapshot, Next next,
                   Answered answered) {
  GrpcFixture* fixture = &Fixture();
  double engine_us = 0;
  double request_bytes = 0;
  double answer_bytes = 0;
  RunTimedCycles(state, snapshot, [&] {
    // As the plugin's bridge does: the answer lives on an arena.
    google::protobuf::Arena arena;
    const v1::ScheduleRequest& request = next(arena);
    request_bytes = static_cast<double>(request.ByteSizeLong());
    auto* response = google::protobuf::Arena::CreateMessage<v1::ScheduleResponse>(&arena);
    grpc::ClientContext context;
    grpc::Status status = fixture->stub().Schedule(&context, request, response);
    if (!status.ok()) state.SkipWithError(status.error_message().c_str());
    if (response->full_snapshot_required())
      state.SkipWithError(response->full_snapshot_reason().c_str());
    answer_bytes = static_cast<double>(response->ByteSizeLong());
    answered(*response);
    engine_us = static_cast<double>(response->engine_latency_us());
  });
  state.counters["server_us"] = engine_us;
  state.counters["request_MiB"] = request_bytes / (1024.0 * 1024.0);
  state.counters["answer_MiB"] = answer_bytes / (1024.0 * 1024.0);
}

// The whole snapshot every cycle, as before delta snapshots (and after a resync).
void BM_GrpcCycle(benchmark::State& state) {
  model::Snapshot snapshot = testing::SyntheticCluster(
      static_cast<int>(state.range(0)), static_cast<int>(state.range(1)), kBusyShare, 42);
  v1::ScheduleRequest request;
  *request.mutable_snapshot() = service::SnapshotToProto(snapshot);
  RunGrpcCycles(
      state, snapshot,
      [&](google::protobuf::Arena&) -> const v1::ScheduleRequest& { return request; },
      [](const v1::ScheduleResponse&) {});
}

// Steady state with delta snapshots: per cycle the plugin's bridge fingerprints
// every record of the whole snapshot (timed: it replaces serializing all of it) and
// sends what changed, here 10 pending jobs whose priority moved; the core applies
// that to its base and plans from the whole. reason_deltas 1: the answer carries
// only the reasons that changed and the bridge merges them (timed); 0: every
// reason every cycle (an older plugin).
void BM_GrpcCycleDelta(benchmark::State& state) {
  model::Snapshot snapshot = testing::SyntheticCluster(
      static_cast<int>(state.range(0)), static_cast<int>(state.range(1)), kBusyShare, 42);
  const bool reason_deltas = state.range(2) != 0;
  test::CSnapshot records(service::SnapshotToProto(snapshot));
  bridge::DeltaSender sender("bench@" + std::to_string(::getpid()), 1);
  bridge::DeltaSender::Cycle cycle;
  int64_t bump = 0;
  double prepare_s = 0;
  int prepared = 0;
  auto next = [&](google::protobuf::Arena& arena) -> const v1::ScheduleRequest& {
    for (size_t j = 0; j < 10 && j < records.pending().size(); ++j)
      records.pending()[j].priority += ++bump % 2;
    auto* whole_request = google::protobuf::Arena::CreateMessage<v1::ScheduleRequest>(&arena);
    auto* delta = google::protobuf::Arena::CreateMessage<v1::ScheduleRequest>(&arena);
    const auto prepare_begin = std::chrono::steady_clock::now();
    cycle = sender.Prepare(records.get(), whole_request->mutable_identity(), delta);
    prepare_s +=
        std::chrono::duration<double>(std::chrono::steady_clock::now() - prepare_begin).count();
    ++prepared;
    delta->set_accepts_reason_deltas(reason_deltas);
    if (cycle.has_delta) return *delta;
    bridge::FillSnapshot(records.get(), whole_request->mutable_snapshot());  // the first: whole
    return *whole_request;
  };
  double merge_s = 0;
  int merged = 0;
  auto answered = [&](v1::ScheduleResponse& response) {
    const auto merge_begin = std::chrono::steady_clock::now();
    auto reasons = sender.TakeReasons(response);
    if (!reasons.ok()) state.SkipWithError("reasons not merged");
    if (response.kept_sequence() == cycle.sequence) {
      sender.Acknowledged(cycle);
      if (reasons.ok()) sender.KeepReasons(*std::move(reasons));
    } else {
      sender.Reset();
    }
    merge_s +=
        std::chrono::duration<double>(std::chrono::steady_clock::now() - merge_begin).count();
    ++merged;
  };
  {
    // The first cycle, whole, is not steady state: outside the timing.
    google::protobuf::Arena arena;
    const v1::ScheduleRequest& first = next(arena);
    v1::ScheduleResponse response;
    grpc::ClientContext context;
    if (!Fixture().stub().Schedule(&context, first, &response).ok())
      state.SkipWithError("the first, whole snapshot failed");
    answered(response);
  }
  prepare_s = 0;
  prepared = 0;
  merge_s = 0;
  merged = 0;
  RunGrpcCycles(state, snapshot, next, answered);
  if (prepared > 0) state.counters["fingerprint_ms"] = 1000.0 * prepare_s / prepared;
  // The bridge's side of the answer's reasons: merge (reason deltas) and keep.
  if (merged > 0) state.counters["reasons_ms"] = 1000.0 * merge_s / merged;
}

// A queue in steady state, as a real cluster's: the jobs a cycle starts run where the
// plan put them and leave the queue; then the `turnover` oldest running jobs end and as
// many jobs of the same shapes are submitted, so the queue keeps its length and the
// cluster stays about as busy. Each cycle thus starts a few jobs, not the whole queue.
class SteadyQueue {
 public:
  SteadyQueue(model::Snapshot& snapshot, int turnover) : snapshot_(snapshot), turnover_(turnover) {
    for (const model::PendingJob& job : snapshot.pending) next_id_ = std::max(next_id_, job.id);
  }

  absl::Status Apply(const engine::Plan& plan, const model::Catalog& catalog) {
    std::unordered_map<uint32_t, size_t> index;
    for (size_t j = 0; j < snapshot_.pending.size(); ++j) index[snapshot_.pending[j].id] = j;
    std::vector<bool> started(snapshot_.pending.size(), false);
    for (const engine::JobStart& start : plan.starts) {
      const size_t j = index.at(start.job_id);
      started[j] = true;
      model::RunningJob running;
      running.id = start.job_id;
      running.start_time = snapshot_.now;
      running.time_limit_s = snapshot_.pending[j].time_limit_s;
      Hold(snapshot_.pending[j], start, +1, running.allocations);
      snapshot_.running.push_back(std::move(running));
      runs_.push_back({snapshot_.pending[j], start});
    }
    std::vector<model::PendingJob> still;
    for (size_t j = 0; j < snapshot_.pending.size(); ++j)
      if (!started[j]) still.push_back(std::move(snapshot_.pending[j]));
    snapshot_.pending = std::move(still);
    ++snapshot_.now;
    for (int ended = 0; ended < turnover_ && !runs_.empty(); ++ended) {
      auto& [job, start] = runs_.front();
      std::vector<model::NodeAllocation> unused;
      Hold(job, start, -1, unused);
      std::erase_if(snapshot_.running,
                    [&](const model::RunningJob& r) { return r.id == start.job_id; });
      job.id = ++next_id_;
      job.submit_time = snapshot_.now;
      snapshot_.pending.push_back(std::move(job));
      runs_.pop_front();
    }
    return model::ValidateSnapshot(snapshot_, catalog);
  }

 private:
  // Takes (sign +1) or gives back (-1) what `start` holds on its nodes.
  void Hold(const model::PendingJob& job, const engine::JobStart& start, int sign,
            std::vector<model::NodeAllocation>& allocations) {
    for (const engine::NodePlacement& placement : start.placements) {
      model::Node& node = snapshot_.nodes[static_cast<size_t>(placement.node)];
      model::NodeAllocation& allocation = allocations.emplace_back();
      allocation.node = node.name;
      allocation.cpus = job.cpus_per_node;
      allocation.memory_mib = job.memory_per_node_mib;
      node.cpus_allocated += sign * job.cpus_per_node;
      node.memory_allocated_mib += sign * job.memory_per_node_mib;
      if (placement.pool >= 0) {
        model::AcceleratorPool& pool = node.accelerators[static_cast<size_t>(placement.pool)];
        allocation.gres_name = pool.gres_name;
        allocation.gres_type = pool.gres_type;
        allocation.device_count = static_cast<int>(placement.devices.size());
        allocation.device_indices = placement.devices;
        allocation.fraction_milli = placement.fraction_milli;
        const int share =
            placement.fraction_milli > 0 ? placement.fraction_milli : model::kMilliPerDevice;
        for (int d : placement.devices) pool.used_milli[static_cast<size_t>(d)] += sign * share;
        pool.allocated = static_cast<int>(std::count_if(
            pool.used_milli.begin(), pool.used_milli.end(), [](int used) { return used > 0; }));
      }
      node.state = node.cpus_allocated > 0 ? model::NodeState::kMixed : model::NodeState::kIdle;
    }
  }

  model::Snapshot& snapshot_;
  const int turnover_;
  uint32_t next_id_ = 0;
  std::deque<std::pair<model::PendingJob, engine::JobStart>> runs_;  // oldest first
};

// The plugin's whole side of a steady-state cycle, through the C API it calls:
// ap_client_schedule on the C records the plugin copied out of slurmctld
// (fingerprints, the delta of the 10 jobs whose priority moved, the call, the
// answer's reasons merged, the plan checked and copied into C), then ap_plan_free.
//
// turnover 0: the same snapshot every cycle, so every cycle starts the same jobs again
// (thousands at this size: the cycle right after a burst, the answer's worst case).
// turnover N: a queue in steady state (SteadyQueue): started jobs leave the queue, N
// running jobs end and N are submitted per cycle; the records change outside the timing.
void BM_BridgeCycle(benchmark::State& state) {
  model::Snapshot snapshot = testing::SyntheticCluster(
      static_cast<int>(state.range(0)), static_cast<int>(state.range(1)), kBusyShare, 42);
  const int turnover = static_cast<int>(state.range(2));
  auto built = policy::BuildPolicy(policy::DefaultPolicy());
  SteadyQueue queue(snapshot, turnover);
  const auto settle = [&](const engine::Plan& plan) {
    if (turnover == 0) return;
    if (absl::Status valid = queue.Apply(plan, built->catalog); !valid.ok())
      state.SkipWithError(std::string(valid.message()).c_str());
  };
  if (turnover > 0) {
    // Start from a full cluster: the queue's first cycle (a burst) already ran.
    if (!model::ValidateSnapshot(snapshot, built->catalog).ok())
      state.SkipWithError("invalid snapshot");
    settle(engine::Schedule(snapshot, built->catalog, *built->pipeline));
  }
  auto records = std::make_unique<test::CSnapshot>(service::SnapshotToProto(snapshot));
  char err[512] = "";
  ap_client_t* client =
      ap_client_create(("unix:" + Fixture().socket()).c_str(), "bench", err, sizeof err);
  if (client == nullptr) {
    state.SkipWithError(err);
    return;
  }
  int64_t bump = 0;
  uint32_t sent_records = 0;
  uint32_t starts = 0;
  const auto cycle = [&] {
    for (size_t j = 0; j < 10 && j < records->pending().size(); ++j)
      records->pending()[j].priority += ++bump % 2;
    ap_plan_t plan{};
    if (ap_client_schedule(client, &records->get(), 60000, &plan, err, sizeof err) != AP_OK)
      state.SkipWithError(err);
    sent_records = plan.sent_records;
    starts = plan.start_cnt;
    ap_plan_free(&plan);
  };
  cycle();  // the first, whole snapshot is not steady state: outside the timing
  RunTimedCycles(state, snapshot, cycle, [&](const engine::Plan& plan) {
    if (turnover == 0) return;
    settle(plan);
    records = std::make_unique<test::CSnapshot>(service::SnapshotToProto(snapshot));
  });
  state.counters["sent_records"] = sent_records;
  state.counters["started"] = starts;
  ap_client_destroy(client);
}

// What accelpackd pays per delta cycle while the operators' views still hold the
// previous cycle's snapshot: the delta base copies its model before changing it
// (BM_GrpcCycleDelta's server has no such reader, so it changes it in place).
void BM_SnapshotCopy(benchmark::State& state) {
  const model::Snapshot snapshot = testing::SyntheticCluster(
      static_cast<int>(state.range(0)), static_cast<int>(state.range(1)), kBusyShare, 42);
  for (auto _ : state) {
    model::Snapshot copy = snapshot;
    benchmark::DoNotOptimize(copy);
  }
}

void Sizes(benchmark::internal::Benchmark* bench) {
  for (int nodes : {512, 4096}) {
    for (int pending : {1000, 10000}) bench->Args({nodes, pending});
  }
  bench->ArgNames({"nodes", "pending"})->Unit(benchmark::kMillisecond)->UseRealTime();
}

BENCHMARK(BM_EngineCycle)->Apply(Sizes);
// preemption: 0 the same snapshot (running jobs with time limits, so reservations are
// planned) under the default policy, 1 with `spot` preemptible (harvest and reclaim).
BENCHMARK(BM_EngineCyclePreemption)
    ->ArgsProduct({{512, 4096}, {1000, 10000}, {0, 1}})
    ->ArgNames({"nodes", "pending", "preemption"})
    ->Unit(benchmark::kMillisecond)
    ->UseRealTime();
// diversity: 0 every job of a few shapes, 1 CPUs/memory/time limit from traces,
// 2 every job a different --mem.
BENCHMARK(BM_EngineCycleShapes)
    ->ArgsProduct({{512, 4096}, {1000, 10000}, {0, 1, 2}})
    ->ArgNames({"nodes", "pending", "diversity"})
    ->Unit(benchmark::kMillisecond)
    ->UseRealTime();
BENCHMARK(BM_GrpcCycle)->Apply(Sizes);
BENCHMARK(BM_SnapshotCopy)->Apply(Sizes);
BENCHMARK(BM_BridgeCycle)
    ->ArgsProduct({{512, 4096}, {1000, 5000, 10000}, {0, 10, 100}})
    ->ArgNames({"nodes", "pending", "turnover"})
    ->Unit(benchmark::kMillisecond)
    ->UseRealTime();
BENCHMARK(BM_GrpcCycleDelta)
    ->ArgsProduct({{512, 4096}, {1000, 10000}, {0, 1}})
    ->ArgNames({"nodes", "pending", "reason_deltas"})
    ->Unit(benchmark::kMillisecond)
    ->UseRealTime();

// `bench_cycle --dump-plans`: no timing; the plans of fixed cycles (sizes, seeds, the
// three shape mixes, spot work with preemption off and on) as text, every start,
// device, reservation, preemption and reason. Two builds' outputs compared byte for
// byte show that a change to the engine or a policy left every placement as it was.
int DumpPlans() {
  struct Size {
    int nodes;
    int pending;
  };
  for (const Size size : {Size{512, 1000}, Size{256, 3000}, Size{4096, 10000}}) {
    for (const uint32_t seed : {42u, 1u, 2u}) {
      for (int mix = 0; mix < 5; ++mix) {
        if (mix == static_cast<int>(Diversity::kTrace) && !Shapes().ok()) continue;
        const bool spot = mix >= 3;
        model::Snapshot snapshot =
            spot ? SpotCluster(size.nodes, size.pending, seed)
                 : DiverseCluster(size.nodes, size.pending, static_cast<Diversity>(mix), seed);
        auto built = policy::BuildPolicy(SpotPolicy(mix == 4));
        if (!built.ok() || !model::ValidateSnapshot(snapshot, built->catalog).ok()) {
          std::fprintf(stderr, "invalid cycle %d x %d seed %u mix %d\n", size.nodes, size.pending,
                       seed, mix);
          return 1;
        }
        const engine::Plan plan = engine::Schedule(snapshot, built->catalog, *built->pipeline);
        std::printf("# %d nodes x %d pending, seed %u, mix %d\n%s", size.nodes, size.pending, seed,
                    mix,
                    service::PlanToProto(plan, snapshot, built->catalog).DebugString().c_str());
      }
    }
  }
  return 0;
}

}  // namespace
}  // namespace accelpack

int main(int argc, char** argv) {
  if (argc == 2 && std::string_view(argv[1]) == "--dump-plans") return accelpack::DumpPlans();
  benchmark::Initialize(&argc, argv);
  if (benchmark::ReportUnrecognizedArguments(argc, argv)) return 1;
  benchmark::RunSpecifiedBenchmarks();
  benchmark::Shutdown();
  return 0;
}
