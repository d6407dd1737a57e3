// Extension points of the placement pipeline.
//
// A policy is a set of plugins at these points; the engine runs them and never
// asks which policy it runs (cf. the Kubernetes scheduler framework):
//   QueueOrder  -> which pending job goes first (class, effective priority)
//   Filter      -> can this node host this job (static: ever; dynamic: now)
//   PreScore    -> once per cycle, what a scorer derives from the whole snapshot
//                  (e.g. the shapes the pending queue asks for)
//   Scorer      -> how good is this candidate placement, 0..100, times a weight
// "Cannot place here" is a reason string naming why, never an error.
//
// Thread-safety: plugins are immutable after construction; one pipeline may
// serve concurrent cycles.
#pragma once

#include <algorithm>
#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <unordered_set>
#include <vector>

#include "engine/cluster_state.h"
#include "model/cluster.h"

namespace accelpack::engine {

// Hash lookups over a textual list; finds std::string_view keys without copies.
struct NameHash {
  using is_transparent = void;
  size_t operator()(std::string_view name) const { return std::hash<std::string_view>{}(name); }
};
using NameSet = std::unordered_set<std::string, NameHash, std::equal_to<>>;

// A job's name lists as hash sets, built once per job shape by the engine, so a
// filter's look-up costs the same however long the lists are.
struct JobNameSets {
  NameSet partitions;
  NameSet features;
  NameSet excluded_nodes;
  NameSet reservations;

  explicit JobNameSets(const model::PendingJob& job)
      : partitions(job.partitions.begin(), job.partitions.end()),
        features(job.features.begin(), job.features.end()),
        excluded_nodes(job.excluded_nodes.begin(), job.excluded_nodes.end()),
        reservations(job.reservations.begin(), job.reservations.end()) {}
};

class Scorer;

// What a scorer derived in PreScore for one cycle; the scorer's own type.
class ScorerCycleData {
 public:
  virtual ~ScorerCycleData() = default;
};

// Every scorer's PreScore result for one cycle (Kubernetes' CycleState). Built once
// per cycle by the engine, read-only while the cycle places jobs.
class CycleState {
 public:
  void Set(const Scorer* scorer, std::unique_ptr<const ScorerCycleData> data) {
    data_.emplace_back(scorer, std::move(data));
  }
  // What `scorer` returned from PreScore this cycle; null when nothing.
  const ScorerCycleData* Of(const Scorer* scorer) const {
    for (const auto& [owner, data] : data_) {
      if (owner == scorer) return data.get();
    }
    return nullptr;
  }
  bool empty() const { return data_.empty(); }

 private:
  std::vector<std::pair<const Scorer*, std::unique_ptr<const ScorerCycleData>>> data_;
};

// A pending job as the pipeline sees it: the request plus what the queue order decided.
struct Job {
  const model::PendingJob* request = nullptr;
  model::JobClass job_class = model::JobClass::kOther;
  double effective_priority = 0;
  int64_t time_limit_s = 0;  // the request's, or the policy's default
  // Set by the engine while it evaluates the job; filters fall back to the lists
  // when null (a job built by hand in a test).
  const JobNameSets* names = nullptr;
  // The cycle's PreScore results, set by the placement cache that evaluates the job
  // (so every score it caches saw the same ones); null outside a cycle (the static
  // protocol, a test's hand-built job).
  const CycleState* cycle = nullptr;
  // Runs in a preemptible partition or QOS (PreemptionRules): may be requeued to make
  // room for other work, and never preempts anything itself.
  bool preemptible = false;

  const model::PendingJob& operator*() const { return *request; }
  const model::PendingJob* operator->() const { return request; }
};

// One way to place a job on one node: which pool, which devices.
struct Candidate {
  int node = -1;
  int pool = -1;  // -1: the job takes no accelerators
  std::vector<int> devices;
  int fraction_milli = 0;               // for shards: their share of the device (model::ShardMilli)
  std::vector<int> device_shards = {};  // Slurm shards per entry of devices; empty: none

