// Device shares on real Slurm: the candidate cons_tres would make of a shard request.
#pragma once

#include <optional>
#include <string_view>

#include "engine/cluster_state.h"
#include "engine/framework.h"

namespace accelpack::engine {

inline constexpr std::string_view kReasonNoShardRoom = "no device with room for the shards";

// Where `request`'s shards may go on pool `pool` of node n, appended to `out`. Where
// the plugin makes Slurm take a start's shards from the planned device
// (AcceleratorPool::holds_planned_shards, for an exact_per_node request), one
// candidate per distinct fill among the devices with room and not held whole, for
// the scorers to choose; elsewhere the one placement Slurm would make itself
// (model::PickShardDevices under the snapshot's shard rules), if any: none where the
// pool has no shards, no room, or Slurm's own pick would collide with whole-device use.
void ShardCandidates(const ClusterState& state, int n, int pool,
                     const model::AcceleratorRequest& request, std::vector<Candidate>* out);

}  // namespace accelpack::engine
