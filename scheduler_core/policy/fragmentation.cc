// SPDX-License-Identifier: GPL-2.0-or-later
// FGD's expected fragmentation and our continuous gradient scorer; see fragmentation.h.
#include "policy/fragmentation.h"

#include <algorithm>
#include <cmath>
#include <cstdlib>
#include <limits>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <set>
#include <tuple>
#include <unordered_map>

#include "common/strings.h"
#include "model/cluster.h"
#include "model/topology.h"

namespace accelpack::policy {

namespace {

constexpr int kMilli = model::kMilliPerDevice;

// The devices as a set (bit d: device d), when all are below 64; placements on
// pools with more are not memoised.
std::optional<uint64_t> DeviceSet(std::span<const int> devices) {
  uint64_t set = 0;
  for (const int d : devices) {
    if (d < 0 || d >= 64) return std::nullopt;
    set |= uint64_t{1} << d;
  }
  return set;
}

bool TypeAllowed(const TaskShape& s, std::string_view type) {
  return s.allowed_types.empty() ||
         std::find(s.allowed_types.begin(), s.allowed_types.end(), type) != s.allowed_types.end();
}

absl::StatusOr<int> ParseCount(std::string_view text, std::string_view what) {
  const std::string s(text);
  char* end = nullptr;
  const long value = std::strtol(s.c_str(), &end, 10);
  if (s.empty() || *end != '\0' || value < 0 || value > 1'000'000'000) {
    return absl::InvalidArgumentError(Cat(what, ": expected a count, got \"", text, "\""));
  }
  return static_cast<int>(value);
}

}  // namespace

FragModel::FragModel(ShapeTable shapes, bool count_memory) : shapes_(std::move(shapes)) {
  for (const TaskShape& s : shapes_) {
    if (s.gpu_count > 0) thresholds_.push_back(s.gpu_milli);
  }
  std::sort(thresholds_.begin(), thresholds_.end());
  thresholds_.erase(std::unique(thresholds_.begin(), thresholds_.end()), thresholds_.end());
  for (const TaskShape& s : shapes_) {
    for (const std::string& type : s.allowed_types) {
      if (std::none_of(needs_by_type_.begin(), needs_by_type_.end(),
                       [&](const auto& entry) { return entry.first == type; })) {
        needs_by_type_.emplace_back(type, std::vector<Needs>());
      }
    }
  }
  const int never = static_cast<int>(thresholds_.size());
  auto needs_on = [&](const std::string* type) {
    std::vector<Needs> all;
    for (const TaskShape& s : shapes_) {
      Needs& needs = all.emplace_back();
      // A shape without devices, or of other types, is never hosted.
      const bool allowed = type == nullptr ? s.allowed_types.empty() : TypeAllowed(s, *type);
      needs.threshold = s.gpu_count > 0 && allowed
                            ? static_cast<int>(std::lower_bound(thresholds_.begin(),
                                                                thresholds_.end(), s.gpu_milli) -
                                               thresholds_.begin())
                            : never;
      needs.gpu_count = s.gpu_count;
      needs.cpus = s.cpus;
      needs.memory_mib = count_memory ? s.memory_mib : std::numeric_limits<int64_t>::min();
      needs.weight = s.weight;
    }
    return all;
  };
  for (auto& [type, needs] : needs_by_type_) needs = needs_on(&type);
  needs_other_type_ = needs_on(nullptr);
  if (shapes_.size() <= kMaxMemoShapes) {
    // Per count k of levels met (room >= the k lowest), the shapes needing at most those.
    auto by_level = [&](auto need, auto* levels, std::vector<uint64_t>* fitting) {
      for (const Needs& needs : needs_other_type_) levels->push_back(need(needs));
      std::sort(levels->begin(), levels->end());
      levels->erase(std::unique(levels->begin(), levels->end()), levels->end());
      fitting->assign(levels->size() + 1, 0);
      for (size_t j = 0; j < needs_other_type_.size(); ++j) {
        const auto rank = static_cast<size_t>(
            std::lower_bound(levels->begin(), levels->end(), need(needs_other_type_[j])) -
            levels->begin());
        for (size_t k = rank + 1; k < fitting->size(); ++k) (*fitting)[k] |= uint64_t{1} << j;
      }
    };
    by_level([](const Needs& needs) { return needs.cpus; }, &cpu_levels_, &fitting_by_cpu_level_);
    by_level([](const Needs& needs) { return needs.memory_mib; }, &memory_levels_,
             &fitting_by_memory_level_);
  }
}

uint64_t FragModel::ShapesFitting(Room room) const {
  const auto cpus_met = static_cast<size_t>(
      std::upper_bound(cpu_levels_.begin(), cpu_levels_.end(), room.cpus) - cpu_levels_.begin());
  const auto memory_met = static_cast<size_t>(
      std::upper_bound(memory_levels_.begin(), memory_levels_.end(), room.memory_mib) -
      memory_levels_.begin());
  return fitting_by_cpu_level_[cpus_met] & fitting_by_memory_level_[memory_met];
}

const std::vector<FragModel::Needs>& FragModel::NeedsOn(std::string_view type) const {
  for (const auto& [name, needs] : needs_by_type_) {
    if (name == type) return needs;
  }
  return needs_other_type_;
}

void FragModel::CountDevices(std::span<const int> used, DeviceCounts* counts) const {
  const size_t thresholds = thresholds_.size();
  counts->count_ge.resize(thresholds + 1);
  counts->sum_lt.resize(thresholds + 1);
  int* const count_ge = counts->count_ge.data();
  int* const sum_lt = counts->sum_lt.data();
  const int* const threshold = thresholds_.data();
  for (size_t t = 0; t < thresholds; ++t) {
    count_ge[t] = 0;
    sum_lt[t] = 0;
  }
  count_ge[thresholds] = -1;  // below any gpu_count, 0 included
  sum_lt[thresholds] = 0;
  int free_total = 0;
  for (int u : used) {
    const int left = kMilli - u;
    free_total += left;
    for (size_t t = 0; t < thresholds; ++t) {
      if (left >= threshold[t]) {
        ++count_ge[t];
      } else {
        sum_lt[t] += left;
      }
    }
  }
  counts->free_total = free_total;
}

void FragModel::MoveDevice(int left_before, int left_after, DeviceCounts* counts) const {
  counts->free_total += left_after - left_before;
  for (size_t t = 0; t < thresholds_.size(); ++t) {
    if (left_before >= thresholds_[t]) {
      --counts->count_ge[t];
    } else {
      counts->sum_lt[t] -= left_before;
    }
    if (left_after >= thresholds_[t]) {
      ++counts->count_ge[t];
    } else {
      counts->sum_lt[t] += left_after;
    }
  }
}

// One pass over the devices per distinct per-device share, then one over shapes.
double FragModel::Pool(Room room, std::span<const int> used, std::string_view type) const {
  thread_local DeviceCounts counts;
  CountDevices(used, &counts);
  if (counts.free_total == 0) return 0;
  double frag = 0;
  for (const Needs& needs : NeedsOn(type)) frag += Term(needs, room, counts);
  return frag;
}

double FragModel::Node(const engine::ClusterState& state, int n) const {
  double frag = 0;
  const Room room{state.cpus_free(n), state.memory_free(n)};
  const auto& pools = state.node(n).accelerators;
  for (size_t p = 0; p < pools.size(); ++p) {
    frag += Pool(room, state.used_milli(n, static_cast<int>(p)), pools[p].gres_type);
  }
  return frag;
}

void FragModel::ComputeBefore(const engine::ClusterState& state, int n, NodeBefore* out) const {
  const Room room{state.cpus_free(n), state.memory_free(n)};
  out->cpus = room.cpus;
  out->memory_mib = room.memory_mib;
  const auto& pools = state.node(n).accelerators;
  out->counts.resize(pools.size());
  out->needs.resize(pools.size());
  double before = 0;
  for (size_t p = 0; p < pools.size(); ++p) {
    std::span<const int> used = state.used_milli(n, static_cast<int>(p));
    DeviceCounts& now = out->counts[p];
    CountDevices(used, &now);
    out->needs[p] = &NeedsOn(pools[p].gres_type);
    if (now.free_total == 0) continue;  // Pool is 0
    double frag = 0;
    for (const Needs& needs : *out->needs[p]) frag += Term(needs, room, now);
    before += frag;
  }
  out->before = before;
}

// Pool before and after for each pool (each sum in shape order, as Pool adds them).
double FragModel::Decrease(const engine::Job& job, const engine::Candidate& c,
                           const engine::ClusterState& state, NodeMemo* memo) const {
  thread_local NodeBefore computed;
  NodeBefore* node = &computed;
  NodeMemo::Entry* entry = nullptr;
  if (memo == nullptr) {
    ComputeBefore(state, c.node, &computed);
  } else {
    if (memo->snapshot_ != &state.snapshot() ||
        memo->entries_.size() != static_cast<size_t>(state.node_count())) {
      memo->snapshot_ = &state.snapshot();
      memo->entries_.assign(static_cast<size_t>(state.node_count()), {});
    }
    entry = &memo->entries_[static_cast<size_t>(c.node)];
    const uint64_t stamp = state.stamp(c.node);
    if (entry->stamp != stamp) {
      ComputeBefore(state, c.node, &entry->node);
      entry->stamp = stamp;
      entry->afters.clear();
    }
    node = &entry->node;
  }
  const Room room_after{node->cpus - job->cpus_per_node,
                        node->memory_mib - job->memory_per_node_mib};
  const int share = c.fraction_milli > 0 ? c.fraction_milli : kMilli;
  uint64_t fitting = 0;
  std::optional<uint64_t> devices;
  if (entry != nullptr && shapes_.size() <= kMaxMemoShapes && (devices = DeviceSet(c.devices))) {
    fitting = ShapesFitting(room_after);
    for (const NodeMemo::After& known : entry->afters) {
      if (known.fitting == fitting && known.pool == c.pool && known.share == share &&
          known.devices == *devices) {
        return node->before - known.after;
      }
    }
  } else {
    entry = nullptr;
  }
  double after = 0;
  for (size_t p = 0; p < node->counts.size(); ++p) {
    DeviceCounts& counts = node->counts[p];
    const bool placed_here = static_cast<int>(p) == c.pool;
    std::span<const int> used;
    if (placed_here) {
      // The counts after: those of now, moved for the devices the placement takes
      // (distinct devices), and moved back below (integers: exactly as they were).
      used = state.used_milli(c.node, c.pool);
      for (int d : c.devices) {
        const int left = kMilli - used[static_cast<size_t>(d)];
        MoveDevice(left, left - share, &counts);
      }
    }
    if (counts.free_total != 0) {  // else Pool is 0
      double frag_after = 0;
      for (const Needs& needs : *node->needs[p]) frag_after += Term(needs, room_after, counts);
      after += frag_after;
    }
    if (placed_here) {
      for (int d : c.devices) {
        const int left = kMilli - used[static_cast<size_t>(d)];
        MoveDevice(left - share, left, &counts);
      }
    }
  }
  if (entry != nullptr && entry->afters.size() < NodeMemo::kMaxAfters) {
    entry->afters.push_back({fitting, c.pool, share, *devices, after});
  }
  return node->before - after;
}

namespace {

// A shape's weight grows with the devices it asks for, so the fragment that stops a
// large task counts in proportion to the demand it strands.
void WeighBySize(ShapeTable& shapes, double size_weight) {
  double total = 0;
  for (TaskShape& s : shapes) {
    s.weight *= 1 + size_weight * s.gpu_count * s.gpu_milli / static_cast<double>(kMilli);
    total += s.weight;
  }
  if (total > 0) {
    for (TaskShape& s : shapes) s.weight /= total;
  }
}

struct QueueFragModel final : engine::ScorerCycleData {
  explicit QueueFragModel(ShapeTable shapes) : model(std::move(shapes), /*count_memory=*/true) {}
  FragModel model;
  // One cycle's: the engine places a cycle's jobs on one thread.
  mutable FragModel::NodeMemo memo;
};

class Fragmentation final : public engine::Scorer {
 public:
  Fragmentation(ShapeTable shapes, double size_weight, double running_weight)
      : model_(std::move(shapes), /*count_memory=*/true),
        size_weight_(size_weight),
        running_weight_(running_weight) {}
  std::string_view name() const override { return "fragmentation"; }
  // e.g. shapes {1 whole GPU: 0.5, 4 whole GPUs: 0.5}, 8-GPU node with 5 free:
  // 1 GPU there leaves 4 free, which hosts both shapes: fragment 2.5 -> 0 devices,
  // +2.5 -> 65.6; on an empty 8-GPU node the fragment stays 0 -> 50.
  double Score(const engine::Job& job, const engine::Candidate& candidate,
               const engine::ClusterState& state) const override {
    const FragModel* model = &model_;
    FragModel::NodeMemo* memo = nullptr;
    if (model_.empty()) {
      const QueueFragModel* queue = FromQueue<QueueFragModel>(this, job);
      if (queue == nullptr) return kNoChange;
      model = &queue->model;
      memo = &queue->memo;
    }
    if (model->empty()) return kNoChange;
    const double devices = model->Decrease(job, candidate, state, memo) / kMilli;
    return std::clamp(kNoChange + kPointsPerDevice * devices, 0.0, 100.0);
  }
  // Without a table of its own: the shapes the cycle's pending queue asks for.
  std::unique_ptr<const engine::ScorerCycleData> PreScore(
      const model::Snapshot& snapshot) const override {
    if (!model_.empty()) return nullptr;
    ShapeTable shapes = QueueShapes(snapshot, nullptr, running_weight_);
    WeighBySize(shapes, size_weight_);
    return std::make_unique<QueueFragModel>(std::move(shapes));
  }

