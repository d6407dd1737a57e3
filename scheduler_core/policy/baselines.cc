// Published heuristics as scorers; see baselines.h for the definitions.
#include "policy/baselines.h"

#include <algorithm>
#include <cmath>
#include <cstdlib>
#include <map>
#include <set>

#include "common/strings.h"
#include "model/cluster.h"
#include "model/topology.h"

namespace accelpack::policy {

namespace {

using engine::Candidate;
using engine::ClusterState;
using engine::Job;

constexpr int kMilli = model::kMilliPerDevice;

// splitmix64: a well-mixed, portable hash, so random choices depend only on the
// seed and the job and node, never on a global generator or the platform.
uint64_t Mix(uint64_t x) {
  x += 0x9e3779b97f4a7c15ULL;
  x = (x ^ (x >> 30)) * 0xbf58476d1ce4e5b9ULL;
  x = (x ^ (x >> 27)) * 0x94d049bb133111ebULL;
  return x ^ (x >> 31);
}

// A number in [0, 1) fixed by its inputs.
double Unit(uint64_t seed, uint64_t a, uint64_t b, uint64_t c = 0) {
  const uint64_t h = Mix(Mix(Mix(seed ^ Mix(a)) ^ b) ^ c);
  return static_cast<double>(h >> 11) * 0x1.0p-53;
}

// Arguments every baseline takes.
enum class TieBreak { kName, kRandom, kSimon, kPermuted };

struct Common {
  uint64_t seed = 1;
  TieBreak ties = TieBreak::kName;
  double max_cpus = 128000;
  double max_devices = 8;
};

absl::StatusOr<Common> ParseCommon(const PluginArgs& args, std::set<std::string> allowed) {
  allowed.insert({"seed", "tie_break"});
  for (const auto& [key, value] : args) {
    if (!allowed.contains(key)) {
      return absl::InvalidArgumentError(
          Cat("unknown argument \"", key, "\" (known: ", Join(allowed, ", "), ")"));
    }
  }
  Common common;
  auto seed = NumberArg(args, "seed", 1);
  if (!seed.ok()) return seed.status();
  if (*seed < 0) return absl::InvalidArgumentError("seed: must be >= 0");
  common.seed = static_cast<uint64_t>(*seed);
  if (auto it = args.find("tie_break"); it != args.end()) {
    if (it->second == "random") {
      common.ties = TieBreak::kRandom;
    } else if (it->second == "simon") {
      common.ties = TieBreak::kSimon;
    } else if (it->second == "permuted") {
      common.ties = TieBreak::kPermuted;
    } else if (it->second != "name") {
      return absl::InvalidArgumentError(
          Cat("tie_break: expected name, simon, permuted or random, got \"", it->second, "\""));
    }
  }
  auto max_cpus = NumberArg(args, "max_cpus", common.max_cpus);
  if (!max_cpus.ok()) return max_cpus.status();
  auto max_devices = NumberArg(args, "max_devices", common.max_devices);
  if (!max_devices.ok()) return max_devices.status();
  if (!(*max_cpus > 0) || !(*max_devices > 0)) {
    return absl::InvalidArgumentError("max_cpus, max_devices: must be > 0");
  }
  common.max_cpus = *max_cpus;
  common.max_devices = *max_devices;
  return common;
}

// What a job asks of one device pool.
struct Request {
  int cpus = 0;
  int count = 0;  // devices per node; 0: no devices
  int milli = 0;  // per device
  int total_milli() const { return count * milli; }
};

Request RequestOf(const Job& job) {
  Request r;
  r.cpus = job->cpus_per_node;
  if (job->accelerators.WantsDevices()) {
    r.count = job->accelerators.count_per_node;
    r.milli = job->accelerators.IsFractional() ? job->accelerators.fraction_milli : kMilli;
  }
  return r;
}

// Free device share of the candidate's pool, or of the whole node for a job
// without devices (the artifact's nodes have one GPU model each).
int NodeFreeMilli(const Candidate& c, const ClusterState& state) {
  if (c.pool >= 0) return model::FreeMilli(state.used_milli(c.node, c.pool));
  return state.free_milli(c.node);
}

// Fullness of the candidate's device for a share (the artifact's "best" GPU
// choice: the fullest device that still fits); 0 for whole devices.
double DeviceFullness(const Candidate& c, const ClusterState& state) {
  if (c.pool < 0 || c.fraction_milli == 0 || c.devices.empty()) return 0;
  return state.used_milli(c.node, c.pool)[static_cast<size_t>(c.devices.front())] /
         static_cast<double>(kMilli);
}

// The artifact's simulator always runs its "Simon" score plugin beside the
// policy's (weight 1 against the policy's 1000, scores min-max normalised over
// the nodes), so among equal policy integers it prefers the node where the task's
// largest request is the largest share of what the node has beyond it:
// round(100 x max(cpu / (node cpus - cpu), memory / (node memory - memory))), on
// node totals, not on what is free (GPUs are pod annotations there, not requests).
// Normalisation keeps the order, so the raw integer orders ties the same way.
// e.g. 8 CPUs on a 96-CPU node: 8/88 -> 9; on a 128-CPU node: 8/120 -> 7.
double SimonScore(const Job& job, const Candidate& c, const ClusterState& state) {
  const model::Node& node = state.node(c.node);
  auto share = [](double request, double total) {
    const double beyond = total - request;
    if (beyond <= 0) return request > 0 ? 1.0 : 0.0;
    return request / beyond;
  };
  const double largest = std::max(share(job->cpus_per_node, node.cpus_total),
                                  share(static_cast<double>(job->memory_per_node_mib),
                                        static_cast<double>(node.memory_total_mib)));
  return std::round(100.0 * largest);
}

// Base for the baselines: an integer score 0..100 as the artifact computes it,
// then a random order among equal integers (Kubernetes picks a random node among
// the top-scored), then a preference among one node's devices.
class Baseline : public engine::Scorer {
 public:
  explicit Baseline(Common common) : common_(common) {}

