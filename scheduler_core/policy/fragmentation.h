// SPDX-License-Identifier: GPL-2.0-or-later
// Expected fragmentation of a node for a workload's typical task shapes, as
// defined by Weng et al., "Beware of Fragmentation" (USENIX ATC 2023), and the
// placement's gradient of it. Shared by the `fgd` baseline (the paper's integer
// score) and our own `fragmentation` scorer (the continuous gradient).
//
// For one shape m and one device pool: all of the pool's free device share counts
// as fragment when the pool cannot host m (too few devices with room, too few free
// CPUs, a GPU model m does not allow, or m asks for no device at all); otherwise
// only the free shares of devices too small for m's per-device share. The node's
// fragmentation is the popularity-weighted sum over shapes and pools. A shape
// pinned to a model therefore only "uses" nodes of that model: portable work placed
// on the model pinned work needs grows the expected fragmentation, placed elsewhere
// it shrinks it, which is demand pressure per kind without any extra table.
//
// Thread-safety: a FragModel is immutable after construction.
#pragma once

#include <cstddef>
#include <cstdint>
#include <functional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "absl/status/statusor.h"
#include "engine/framework.h"
#include "policy/registry.h"

namespace accelpack::policy {

// One task shape of a workload and its share of tasks.
struct TaskShape {
  int cpus = 0;                            // per node, in the snapshot's CPU unit
  int gpu_count = 0;                       // devices per node; 0: a task without devices
  int gpu_milli = 0;                       // share of each device, 1..1000
  std::vector<std::string> allowed_types;  // GRES types; empty: any
  double weight = 0;                       // popularity; a table's weights sum to 1
  int64_t memory_mib = 0;                  // mean memory of the shape's tasks; 0: unknown
};
using ShapeTable = std::vector<TaskShape>;

// The typical shapes of a workload as FGD defines them: shapes by count, most
// popular first, until `coverage` of all tasks is covered; weights renormalised.
ShapeTable TypicalShapes(std::vector<TaskShape> counted, double coverage = 0.95);

// The shapes the snapshot's pending queue asks for, as TypicalShapes of its jobs
// (one task per node of each job, so a gang counts its nodes): what the daemon knows
// of its workload. A shape's allowed types are the snapshot's pool types the request
// may use, none (any) when it may use every pool; a job no pool allows is left out.
// At most kMaxQueueShapes, the most popular. `counts`, when given, says which jobs
// count (e.g. not those that can never run). `running_weight` > 0 counts each node of
// a running job as a task of its allocation's shape too, at that weight (a pending
// job's node weighs 1), allowed on any type.
inline constexpr size_t kMaxQueueShapes = 32;
ShapeTable QueueShapes(const model::Snapshot& snapshot,
                       const std::function<bool(const model::PendingJob&)>& counts = nullptr,
                       double running_weight = 0);

// Serialised shape table for the `shapes` argument of `fgd` and `fragmentation`:
// "cpus:count:milli:type|type:weight[:memory_mib];..." (types may be empty).
std::string ShapesToArg(const ShapeTable& shapes);
absl::StatusOr<ShapeTable> ShapesFromArg(std::string_view text);

// The `shapes` argument of a workload scorer (an empty table when absent); any other
// key is an error that lists `known`.
absl::StatusOr<ShapeTable> ShapesArg(const PluginArgs& args, std::string_view known = "shapes");

// What a workload scorer works from when it has no table: what its PreScore made of
// this cycle's queue (none outside a cycle).
template <typename Derived>
const Derived* FromQueue(const engine::Scorer* scorer, const engine::Job& job) {
  if (job.cycle == nullptr) return nullptr;
  return static_cast<const Derived*>(job.cycle->Of(scorer));
}

// What a node has left besides devices.
struct Room {
  int cpus = 0;
  int64_t memory_mib = 0;
};

class FragModel {
 public:
  // `count_memory`: a shape also needs its memory (FGD's own measure ignores it).
  explicit FragModel(ShapeTable shapes, bool count_memory = false);

  bool empty() const { return shapes_.empty(); }

  // One pool with `room` left on its node and per-device usage `used`, in milli-devices.
  double Pool(Room room, std::span<const int> used, std::string_view type) const;

  // The whole node: every pool, sharing the node's free CPUs and memory.
  double Node(const engine::ClusterState& state, int n) const;

  class NodeMemo;

  // Fragmentation of the candidate's node before the placement minus after it,
  // in milli-devices: > 0 when the placement leaves less fragment behind. `memo`,
  // when given, keeps what of this depends on the node alone between calls.
  double Decrease(const engine::Job& job, const engine::Candidate& candidate,
                  const engine::ClusterState& state, NodeMemo* memo = nullptr) const;