 private:
  static constexpr double kNoChange = 50;
  static constexpr double kPointsPerDevice = 6.25;  // 8 devices span the range
  FragModel model_;
  double size_weight_ = 0;
  double running_weight_ = 0;
};

// Scarcity of each accelerator type (GPU model) for the work pinned to it; for each
// type c:
//   pressure(c) = (share of the workload's expected device demand that can only run
//                  on a set of classes including c, spread over that set by capacity)
//                 / (c's share of the cluster's devices)
// e.g. shapes {1 GPU on any: 0.75, 1 GPU pinned to t4: 0.25}, a cluster of 2 T4
// and 6 P100 devices: pinned demand share 0.25 / capacity share 0.25 -> pressure(t4)
// = 1.0, pressure(p100) = 0. A placement scores 100 x (1 - pressure) of its pool's
// type (capped to 0..100), so portable work keeps off the types pinned work needs;
// a job pinned to one type sees one value everywhere, CPU-only jobs score 100.
// Depends only on the job and the (fixed) pool, so the placement cache stays valid.
// (Pressing by node size as well, i.e. classes of type x devices x CPUs so that big
// shapes press on big nodes, measured worse on multigpu40: 3.12 against 3.07 %.)
class KindPressure final : public engine::Scorer {
 public:
  explicit KindPressure(ShapeTable shapes) : shapes_(std::move(shapes)) {}
  std::string_view name() const override { return "kind_pressure"; }
  bool ReadsCpusOrMemory() const override { return false; }
  double Score(const engine::Job& job, const engine::Candidate& candidate,
               const engine::ClusterState& state) const override {
    if (candidate.pool < 0) return 100;
    std::shared_ptr<const PerPool> held;
    const PerPool* pressure = nullptr;
    if (const CyclePressure* cycle = FromQueue<CyclePressure>(this, job)) {
      pressure = &cycle->pressure;
    } else if (!shapes_.empty()) {
      held = PressureOutsideCycle(state);
      pressure = held.get();
    } else {
      return 100;
    }
    const double p =
        (*pressure)[static_cast<size_t>(candidate.node)][static_cast<size_t>(candidate.pool)];
    return 100.0 * std::clamp(1.0 - p, 0.0, 1.0);
  }
  // Once per cycle: the pressure of the table, or without one of the cycle's
  // pending queue, on this cycle's snapshot.
  std::unique_ptr<const engine::ScorerCycleData> PreScore(
      const model::Snapshot& snapshot) const override {
    auto cycle = std::make_unique<CyclePressure>();
    cycle->pressure = Compute(shapes_.empty() ? QueueShapes(snapshot) : shapes_, snapshot);
    return cycle;
  }

