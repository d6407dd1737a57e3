#include "engine/cluster_state.h"

#include <algorithm>
#include <numeric>

#include "model/topology.h"

namespace accelpack::engine {

ClusterState::ClusterState(const model::Snapshot& snapshot, const model::Catalog& catalog)
    : snapshot_(&snapshot), catalog_(&catalog) {
  nodes_.reserve(snapshot.nodes.size());
  for (const model::Node& node : snapshot.nodes) {
    NodeFree free;
    free.cpus_free = node.cpus_total - node.cpus_allocated;
    free.memory_free = node.memory_total_mib - node.memory_allocated_mib;
    free.used_milli.reserve(node.accelerators.size());
    for (const model::AcceleratorPool& pool : node.accelerators) free.used_milli.push_back(pool.used_milli);
    nodes_.push_back(std::move(free));
  }
  by_name_.resize(nodes_.size());
  std::iota(by_name_.begin(), by_name_.end(), 0);
  std::sort(by_name_.begin(), by_name_.end(),
            [&](int a, int b) { return node(a).name < node(b).name; });
  name_rank_.resize(nodes_.size());
  for (size_t rank = 0; rank < by_name_.size(); ++rank) {
    name_rank_[static_cast<size_t>(by_name_[rank])] = static_cast<int>(rank);
  }
}

int ClusterState::free_devices(int n, int pool) const {
  return model::CountFreeDevices(used_milli(n, pool));
}

void ClusterState::Apply(const JobStart& start, int cpus_per_node, int64_t memory_per_node) {
  Adjust(start, cpus_per_node, memory_per_node, +1);
}

void ClusterState::Release(const JobStart& start, int cpus_per_node, int64_t memory_per_node) {
  Adjust(start, cpus_per_node, memory_per_node, -1);
}

void ClusterState::Adjust(const JobStart& start, int cpus_per_node, int64_t memory_per_node,
                          int sign) {
  for (const NodePlacement& placement : start.placements) {
    NodeFree& free = nodes_[static_cast<size_t>(placement.node)];
    free.cpus_free -= sign * cpus_per_node;
    free.memory_free -= sign * memory_per_node;
    if (placement.pool < 0) continue;
    std::vector<int>& used = free.used_milli[static_cast<size_t>(placement.pool)];
    const int share = placement.fraction_milli > 0 ? placement.fraction_milli : model::kMilliPerDevice;
    for (int device : placement.devices) {
      int& milli = used[static_cast<size_t>(device)];
      milli = std::clamp(milli + sign * share, 0, model::kMilliPerDevice);
    }
  }
}

void ClusterState::ReleaseRunning(const model::RunningJob& job) {
  for (const model::NodeAllocation& alloc : job.allocations) {
    const int n = FindNode(alloc.node);
    if (n < 0) continue;
    NodeFree& free = nodes_[static_cast<size_t>(n)];
    free.cpus_free = std::min(free.cpus_free + alloc.cpus, node(n).cpus_total);
    free.memory_free = std::min(free.memory_free + alloc.memory_mib, node(n).memory_total_mib);
    const int pool = FindPool(n, alloc.gres_name, alloc.gres_type);
    if (pool < 0 || alloc.device_count <= 0) continue;
    std::vector<int>& used = free.used_milli[static_cast<size_t>(pool)];
    const int share = alloc.fraction_milli > 0 ? alloc.fraction_milli : model::kMilliPerDevice;
    std::vector<int> devices = alloc.device_indices;
    if (devices.empty()) {
      // Only a count is known: give back the highest-indexed busy devices.
      for (int d = static_cast<int>(used.size()) - 1;
           d >= 0 && static_cast<int>(devices.size()) < alloc.device_count; --d) {
        if (used[static_cast<size_t>(d)] >= share) devices.push_back(d);
      }
    }
    for (int d : devices) {
      if (d < 0 || d >= static_cast<int>(used.size())) continue;
      used[static_cast<size_t>(d)] = std::max(0, used[static_cast<size_t>(d)] - share);
    }
  }
}

int ClusterState::FindNode(std::string_view name) const {
  auto it = std::lower_bound(by_name_.begin(), by_name_.end(), name,
                             [&](int n, std::string_view key) { return node(n).name < key; });
  if (it == by_name_.end() || node(*it).name != name) return -1;
  return *it;
}

int ClusterState::FindPool(int n, std::string_view gres_name, std::string_view gres_type) const {
  const auto& pools = node(n).accelerators;
  for (size_t p = 0; p < pools.size(); ++p) {
    if (pools[p].gres_name == gres_name && pools[p].gres_type == gres_type) return static_cast<int>(p);
  }
  return -1;
}

}  // namespace accelpack::engine
