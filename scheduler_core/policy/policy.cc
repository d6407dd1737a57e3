#include "policy/policy.h"

#include <algorithm>

#include "common/strings.h"
#include "policy/registry.h"

namespace accelpack::policy {

std::string_view ClassName(model::JobClass job_class) { return model::JobClassName(job_class); }

absl::StatusOr<model::JobClass> ParseClass(std::string_view name) {
  if (name == "inference") return model::JobClass::kInference;
  if (name == "training") return model::JobClass::kTraining;
  if (name == "other") return model::JobClass::kOther;
  return absl::InvalidArgumentError(
      Cat("unknown class \"", name, "\" (inference, training, other)"));
}

PolicyConfig DefaultPolicy() {
  PolicyConfig config;
  config.queue.age_weight_per_hour = 10;
  // Inference first at equal Slurm priority: short, latency-sensitive starts fill
  // holes; training is protected by reservations and ageing.
  config.queue.class_boost = {{model::JobClass::kInference, 100}};
  config.queue.partition_classes = {{"inference", model::JobClass::kInference},
                                    {"training", model::JobClass::kTraining}};
  // The boost above would let a stream of inference hold a training gang back for ten
  // hours of ageing. Past these waits a job goes first and reserves its nodes; the rest
  // backfill around it. A gang's wait is then at most its bound plus the longest time
  // limit of the jobs running on the nodes it reserves.
  config.queue.max_wait_s = {{model::JobClass::kInference, 600},
                             {model::JobClass::kTraining, 1800},
                             {model::JobClass::kOther, 3600}};
  // Each reservation holds its nodes against everything that would outlast its start,
  // and the devices freed there sit idle until it starts. Four (not the engine's 16)
  // gave the dynamic replay the fewest idle device-hours, inference waits of seconds
  // and the shortest training p99 together (docs/benchmarks-sim.md); the overdue jobs
  // (max_wait_s) come first in the queue, so they are the ones that get them.
  config.limits.max_reservations = 4;
  // An untyped --gres=gpu:N runs on whole GPUs: on a node with MIG slices Slurm could
  // give it a slice, so it does not go there (a site that wants otherwise drops
  // untyped_whole_devices from its policy).
  config.filters = {"partition",  "features",  "excluded_nodes", "accelerator_type",     "capacity",
                    "node_state", "free_cpus", "free_memory",    "untyped_whole_devices"};
  // Tiers, all measured on the FGD openb traces (docs/benchmarks-sim.md):
  //  - strand no devices: a job that eats a node's CPUs or memory leaves its free
  //    accelerators unusable (protect_accelerators; with a table, a device needs what
  //    the table's device work asks per device, at most the node's own ratio);
  //  - at the same weight, the expected fragmentation over the workload's typical
  //    shapes (fragmentation, FGD's measure as a continuous gradient);
  //  - at the same weight, a GPU share lands where its device's fill stays on a pattern
  //    of the best packing of the workload's shares (share_patterns);
  //  - portable work keeps off the kinds that pinned work needs (kind_pressure);
  //  - then CPU fit, then device fit break what is left.
  // Without a shape table (`shapes`, which the simulator fills in from the replayed
  // workload) the workload scorers read each cycle's snapshot (fragmentation and
  // kind_pressure its queue, share_patterns its running and pending shares;
  // protect_accelerators keeps each node's own ratio).
  config.scorers = {{"protect_accelerators", 10000, {}}, {"fragmentation", 10000, {}},
                    {"share_patterns", 10000, {}},       {"kind_pressure", 1000, {}},
                    {"shard_packing", 10000, {}},        {"best_fit_cpu", 50, {}},
                    {"best_fit_devices", 1, {}}};
  return config;
}

absl::StatusOr<BuiltPolicy> BuildPolicy(const PolicyConfig& config) {
  BuiltPolicy built;
  built.catalog = model::Catalog::BuiltIn();
  for (size_t i = 0; i < config.kinds.size(); ++i) {
    absl::Status status = built.catalog.MapGres(config.kinds[i]);
    if (!status.ok()) return absl::InvalidArgumentError(Cat("kinds[", i, "]: ", status.message()));
  }
  auto pipeline = std::make_unique<engine::Pipeline>();
  pipeline->name = config.name;
  pipeline->queue_order = MakeQueueOrder(config.queue);
  pipeline->limits = config.limits;
  pipeline->preemption = config.preemption;
  if (config.preemption.min_runtime_s < 0 || config.preemption.reclaim_after_s < 0 ||
      config.preemption.max_victims_per_job < 0 || config.preemption.max_reclaims_per_cycle < 0) {
    return absl::InvalidArgumentError("preemption: values must not be negative");
  }
  if (config.limits.max_reservations < 0 || config.limits.max_jobs_per_cycle < 0 ||
      config.limits.default_time_limit_s < 0) {
    return absl::InvalidArgumentError("limits: values must not be negative");
  }
  for (size_t i = 0; i < config.filters.size(); ++i) {
    auto filter = MakeFilter(config.filters[i]);
    if (!filter.ok())
      return absl::InvalidArgumentError(Cat("filters[", i, "]: ", filter.status().message()));
    pipeline->filters.push_back(std::move(*filter));
  }
  // Slurm refuses an exclusive job on a busy node, a job outside its reservation, and a
  // start it just refused would be refused again: planning either wastes every cycle.
  // Not a policy choice, so every policy runs them, listed or not.
  // Nor is keeping whole-GPU work off GPUs that carry shards where Slurm does not.
  for (std::string_view rule : {"exclusive", "refused_nodes", "reservation", "shard_collision"}) {
    const bool listed = std::any_of(config.filters.begin(), config.filters.end(),
                                    [&](const std::string& name) { return name == rule; });
    if (!listed) pipeline->filters.push_back(*MakeFilter(rule));
  }
  for (size_t i = 0; i < config.scorers.size(); ++i) {
    const ScorerConfig& sc = config.scorers[i];
    if (!(sc.weight >= 0)) {
      return absl::InvalidArgumentError(Cat("scorers[", i, "].weight: must be >= 0"));
    }
    auto scorer = MakeScorer(sc.name, sc.args);
    if (!scorer.ok())
      return absl::InvalidArgumentError(Cat("scorers[", i, "]: ", scorer.status().message()));
    pipeline->scorers.push_back({std::move(*scorer), sc.weight});
  }
  built.pipeline = std::move(pipeline);
  return built;
}

}  // namespace accelpack::policy
