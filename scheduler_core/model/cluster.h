// The cluster as the engine sees it: one snapshot per cycle.
//
// Plain values, no behaviour: the wire form (proto/) converts into these in one
// place (service/proto_convert), the simulator builds them directly. Call
// ValidateSnapshot() before handing a snapshot to the engine: it checks every
// count and reference and resolves accelerator kinds against the catalog.
#pragma once

#include <algorithm>
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "absl/functional/function_ref.h"
#include "absl/status/status.h"
#include "common/field_path.h"
#include "model/catalog.h"

namespace accelpack::model {

inline constexpr int kMilliPerDevice = 1000;

// Bounds on every time in a snapshot (Unix seconds) and every time limit (seconds):
// about 34,800 years, beyond any real clock and Slurm's largest limit (2^32 - 2
// minutes), and small enough that the engine's sums and differences of two times
// (start + limit, now - submit) can never overflow int64.
inline constexpr int64_t kMaxTimeS = int64_t{1} << 40;

// Bounds on list lengths, so that a request's cost is bounded by the cluster, not
// by what the request says: names per list (partitions, features), accelerator
// pools per node. A job's node lists are bounded by the snapshot's node count.
inline constexpr size_t kMaxNamesPerList = 1024;
// Advanced reservations in one snapshot (sites hold tens).
inline constexpr size_t kMaxReservations = 10000;
inline constexpr size_t kMaxPoolsPerNode = 64;

// a + b for times, saturating at kMaxTimeS * 2 (never reached by validated input).
inline int64_t AddTimes(int64_t a, int64_t b) {
  constexpr int64_t kCeiling = 2 * kMaxTimeS;
  if (a > kCeiling || b > kCeiling) return kCeiling;
  if (a < -kCeiling || b < -kCeiling) return -kCeiling;
  return a + b;
}

enum class NodeState { kIdle, kMixed, kAllocated, kDown, kDrained, kReserved };
enum class JobClass { kUnspecified, kInference, kTraining, kOther };

std::string_view JobClassName(JobClass job_class);

struct AcceleratorPool {
  std::string gres_name;
  std::string gres_type;
  int count = 0;
  int allocated = 0;
  // Share in use per device (0..1000); ValidateSnapshot fills it from `allocated`
  // when the controller tracks only a count.
  std::vector<int> used_milli;
  std::string kind;     // optional override of the GRES -> kind map
  int kind_index = -1;  // resolved by ValidateSnapshot
  // Interconnect groups (HCCS rings, NVSwitch boards) by device index, as the
  // node probe found them; empty: the kind's rule (contiguous groups) applies.
  std::vector<std::vector<int>> device_groups;
  // Slurm's `shard` GRES on these devices, per device index (shard counts may
  // differ per device); empty: the pool is not shared. `used_milli` then counts
  // only whole-device (and milli-share) use; shards are counted here.
  std::vector<int> shards_total;
  std::vector<int> shards_used;
  // gres.conf Flags=one_sharing: once any shard is in use on the node, new shards
  // go only to devices already carrying shards.
  bool shards_one_sharing = false;
  // Slurm's select plugin picks which of these devices a job gets (the plugin sets
  // it: the lowest free ones), so the core plans a start here only where that pick
  // keeps the kind's topology rule. False (the simulator): the core's choice is the
  // allocation.
  bool slurm_picks_devices = false;
  // Unless the plugin makes Slurm give a start the planned devices (it holds the
  // others back): then, for a request with exact_per_node, the core's choice stands.
  bool holds_planned_devices = false;
  // The same for the shards of a start (an exact_per_node shard request): the
  // plugin makes Slurm take them from the planned device, so the core chooses it.
  bool holds_planned_shards = false;

  bool HasShards() const { return !shards_total.empty(); }
};

struct Node {
  std::string name;
  NodeState state = NodeState::kIdle;
  std::vector<std::string> partitions;
  std::vector<std::string> features;
  // `features` in order (validation sorts them): a job's feature clauses are looked up
  // by halving, not read through, on every node.
  bool features_sorted = false;
  int cpus_total = 0;
  int cpus_allocated = 0;
  int64_t memory_total_mib = 0;
  int64_t memory_allocated_mib = 0;
  std::vector<AcceleratorPool> accelerators;
  std::string network_switch;
  std::string superpod;

