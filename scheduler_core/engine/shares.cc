#include "engine/shares.h"

#include <algorithm>

#include "model/shards.h"

namespace accelpack::engine {

namespace {

// The share `shards` more shards take of device d, in milli: what scorers see.
int ShareOf(std::span<const int> used, std::span<const int> total, size_t d, int shards) {
  const int share =
      model::ShardMilli(used[d] + shards, total[d]) - model::ShardMilli(used[d], total[d]);
  return std::max(share, 1);
}

}  // namespace

void ShardCandidates(const ClusterState& state, int n, int pool,
                     const model::AcceleratorRequest& request, std::vector<Candidate>* out) {
  std::span<const int> total = state.shards_total(n, pool);
  if (total.empty()) return;
  std::span<const int> used = state.shards_used(n, pool);
  std::span<const int> whole = state.whole_used(n, pool);
  const model::AcceleratorPool& info = state.node(n).accelerators[static_cast<size_t>(pool)];
  const int shards = request.shards_per_node;
  if (request.GetsPlannedDevices(info)) {
    const size_t first = out->size();
    for (size_t d = 0; d < total.size() && d < whole.size(); ++d) {
      if (whole[d] > 0 || total[d] - used[d] < shards) continue;
      const bool seen = std::any_of(out->begin() + static_cast<std::ptrdiff_t>(first), out->end(),
                                    [&](const Candidate& c) {
                                      const size_t e = static_cast<size_t>(c.devices.front());
                                      return used[e] == used[d] && total[e] == total[d];
                                    });
      if (seen) continue;
      out->push_back(
          Candidate{n, pool, {static_cast<int>(d)}, ShareOf(used, total, d, shards), {shards}});
    }
    if (out->size() > first) return;
    // No one device has room: where Slurm may spread one job's shards, its own spread.
  }
  std::optional<model::ShardPick> pick = model::PickShardDevices(
      whole, used, total, shards, info.shards_one_sharing, state.snapshot().shard_rules);
  if (!pick) return;
  // Scorers see the share the shards take of their first device.
  const size_t first = static_cast<size_t>(pick->devices.front());
  out->push_back(Candidate{n, pool, std::move(pick->devices),
                           ShareOf(used, total, first, pick->shards.front()),
                           std::move(pick->shards)});
}

}  // namespace accelpack::engine
