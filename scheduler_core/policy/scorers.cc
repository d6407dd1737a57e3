// Standard scorers: each returns 0..100, higher is better.
#include <algorithm>
#include <map>
#include <string>

#include "common/strings.h"
#include "model/catalog.h"
#include "model/topology.h"
#include "policy/fragmentation.h"
#include "policy/plugins.h"
#include "policy/policy.h"
#include "policy/registry.h"

namespace accelpack::policy {

namespace {

using engine::Candidate;
using engine::ClusterState;
using engine::Job;

// Share of the pool left unused after the placement, in milli-devices.
double LeftoverShare(const Candidate& candidate, const ClusterState& state) {
  std::span<const int> used = state.used_milli(candidate.node, candidate.pool);
  const double capacity = static_cast<double>(used.size()) * model::kMilliPerDevice;
  return static_cast<double>(model::FreeMilli(used) - candidate.taken_milli()) / capacity;
}

class BestFitDevices final : public engine::Scorer {
 public:
  std::string_view name() const override { return "best_fit_devices"; }
  bool ReadsCpusOrMemory() const override { return false; }
  // 90 points for the pool, 10 for the device a share lands on, so shares pack
  // onto the fullest device without overriding the choice of node.
  // e.g. 8-device pool with 3 free, job takes 2 whole: leftover 1/8 -> 78.75 + 10.
  // e.g. share 300 on a device at 600 used: device leftover 0.1 -> device part 9.
  double Score(const Job&, const Candidate& candidate, const ClusterState& state) const override {
    if (candidate.pool < 0) return 0;
    double device_fit = 1.0;
    if (candidate.fraction_milli > 0) {
      const int used = state.used_milli(
          candidate.node, candidate.pool)[static_cast<size_t>(candidate.devices.front())];
      device_fit =
          1.0 - static_cast<double>(model::kMilliPerDevice - used - candidate.fraction_milli) /
                    model::kMilliPerDevice;
    }
    return 90.0 * (1.0 - LeftoverShare(candidate, state)) + 10.0 * device_fit;
  }
};

class BestFitCpu final : public engine::Scorer {
 public:
  std::string_view name() const override { return "best_fit_cpu"; }
  // e.g. 64 CPUs, 20 free, job takes 4: leftover 16/64 -> 75.
  double Score(const Job& job, const Candidate& candidate,
               const ClusterState& state) const override {
    const int total = state.node(candidate.node).cpus_total;
    if (total <= 0) return 0;
    const int leftover = state.cpus_free(candidate.node) - job->cpus_per_node;
    return 100.0 * (1.0 - static_cast<double>(leftover) / total);
  }
};

// What a workload's device work asks per device: its CPUs and memory over its
// devices, each shape by its popularity; memory over the shapes that say theirs.
// 0: the table has no device work (or no memory figures).
struct PerDeviceDemand {
  double cpus = 0;
  double memory_mib = 0;
};

PerDeviceDemand DemandOf(const ShapeTable& shapes) {
  double devices = 0;
  double cpus = 0;
  double devices_with_memory = 0;
  double memory_mib = 0;
  for (const TaskShape& s : shapes) {
    const double asked = s.weight * s.gpu_count * s.gpu_milli / model::kMilliPerDevice;
    if (asked <= 0) continue;
    devices += asked;
    cpus += s.weight * s.cpus;
    if (s.memory_mib > 0) {
      devices_with_memory += asked;
      memory_mib += s.weight * static_cast<double>(s.memory_mib);
    }
  }
  PerDeviceDemand demand;
  if (devices > 0) demand.cpus = cpus / devices;
  if (devices_with_memory > 0) demand.memory_mib = memory_mib / devices_with_memory;
  return demand;
}

// Devices left free on a node are only usable while the node keeps the CPUs and
// memory to feed them. A device counts as stranded when the node's free CPUs (or
// memory) cannot feed it at the node's own per-device ratio, or, given the
// workload's table (`shapes`), at what its device work asks per device where that is
// less; the score falls 6.25 points for each device the placement strands and rises
// for each it frees from stranding (50: no change). The FGD insight (ATC'23).
// Why the workload's ratio: guarded at its own 52 CPUs per device, a T4 node sends
// CPU work to nodes whose CPUs their devices do need (FGD lists: 4.09 -> 3.89 % on
// default, lower on all 13). Without a table the node's own ratio stays: a ratio
// from the cycle's running and pending work (the dynamic replay: ~2.5 CPUs per
// device, its gangs') let CPU-only inference crowd the nodes the GPU inference
// needed (inference p99 31 -> 802 s); docs/benchmarks-sim.md has the variants.
// e.g. 8 devices and 96 CPUs (12 per device), 4 free, 60 CPUs free: none stranded;
// a CPU-only job leaving 30 CPUs strands 4 - 30/12 = 1.5 devices -> 40.6, while on a
// CPU-only node or one without free devices it strands none -> 50. With work asking
// 6 CPUs per device, 30 CPUs feed 5 devices: none stranded -> 50.
class ProtectAccelerators final : public engine::Scorer {
 public:
  explicit ProtectAccelerators(PerDeviceDemand demand) : demand_(demand) {}
  std::string_view name() const override { return "protect_accelerators"; }
  double Score(const Job& job, const Candidate& candidate,
               const ClusterState& state) const override {
    const int devices_total = state.devices_total(candidate.node);
    if (devices_total == 0) return kNoChange;
    const Ratio ratio = RatioOf(state.node(candidate.node), devices_total);
    const int free_milli = state.free_milli(candidate.node);
    const int cpus_free = state.cpus_free(candidate.node);
    const int64_t memory_free = state.memory_free(candidate.node);
    const double before = Stranded(ratio, free_milli, cpus_free, memory_free);
    const double after =
        Stranded(ratio, free_milli - candidate.taken_milli(), cpus_free - job->cpus_per_node,
                 memory_free - job->memory_per_node_mib);
    return std::clamp(kNoChange - kPointsPerDevice * (after - before), 0.0, 100.0);
  }