  double Score(const Job& job, const Candidate& candidate, const ClusterState& state) const final {
    const double integer = std::clamp(std::floor(Raw(job, candidate, state)), 0.0, 100.0);
    double tie = 0;
    if (common_.ties == TieBreak::kRandom) {
      tie = 0.5 * Unit(common_.seed, job->id, static_cast<uint64_t>(candidate.node));
    } else if (common_.ties == TieBreak::kPermuted) {
      tie = 0.5 * Unit(common_.seed, static_cast<uint64_t>(candidate.node), 0x9e7);
    } else if (common_.ties == TieBreak::kSimon) {
      const double simon = SimonScore(job, candidate, state);
      tie = 0.5 * simon / (simon + 1);  // monotone into [0, 0.5): below one integer step
    }
    return integer + tie + 1e-4 * DevicePreference(job, candidate, state);
  }
  // The random tie break reads the job id, so scores differ between jobs of one shape.
  bool DependsOnlyOnShape() const override { return common_.ties != TieBreak::kRandom; }

 protected:
  // The artifact's score, before truncation to an integer.
  virtual double Raw(const Job& job, const Candidate& candidate,
                     const ClusterState& state) const = 0;
  // 0..1: which of one node's candidates (device usage levels) to take.
  virtual double DevicePreference(const Job&, const Candidate& candidate,
                                  const ClusterState& state) const {
    return DeviceFullness(candidate, state);
  }
  const Common& common() const { return common_; }

 private:
  Common common_;
};

class RandomScorer final : public Baseline {
 public:
  using Baseline::Baseline;
  std::string_view name() const override { return "random"; }
  bool DependsOnlyOnShape() const override { return false; }