  bool Usable() const {
    return state != NodeState::kDown && state != NodeState::kDrained &&
           state != NodeState::kReserved;
  }
  // Every one of `wanted` is among the node's active features.
  bool HasFeatures(const std::vector<std::string>& wanted) const {
    return std::all_of(wanted.begin(), wanted.end(), [this](const std::string& f) {
      return features_sorted ? std::binary_search(features.begin(), features.end(), f)
                             : std::find(features.begin(), features.end(), f) != features.end();
    });
  }
};

struct AcceleratorRequest {
  std::string gres_name;  // empty: the job wants no accelerators
  std::vector<std::string> allowed_types;
  int count_per_node = 0;
  int fraction_milli = 0;  // 1..999: share of one device
  // --gres=shard:N: N shards on each node (count_per_node is then 1, gres_name
  // the GRES the shards are carved from, "gpu"). 0: no shards.
  int shards_per_node = 0;
  // The count is exactly count_per_node (shards_per_node) on each node: not per task
  // or socket (those follow the cores Slurm picks), not a whole-node job.
  bool exact_per_node = false;

  bool WantsDevices() const { return !gres_name.empty() && count_per_node > 0; }
  bool WantsShards() const { return WantsDevices() && shards_per_node > 0; }
  bool IsFractional() const { return fraction_milli > 0 && fraction_milli < kMilliPerDevice; }
  // Whether devices of `pool` satisfy this request's GRES name and allowed types.
  bool Allows(const AcceleratorPool& pool) const;
  // Whether a start of this request on `pool` gets exactly the devices (or the
  // shards' device) the plan names, the plugin holding the others back: then the
  // core's choice stands, not a prediction of Slurm's own pick.
  bool GetsPlannedDevices(const AcceleratorPool& pool) const;
};

struct PendingJob {
  uint32_t id = 0;
  std::string user;
  std::string account;
  std::vector<std::string> partitions;
  int64_t priority = 0;
  int64_t submit_time = 0;
  int64_t time_limit_s = 0;
  int num_nodes = 1;
  AcceleratorRequest accelerators;
  int cpus_per_node = 0;
  int64_t memory_per_node_mib = 0;
  std::vector<std::string> features;
  JobClass job_class = JobClass::kUnspecified;
  std::vector<std::string> required_nodes;
  std::vector<std::string> excluded_nodes;
  std::string qos;
  bool exclusive = false;  // needs nodes nothing else runs on
  // Where Slurm refused this job's planned start recently (the plugin's memory).
  std::vector<std::string> refused_nodes;
  int refused_starts = 0;
  std::string refused_reason;
  // Advanced reservations the job may run in; with reservation_only, nowhere else.
  std::vector<std::string> reservations;
  bool reservation_only = false;
  // Alternatives: a node must carry every feature of at least one clause (besides
  // `features`). Empty: none.
  std::vector<std::vector<std::string>> feature_any;
  // Matching OR ("[a|b]"): all the job's nodes satisfy one and the same clause.
  bool feature_any_matching = false;
  // --exclusive=user: shares its nodes only with jobs of its own user (by uid: the
  // name may be unknown to the controller until the job starts).
  bool exclusive_user = false;
  uint32_t user_id = 0;
};

// One of Slurm's advanced reservations: a node/time window.
struct AdvancedReservation {
  std::string name;
  int64_t start = 0;
  int64_t end = 0;
  std::vector<std::string> nodes;
  // CoreCnt or TRES=gres/...: only part of each node. With reserved_cpus and
  // reserved_devices (one entry per entry of nodes) other jobs use the rest and the
  // reservation's own jobs only that part; without them the nodes count as wholly
  // reserved.
  bool partial = false;
  std::vector<int> reserved_cpus = {};
  std::vector<int> reserved_devices = {};