 private:
  static constexpr double kNoChange = 50;
  static constexpr double kPointsPerDevice = 6.25;  // 8 devices span the range

  // CPUs and memory one free device needs on a node; 0: not counted.
  struct Ratio {
    double cpus = 0;
    double memory_mib = 0;
  };
  Ratio RatioOf(const model::Node& node, int devices_total) const {
    Ratio ratio{static_cast<double>(node.cpus_total) / devices_total,
                static_cast<double>(node.memory_total_mib) / devices_total};
    if (demand_.cpus > 0) ratio.cpus = std::min(ratio.cpus, demand_.cpus);
    if (demand_.memory_mib > 0) ratio.memory_mib = std::min(ratio.memory_mib, demand_.memory_mib);
    return ratio;
  }

  static double Stranded(const Ratio& ratio, int free_milli, int cpus_free, int64_t memory_free) {
    const double free_devices = static_cast<double>(free_milli) / model::kMilliPerDevice;
    double fed = free_devices;
    if (ratio.cpus > 0) fed = std::min(fed, cpus_free / ratio.cpus);
    if (ratio.memory_mib > 0)
      fed = std::min(fed, static_cast<double>(memory_free) / ratio.memory_mib);
    return std::max(0.0, free_devices - std::max(0.0, fed));
  }

  PerDeviceDemand demand_;  // from `shapes`; 0: none given
};

// Relative speed of each accelerator kind, optionally per job class: portable work
// (a job that allows several kinds) goes where it runs fastest among what fits.
// Score = 100 x speed / the fastest speed the policy names for that class; kinds
// it does not name count as 1. e.g. h100=1, h200=1.4: an H200 node 100, H100 71.4.
class KindPreference final : public engine::Scorer {
 public:
  using Speeds = std::map<std::string, double, std::less<>>;
  KindPreference(const Speeds& all, const std::map<model::JobClass, Speeds>& by_class)
      : all_(Relative(all)) {
    for (const auto& [job_class, speeds] : by_class) by_class_.emplace(job_class, Relative(speeds));
  }
  std::string_view name() const override { return "kind_preference"; }
  bool ReadsCpusOrMemory() const override { return false; }
  double Score(const Job& job, const Candidate& candidate,
               const ClusterState& state) const override {
    if (candidate.pool < 0) return 100;
    const int kind = state.kind_of(candidate.node, candidate.pool);
    if (kind < 0) return 100;
    const auto it = by_class_.find(job.job_class);
    const Table& table = it != by_class_.end() ? it->second : all_;
    const auto share = table.share.find(state.catalog().kind(kind).name);
    return 100.0 * (share != table.share.end() ? share->second : table.unnamed_share);
  }

