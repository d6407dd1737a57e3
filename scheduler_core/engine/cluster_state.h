// The free resources of a cluster while a cycle (or a simulation) places jobs.
//
// Built from a validated snapshot; nodes are addressed by the snapshot's index.
// Node order for ties is by name, never by input order, so plans do not depend
// on how the controller listed its nodes. Not thread-safe.
#pragma once

#include <cstdint>
#include <span>
#include <vector>

#include "engine/plan.h"
#include "model/catalog.h"
#include "model/cluster.h"

namespace accelpack::engine {

class ClusterState {
 public:
  // `snapshot` must have passed model::ValidateSnapshot and outlive this object.
  ClusterState(const model::Snapshot& snapshot, const model::Catalog& catalog);

  const model::Snapshot& snapshot() const { return *snapshot_; }
  const model::Catalog& catalog() const { return *catalog_; }
  int node_count() const { return static_cast<int>(nodes_.size()); }
  const model::Node& node(int n) const { return snapshot_->nodes[static_cast<size_t>(n)]; }
  // Node indices sorted by name: the order every tie is broken in.
  std::span<const int> nodes_by_name() const { return by_name_; }
  // Position of node n in name order.
  int name_rank(int n) const { return name_rank_[static_cast<size_t>(n)]; }

  int cpus_free(int n) const { return nodes_[static_cast<size_t>(n)].cpus_free; }
  int64_t memory_free(int n) const { return nodes_[static_cast<size_t>(n)].memory_free; }
  std::span<const int> used_milli(int n, int pool) const {
    return nodes_[static_cast<size_t>(n)].used_milli[static_cast<size_t>(pool)];
  }
  int kind_of(int n, int pool) const { return node(n).accelerators[static_cast<size_t>(pool)].kind_index; }
  int free_devices(int n, int pool) const;

  // Takes (or with sign -1 gives back) what a placement holds on each node.
  void Apply(const JobStart& start, int cpus_per_node, int64_t memory_per_node);
  void Release(const JobStart& start, int cpus_per_node, int64_t memory_per_node);
  // Gives back what a running job of the snapshot holds.
  void ReleaseRunning(const model::RunningJob& job);
  // Node index by name, or -1.
  int FindNode(std::string_view name) const;
  // Pool index on node n for a GRES (name, type), or -1.
  int FindPool(int n, std::string_view gres_name, std::string_view gres_type) const;

 private:
  struct NodeFree {
    int cpus_free = 0;
    int64_t memory_free = 0;
    std::vector<std::vector<int>> used_milli;  // per pool, per device
  };
  void Adjust(const JobStart& start, int cpus_per_node, int64_t memory_per_node, int sign);

  const model::Snapshot* snapshot_;
  const model::Catalog* catalog_;
  std::vector<NodeFree> nodes_;
  std::vector<int> by_name_;
  std::vector<int> name_rank_;
};

}  // namespace accelpack::engine