 protected:
  // Uniform over feasible nodes: the top of independent uniform draws.
  double Raw(const Job& job, const Candidate& c, const ClusterState&) const override {
    return 100.0 * Unit(common().seed, job->id, static_cast<uint64_t>(c.node), 0x5eed);
  }
  double DevicePreference(const Job& job, const Candidate& c, const ClusterState&) const override {
    const uint64_t device = c.devices.empty() ? 0 : static_cast<uint64_t>(c.devices.front()) + 1;
    return Unit(common().seed, job->id, static_cast<uint64_t>(c.node), device);
  }
};

class DotProductScorer final : public Baseline {
 public:
  using Baseline::Baseline;
  std::string_view name() const override { return "dot_product"; }

 protected:
  // e.g. free (64 of 128 CPUs, 4 of 8 GPUs), request (8 CPUs, 1 GPU):
  // dot = 0.5*0.0625 + 0.5*0.125 = 0.09375 -> 100 * (1 - dot/2) = 95.3 -> 95.
  double Raw(const Job& job, const Candidate& c, const ClusterState& state) const override {
    const Request r = RequestOf(job);
    const double max_gpu = common().max_devices * kMilli;
    const double dot =
        (state.cpus_free(c.node) / common().max_cpus) * (r.cpus / common().max_cpus) +
        (NodeFreeMilli(c, state) / max_gpu) * (r.total_milli() / max_gpu);
    return 100.0 * (1.0 - dot / 2.0);
  }
};

class BestFitScorer final : public Baseline {
 public:
  using Baseline::Baseline;
  std::string_view name() const override { return "best_fit"; }

 protected:
  // e.g. 128-CPU/8-GPU maxima, leftover 32 CPUs and 2 GPUs:
  // 0.5*0.25 + 0.5*0.25 = 0.25 -> 100 * (1 - 0.25) = 75.
  double Raw(const Job& job, const Candidate& c, const ClusterState& state) const override {
    const Request r = RequestOf(job);
    const double max_gpu = common().max_devices * kMilli;
    const double leftover = 0.5 * (state.cpus_free(c.node) - r.cpus) / common().max_cpus +
                            0.5 * (NodeFreeMilli(c, state) - r.total_milli()) / max_gpu;
    return 100.0 * (1.0 - leftover);
  }
};

class GpuClusteringScorer final : public Baseline {
 public:
  using Baseline::Baseline;
  std::string_view name() const override { return "gpu_clustering"; }

 protected:
  // Tiers of 25: only jobs of the same request (75..100), that request among
  // others (50..75), an idle node (25..50), other requests only (0..25); within
  // a tier, fuller nodes first. Integer arithmetic as in the artifact.
  double Raw(const Job& job, const Candidate& c, const ClusterState& state) const override {
    const Request r = RequestOf(job);
    if (r.count == 0) return 0;
    const int tag = r.milli < kMilli ? ClusterState::kSharedRequest : r.count;
    const auto hosted = state.hosted_requests(c.node);
    const int max_gpu = static_cast<int>(common().max_devices) * kMilli;
    const int fullness = 25 * std::max(0, max_gpu - NodeFreeMilli(c, state)) / max_gpu;
    const bool same = std::any_of(hosted.begin(), hosted.end(),
                                  [&](const std::pair<int, int>& h) { return h.first == tag; });
    if (same) return fullness + (hosted.size() == 1 ? 75 : 50);
    return fullness + (hosted.empty() ? 25 : 0);
  }
};

class GpuPackingScorer final : public Baseline {
 public:
  using Baseline::Baseline;
  std::string_view name() const override { return "gpu_packing"; }