  // Device share the placement takes from the pool, in milli-devices.
  int taken_milli() const {
    if (pool < 0) return 0;
    return fraction_milli > 0 ? fraction_milli
                              : static_cast<int>(devices.size()) * model::kMilliPerDevice;
  }
};

class QueueOrder {
 public:
  virtual ~QueueOrder() = default;
  virtual model::JobClass Classify(const model::PendingJob& job) const = 0;
  // Higher runs first; ties by submit time then job id.
  virtual double EffectivePriority(const model::PendingJob& job, model::JobClass job_class,
                                   int64_t now) const = 0;
};

enum class FilterStage {
  kStatic,   // depends only on configuration: a rejection means "never here"
  kDynamic,  // depends on what is free now
};

class Filter {
 public:
  virtual ~Filter() = default;
  virtual std::string_view name() const = 0;
  virtual FilterStage stage() const = 0;
  // Empty when node `n` passes; otherwise a short reason ("not in partition").
  virtual std::string_view Reject(const Job& job, int n, const ClusterState& state) const = 0;
  // True when the verdict depends only on the job's shape (partitions, features,
  // request, CPUs, memory, nodes, class) and the node: the engine then reuses it
  // for every job of that shape until the node changes.
  virtual bool DependsOnlyOnShape() const { return true; }
  // False when the verdict does not read the job's CPUs or memory: the engine then
  // shares it between jobs that differ only there (every job may ask its own --mem).
  virtual bool ReadsCpusOrMemory() const { return true; }
  // For a static filter that reads CPUs or memory: what of node n the verdict reads
  // (e.g. its size), such that nodes with equal keys get equal verdicts for every
  // job; the engine then asks once per key and job shape, not once per node.
  // nullopt: no such key, asked per node.
  virtual std::optional<std::string> NodeKey(int /*n*/, const ClusterState& /*state*/) const {
    return std::nullopt;
  }
};

class Scorer {
 public:
  virtual ~Scorer() = default;
  virtual std::string_view name() const = 0;
  // 0..100, higher is better. `state` is the cluster before the placement.
  virtual double Score(const Job& job, const Candidate& candidate,
                       const ClusterState& state) const = 0;
  // As Filter::DependsOnlyOnShape; a scorer that reads the job id (random) says false.
  // What PreScore returned does not count: it is fixed for a cycle, and a placement
  // cache serves one cycle (it hands its cycle's state to every job it evaluates).
  virtual bool DependsOnlyOnShape() const { return true; }
  // Called once per cycle before any Score of it, with the cycle's snapshot (its
  // pending queue included); what it returns reaches Score as job.cycle->Of(this).
  // A scorer that returns something depends on the queue: the engine keeps its
  // scores only within that cycle. Null (the default): Score reads no cycle data.
  virtual std::unique_ptr<const ScorerCycleData> PreScore(const model::Snapshot&) const {
    return nullptr;
  }
  // As Filter::ReadsCpusOrMemory: a scorer that reads neither is scored once per
  // node change for all jobs that differ only in CPUs and memory.
  virtual bool ReadsCpusOrMemory() const { return true; }
};

struct WeightedScorer {
  std::unique_ptr<Scorer> scorer;
  double weight = 1;
};

struct EngineLimits {
  int max_reservations = 16;         // blocked jobs that get a planned start
  int max_jobs_per_cycle = 0;        // 0: every pending job
  int64_t default_time_limit_s = 0;  // for jobs without one; 0: one year
  // A reserved node takes no other job that would outlast the planned start, even one
  // that fits beside the reserved job (stock sched/backfill: its plan is per node).
  bool reservations_hold_whole_nodes = false;
  int64_t reservation_window_s = 0;  // no reservation further out; 0: none (bf_window)
  // Choose a job's nodes as select/cons_tres does without a topology plugin: the nodes
  // where it fits now form runs of consecutive nodes (node order); the run that holds
  // it with the fewest CPUs free wins, a gang takes its first nodes, and the scorers
  // choose only a run's last node (a one-node job's node).
  bool select_consecutive_runs = false;
};

// Harvest and reclaim (docs/preemption.md). Work in a partition or QOS named here is
// preemptible: with `harvest` it is placed after all other pending work and may use
// nodes held for a reserved job that can reclaim them; a job of a `reclaim_for` class
// that cannot start may have the core plan victims among running preemptible,
// requeueable jobs. Neither list set: no preemption at all.
struct PreemptionRules {
  std::vector<std::string> partitions;
  std::vector<std::string> qos;
  bool harvest = true;
  std::vector<model::JobClass> reclaim_for = {model::JobClass::kInference,
                                              model::JobClass::kTraining, model::JobClass::kOther};
  // A job plans victims only once it has waited this long: work ending soon often
  // frees room without losing any.
  int64_t reclaim_after_s = 0;
  // Never a victim younger than this (besides Slurm's PreemptExemptTime, per job).
  int64_t min_runtime_s = 0;
  // The cost bound: no start is worth more victims than this.
  int max_victims_per_job = 8;
  // Jobs per cycle that may try to make room (each try costs a pass over the nodes).
  int max_reclaims_per_cycle = 16;

  bool enabled() const { return !partitions.empty() || !qos.empty(); }
  bool PartitionIsPreemptible(std::string_view partition) const {
    return std::find(partitions.begin(), partitions.end(), partition) != partitions.end();
  }
  bool QosIsPreemptible(std::string_view name) const {
    return !name.empty() && std::find(qos.begin(), qos.end(), name) != qos.end();
  }
  // A pending job is preemptible when its QOS is, or every partition it may run in is.
  bool IsPreemptible(const model::PendingJob& job) const {
    if (QosIsPreemptible(job.qos)) return true;
    return !job.partitions.empty() &&
           std::all_of(job.partitions.begin(), job.partitions.end(),
                       [&](const std::string& p) { return PartitionIsPreemptible(p); });
  }
  bool IsPreemptible(const model::RunningJob& job) const {
    return QosIsPreemptible(job.qos) || PartitionIsPreemptible(job.partition);
  }
  bool MayReclaim(model::JobClass job_class) const {
    return std::find(reclaim_for.begin(), reclaim_for.end(), job_class) != reclaim_for.end();
  }
};

// Runs every scorer's PreScore over the cycle's snapshot.
inline CycleState PreScoreCycle(const model::Snapshot& snapshot,
                                const std::vector<WeightedScorer>& scorers) {
  CycleState cycle;
  for (const WeightedScorer& ws : scorers) {
    if (auto data = ws.scorer->PreScore(snapshot)) cycle.Set(ws.scorer.get(), std::move(data));
  }
  return cycle;
}

// One policy, ready to run: plugins plus limits. Built by policy::BuildPipeline.
struct Pipeline {
  std::string name;
  std::unique_ptr<QueueOrder> queue_order;
  std::vector<std::unique_ptr<Filter>> filters;
  std::vector<WeightedScorer> scorers;
  EngineLimits limits;
  PreemptionRules preemption;
};

}  // namespace accelpack::engine
