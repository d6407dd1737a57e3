// The standard filters, scorers and queue order that policies are made of.
//
// Each plugin is small and stateless beyond its constructor arguments; a
// policy file names them and gives weights (see registry.h). Scores are on
// 0..100 so that weights alone say which criterion matters more.
#pragma once

#include <map>
#include <memory>
#include <string>

#include "absl/status/statusor.h"
#include "engine/framework.h"

namespace accelpack::policy {

// Which class a job is and how far up the queue it goes.
struct QueueOrderConfig {
  double priority_weight = 1.0;      // times Slurm's priority
  double age_weight_per_hour = 0.0;  // added per hour waited
  std::map<model::JobClass, double> class_boost;
  std::map<std::string, model::JobClass> partition_classes;
  std::map<std::string, model::JobClass> qos_classes;
  model::JobClass default_class = model::JobClass::kOther;
  // Bounded wait: a job of this class pending longer than this many seconds goes ahead
  // of every job that has not waited its bound, oldest first, so its reservation is made
  // first and later work may only backfill around it. Boosts and priorities decide only
  // among jobs within their bounds. A class without an entry has no bound.
  std::map<model::JobClass, int64_t> max_wait_s;
};

std::unique_ptr<engine::QueueOrder> MakeQueueOrder(QueueOrderConfig config);

// Filters, by the names a policy file uses:
//   partition, features, excluded_nodes, accelerator_type, capacity   (static)
//   node_state, free_cpus, free_memory                                 (dynamic)
std::unique_ptr<engine::Filter> MakePartitionFilter();
std::unique_ptr<engine::Filter> MakeFeatureFilter();
std::unique_ptr<engine::Filter> MakeExcludedNodesFilter();
std::unique_ptr<engine::Filter> MakeAcceleratorTypeFilter();
std::unique_ptr<engine::Filter> MakeCapacityFilter();
std::unique_ptr<engine::Filter> MakeNodeStateFilter();
std::unique_ptr<engine::Filter> MakeFreeCpusFilter();
std::unique_ptr<engine::Filter> MakeFreeMemoryFilter();
// Rules Slurm itself enforces at start; BuildPolicy adds them to every policy.
std::unique_ptr<engine::Filter> MakeExclusiveFilter();
std::unique_ptr<engine::Filter> MakeRefusedNodesFilter();
std::unique_ptr<engine::Filter> MakeReservationFilter();
// Fractional accelerators (fractional.cc): shard_collision (dynamic, Slurm before
// 23.11.5; every policy runs it), untyped_whole_devices (static: keeps --gres=gpu:N
// without a type off nodes where Slurm could give it a MIG slice).
std::unique_ptr<engine::Filter> MakeShardCollisionFilter();
std::unique_ptr<engine::Filter> MakeUntypedWholeDevicesFilter();

// Scorers:
//   best_fit_devices: fewer devices left free in the pool after placement is better
//   best_fit_cpu:     fewer CPUs left free on the node is better
//   node_order:       earlier node name is better (what select/cons_tres does)
//   protect_accelerators: fewer free devices left without the CPUs/memory to use them
//   kind_preference:  faster kind (policy-given relative speeds, per class) is better
std::unique_ptr<engine::Scorer> MakeBestFitDevicesScorer();
std::unique_ptr<engine::Scorer> MakeBestFitCpuScorer();
std::unique_ptr<engine::Scorer> MakeNodeOrderScorer();
//   fewest_free_cpus: a one-node job on the node with the fewest CPUs free (cons_tres'
//                     best fit single node); 0 for multi-node jobs
std::unique_ptr<engine::Scorer> MakeFewestFreeCpusScorer();
// `shapes` (optional, as fragmentation's): a free device needs at most what the
// table's device work asks per device; without it, the node's own ratio.
absl::StatusOr<std::unique_ptr<engine::Scorer>> MakeProtectAcceleratorsScorer(
    const std::map<std::string, std::string>& args);
//   shard_packing:    shards go where the device cons_tres picks ends fullest; a busy one first
std::unique_ptr<engine::Scorer> MakeShardPackingScorer();
absl::StatusOr<std::unique_ptr<engine::Scorer>> MakeKindPreferenceScorer(
    const std::map<std::string, std::string>& args);

}  // namespace accelpack::policy
