// SPDX-License-Identifier: GPL-2.0-or-later
// What the operators' views cost at cluster scale, on the same synthetic
// clusters as bench_cycle: `accelpack explain` for the job last in the queue,
// `accelpack nodes`, and the decision history's per-cycle diff (which runs on
// accelpackd's worker thread, beside the cycle).
//
//   build/tests/bench/bench_operators --benchmark_min_time=1
#include <benchmark/benchmark.h>

#include "cluster_builder.h"
#include "engine/engine.h"
#include "engine/explain.h"
#include "policy/policy.h"
#include "service/decision_log.h"

namespace accelpack {
namespace {

constexpr double kBusyShare = 0.7;

struct Cycle {
  model::Snapshot snapshot;
  policy::BuiltPolicy policy;
  engine::Plan plan;
};

Cycle MakeCycle(const benchmark::State& state) {
  Cycle cycle{testing::SyntheticCluster(static_cast<int>(state.range(0)),
                                        static_cast<int>(state.range(1)), kBusyShare, 42),
              std::move(*policy::BuildPolicy(policy::DefaultPolicy())),
              {}};
  (void)model::ValidateSnapshot(cycle.snapshot, cycle.policy.catalog);
  cycle.plan = engine::Schedule(cycle.snapshot, cycle.policy.catalog, *cycle.policy.pipeline);
  return cycle;
}

void BM_Explain(benchmark::State& state) {
  const Cycle cycle = MakeCycle(state);
  if (cycle.plan.pending.empty()) state.SkipWithError("nothing pending");
  const uint32_t job = cycle.plan.pending.back().job_id;
  for (auto _ : state) {
    auto explanation = engine::Explain(job, cycle.snapshot, cycle.policy.catalog,
                                       *cycle.policy.pipeline, cycle.plan, 3);
    benchmark::DoNotOptimize(explanation);
  }
}

void BM_NodesView(benchmark::State& state) {
  const Cycle cycle = MakeCycle(state);
  for (auto _ : state) {
    auto nodes = engine::UsageByNode(cycle.snapshot, cycle.policy.catalog, cycle.plan);
    benchmark::DoNotOptimize(nodes);
  }
}

void BM_DecisionDiff(benchmark::State& state) {
  const Cycle cycle = MakeCycle(state);
  service::DecisionLog log({});
  uint64_t n = 0;
  log.Record(++n, cycle.snapshot, cycle.policy.catalog, cycle.plan);
  for (auto _ : state) log.Record(++n, cycle.snapshot, cycle.policy.catalog, cycle.plan);
}

void Sizes(benchmark::internal::Benchmark* bench) {
  for (int nodes : {512, 4096}) {
    for (int pending : {1000, 10000}) bench->Args({nodes, pending});
  }
  bench->ArgNames({"nodes", "pending"})->Unit(benchmark::kMillisecond)->UseRealTime();
}

BENCHMARK(BM_Explain)->Apply(Sizes);
BENCHMARK(BM_NodesView)->Apply(Sizes);
BENCHMARK(BM_DecisionDiff)->Apply(Sizes);

}  // namespace
}  // namespace accelpack