 protected:
  // Shared devices 50..100 (less left on them is better), free devices of a used
  // node 33..50 (fewer is better), an empty node 0..33 (fewer devices is better).
  double Raw(const Job& job, const Candidate& c, const ClusterState& state) const override {
    const Request r = RequestOf(job);
    if (r.count == 0 || c.pool < 0) return 0;
    std::span<const int> used = state.used_milli(c.node, c.pool);
    const int devices = static_cast<int>(used.size());
    const int fully_free = model::CountFreeDevices(used);
    if (fully_free == devices) return std::max(33 - fully_free, fully_free);
    std::vector<int> order(used.size());
    for (size_t d = 0; d < order.size(); ++d) order[d] = static_cast<int>(d);
    // Least left first: the devices the artifact would take.
    std::stable_sort(order.begin(), order.end(), [&](int a, int b) {
      return used[static_cast<size_t>(a)] > used[static_cast<size_t>(b)];
    });
    int wanted = r.count;
    int free_taken = 0;
    int left_percent = 0;
    for (int d : order) {
      if (wanted == 0) break;
      const int left = kMilli - used[static_cast<size_t>(d)];
      if (left < r.milli) continue;
      --wanted;
      free_taken += left == kMilli ? 1 : 0;
      left_percent += left * 100 / kMilli;
    }
    if (wanted > 0) return 0;
    if (free_taken > 0) return std::max(50 - free_taken, 33);
    return std::max(100 - left_percent / 10, 50);
  }
};

class FgdScorer final : public Baseline {
 public:
  FgdScorer(Common common, ShapeTable shapes) : Baseline(common), model_(std::move(shapes)) {}
  std::string_view name() const override { return "fgd"; }

 protected:
  // sigmoid(fragmentation before - after, in devices) * 100: 50 when the
  // placement leaves the expected fragmentation as it was, more when it shrinks.
  double Raw(const Job& job, const Candidate& c, const ClusterState& state) const override {
    return 100.0 / (1.0 + std::exp(-model_.Decrease(job, c, state) / kMilli));
  }
  // The artifact takes the first device with the best integer score.
  double DevicePreference(const Job&, const Candidate&, const ClusterState&) const override {
    return 0;
  }

