// The placement engine: snapshot and policy in, plan out.
//
// Pure and deterministic: no clock, socket or file; the same validated snapshot
// and pipeline give the same plan whatever order the snapshot lists things in.
// The daemon, the simulator and the tests all run this code.
#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>

#include "engine/cluster_state.h"
#include "engine/framework.h"
#include "engine/plan.h"
#include "model/cluster.h"

namespace accelpack::engine {

// What a cycle may spend, without a clock in the engine. Work is counted in node
// evaluations, so a cycle with a given budget makes the same plan every time;
// `cancelled` is polled every few thousand evaluations and lets a caller whose
// client has gone (deadline passed) stop the cycle. Memory is bounded too: the
// static verdicts of distinct job shapes (where each shape may run, tens of bytes per
// node and shape) stop the cycle once they hold `max_shape_bytes`. Jobs not evaluated
// get the reason kCycleLimit "not evaluated: ..." (Slurm's bf_max_job_test: every job
// after that point waits, so none of them takes what a job before it waits for). The
// default: no work budget, never cancelled, shapes up to 128 MiB (the dynamic
// simulator, the plugin's built-in fallback and the tests run so; the static protocol
// places through a PlacementCache, without a cycle or its bounds).
struct WorkBudget {
  uint64_t max_node_evaluations = 0;               // 0: unbounded
  std::function<bool()> cancelled;                 // empty: never
  uint64_t max_shape_bytes = uint64_t{128} << 20;  // 0: unbounded
};

// One scheduling cycle over a snapshot that passed model::ValidateSnapshot.
Plan Schedule(const model::Snapshot& snapshot, const model::Catalog& catalog,
              const Pipeline& pipeline, const WorkBudget& budget = {});

// Why a single placement attempt failed: counts per reason over the nodes.
struct PlacementFailure {
  PendingCode code = PendingCode::kResources;
  std::string message;
};

// What the engine learns about job shapes on one ClusterState (where each shape
// may ever run; each node's device candidates and evaluation until the node
// changes), kept across placements so a stream of similar jobs costs one pass per
// change, not per job; jobs that differ only in CPUs and memory share the device
// search. Bounded in memory.
// Bound to one state and pipeline, which must outlive it, and to one cycle's
// PreScore results (`cycle`, which must outlive it too; null: outside a cycle, as
// the static protocol runs): every job placed through it sees those, so the scores
// it keeps never mix cycles. Not thread-safe.
class PlacementCache {
 public:
  PlacementCache(const ClusterState& state, const Pipeline& pipeline,
                 const CycleState* cycle = nullptr);
  ~PlacementCache();
  PlacementCache(const PlacementCache&) = delete;
  PlacementCache& operator=(const PlacementCache&) = delete;

  struct Impl;
  Impl& impl() { return *impl_; }

 private:
  std::unique_ptr<Impl> impl_;
};

// Best placement of one job on the cluster as `state` has it now, honouring the
// pipeline's filters and scorers, all nodes of a gang or none. Exposed for the
// simulator's one-task-at-a-time protocol and for tests; pass a cache made for
// this state and pipeline when placing many jobs in a row (the cache's cycle then
// replaces job.cycle; without one, job.cycle is used).
std::optional<JobStart> FindPlacement(const Job& job, const ClusterState& state,
                                      const Pipeline& pipeline, PlacementFailure* failure = nullptr,
                                      PlacementCache* cache = nullptr);

// The ways `job` could take devices on node n as `state` has it now (one for a job
// without accelerators); empty with `reason` set when none. Filters not applied.
std::vector<Candidate> DeviceCandidatesOn(const Job& job, int n, const ClusterState& state,
                                          std::string_view* reason);

// Wraps a pending job with its class, effective priority and time limit.
Job MakeJob(const model::PendingJob& request, const Pipeline& pipeline, int64_t now);

}  // namespace accelpack::engine
