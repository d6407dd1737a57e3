#include "engine/usage.h"

#include <algorithm>
#include <unordered_set>

#include "engine/cluster_state.h"

namespace accelpack::engine {

std::vector<KindUsage> UsageByKind(const model::Snapshot& snapshot, const model::Catalog& catalog,
                                   const Plan& plan) {
  ClusterState state(snapshot, catalog);
  for (const JobStart& start : plan.starts) state.Apply(start, 0, 0);
  return UsageByKind(state, snapshot, catalog, plan);
}

std::vector<KindUsage> UsageByKind(const ClusterState& state, const model::Snapshot& snapshot,
                                   const model::Catalog& catalog, const Plan& plan) {
  // Started jobs no longer want anything, and a job that can never run (an
  // illegal count, a kind the cluster lacks) wants nothing the devices could give.
  std::unordered_set<uint32_t> not_wanting;
  not_wanting.reserve(plan.starts.size());
  for (const JobStart& start : plan.starts) not_wanting.insert(start.job_id);
  for (const PendingReason& reason : plan.pending) {
    if (reason.code == PendingCode::kNeverFits) not_wanting.insert(reason.job_id);
  }
  // Kinds some still-pending job could use: checked once per distinct GRES type
  // in the cluster, not per node, so this stays linear in the queue.
  std::vector<const model::AcceleratorPool*> types;
  for (const model::Node& node : snapshot.nodes) {
    for (const model::AcceleratorPool& pool : node.accelerators) {
      const bool seen = std::any_of(types.begin(), types.end(), [&](const auto* t) {
        return t->gres_name == pool.gres_name && t->gres_type == pool.gres_type;
      });
      if (!seen) types.push_back(&pool);
    }
  }
  std::vector<bool> demanded(static_cast<size_t>(catalog.size()), false);
  size_t undemanded = types.size();
  std::vector<bool> type_demanded(types.size(), false);
  for (const model::PendingJob& job : snapshot.pending) {
    if (undemanded == 0) break;
    if (not_wanting.contains(job.id) || !job.accelerators.WantsDevices()) continue;
    for (size_t t = 0; t < types.size(); ++t) {
      if (type_demanded[t] || !job.accelerators.Allows(*types[t])) continue;
      type_demanded[t] = true;
      demanded[static_cast<size_t>(types[t]->kind_index)] = true;
      --undemanded;
    }
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