 private:
  FragModel model_;
};

template <typename T>
absl::StatusOr<std::unique_ptr<engine::Scorer>> Make(const PluginArgs& args,
                                                     std::set<std::string> allowed) {
  auto common = ParseCommon(args, std::move(allowed));
  if (!common.ok()) return common.status();
  return std::make_unique<T>(*common);
}

}  // namespace

absl::StatusOr<std::unique_ptr<engine::Scorer>> MakeRandomScorer(const PluginArgs& args) {
  return Make<RandomScorer>(args, {});
}
absl::StatusOr<std::unique_ptr<engine::Scorer>> MakeDotProductScorer(const PluginArgs& args) {
  return Make<DotProductScorer>(args, {"max_cpus", "max_devices"});
}
absl::StatusOr<std::unique_ptr<engine::Scorer>> MakeGpuClusteringScorer(const PluginArgs& args) {
  return Make<GpuClusteringScorer>(args, {"max_devices"});
}
absl::StatusOr<std::unique_ptr<engine::Scorer>> MakeGpuPackingScorer(const PluginArgs& args) {
  return Make<GpuPackingScorer>(args, {});
}
absl::StatusOr<std::unique_ptr<engine::Scorer>> MakeBestFitScorer(const PluginArgs& args) {
  return Make<BestFitScorer>(args, {"max_cpus", "max_devices"});
}
absl::StatusOr<std::unique_ptr<engine::Scorer>> MakeFgdScorer(const PluginArgs& args) {
  auto common = ParseCommon(args, {"shapes"});
  if (!common.ok()) return common.status();
  auto it = args.find("shapes");
  if (it == args.end()) {
    return absl::InvalidArgumentError(
        "needs \"shapes\": the workload's task shapes (cpus:count:milli:types:weight;...)");
  }
  auto shapes = ShapesFromArg(it->second);
  if (!shapes.ok()) return shapes.status();
  return std::make_unique<FgdScorer>(*common, std::move(*shapes));
}

namespace {

struct PresetEntry {
  std::string_view preset;
  std::string_view scorer;
  std::set<std::string> extra_keys;  // scorer arguments a caller may add
};

const std::vector<PresetEntry>& Presets() {
  static const auto* const kPresets = new std::vector<PresetEntry>{
      {"random", "random", {}},
      {"dotprod", "dot_product", {"max_cpus", "max_devices", "tie_break"}},
      {"gpuclustering", "gpu_clustering", {"max_devices", "tie_break"}},
      {"gpupacking", "gpu_packing", {"tie_break"}},
      {"bestfit", "best_fit", {"max_cpus", "max_devices", "tie_break"}},
      {"fgd", "fgd", {"shapes", "tie_break"}},
  };
  return *kPresets;
}

std::vector<std::string> StandardFilters() {
  return {"partition", "features",   "excluded_nodes", "accelerator_type",
          "capacity",  "node_state", "free_cpus",      "free_memory"};
}

}  // namespace

std::vector<std::string> PresetNames() {
  std::vector<std::string> names;
  for (const auto& p : Presets()) names.emplace_back(p.preset);
  names.emplace_back("slurm-default");
  names.emplace_back("slurm-backfill");
  names.emplace_back("accelpack-default");
  return names;
}

void AddWorkloadShapes(PolicyConfig& config, const PluginArgs& extra) {
  const auto shapes = extra.find("shapes");
  if (shapes == extra.end()) return;
  for (ScorerConfig& scorer : config.scorers) {
    if ((scorer.name == "fragmentation" || scorer.name == "kind_pressure" ||
         scorer.name == "share_patterns" || scorer.name == "protect_accelerators") &&
        !scorer.args.contains("shapes")) {
      scorer.args["shapes"] = shapes->second;
    }
  }
}

absl::StatusOr<PolicyConfig> PresetPolicy(std::string_view name, uint64_t seed,
                                          const PluginArgs& extra) {
  if (name == "accelpack-default") {
    PolicyConfig config = DefaultPolicy();
    AddWorkloadShapes(config, extra);
    return config;
  }
  PolicyConfig config;
  config.name = std::string(name);
  config.filters = StandardFilters();
  if (name == "slurm-default") {
    // Stock Slurm simplified: priority order (no class boost, no ageing beyond the
    // job's own priority), EASY backfill (one reservation, on time limits), first fit
    // in node order.
    config.scorers = {{"node_order", 1, {}}};
    config.limits.max_reservations = 1;
    return config;
  }
  if (name == "slurm-backfill") {
    // Stock Slurm 22.05.8 as its source reads, default SchedulerParameters: priority
    // order; sched/backfill tests the first 500 jobs of the queue (bf_max_job_test,
    // started, planned or not) and plans a start for each blocked one that falls
    // within bf_window (a day), holding the planned nodes whole (its node_space is
    // node bitmaps); select/cons_tres (job_test.c `_eval_nodes`) takes the tightest run
    // of consecutive nodes that holds the job, a gang its first nodes, a one-node job
    // the node with the fewest CPUs free in it, the first of equals.
    config.scorers = {{"fewest_free_cpus", 1000, {}}, {"node_order", 1, {}}};
    config.limits.max_jobs_per_cycle = 500;
    config.limits.max_reservations = 500;
    config.limits.reservation_window_s = 24 * 3600;
    config.limits.reservations_hold_whole_nodes = true;
    config.limits.select_consecutive_runs = true;
    return config;
  }
  for (const auto& p : Presets()) {
    if (p.preset != name) continue;
    ScorerConfig scorer{std::string(p.scorer), 1, {{"seed", std::to_string(seed)}}};
    for (const auto& [key, value] : extra) {
      if (p.extra_keys.contains(key)) scorer.args[key] = value;
    }
    config.scorers = {std::move(scorer)};
    return config;
  }
  return absl::InvalidArgumentError(
      Cat("unknown policy \"", name, "\" (known: ", Join(PresetNames(), ", "), ")"));
}

}  // namespace accelpack::policy
