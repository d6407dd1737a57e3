// Slurm's `shard` GRES and MIG slices: how cons_tres hands out device shares.
//
// The core picks the node; inside it, cons_tres picks the device, by a rule the
// core can only model (docs/plugin.md "Shards and MIG" has the source lines):
//  - without LL_SHARED_GRES, the first device by index whose free shards cover the
//    request; with it, the device with the largest free fraction first;
//  - one job's shards on a node come from one device, unless
//    MULTIPLE_SHARING_GRES_PJ lets them spread in the same order;
//  - gres.conf Flags=one_sharing: once shards are in use on the node, only devices
//    that already carry shards.
// Pure functions, no state.
#pragma once

#include <optional>
#include <span>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "common/field_path.h"
#include "model/cluster.h"

namespace accelpack::model {

// The device share `used` of `total` shards stands for in milli-devices: rounded up,
// so that a device carrying any shard is never wholly free and a full one is full.
int ShardMilli(int used, int total);

// Where cons_tres would put `shards` shards on one node.
struct ShardPick {
  std::vector<int> devices;  // in pick order
  std::vector<int> shards;   // per entry of devices
};

// The device choice of cons_tres for a request of `shards` shards on one pool, or
// nullopt when Slurm would not start it there. `whole_used` is each device's
// whole-device use (milli). A device held whole takes no shards; where Slurm does
// not guard against that itself (rules.whole_and_shards_unguarded), nullopt also
// when Slurm's own pick could land on such a device.
std::optional<ShardPick> PickShardDevices(std::span<const int> whole_used,
                                          std::span<const int> shards_used,
                                          std::span<const int> shards_total, int shards,
                                          bool one_sharing, const ShardRules& rules);

// Checks a pool's shard counts (sizes match the device count, 0 <= used <= total);
// the error names the field under `field`.
absl::Status ValidatePoolShards(const AcceleratorPool& pool, const FieldPath& field);

}  // namespace accelpack::model
