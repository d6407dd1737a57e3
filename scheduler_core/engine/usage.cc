#include "engine/usage.h"

#include <algorithm>
#include <unordered_set>

#include "engine/cluster_state.h"

namespace accelpack::engine {

std::vector<KindUsage> UsageByKind(const model::Snapshot& snapshot, const model::Catalog& catalog,
                                   const Plan& plan) {
  ClusterState state(snapshot, catalog);
  std::unordered_set<uint32_t> started;
  for (const JobStart& start : plan.starts) {
    state.Apply(start, 0, 0);
    started.insert(start.job_id);
  }
  // Kinds some still-pending job could use: any pool its request allows.
  std::vector<bool> demanded(static_cast<size_t>(catalog.size()), false);
  for (const model::PendingJob& job : snapshot.pending) {
    if (started.contains(job.id) || !job.accelerators.WantsDevices()) continue;
    for (const model::Node& node : snapshot.nodes) {
      for (const model::AcceleratorPool& pool : node.accelerators) {
        if (job.accelerators.Allows(pool)) demanded[static_cast<size_t>(pool.kind_index)] = true;
      }
    }
    if (std::all_of(demanded.begin(), demanded.end(), [](bool d) { return d; })) break;
  }
  std::vector<KindUsage> usage(static_cast<size_t>(catalog.size()));
  std::vector<bool> present(usage.size(), false);
  for (int n = 0; n < state.node_count(); ++n) {
    const model::Node& node = state.node(n);
    for (size_t p = 0; p < node.accelerators.size(); ++p) {
      const size_t kind = static_cast<size_t>(node.accelerators[p].kind_index);
      KindUsage& entry = usage[kind];
      present[kind] = true;
      std::span<const int> used = state.used_milli(n, static_cast<int>(p));
      const int count = static_cast<int>(used.size());
      if (!node.Usable()) {
        entry.devices_unusable += count;
        continue;
      }
      const int idle = static_cast<int>(std::count(used.begin(), used.end(), 0));
      entry.devices_total += count;
      entry.devices_idle += idle;
      entry.devices_allocated += count - idle;
      if (demanded[kind]) entry.devices_idle_while_demanded += idle;
    }
  }
  std::vector<KindUsage> result;
  for (size_t k = 0; k < usage.size(); ++k) {
    if (!present[k]) continue;
    usage[k].kind = static_cast<int>(k);
    result.push_back(usage[k]);
  }
  return result;
}

}  // namespace accelpack::engine
