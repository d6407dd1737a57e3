#include "engine/cluster_state.h"

#include <algorithm>
#include <atomic>
#include <numeric>

#include "model/shards.h"
#include "model/topology.h"

namespace accelpack::engine {
namespace {

// The first of `count` stamps no state of this process has had. Atomic: states of
// different threads (the simulator's seeds) draw from it too.
uint64_t NewStamps(size_t count) {
  static std::atomic<uint64_t> next{1};
  return next.fetch_add(count, std::memory_order_relaxed);
}

}  // namespace

ClusterState::ClusterState(const model::Snapshot& snapshot, const model::Catalog& catalog)
    : snapshot_(&snapshot), catalog_(&catalog) {
  auto layout = std::make_shared<Layout>();
  layout->serial = NewStamps(1);
  const size_t nodes = snapshot.nodes.size();
  cpus_free_.reserve(nodes);
  memory_free_.reserve(nodes);
  version_.assign(nodes, 0);
  stamp_.resize(nodes);
  std::iota(stamp_.begin(), stamp_.end(), NewStamps(nodes));
  hosted_.resize(nodes);
  bool any_shards = false;
  for (const model::Node& node : snapshot.nodes) {
    cpus_free_.push_back(node.cpus_total - node.cpus_allocated);
    memory_free_.push_back(node.memory_total_mib - node.memory_allocated_mib);
    layout->pool_begin.push_back(layout->pool_offset.size());
    for (const model::AcceleratorPool& pool : node.accelerators) {
      layout->pool_offset.push_back(used_.size());
      layout->pool_size.push_back(static_cast<int>(pool.used_milli.size()));
      used_.insert(used_.end(), pool.used_milli.begin(), pool.used_milli.end());
      any_shards = any_shards || pool.HasShards();
    }
  }
  if (any_shards) {
    whole_used_ = used_;
    shards_total_.assign(used_.size(), 0);
    shards_used_.assign(used_.size(), 0);
    size_t index = 0;
    for (const model::Node& node : snapshot.nodes) {
      for (const model::AcceleratorPool& pool : node.accelerators) {
        const size_t offset = layout->pool_offset[index++];
        if (!pool.HasShards()) continue;
        for (size_t d = 0; d < pool.used_milli.size(); ++d) {
          shards_total_[offset + d] = pool.shards_total[d];
          shards_used_[offset + d] = pool.shards_used[d];
          used_[offset + d] =
              std::min(model::kMilliPerDevice,
                       whole_used_[offset + d] +
                           model::ShardMilli(pool.shards_used[d], pool.shards_total[d]));
        }
      }
    }
  }
  layout->devices_total.assign(nodes, 0);
  free_milli_.assign(nodes, 0);
  for (size_t n = 0; n < nodes; ++n) {
    for (size_t p = 0; p < snapshot.nodes[n].accelerators.size(); ++p) {
      const size_t index = layout->pool_begin[n] + p;
      const auto size = static_cast<size_t>(layout->pool_size[index]);
      layout->devices_total[n] += layout->pool_size[index];
      free_milli_[n] +=
          model::FreeMilli(std::span<const int>(used_.data() + layout->pool_offset[index], size));
    }
  }
  layout->by_name.resize(nodes);
  std::iota(layout->by_name.begin(), layout->by_name.end(), 0);
  std::sort(layout->by_name.begin(), layout->by_name.end(), [&](int a, int b) {
    return snapshot.nodes[static_cast<size_t>(a)].name <
           snapshot.nodes[static_cast<size_t>(b)].name;
  });
  layout->name_rank.resize(nodes);
  for (size_t rank = 0; rank < nodes; ++rank) {
    layout->name_rank[static_cast<size_t>(layout->by_name[rank])] = static_cast<int>(rank);
  }
  layout_ = layout;
  FindUsers(*layout);
  if (!snapshot.reservations.empty()) {
    layout->reservations_on.resize(nodes);
    for (size_t r = 0; r < snapshot.reservations.size(); ++r) {
      for (const std::string& name : snapshot.reservations[r].nodes) {
        const int n = FindNode(name);
        if (n >= 0)
          layout->reservations_on[static_cast<size_t>(n)].push_back(static_cast<int32_t>(r));
      }
    }
  }
}

void ClusterState::FindUsers(Layout& layout) const {
  const model::Snapshot& snapshot = *snapshot_;
  const bool asked = std::any_of(snapshot.running.begin(), snapshot.running.end(),
                                 [](const model::RunningJob& job) { return job.exclusive_user; }) ||
                     std::any_of(snapshot.pending.begin(), snapshot.pending.end(),
                                 [](const model::PendingJob& job) { return job.exclusive_user; });
  if (!asked) return;
  const size_t nodes = snapshot.nodes.size();
  layout.user.assign(nodes, 0);
  layout.users.assign(nodes, Layout::kNone);
  for (const model::RunningJob& job : snapshot.running) {
    for (const model::NodeAllocation& allocation : job.allocations) {
      const int n = FindNode(allocation.node);
      if (n < 0) continue;
      const auto at = static_cast<size_t>(n);
      Layout::Users& users = layout.users[at];
      if (users != Layout::kNone && layout.user[at] != job.user_id) users = Layout::kSeveral;
      if (users == Layout::kSeveral) continue;
      layout.user[at] = job.user_id;
      if (job.exclusive_user) {
        users = Layout::kOwnedByOne;
        layout.any_owner = true;
      } else if (users == Layout::kNone) {
        users = Layout::kOne;
      }
    }
  }
  for (size_t n = 0; n < nodes; ++n) {
    const model::Node& node = snapshot.nodes[n];
    const bool in_use = node.cpus_allocated > 0 || node.memory_allocated_mib > 0 ||
                        free_milli_[n] < layout.devices_total[n] * model::kMilliPerDevice;
    if (in_use && layout.users[n] == Layout::kNone) layout.users[n] = Layout::kSeveral;
  }
}

std::optional<uint32_t> ClusterState::exclusive_owner(int n) const {
  if (!layout_->any_owner) return std::nullopt;
  const auto at = static_cast<size_t>(n);
  if (layout_->users[at] != Layout::kOwnedByOne) return std::nullopt;
  return layout_->user[at];
}

bool ClusterState::runs_only_jobs_of(int n, uint32_t user_id) const {
  if (layout_->users.empty()) return false;  // not asked for: never relied on
  const auto at = static_cast<size_t>(n);
  switch (layout_->users[at]) {
    case Layout::kNone:
      return true;
    case Layout::kOne:
    case Layout::kOwnedByOne:
      return layout_->user[at] == user_id;
    case Layout::kSeveral:
      return false;
  }
  return false;
}

std::span<const int> ClusterState::ShardSpan(const std::vector<int>& flat, int n, int pool) const {
  if (flat.empty()) return {};
  const size_t index = layout_->pool_begin[static_cast<size_t>(n)] + static_cast<size_t>(pool);
  return {flat.data() + layout_->pool_offset[index],
          static_cast<size_t>(layout_->pool_size[index])};
}

std::span<const int> ClusterState::shards_total(int n, int pool) const {
  if (!node(n).accelerators[static_cast<size_t>(pool)].HasShards()) return {};
  return ShardSpan(shards_total_, n, pool);
}

std::span<const int> ClusterState::shards_used(int n, int pool) const {
  if (!node(n).accelerators[static_cast<size_t>(pool)].HasShards()) return {};
  return ShardSpan(shards_used_, n, pool);
}

std::span<const int> ClusterState::whole_used(int n, int pool) const {
  if (whole_used_.empty()) return used_milli(n, pool);
  return ShardSpan(whole_used_, n, pool);
}

int ClusterState::free_devices(int n, int pool) const {
  return model::CountFreeDevices(used_milli(n, pool));
}

void ClusterState::Apply(const JobStart& start, int cpus_per_node, int64_t memory_per_node) {
  for (const Holding& holding : HoldingsOf(start, cpus_per_node, memory_per_node)) Take(holding);
}

std::vector<Holding> ClusterState::HoldingsOf(const JobStart& start, int cpus_per_node,
                                              int64_t memory_per_node) {
  std::vector<Holding> holdings;
  holdings.reserve(start.placements.size());
  for (const NodePlacement& placement : start.placements) {
    holdings.push_back(Holding{placement.node, placement.pool, placement.devices,
                               placement.fraction_milli, cpus_per_node, memory_per_node,
                               placement.device_shards});
  }
  return holdings;
}

void ClusterState::Adjust(const Holding& holding, int sign, bool count_hosted) {
  const size_t n = static_cast<size_t>(holding.node);
  ++version_[n];
  stamp_[n] = NewStamps(1);
  changes_.push_back(holding.node);
  const model::Node& info = node(holding.node);
  cpus_free_[n] = std::clamp(cpus_free_[n] - sign * holding.cpus, 0, info.cpus_total);
  memory_free_[n] =
      std::clamp(memory_free_[n] - sign * holding.memory_mib, int64_t{0}, info.memory_total_mib);
  if (holding.pool < 0) return;
  if (count_hosted) CountHosted(hosted_[n], holding, sign);
  const size_t index = layout_->pool_begin[n] + static_cast<size_t>(holding.pool);
  int* used = used_.data() + layout_->pool_offset[index];
  const int size = layout_->pool_size[index];
  const int share = holding.fraction_milli > 0 ? holding.fraction_milli : model::kMilliPerDevice;
  int& free_milli = free_milli_[n];
  if (whole_used_.empty()) {
    for (int device : holding.devices) {
      if (device < 0 || device >= size) continue;
      const int before = used[device];
      used[device] = std::clamp(before + sign * share, 0, model::kMilliPerDevice);
      free_milli -= used[device] - before;
    }
    return;
  }
  // A cluster with shards keeps whole and shard use apart and sums them per device.
  const size_t offset = layout_->pool_offset[index];
  const bool shards = !holding.device_shards.empty();
  for (size_t i = 0; i < holding.devices.size(); ++i) {
    const int device = holding.devices[i];
    if (device < 0 || device >= size) continue;
    const size_t at = offset + static_cast<size_t>(device);
    if (shards) {
      const int taken = i < holding.device_shards.size() ? holding.device_shards[i] : 0;
      shards_used_[at] = std::clamp(shards_used_[at] + sign * taken, 0, shards_total_[at]);
    } else {
      whole_used_[at] = std::clamp(whole_used_[at] + sign * share, 0, model::kMilliPerDevice);
    }
    const int before = used[device];
    used[device] =
        std::min(model::kMilliPerDevice,
                 whole_used_[at] + model::ShardMilli(shards_used_[at], shards_total_[at]));
    free_milli -= used[device] - before;
  }
}

void ClusterState::SetHosted(int n, const std::vector<std::pair<int, int>>& hosted) {
  auto& now = hosted_[static_cast<size_t>(n)];
  if (now == hosted) return;
  // A change to the node as any other: per-node caches and rankings see it.
  ++version_[static_cast<size_t>(n)];
  stamp_[static_cast<size_t>(n)] = NewStamps(1);
  changes_.push_back(n);
  now = hosted;
}

void ClusterState::CountHosted(std::vector<std::pair<int, int>>& hosted, const Holding& holding,
                               int sign) {
  const int tag = holding.fraction_milli > 0 || !holding.device_shards.empty()
                      ? kSharedRequest
                      : static_cast<int>(holding.devices.size());
  auto it =
      std::find_if(hosted.begin(), hosted.end(), [&](const auto& h) { return h.first == tag; });
  if (it == hosted.end()) {
    if (sign > 0) hosted.emplace_back(tag, 1);
    return;
  }
  it->second += sign;
  if (it->second <= 0) hosted.erase(it);
}

std::vector<std::vector<Holding>> ClusterState::ResolveAll() const {
  std::vector<bool> guessed;
  std::vector<std::vector<Holding>> all;
  all.reserve(snapshot_->running.size());
  for (const model::RunningJob& job : snapshot_->running)
    all.push_back(ResolveGuessing(job, guessed));
  return all;
}

std::vector<Holding> ClusterState::ResolveGuessing(const model::RunningJob& job,
                                                   std::vector<bool>& guessed) const {
  std::vector<Holding> holdings;
  for (const model::NodeAllocation& alloc : job.allocations) {
    Holding holding{FindNode(alloc.node), -1,         alloc.device_indices,
                    alloc.fraction_milli, alloc.cpus, alloc.memory_mib,
                    alloc.device_shards};
    if (holding.node < 0) continue;
    holding.pool = FindPool(holding.node, alloc.gres_name, alloc.gres_type);
    if (holding.pool >= 0 && holding.devices.empty() && alloc.device_count > 0) {
      std::span<const int> used = used_milli(holding.node, holding.pool);
      const size_t offset =
          layout_->pool_offset[layout_->pool_begin[static_cast<size_t>(holding.node)] +
                               static_cast<size_t>(holding.pool)];
      if (guessed.empty()) guessed.assign(used_.size(), false);
      const int share = alloc.fraction_milli > 0 ? alloc.fraction_milli : model::kMilliPerDevice;
      for (int d = static_cast<int>(used.size()) - 1;
           d >= 0 && static_cast<int>(holding.devices.size()) < alloc.device_count; --d) {
        const size_t at = offset + static_cast<size_t>(d);
        if (used[static_cast<size_t>(d)] < share || guessed[at]) continue;
        // A share's device may host several shares: only whole devices are taken.
        if (alloc.fraction_milli == 0) guessed[at] = true;
        holding.devices.push_back(d);
      }
    }
    holdings.push_back(std::move(holding));
  }
  return holdings;
}

int ClusterState::FindNode(std::string_view name) const {
  const auto& by_name = layout_->by_name;
  auto it = std::lower_bound(by_name.begin(), by_name.end(), name,
                             [&](int n, std::string_view key) { return node(n).name < key; });
  if (it == by_name.end() || node(*it).name != name) return -1;
  return *it;
}

int ClusterState::FindPool(int n, std::string_view gres_name, std::string_view gres_type) const {
  const auto& pools = node(n).accelerators;
  for (size_t p = 0; p < pools.size(); ++p) {
    if (pools[p].gres_name == gres_name && pools[p].gres_type == gres_type)
      return static_cast<int>(p);
  }
  return -1;
}

}  // namespace accelpack::engine
