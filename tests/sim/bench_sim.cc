// One static run of the FGD protocol per policy: the default openb pod list
// (~8k tasks) onto the 1,213-node openb cluster, single thread.
// Goals: BestFit and accelpack-default under 1 s, FGD under 5 s.
// The traces are ../shared/traces beside the source tree, or $ACCELPACK_TRACES.
#include <benchmark/benchmark.h>

#include <cstdlib>
#include <filesystem>
#include <string>

#include "policy/share_patterns.h"
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

// What share_patterns costs a daemon's cycle when the shares it runs or waits for
// changed: one LP by column generation over `sizes` distinct share sizes (32: the
// most the scorer takes from a snapshot).
void SharePatternsSolve(benchmark::State& state) {
  const int sizes = static_cast<int>(state.range(0));
  policy::SharePatterns::Demand demand;
  uint64_t x = 42;
  for (int i = 0; i < sizes; ++i) {
    x = x * 6364136223846793005ULL + 1442695040888963407ULL;  // LCG: fixed sizes per run
    demand.emplace_back(static_cast<int>(20 + (x >> 33) % 960), 1.0 + static_cast<double>(i % 7));
  }
  size_t patterns = 0;
  for (auto _ : state) {
    auto solved = policy::SharePatterns::Solve(demand);
    if (!solved.ok()) state.SkipWithError(std::string(solved.status().message()).c_str());
    patterns = solved.ok() ? solved->patterns().size() : 0;
  }
  state.counters["patterns"] = static_cast<double>(patterns);
}
BENCHMARK(SharePatternsSolve)->Arg(8)->Arg(32)->Unit(benchmark::kMillisecond);

BENCHMARK_MAIN();
