// Fractional accelerators on real Slurm: shard GRES and MIG slices.
//
// Slurm's cons_tres chooses the device inside a node; these plugins keep the core's
// choice of node compatible with it (docs/plugin.md "Shards and MIG"):
//  - shard_collision: before 23.11.5 Slurm may hand out a GPU whole that carries
//    shards; whole-device work keeps off nodes where that could happen;
//  - untyped_whole_devices: an untyped request (--gres=gpu:1) may be given a MIG
//    slice by Slurm; it goes only to nodes without slices of its GRES;
//  - shard_packing: shares go where they fill a device that already carries shards,
//    best fit on the device cons_tres will pick; never a fresh one while a busy one has room.
#include <algorithm>

#include "model/shards.h"
#include "policy/plugins.h"

namespace accelpack::policy {

namespace {

using engine::Candidate;
using engine::ClusterState;
using engine::FilterStage;
using engine::Job;

bool WantsWholeDevices(const model::AcceleratorRequest& request) {
  return request.WantsDevices() && !request.WantsShards() && !request.IsFractional();
}

class ShardCollisionFilter final : public engine::Filter {
 public:
  std::string_view name() const override { return "shard_collision"; }
  FilterStage stage() const override { return FilterStage::kDynamic; }
  bool ReadsCpusOrMemory() const override { return false; }
  std::string_view Reject(const Job& job, int n, const ClusterState& state) const override {
    if (!state.snapshot().shard_rules.whole_and_shards_unguarded) return {};
    if (!WantsWholeDevices(job->accelerators)) return {};
    const auto& pools = state.node(n).accelerators;
    for (size_t p = 0; p < pools.size(); ++p) {
      if (!pools[p].HasShards() || !job->accelerators.Allows(pools[p])) continue;
      // The plugin makes Slurm give the planned GPUs, which carry no shards.
      if (job->accelerators.GetsPlannedDevices(pools[p])) continue;
      const int pool = static_cast<int>(p);
      std::span<const int> shards = state.shards_used(n, pool);
      std::span<const int> whole = state.whole_used(n, pool);
      for (size_t d = 0; d < shards.size(); ++d) {
        // Free in Slurm's GPU bitmap, yet carrying shards: Slurm may pick it.
        if (shards[d] > 0 && whole[d] == 0) return "Slurm could hand out a GPU carrying shards";
      }
    }
    return {};
  }
};

class UntypedWholeDevicesFilter final : public engine::Filter {
 public:
  std::string_view name() const override { return "untyped_whole_devices"; }
  FilterStage stage() const override { return FilterStage::kStatic; }
  bool ReadsCpusOrMemory() const override { return false; }
  std::string_view Reject(const Job& job, int n, const ClusterState& state) const override {
    const model::AcceleratorRequest& request = job->accelerators;
    if (!request.WantsDevices() || !request.allowed_types.empty() || request.WantsShards()) {
      return {};
    }
    for (const auto& pool : state.node(n).accelerators) {
      if (pool.gres_name == request.gres_name &&
          state.catalog().kind(pool.kind_index).IsMigSlice()) {
        return "untyped request on a node with MIG slices";
      }
    }
    return {};
  }
};

class ShardPacking final : public engine::Scorer {
 public:
  std::string_view name() const override { return "shard_packing"; }
  // Per device the shards land on (the one cons_tres will pick): a device already
  // carrying shards scores 50 + 50 x its fill after placement, a fresh one 50 x its
  // fill, so no fill on a fresh device outranks any busy device with room, even
  // where devices differ in shard count; among busy ones the fullest wins (best fit).
  // 4 shards per GPU: 2 used + 1 -> 87.5; fresh + 1 -> 12.5; fresh + 4 -> 50.
  // Whole-device work: 0.
  double Score(const Job&, const Candidate& candidate, const ClusterState& state) const override {
    if (candidate.device_shards.empty()) return 0;
    std::span<const int> used = state.shards_used(candidate.node, candidate.pool);
    std::span<const int> total = state.shards_total(candidate.node, candidate.pool);
    double score = 0;
    for (size_t i = 0; i < candidate.devices.size(); ++i) {
      const size_t d = static_cast<size_t>(candidate.devices[i]);
      if (d >= total.size() || total[d] <= 0) continue;
      const double fill = static_cast<double>(used[d] + candidate.device_shards[i]) / total[d];
      score += (used[d] > 0 ? 50.0 : 0.0) + 50.0 * fill;
    }
    return score / static_cast<double>(candidate.devices.size());
  }
};

}  // namespace

std::unique_ptr<engine::Filter> MakeShardCollisionFilter() {
  return std::make_unique<ShardCollisionFilter>();
}

std::unique_ptr<engine::Filter> MakeUntypedWholeDevicesFilter() {
  return std::make_unique<UntypedWholeDevicesFilter>();
}

std::unique_ptr<engine::Scorer> MakeShardPackingScorer() {
  return std::make_unique<ShardPacking>();
}

}  // namespace accelpack::policy