 private:
  using PerPool = std::vector<std::vector<double>>;  // [node][pool]
  using Class = std::string;                         // the pool's GRES type
  struct CyclePressure final : engine::ScorerCycleData {
    PerPool pressure;
  };

  // Outside a cycle (the static protocol places one task at a time on one state):
  // computed once per state made from a snapshot (ClusterState::layout_serial), held
  // by a shared pointer, so that a caller on another thread replacing it does not
  // free what this one reads.
  std::shared_ptr<const PerPool> PressureOutsideCycle(const engine::ClusterState& state) const {
    const std::lock_guard<std::mutex> lock(mutex_);
    if (cached_ == nullptr || cached_for_ != state.layout_serial()) {
      cached_ = std::make_shared<const PerPool>(Compute(shapes_, state.snapshot()));
      cached_for_ = state.layout_serial();
    }
    return cached_;
  }

  static PerPool Compute(const ShapeTable& shapes, const model::Snapshot& snapshot) {
    std::map<Class, double> capacity;
    double capacity_total = 0;
    for (const model::Node& node : snapshot.nodes) {
      for (const auto& pool : node.accelerators) {
        capacity[pool.gres_type] += pool.count;
        capacity_total += pool.count;
      }
    }
    std::map<Class, double> pinned;
    double demand_total = 0;
    for (const TaskShape& s : shapes) {
      const double demand = s.weight * s.gpu_count * s.gpu_milli;
      demand_total += demand;
      if (demand == 0) continue;
      auto hosts = [&](const Class& c) { return TypeAllowed(s, c); };
      double reachable = 0;
      for (const auto& [c, count] : capacity) reachable += hosts(c) ? count : 0;
      if (reachable == 0 || reachable == capacity_total) continue;  // fits nowhere or anywhere
      for (const auto& [c, count] : capacity) {
        if (hosts(c)) pinned[c] += demand * count / reachable;
      }
    }
    PerPool pressure(snapshot.nodes.size());
    for (size_t n = 0; n < snapshot.nodes.size(); ++n) {
      const model::Node& node = snapshot.nodes[n];
      for (const auto& pool : node.accelerators) {
        const Class& c = pool.gres_type;
        const auto it = pinned.find(c);
        pressure[n].push_back(it == pinned.end() || demand_total == 0
                                  ? 0
                                  : (it->second / demand_total) / (capacity[c] / capacity_total));
      }
    }
    return pressure;
  }