  bool PartCounted() const { return partial && reserved_cpus.size() == nodes.size(); }
};

struct NodeAllocation {
  std::string node;
  std::string gres_name;
  std::string gres_type;
  int device_count = 0;
  std::vector<int> device_indices;
  int fraction_milli = 0;
  int cpus = 0;
  int64_t memory_mib = 0;
  // Shards held per entry of device_indices; empty: whole devices (or a share).
  std::vector<int> device_shards = {};
};

struct RunningJob {
  uint32_t id = 0;
  std::vector<NodeAllocation> allocations;
  int64_t start_time = 0;
  int64_t time_limit_s = 0;  // 0: unlimited
  JobClass job_class = JobClass::kUnspecified;
  uint32_t user_id = 0;
  // --exclusive=user: while it runs, its nodes take no other user's job.
  bool exclusive_user = false;
  // The advanced reservation it runs in; empty: none.
  std::string reservation;
  // What choosing preemption victims needs (docs/preemption.md). The policy names
  // which partitions and QOS are preemptible; only a requeueable batch job (sbatch
  // with requeue allowed) may be a victim: PreemptMode=REQUEUE cancels the others.
  std::string partition;
  std::string qos;
  bool requeueable = false;
  // Start plus Slurm's PreemptExemptTime (its QOS's, else the global one): never a
  // victim before then. 0: no exemption.
  int64_t preempt_exempt_until = 0;
  // Already being preempted (signalled, requeue under way): its devices are as good
  // as free for the job it makes room for, so the core plans no further victims.
  bool draining = false;
};

// How the controller's cons_tres hands out shards inside a node (see
// docs/plugin.md "Shards and MIG"): the core models the rule, it cannot choose.
struct ShardRules {
  bool least_loaded = false;      // SelectTypeParameters=LL_SHARED_GRES
  bool multiple_per_job = false;  // MULTIPLE_SHARING_GRES_PJ: one job's shards over devices
  // Slurm before 23.11.5 may hand out a GPU whole and as shards at once: the core
  // keeps whole-device work off nodes where that could happen.
  bool whole_and_shards_unguarded = false;
};

struct Snapshot {
  int64_t now = 0;
  ShardRules shard_rules;
  std::vector<Node> nodes;
  std::vector<PendingJob> pending;
  std::vector<RunningJob> running;
  std::vector<AdvancedReservation> reservations;
};

// Checks counts, ranges, uniqueness of node and job ids and that every reference
// names a node of the snapshot; resolves kinds. The error message names the
// field, e.g. "nodes[2].accelerators[0].allocated: 9 exceeds count 8".
absl::Status ValidateSnapshot(Snapshot& snapshot, const Catalog& catalog);

// The same checks record by record, for a snapshot kept from cycle to cycle and
// changed by deltas (the core's delta bases): each checks one record as
// ValidateSnapshot does, against the snapshot's node names (`is_node`); names
// and ids given twice are the caller's to rule out. Nodes get their kinds
// resolved as in ValidateSnapshot. ValidateSnapshot of a snapshot that passed is
// a no-op: it may be run again, e.g. once nodes came or went.
using IsNodeName = absl::FunctionRef<bool(std::string_view)>;
absl::Status ValidateSnapshotTime(int64_t now);
// At most kMaxReservations: every reservation-only job's filter reads them all, on
// every node (a delta that adds some is checked against it too).
absl::Status ValidateReservationCount(size_t count);
absl::Status ValidateNodeRecord(Node& node, const FieldPath& field, const Catalog& catalog);
absl::Status ValidatePendingRecord(const PendingJob& job, const FieldPath& field, size_t node_count,
                                   IsNodeName is_node);
absl::Status ValidateRunningRecord(const RunningJob& job, const FieldPath& field,
                                   IsNodeName is_node);
absl::Status ValidateReservationRecord(const AdvancedReservation& reservation,
                                       const FieldPath& field, IsNodeName is_node);

}  // namespace accelpack::model
