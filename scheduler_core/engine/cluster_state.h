// The free resources of a cluster while a cycle (or a simulation) places jobs.
//
// Built from a validated snapshot; nodes are addressed by the snapshot's index.
// Node order for ties is by name, never by input order, so plans do not depend
// on how the controller listed its nodes. Storage is flat (one array of device
// usage for the whole cluster), so copying a state for look-ahead is cheap.
// Not thread-safe.
#pragma once

#include <cstdint>
#include <memory>
#include <optional>
#include <span>
#include <string_view>
#include <utility>
#include <vector>

#include "engine/plan.h"
#include "model/catalog.h"
#include "model/cluster.h"

namespace accelpack::engine {

// What one job holds on one node, by index.
struct Holding {
  int node = -1;
  int pool = -1;
  std::vector<int> devices;
  int fraction_milli = 0;  // 0: whole devices
  int cpus = 0;
  int64_t memory_mib = 0;
  // Shards per entry of `devices` (Slurm's shard GRES); empty: whole devices or a
  // milli share. When set, fraction_milli is informational only.
  std::vector<int> device_shards = {};
};

class ClusterState {
 public:
  // `snapshot` must have passed model::ValidateSnapshot and outlive this object.
  ClusterState(const model::Snapshot& snapshot, const model::Catalog& catalog);

  const model::Snapshot& snapshot() const { return *snapshot_; }
  const model::Catalog& catalog() const { return *catalog_; }
  int node_count() const { return static_cast<int>(cpus_free_.size()); }
  const model::Node& node(int n) const { return snapshot_->nodes[static_cast<size_t>(n)]; }
  // Node indices sorted by name: the order every tie is broken in.
  std::span<const int> nodes_by_name() const { return layout_->by_name; }
  // Position of node n in name order.
  int name_rank(int n) const { return layout_->name_rank[static_cast<size_t>(n)]; }

  int cpus_free(int n) const { return cpus_free_[static_cast<size_t>(n)]; }
  int64_t memory_free(int n) const { return memory_free_[static_cast<size_t>(n)]; }
  // Inline: scorers read it for every node they score.
  std::span<const int> used_milli(int n, int pool) const {
    const size_t index = layout_->pool_begin[static_cast<size_t>(n)] + static_cast<size_t>(pool);
    return {used_.data() + layout_->pool_offset[index],
            static_cast<size_t>(layout_->pool_size[index])};
  }
  int kind_of(int n, int pool) const {
    return node(n).accelerators[static_cast<size_t>(pool)].kind_index;
  }
  int free_devices(int n, int pool) const;
  // Over all of node n's pools: its devices, and their free milli-devices (kept as
  // the node changes; scorers read them for every node they score).
  int devices_total(int n) const { return layout_->devices_total[static_cast<size_t>(n)]; }
  int free_milli(int n) const { return free_milli_[static_cast<size_t>(n)]; }
  // Slurm shards per device of a pool; empty spans when the pool has none.
  // used_milli() counts shard use too (model::ShardMilli); whole_used() is the
  // whole-device (and milli-share) part alone.
  std::span<const int> shards_total(int n, int pool) const;
  std::span<const int> shards_used(int n, int pool) const;
  std::span<const int> whole_used(int n, int pool) const;
  // Request shapes placed on node n through this state, as (tag, jobs) pairs; the
  // tag is the whole-device count, or kSharedRequest for a device share. Lets
  // scorers prefer nodes that host the same kind of request (GpuClustering).
  static constexpr int kSharedRequest = -1;
  std::span<const std::pair<int, int>> hosted_requests(int n) const {
    return hosted_[static_cast<size_t>(n)];
  }
  // Changes whenever node n's free resources change; lets callers cache per node.
  uint32_t version(int n) const { return version_[static_cast<size_t>(n)]; }
  // Node n as it is now, across every state of the process (copies included):
  // equal stamps mean equal free CPUs, memory, device use and hosted requests;
  // each change takes a stamp no state has had. Lets a cache shared by a state and
  // its copies (whose versions diverge) key on the node alone.
  uint64_t stamp(int n) const { return stamp_[static_cast<size_t>(n)]; }
  // Every change so far, as the node it touched, in order: callers that keep a
  // ranking of nodes catch up on what changed since they last looked.
  size_t change_count() const { return changes_.size(); }
  int changed_node(size_t i) const { return changes_[i]; }