 private:
  // What Pool reads of a pool's devices, per distinct per-device share (thresholds_):
  // the devices with room for it and the free share of the others; one more entry
  // that no shape fits (count -1) for the shapes that cannot use the pool.
  struct DeviceCounts {
    int free_total = 0;
    std::vector<int> count_ge;
    std::vector<int> sum_lt;
  };
  // What Pool reads of a shape on a pool of one type, packed: the scorer asks every
  // shape about each pool before and after each candidate placement (its hot path).
  struct Needs {
    int threshold = 0;  // index into DeviceCounts; the extra entry: never hosted
    int gpu_count = 0;
    int cpus = 0;
    int64_t memory_mib = 0;  // the lowest int64 when memory does not count
    double weight = 0;
  };
  void CountDevices(std::span<const int> used, DeviceCounts* counts) const;
  // The counts with one device's free share changed (integers: the same as counting
  // again).
  void MoveDevice(int left_before, int left_after, DeviceCounts* counts) const;
  // Per shape, its needs on a pool of `type`.
  const std::vector<Needs>& NeedsOn(std::string_view type) const;
  // The shape's share of Pool for `room` and `counts`.
  static double Term(const Needs& s, Room room, const DeviceCounts& counts) {
    const auto t = static_cast<size_t>(s.threshold);
    const bool hosts =
        counts.count_ge[t] >= s.gpu_count && room.cpus >= s.cpus && room.memory_mib >= s.memory_mib;
    return s.weight * (hosts ? counts.sum_lt[t] : counts.free_total);
  }

  // What Decrease reads of a node before the placement: per pool its counts and
  // the shapes' needs on it, and the node's fragmentation.
  struct NodeBefore {
    int cpus = 0;
    int64_t memory_mib = 0;
    std::vector<DeviceCounts> counts;
    std::vector<const std::vector<Needs>*> needs;
    double before = 0;
  };
  void ComputeBefore(const engine::ClusterState& state, int n, NodeBefore* out) const;

  // Which shapes' CPUs and memory a node with `room` left can hold, one bit per
  // shape (memoised "after" sums only: at most 64 shapes). A Term reads `room`
  // only through that bit, so a placement's after sum is fixed by the node, the
  // taken devices and these bits.
  uint64_t ShapesFitting(Room room) const;
  static constexpr size_t kMaxMemoShapes = 64;

  ShapeTable shapes_;
  std::vector<int> thresholds_;  // distinct per-device shares, ascending
  // NeedsOn each type some shape names, and on every other type.
  std::vector<std::pair<std::string, std::vector<Needs>>> needs_by_type_;
  std::vector<Needs> needs_other_type_;
  // Distinct CPU and memory needs, ascending, and per count of them met, the
  // shapes that need no more (ShapesFitting).
  std::vector<int> cpu_levels_;
  std::vector<uint64_t> fitting_by_cpu_level_;
  std::vector<int64_t> memory_levels_;
  std::vector<uint64_t> fitting_by_memory_level_;
};

// Per node, FragModel::Decrease's "before" part (it depends on the node's free CPUs,
// memory and device use only, not on the job), kept for one model while the node
// stays as it was: each use compares the node's stamp (ClusterState::stamp) with
// the one it was computed for, so it holds for any ClusterState of one snapshot (a
// cycle's state, its copies for look-ahead). The scorer evaluates many job shapes
// on each node between changes. Not thread-safe; one per model and snapshot.
class FragModel::NodeMemo {
 private:
  friend class FragModel;
  // The after sum of one placement on the node as it is (bit for bit what the sum
  // gives again): fine job shapes of one coarse shape share device candidates and
  // mostly differ in CPUs and memory that leave the same shapes room.
  struct After {
    uint64_t fitting = 0;  // ShapesFitting of the room left
    int pool = -1;
    int share = 0;
    uint64_t devices = 0;  // the taken devices as a set (bit d: device d)
    double after = 0;
  };
  static constexpr size_t kMaxAfters = 16;  // per node and node state
  struct Entry {
    uint64_t stamp = 0;  // ClusterState::stamp of the node computed for (0: none)
    NodeBefore node;
    std::vector<After> afters;  // dropped with `node` when the node changes
  };
  const model::Snapshot* snapshot_ = nullptr;
  std::vector<Entry> entries_;  // by node index
};

// FGD's fragmentation of one device pool for a shape table, in milli-devices.
double PoolFragmentation(const ShapeTable& shapes, int cpus_free, std::span<const int> used_milli,
                         std::string_view gres_type);

// The sum of PoolFragmentation over every pool of every node, in milli-devices.
double ClusterFragmentation(const ShapeTable& shapes, const engine::ClusterState& state);

// Scorer `fragmentation` (our default's first tier): the continuous decrease of the
// candidate node's expected fragmentation, 50 + 6.25 points per device of fragment
// the placement removes (8 devices span the range; 50: no change). Unlike the `fgd`
// baseline it is not truncated to the artifact's integer sigmoid, so placements
// that differ by a fraction of a device are told apart. `shapes` is the workload's
// typical-shape table (ShapesToArg); the static protocol passes the replayed
// workload's (FGD's rules), a site may give its own (e.g. from `sacct`). Without it
// the scorer works from the cycle's pending queue (QueueShapes, made once per cycle
// in PreScore): the daemon and the dynamic replay see what is waiting now. Outside
// a cycle without a table every placement scores 50 and the next tier decides.
absl::StatusOr<std::unique_ptr<engine::Scorer>> MakeFragmentationScorer(const PluginArgs& args);

// Scorer `kind_pressure`: portable work keeps off the accelerator types that the
// workload's pinned shapes need, in proportion to how scarce those types are for
// them (see KindPressure in fragmentation.cc). Same `shapes` argument, and the same
// fallback to the cycle's pending queue without it.
absl::StatusOr<std::unique_ptr<engine::Scorer>> MakeKindPressureScorer(const PluginArgs& args);

}  // namespace accelpack::policy
