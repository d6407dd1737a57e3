#include "model/shards.h"

#include <algorithm>
#include <numeric>

#include "common/strings.h"

namespace accelpack::model {

int ShardMilli(int used, int total) {
  if (used <= 0 || total <= 0) return 0;
  const int64_t milli = (int64_t{used} * kMilliPerDevice + total - 1) / total;
  return static_cast<int>(std::clamp<int64_t>(milli, 1, kMilliPerDevice));
}

namespace {

int FreeShards(std::span<const int> used, std::span<const int> total, int d) {
  return total[static_cast<size_t>(d)] - used[static_cast<size_t>(d)];
}

// The order cons_tres tries devices in: by index, or (LL_SHARED_GRES) by free
// fraction, largest first, ties by index.
std::vector<int> TryOrder(std::span<const int> used, std::span<const int> total,
                          bool least_loaded) {
  std::vector<int> order(total.size());
  std::iota(order.begin(), order.end(), 0);
  if (!least_loaded) return order;
  auto free_ratio = [&](int d) {
    const int t = total[static_cast<size_t>(d)];
    return t > 0 ? static_cast<double>(FreeShards(used, total, d)) / t : -1.0;
  };
  std::stable_sort(order.begin(), order.end(),
                   [&](int a, int b) { return free_ratio(a) > free_ratio(b); });
  return order;
}

}  // namespace

std::optional<ShardPick> PickShardDevices(std::span<const int> whole_used,
                                          std::span<const int> shards_used,
                                          std::span<const int> shards_total, int shards,
                                          bool one_sharing, const ShardRules& rules) {
  if (shards <= 0 || shards_total.size() != shards_used.size() ||
      whole_used.size() != shards_total.size()) {
    return std::nullopt;
  }
  const bool busy_only = one_sharing && std::any_of(shards_used.begin(), shards_used.end(),
                                                    [](int u) { return u > 0; });
  auto held_whole = [&](int d) { return whole_used[static_cast<size_t>(d)] > 0; };
  // What Slurm itself considers: devices with shard room, of the busy ones under
  // one_sharing; whole-held ones only where Slurm fails to exclude them.
  auto slurm_considers = [&](int d) {
    if (FreeShards(shards_used, shards_total, d) <= 0) return false;
    if (busy_only && shards_used[static_cast<size_t>(d)] == 0) return false;
    return rules.whole_and_shards_unguarded || !held_whole(d);
  };
  const std::vector<int> order = TryOrder(shards_used, shards_total, rules.least_loaded);
  ShardPick pick;
  for (int d : order) {
    if (slurm_considers(d) && FreeShards(shards_used, shards_total, d) >= shards) {
      pick.devices.push_back(d);
      pick.shards.push_back(shards);
      break;
    }
  }
  if (pick.devices.empty() && rules.multiple_per_job) {
    int needed = shards;
    for (int d : order) {
      if (needed == 0) break;
      if (!slurm_considers(d)) continue;
      const int take = std::min(needed, FreeShards(shards_used, shards_total, d));
      pick.devices.push_back(d);
      pick.shards.push_back(take);
      needed -= take;
    }
    if (needed > 0) return std::nullopt;
  }
  if (pick.devices.empty()) return std::nullopt;
  // Slurm would put shards on a device held whole: keep the job off this node.
  if (std::any_of(pick.devices.begin(), pick.devices.end(), held_whole)) return std::nullopt;
  return pick;
}

absl::Status ValidatePoolShards(const AcceleratorPool& pool, const FieldPath& field) {
  if (!pool.HasShards()) {
    if (!pool.shards_used.empty()) {
      return absl::InvalidArgumentError(
          Cat(field.ToString(), ".shards_used: given without shards_total"));
    }
    return absl::OkStatus();
  }
  const size_t devices = static_cast<size_t>(pool.count);
  if (pool.shards_total.size() != devices) {
    return absl::InvalidArgumentError(Cat(field.ToString(),
                                          ".device_shards_total: ", pool.shards_total.size(),
                                          " entries for ", devices, " devices"));
  }
  if (!pool.shards_used.empty() && pool.shards_used.size() != devices) {
    return absl::InvalidArgumentError(Cat(field.ToString(),
                                          ".device_shards_used: ", pool.shards_used.size(),
                                          " entries for ", devices, " devices"));
  }
  // Slurm's shard counts are 64-bit; a device of more than this is a corrupt record.
  constexpr int kMaxShardsPerDevice = 1 << 20;
  for (size_t d = 0; d < devices; ++d) {
    const int total = pool.shards_total[d];
    const int used = pool.shards_used.empty() ? 0 : pool.shards_used[d];
    if (total < 0 || total > kMaxShardsPerDevice) {
      return absl::InvalidArgumentError(Cat(field.ToString(), ".device_shards_total[", d,
                                            "]: ", total, " outside 0..", kMaxShardsPerDevice));
    }
    if (used < 0 || used > total) {
      return absl::InvalidArgumentError(
          Cat(field.ToString(), ".device_shards_used[", d, "]: ", used, " outside 0..", total));
    }
  }
  return absl::OkStatus();
}

}  // namespace accelpack::model