  void Take(const Holding& holding) { Adjust(holding, +1, true); }
  void Give(const Holding& holding) { Adjust(holding, -1, true); }
  // Take and Give in two halves, for a look-ahead that tries many sets of holdings
  // on a node and applies the free resources only when it must read them: the
  // resources (CPUs, memory, devices) alone, and the hosted_requests() count alone,
  // kept on a copy of the node's pairs (as Take, sign +1, and Give, -1, count) and
  // put back once. Both halves of one holding are the same as Take (or Give).
  void TakeResources(const Holding& holding) { Adjust(holding, +1, false); }
  void GiveResources(const Holding& holding) { Adjust(holding, -1, false); }
  static void CountHosted(std::vector<std::pair<int, int>>& hosted, const Holding& holding,
                          int sign);
  void SetHosted(int n, const std::vector<std::pair<int, int>>& hosted);
  // Takes everything a planned start holds (the same CPUs and memory on each node).
  void Apply(const JobStart& start, int cpus_per_node, int64_t memory_per_node);

  // What each running job of the snapshot holds, by index, in the snapshot's order.
  // Without device indices, the highest-indexed busy devices that no earlier job's
  // stand-ins took stand in for the ones it holds: two such jobs on one node do not
  // both give back the same devices.
  std::vector<std::vector<Holding>> ResolveAll() const;
  static std::vector<Holding> HoldingsOf(const JobStart& start, int cpus_per_node,
                                         int64_t memory_per_node);

  // --exclusive=user, from the snapshot's running jobs (none of it is kept unless a
  // job, running or pending, asks for it). The uid whose --exclusive=user job runs
  // on node n (Slurm's node owner: no other user's job may join); none: nullopt.
  std::optional<uint32_t> exclusive_owner(int n) const;
  bool has_exclusive_owners() const { return layout_->any_owner; }
  // Unique to this state's making from its snapshot, shared by its copies: a cache
  // of what depends on the snapshot's nodes and pools keyed on it cannot be taken for
  // another snapshot's, even one at the same address.
  uint64_t layout_serial() const { return layout_->serial; }
  // Every job the snapshot runs on node n is user_id's (true where none runs).
  // Use on a node nothing else was placed on since (version 0).
  bool runs_only_jobs_of(int n, uint32_t user_id) const;

  // Node index by name, or -1.
  int FindNode(std::string_view name) const;
  // Indices into snapshot().reservations of the advanced reservations that list node
  // n, in snapshot order (a reservation-only job asks per node: scanning every
  // reservation's node list for each node was quadratic in the cluster).
  std::span<const int32_t> reservations_on(int n) const {
    if (layout_->reservations_on.empty()) return {};
    return layout_->reservations_on[static_cast<size_t>(n)];
  }
  // Pool index on node n for a GRES (name, type), or -1.
  int FindPool(int n, std::string_view gres_name, std::string_view gres_type) const;

 private:
  // Derived once from the snapshot and shared by copies.
  struct Layout {
    std::vector<int> by_name;
    std::vector<int> name_rank;
    std::vector<size_t> pool_begin;   // per node: index of its first pool in pool_offset
    std::vector<size_t> pool_offset;  // per pool: index of its first device in used_
    std::vector<int> pool_size;
    std::vector<int> devices_total;                     // per node
    uint64_t serial = 0;                                // see layout_serial()
    std::vector<std::vector<int32_t>> reservations_on;  // per node; empty: no reservations
    // Per node, only when some job asks for --exclusive=user (else empty): the one
    // user (uid) whose jobs run there, and whether one of them is --exclusive=user;
    // kSeveral: several users, or use that no running job of the snapshot explains.
    enum Users : uint8_t { kNone, kOne, kOwnedByOne, kSeveral };
    std::vector<uint32_t> user;
    std::vector<Users> users;
    bool any_owner = false;
  };
  void FindUsers(Layout& layout) const;
  // One job of ResolveAll: stand-ins not among `guessed` (per device of the cluster,
  // as used_), which gets them.
  std::vector<Holding> ResolveGuessing(const model::RunningJob& job,
                                       std::vector<bool>& guessed) const;
  void Adjust(const Holding& holding, int sign, bool count_hosted);
  std::span<const int> ShardSpan(const std::vector<int>& flat, int n, int pool) const;

  const model::Snapshot* snapshot_;
  const model::Catalog* catalog_;
  std::shared_ptr<const Layout> layout_;
  std::vector<int> cpus_free_;
  std::vector<int64_t> memory_free_;
  std::vector<uint32_t> version_;
  std::vector<uint64_t> stamp_;
  std::vector<int> changes_;
  std::vector<int> used_;        // per device of the whole cluster, milli in use
  std::vector<int> free_milli_;  // per node, the sum of what used_ leaves free
  // Per device like used_, only when some pool carries shards (else empty).
  std::vector<int> shards_total_;
  std::vector<int> shards_used_;
  std::vector<int> whole_used_;
  std::vector<std::vector<std::pair<int, int>>> hosted_;  // per node; empty for most
};

}  // namespace accelpack::engine
