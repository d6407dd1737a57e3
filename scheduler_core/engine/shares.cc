#include "engine/shares.h"

#include "model/shards.h"

namespace accelpack::engine {

std::optional<Candidate> ShardCandidate(const ClusterState& state, int n, int pool, int shards) {
  std::span<const int> total = state.shards_total(n, pool);
  if (total.empty()) return std::nullopt;
  std::span<const int> used = state.shards_used(n, pool);
  const model::AcceleratorPool& info = state.node(n).accelerators[static_cast<size_t>(pool)];
  std::optional<model::ShardPick> pick =
      model::PickShardDevices(state.whole_used(n, pool), used, total, shards,
                              info.shards_one_sharing, state.snapshot().shard_rules);
  if (!pick) return std::nullopt;
  // Scorers see the share the shards take of their first device, in milli.
  const size_t first = static_cast<size_t>(pick->devices.front());
  const int share = model::ShardMilli(used[first] + pick->shards.front(), total[first]) -
                    model::ShardMilli(used[first], total[first]);
  return Candidate{n, pool, std::move(pick->devices), std::max(share, 1), std::move(pick->shards)};
}

}  // namespace accelpack::engine
