// What one cycle decided: the engine's only output.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

namespace accelpack::engine {

// Devices taken on one node. `pool` indexes Node::accelerators; -1 when the job
// takes no accelerators there.
struct NodePlacement {
  int node = -1;  // index into the snapshot's nodes
  int pool = -1;
  std::vector<int> devices;
  int fraction_milli = 0;               // 0: whole devices
  std::vector<int> device_shards = {};  // Slurm shards per entry of devices; empty: none
};

struct JobStart {
  uint32_t job_id = 0;
  std::vector<NodePlacement> placements;
  int kind = -1;  // catalog index, -1 for a job without accelerators
};

struct Reservation {
  uint32_t job_id = 0;
  int64_t planned_start = 0;
  std::vector<int> nodes;
};

// Room made for a job by preemption: requeue `victims`, then start `job_id` on
// `nodes` once their devices are free (the job starts through a later cycle's plan,
// like any other). `awaiting` are victims of earlier cycles still draining there.
struct Preemption {
  uint32_t job_id = 0;
  std::vector<uint32_t> victims;
  std::vector<uint32_t> awaiting;
  std::vector<int> nodes;  // snapshot node indices, in name order
  // Device-seconds of work the victims lose (since each started; no checkpoint known).
  int64_t lost_device_s = 0;
};

enum class PendingCode { kResources, kPriority, kNeverFits, kTopology, kCycleLimit };

struct PendingReason {
  uint32_t job_id = 0;
  PendingCode code = PendingCode::kResources;
  std::string message;
};

struct KindUsage {
  int kind = -1;              // catalog index
  int devices_total = 0;      // on usable nodes
  int devices_allocated = 0;  // whole or partly in use
  int devices_idle = 0;
  int devices_unusable = 0;  // on down, drained or reserved nodes
  // Idle devices while at least one job still pending allows this kind: the waste
  // accelpack exists to remove.
  int devices_idle_while_demanded = 0;
};

struct Plan {
  std::vector<JobStart> starts;
  std::vector<Reservation> reservations;
  std::vector<PendingReason> pending;
  std::vector<Preemption> preemptions;
  // Devices per kind once the starts have begun (UsageByKind), counted from the
  // cycle's own state: recounting it from the snapshot costs the service ~2 ms a
  // cycle at 4,096 nodes.
  std::vector<KindUsage> usage;
  // The cycle stopped at WorkBudget::max_node_evaluations (not by cancellation):
  // some jobs are pending as kCycleLimit "not evaluated".
  bool work_budget_ran_out = false;
  // The cycle stopped at WorkBudget::max_shape_bytes: some jobs are pending as
  // kCycleLimit "not evaluated".
  bool shape_table_full = false;
};

}  // namespace accelpack::engine