  ShapeTable shapes_;
  mutable std::mutex mutex_;
  mutable uint64_t cached_for_ = 0;
  mutable std::shared_ptr<const PerPool> cached_;
};

}  // namespace

absl::StatusOr<ShapeTable> ShapesArg(const PluginArgs& args, std::string_view known) {
  ShapeTable shapes;
  for (const auto& [key, value] : args) {
    if (key != "shapes") {
      return absl::InvalidArgumentError(Cat("unknown argument \"", key, "\" (known: ", known, ")"));
    }
    auto parsed = ShapesFromArg(value);
    if (!parsed.ok()) return parsed.status();
    shapes = std::move(*parsed);
  }
  return shapes;
}

ShapeTable TypicalShapes(std::vector<TaskShape> counted, double coverage) {
  // Memory is not part of a shape (FGD's shapes are CPU and GPU): a shape carries
  // the mean memory of its tasks.
  std::map<std::tuple<int, int, int, std::vector<std::string>>, std::pair<double, double>> merged;
  double total = 0;
  for (TaskShape& s : counted) {
    auto& [weight, memory] = merged[{s.cpus, s.gpu_count, s.gpu_milli, std::move(s.allowed_types)}];
    weight += s.weight;
    memory += s.weight * static_cast<double>(s.memory_mib);
    total += s.weight;
  }
  ShapeTable table;
  for (auto& [key, sums] : merged) {
    const auto [weight, memory] = sums;
    table.push_back({std::get<0>(key), std::get<1>(key), std::get<2>(key), std::get<3>(key), weight,
                     weight > 0 ? std::llround(memory / weight) : 0});
  }
  // Most popular first; equal counts in a fixed order so the table is reproducible.
  std::stable_sort(table.begin(), table.end(),
                   [](const TaskShape& a, const TaskShape& b) { return a.weight > b.weight; });
  double covered = 0;
  size_t keep = 0;
  while (keep < table.size() && covered < coverage * total) covered += table[keep++].weight;
  table.resize(keep);
  for (TaskShape& s : table) s.weight /= covered;
  return table;
}

namespace {

// The pool types a request may use, as a queue shape lists them: sorted, none when
// it may use every pool, and whether any pool allows it at all.
struct AllowedTypes {
  const model::AcceleratorRequest* request = nullptr;
  std::vector<std::string> types;
  bool anywhere = false;
};

AllowedTypes AllowedPoolTypes(
    const model::AcceleratorRequest& request,
    const std::set<std::pair<std::string_view, std::string_view>>& pools) {
  AllowedTypes allowed;
  allowed.request = &request;
  model::AcceleratorPool probe;
  for (const auto& [gres_name, gres_type] : pools) {
    probe.gres_name = gres_name;
    probe.gres_type = gres_type;
    if (request.Allows(probe)) allowed.types.emplace_back(gres_type);
  }
  allowed.anywhere = !allowed.types.empty();
  std::sort(allowed.types.begin(), allowed.types.end());
  allowed.types.erase(std::unique(allowed.types.begin(), allowed.types.end()), allowed.types.end());
  if (allowed.types.size() == pools.size()) allowed.types.clear();
  return allowed;
}

}  // namespace

ShapeTable QueueShapes(const model::Snapshot& snapshot,
                       const std::function<bool(const model::PendingJob&)>& counts,
                       double running_weight) {
  // The snapshot's pools by (GRES name, type): a request's allowed types are the
  // types of the pools it may use, empty when that is every pool (portable work).
  std::set<std::pair<std::string_view, std::string_view>> pools;
  for (const model::Node& node : snapshot.nodes) {
    for (const model::AcceleratorPool& pool : node.accelerators) {
      pools.emplace(pool.gres_name, pool.gres_type);
    }
  }
  // Jobs ask for few distinct (GRES, types): each one's pool types are worked out once.
  constexpr size_t kRememberedRequests = 64;
  std::vector<AllowedTypes> allowed_by_request;
  std::vector<TaskShape> counted;
  counted.reserve(snapshot.pending.size());
  for (const model::PendingJob& job : snapshot.pending) {
    if (counts && !counts(job)) continue;
    TaskShape shape;
    shape.cpus = job.cpus_per_node;
    shape.memory_mib = job.memory_per_node_mib;
    shape.weight = std::max(1, job.num_nodes);  // each node of a gang is one task
    const model::AcceleratorRequest& request = job.accelerators;
    if (request.WantsDevices()) {
      shape.gpu_count = request.IsFractional() ? 1 : request.count_per_node;
      shape.gpu_milli = request.IsFractional() ? request.fraction_milli : kMilli;
      const AllowedTypes* allowed = nullptr;
      for (const AllowedTypes& known : allowed_by_request) {
        if (known.request->gres_name == request.gres_name &&
            known.request->allowed_types == request.allowed_types) {
          allowed = &known;
          break;
        }
      }
      AllowedTypes unremembered;
      if (allowed == nullptr) {
        AllowedTypes worked_out = AllowedPoolTypes(request, pools);
        if (allowed_by_request.size() < kRememberedRequests) {
          allowed_by_request.push_back(std::move(worked_out));
          allowed = &allowed_by_request.back();
        } else {
          unremembered = std::move(worked_out);
          allowed = &unremembered;
        }
      }
      if (!allowed->anywhere) continue;  // runs nowhere here: presses on nothing
      shape.allowed_types = allowed->types;
    }
    counted.push_back(std::move(shape));
  }
  // Running work as shapes too: while the queue holds no gang, a gang-sized shape
  // still keeps whole nodes whole. Allowed types are unknown for running work (the
  // snapshot carries allocations, not requests): any. Shard allocations are left out
  // (a share of shards is no share of the device the model can score).
  if (running_weight > 0) {
    for (const model::RunningJob& job : snapshot.running) {
      for (const model::NodeAllocation& allocation : job.allocations) {
        if (!allocation.device_shards.empty()) continue;
        TaskShape shape;
        shape.cpus = allocation.cpus;
        shape.memory_mib = allocation.memory_mib;
        shape.weight = running_weight;
        if (allocation.device_count > 0) {
          const bool share = allocation.fraction_milli > 0 && allocation.fraction_milli < kMilli;
          shape.gpu_count = share ? 1 : allocation.device_count;
          shape.gpu_milli = share ? allocation.fraction_milli : kMilli;
        }
        counted.push_back(std::move(shape));
      }
    }
  }
  ShapeTable table = TypicalShapes(std::move(counted));
  // Each shape costs every evaluation a pass: a queue of many distinct shapes keeps
  // only its most popular ones.
  if (table.size() > kMaxQueueShapes) {
    table.resize(kMaxQueueShapes);
    double total = 0;
    for (const TaskShape& s : table) total += s.weight;
    for (TaskShape& s : table) s.weight /= total;
  }
  return table;
}

double PoolFragmentation(const ShapeTable& shapes, int cpus_free, std::span<const int> used_milli,
                         std::string_view gres_type) {
  return FragModel(shapes).Pool({cpus_free, 0}, used_milli, gres_type);
}

double ClusterFragmentation(const ShapeTable& shapes, const engine::ClusterState& state) {
  const FragModel model(shapes);
  double frag = 0;
  for (int n = 0; n < state.node_count(); ++n) frag += model.Node(state, n);
  return frag;
}

std::string ShapesToArg(const ShapeTable& shapes) {
  std::vector<std::string> parts;
  for (const TaskShape& s : shapes) {
    parts.push_back(Cat(s.cpus, ":", s.gpu_count, ":", s.gpu_milli, ":", Join(s.allowed_types, "|"),
                        ":", fmt::format("{:.17g}", s.weight),
                        s.memory_mib > 0 ? Cat(":", s.memory_mib) : ""));
  }
  return Join(parts, ";");
}

absl::StatusOr<ShapeTable> ShapesFromArg(std::string_view text) {
  ShapeTable table;
  if (text.empty()) return absl::InvalidArgumentError("shapes: empty");
  const auto entries = Split(text, ';');
  for (size_t i = 0; i < entries.size(); ++i) {
    const auto fields = Split(entries[i], ':');
    const std::string where = Cat("shapes[", i, "]");
    if (fields.size() != 5 && fields.size() != 6) {
      return absl::InvalidArgumentError(
          Cat(where, ": expected cpus:count:milli:types:weight[:memory_mib], got \"", entries[i],
              "\""));
    }
    TaskShape s;
    auto cpus = ParseCount(fields[0], where + ".cpus");
    auto count = ParseCount(fields[1], where + ".count");
    auto milli = ParseCount(fields[2], where + ".milli");
    for (const auto* v : {&cpus, &count, &milli}) {
      if (!v->ok()) return v->status();
    }
    s.cpus = *cpus;
    s.gpu_count = *count;
    s.gpu_milli = *milli;
    if (s.gpu_count > 0 && (s.gpu_milli < 1 || s.gpu_milli > kMilli)) {
      return absl::InvalidArgumentError(Cat(where, ".milli: ", s.gpu_milli, " outside 1..1000"));
    }
    if (!fields[3].empty()) {
      for (std::string_view type : Split(fields[3], '|')) s.allowed_types.emplace_back(type);
    }
    const std::optional<double> weight = ParseNumber(fields[4]);
    if (!weight || !(*weight >= 0)) {
      return absl::InvalidArgumentError(
          Cat(where, ".weight: expected a number >= 0, got \"", fields[4], "\""));
    }
    s.weight = *weight;
    if (fields.size() == 6) {
      auto memory = ParseCount(fields[5], where + ".memory_mib");
      if (!memory.ok()) return memory.status();
      s.memory_mib = *memory;
    }
    table.push_back(std::move(s));
  }
  return table;
}

absl::StatusOr<std::unique_ptr<engine::Scorer>> MakeFragmentationScorer(const PluginArgs& args) {
  PluginArgs table_args = args;
  // A weight argument, taken out of what the shape table's parser sees.
  auto weight_arg = [&](const std::string& key) -> absl::StatusOr<double> {
    auto weight = NumberArg(args, key, 0);
    if (!weight.ok()) return weight.status();
    if (!(*weight >= 0)) return absl::InvalidArgumentError(Cat(key, ": must be >= 0"));
    table_args.erase(key);
    return *weight;
  };
  auto size_weight = weight_arg("size_weight");
  if (!size_weight.ok()) return size_weight.status();
  auto running_weight = weight_arg("running_weight");
  if (!running_weight.ok()) return running_weight.status();
  auto shapes = ShapesArg(table_args, "shapes, size_weight, running_weight");
  if (!shapes.ok()) return shapes.status();
  WeighBySize(*shapes, *size_weight);
  return std::make_unique<Fragmentation>(std::move(*shapes), *size_weight, *running_weight);
}

absl::StatusOr<std::unique_ptr<engine::Scorer>> MakeKindPressureScorer(const PluginArgs& args) {
  auto shapes = ShapesArg(args);
  if (!shapes.ok()) return shapes.status();
  return std::make_unique<KindPressure>(std::move(*shapes));
}

}  // namespace accelpack::policy
