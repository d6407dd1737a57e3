// Device shares on real Slurm: the candidate cons_tres would make of a shard request.
#pragma once

#include <optional>
#include <string_view>

#include "engine/cluster_state.h"
#include "engine/framework.h"

namespace accelpack::engine {

inline constexpr std::string_view kReasonNoShardRoom = "no device with room for the shards";

// The placement of `shards` shards on pool `pool` of node n as Slurm would make it
// (model::PickShardDevices under the snapshot's shard rules), or nullopt: the pool
// has no shards, no room, or Slurm's own pick would collide with whole-device use.
std::optional<Candidate> ShardCandidate(const ClusterState& state, int n, int pool, int shards);

}  // namespace accelpack::engine
