// One static run of the FGD protocol per policy: the default openb pod list
// (~8k tasks) onto the 1,213-node openb cluster, single thread.
// Goals: BestFit and accelpack-default under 1 s, FGD under 5 s.
// The traces are ../shared/traces beside the source tree, or $ACCELPACK_TRACES.
#include <benchmark/benchmark.h>

#include <cstdlib>
#include <filesystem>

#include "sim/sim.h"

namespace {

using namespace accelpack;

std::filesystem::path Traces() {
  if (const char* dir = std::getenv("ACCELPACK_TRACES")) return dir;
  return std::filesystem::path(ACCELPACK_SOURCE_DIR) / ".." / "shared" / "traces";
}

const std::filesystem::path kOpenb = Traces() / "alibaba-openb";

void StaticRun(benchmark::State& state, const char* policy) {
  static const auto nodes = sim::LoadOpenbNodes((kOpenb / "openb_node_list_gpu_node.csv").string());
  static const auto pods = sim::LoadOpenbPods((kOpenb / "openb_pod_list_default.csv").string());
  if (!nodes.ok() || !pods.ok()) {
    state.SkipWithError("../shared/traces/alibaba-openb not found");
    return;
  }
  const sim::StaticWorkload workload{"default", *pods};
  for (auto _ : state) {
    auto run = sim::RunStatic(*nodes, workload, policy, 42);
    if (!run.ok()) {
      state.SkipWithError("run failed");
      return;
    }
    state.counters["tasks"] = static_cast<double>(run->tasks);
    state.counters["unallocated_at_100"] = run->points[1].unallocated_pct;
  }
}

}  // namespace

BENCHMARK_CAPTURE(StaticRun, random, "random")->Unit(benchmark::kMillisecond)->Iterations(1);
BENCHMARK_CAPTURE(StaticRun, dotprod, "dotprod")->Unit(benchmark::kMillisecond)->Iterations(1);
BENCHMARK_CAPTURE(StaticRun, gpuclustering, "gpuclustering")
    ->Unit(benchmark::kMillisecond)
    ->Iterations(1);
BENCHMARK_CAPTURE(StaticRun, gpupacking, "gpupacking")
    ->Unit(benchmark::kMillisecond)
    ->Iterations(1);
BENCHMARK_CAPTURE(StaticRun, bestfit, "bestfit")->Unit(benchmark::kMillisecond)->Iterations(1);
BENCHMARK_CAPTURE(StaticRun, fgd, "fgd")->Unit(benchmark::kMillisecond)->Iterations(1);
BENCHMARK_CAPTURE(StaticRun, accelpack_default, "accelpack-default")
    ->Unit(benchmark::kMillisecond)
    ->Iterations(1);
BENCHMARK_CAPTURE(StaticRun, slurm_default, "slurm-default")
    ->Unit(benchmark::kMillisecond)
    ->Iterations(1);

BENCHMARK_MAIN();
