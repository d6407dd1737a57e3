#include "policy/registry.h"

#include <cmath>
#include <cstdlib>

#include "common/strings.h"
#include "policy/baselines.h"
#include "policy/plugins.h"
#include "policy/share_patterns.h"

namespace accelpack::policy {

namespace {

using FilterFactory = std::unique_ptr<engine::Filter> (*)();

const std::map<std::string, FilterFactory, std::less<>>& Filters() {
  static const auto* const kFilters = new std::map<std::string, FilterFactory, std::less<>>{
      {"partition", &MakePartitionFilter},
      {"features", &MakeFeatureFilter},
      {"excluded_nodes", &MakeExcludedNodesFilter},
      {"accelerator_type", &MakeAcceleratorTypeFilter},
      {"capacity", &MakeCapacityFilter},
      {"node_state", &MakeNodeStateFilter},
      {"free_cpus", &MakeFreeCpusFilter},
      {"free_memory", &MakeFreeMemoryFilter},
      {"exclusive", &MakeExclusiveFilter},
      {"refused_nodes", &MakeRefusedNodesFilter},
      {"reservation", &MakeReservationFilter},
      {"shard_collision", &MakeShardCollisionFilter},
      {"untyped_whole_devices", &MakeUntypedWholeDevicesFilter},
  };
  return *kFilters;
}

template <std::unique_ptr<engine::Scorer> (*Make)()>
absl::StatusOr<std::unique_ptr<engine::Scorer>> NoArgs(const PluginArgs& args) {
  if (!args.empty()) {
    return absl::InvalidArgumentError(Cat("takes no arguments, got \"", args.begin()->first, "\""));
  }
  return Make();
}

const std::map<std::string, ScorerFactory, std::less<>>& Scorers() {
  static const auto* const kScorers = new std::map<std::string, ScorerFactory, std::less<>>{
      {"best_fit_devices", &NoArgs<&MakeBestFitDevicesScorer>},
      {"best_fit_cpu", &NoArgs<&MakeBestFitCpuScorer>},
      {"node_order", &NoArgs<&MakeNodeOrderScorer>},
      {"fewest_free_cpus", &NoArgs<&MakeFewestFreeCpusScorer>},
      {"protect_accelerators", &MakeProtectAcceleratorsScorer},
      {"shard_packing", &NoArgs<&MakeShardPackingScorer>},
      {"kind_preference", &MakeKindPreferenceScorer},
      {"random", &MakeRandomScorer},
      {"dot_product", &MakeDotProductScorer},
      {"gpu_clustering", &MakeGpuClusteringScorer},
      {"gpu_packing", &MakeGpuPackingScorer},
      {"best_fit", &MakeBestFitScorer},
      {"fgd", &MakeFgdScorer},
      {"fragmentation", &MakeFragmentationScorer},
      {"kind_pressure", &MakeKindPressureScorer},
      {"share_patterns", &MakeSharePatternsScorer},
  };
  return *kScorers;
}

template <typename Map>
std::vector<std::string> Keys(const Map& map) {
  std::vector<std::string> keys;
  for (const auto& [key, value] : map) keys.push_back(key);
  return keys;
}

}  // namespace

absl::StatusOr<std::unique_ptr<engine::Filter>> MakeFilter(std::string_view name) {
  auto it = Filters().find(name);
  if (it == Filters().end()) {
    return absl::InvalidArgumentError(
        Cat("unknown filter \"", name, "\" (known: ", Join(FilterNames(), ", "), ")"));
  }
  return it->second();
}

absl::StatusOr<std::unique_ptr<engine::Scorer>> MakeScorer(std::string_view name,
                                                           const PluginArgs& args) {
  auto it = Scorers().find(name);
  if (it == Scorers().end()) {
    return absl::InvalidArgumentError(
        Cat("unknown scorer \"", name, "\" (known: ", Join(ScorerNames(), ", "), ")"));
  }
  auto scorer = it->second(args);
  if (!scorer.ok()) {
    return absl::InvalidArgumentError(Cat("scorer ", name, ": ", scorer.status().message()));
  }
  return scorer;
}

std::vector<std::string> FilterNames() { return Keys(Filters()); }
std::vector<std::string> ScorerNames() { return Keys(Scorers()); }

std::optional<double> ParseNumber(std::string_view text) {
  const std::string copy(text);  // strtod needs the terminating NUL
  char* end = nullptr;
  const double value = std::strtod(copy.c_str(), &end);
  // NaN and infinities are no plugin's number: a NaN weight or speed breaks every comparison.
  if (copy.empty() || *end != '\0' || !std::isfinite(value)) return std::nullopt;
  return value;
}

absl::StatusOr<double> NumberArg(const PluginArgs& args, const std::string& key, double fallback) {
  auto it = args.find(key);
  if (it == args.end()) return fallback;
  const std::optional<double> value = ParseNumber(it->second);
  if (!value) {
    return absl::InvalidArgumentError(Cat(key, ": expected a number, got \"", it->second, "\""));
  }
  return *value;
}

}  // namespace accelpack::policy