 private:
  // Speeds as shares of the fastest, computed once, not per candidate.
  struct Table {
    Speeds share;
    double unnamed_share = 1.0;
  };
  static Table Relative(const Speeds& speeds) {
    double fastest = 1.0;  // unnamed kinds count 1
    for (const auto& [kind, speed] : speeds) fastest = std::max(fastest, speed);
    Table table;
    for (const auto& [kind, speed] : speeds) table.share[kind] = speed / fastest;
    table.unnamed_share = 1.0 / fastest;
    return table;
  }
  Table all_;
  std::map<model::JobClass, Table> by_class_;
};

class NodeOrder final : public engine::Scorer {
 public:
  std::string_view name() const override { return "node_order"; }
  bool ReadsCpusOrMemory() const override { return false; }
  // First node by name scores 100, the last close to 0.
  double Score(const Job&, const Candidate& candidate, const ClusterState& state) const override {
    const double rank = state.name_rank(candidate.node);
    return 100.0 * (1.0 - rank / std::max(1, state.node_count()));
  }
};

// Stock select/cons_tres places a one-node job on the node with the fewest CPUs
// free that fit it (22.05.8 job_test.c `_eval_nodes`, "best fit single node"; the
// first of equals, which node_order breaks); a multi-node job takes nodes in order.
class FewestFreeCpus final : public engine::Scorer {
 public:
  std::string_view name() const override { return "fewest_free_cpus"; }
  // 100 less one point per free CPU: absolute, as Slurm compares nodes. With
  // `select_consecutive_runs` (slurm-backfill) it only chooses inside the chosen run.
  double Score(const Job& /*job*/, const Candidate& candidate,
               const ClusterState& state) const override {
    return 100.0 - state.cpus_free(candidate.node);
  }
};

}  // namespace

std::unique_ptr<engine::Scorer> MakeFewestFreeCpusScorer() {
  return std::make_unique<FewestFreeCpus>();
}
std::unique_ptr<engine::Scorer> MakeBestFitDevicesScorer() {
  return std::make_unique<BestFitDevices>();
}
std::unique_ptr<engine::Scorer> MakeBestFitCpuScorer() { return std::make_unique<BestFitCpu>(); }
absl::StatusOr<std::unique_ptr<engine::Scorer>> MakeProtectAcceleratorsScorer(
    const PluginArgs& args) {
  auto shapes = ShapesArg(args);
  if (!shapes.ok()) return shapes.status();
  return std::make_unique<ProtectAccelerators>(DemandOf(*shapes));
}
absl::StatusOr<std::unique_ptr<engine::Scorer>> MakeKindPreferenceScorer(const PluginArgs& args) {
  KindPreference::Speeds all;
  std::map<model::JobClass, KindPreference::Speeds> by_class;
  for (const auto& [key, value] : args) {
    // "speeds" for every class, "speeds.training" etc. for one.
    KindPreference::Speeds* target = &all;
    if (key != "speeds") {
      constexpr std::string_view kPrefix = "speeds.";
      if (!key.starts_with(kPrefix)) {
        return absl::InvalidArgumentError(
            Cat("unknown argument \"", key, "\" (speeds, speeds.<class>)"));
      }
      auto job_class = ParseClass(std::string_view(key).substr(kPrefix.size()));
      if (!job_class.ok())
        return absl::InvalidArgumentError(Cat(key, ": ", job_class.status().message()));
      target = &by_class[*job_class];
    }
    for (std::string_view entry : Split(value, ',')) {
      const size_t eq = entry.find('=');
      const std::string kind(entry.substr(0, eq));
      if (eq == std::string_view::npos || !model::Catalog::BuiltIn().FindKind(kind)) {
        return absl::InvalidArgumentError(
            Cat(key, ": expected KIND=SPEED with a known kind, got \"", entry, "\""));
      }
      const std::string_view number = entry.substr(eq + 1);
      const std::optional<double> speed = ParseNumber(number);
      if (!speed || !(*speed > 0)) {
        return absl::InvalidArgumentError(
            Cat(key, ": speed of ", kind, " must be a number > 0, got \"", number, "\""));
      }
      (*target)[kind] = *speed;
    }
  }
  return std::make_unique<KindPreference>(all, by_class);
}

std::unique_ptr<engine::Scorer> MakeNodeOrderScorer() { return std::make_unique<NodeOrder>(); }

}  // namespace accelpack::policy
