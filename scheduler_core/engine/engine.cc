#include "engine/engine.h"

#include <algorithm>
#include <cmath>
#include <ctime>
#include <limits>
#include <map>
#include <unordered_map>

#include "common/strings.h"
#include "engine/reason.h"
#include "engine/shares.h"
#include "model/topology.h"

namespace accelpack::engine {

namespace {

constexpr int64_t kOneYear = 365LL * 24 * 3600;

constexpr int64_t kNoReservation = std::numeric_limits<int64_t>::max();

// Device candidates on node n; on failure names what was missing.
std::vector<Candidate> DeviceCandidates(const Job& job, int n, const ClusterState& state,
                                        std::string_view* reason) {
  const model::AcceleratorRequest& request = job->accelerators;
  if (!request.WantsDevices()) return {Candidate{n, -1, {}, 0}};
  std::vector<Candidate> candidates;
  int free_devices = 0;
  const auto& pools = state.node(n).accelerators;
  for (size_t p = 0; p < pools.size(); ++p) {
    if (!request.Allows(pools[p])) continue;
    const int pool = static_cast<int>(p);
    std::span<const int> used = state.used_milli(n, pool);
    if (request.WantsShards()) {
      // Slurm, not the core, picks the device: one candidate, the device it would pick.
      if (auto candidate = ShardCandidate(state, n, pool, request.shards_per_node)) {
        candidates.push_back(std::move(*candidate));
      }
      continue;
    }
    if (request.IsFractional()) {
      // One candidate per distinct usage level: devices at the same level are alike.
      std::vector<int> seen_levels;
      for (int d : model::DevicesWithRoomFor(used, request.fraction_milli)) {
        const int level = used[static_cast<size_t>(d)];
        if (std::find(seen_levels.begin(), seen_levels.end(), level) != seen_levels.end()) continue;
        seen_levels.push_back(level);
        candidates.push_back(Candidate{n, pool, {d}, request.fraction_milli});
      }
      free_devices += static_cast<int>(seen_levels.size());
      continue;
    }
    const int free_here = model::CountFreeDevices(used);
    free_devices += free_here;
    if (free_here < request.count_per_node) continue;
    const auto& rule = state.catalog().kind(pools[p].kind_index).rule;
    if (auto devices =
            model::ChooseWholeDevices(rule, used, request.count_per_node, pools[p].device_groups)) {
      candidates.push_back(Candidate{n, pool, std::move(*devices), 0});
    }
  }
  if (candidates.empty() && request.WantsShards()) {
    *reason = kReasonNoShardRoom;
  } else if (candidates.empty()) {
    *reason = free_devices >= request.count_per_node && !request.IsFractional()
                  ? kReasonNoLegalShape
                  : kReasonTooFewFreeDevices;
  }
  return candidates;
}

double WeightedScore(const Job& job, const Candidate& candidate, const ClusterState& state,
                     const Pipeline& pipeline) {
  double total = 0;
  for (const WeightedScorer& ws : pipeline.scorers) {
    total += ws.weight * ws.scorer->Score(job, candidate, state);
  }
  return total;
}

struct ScoredNode {
  Candidate candidate;
  double score = 0;
};

// The engine caches in two levels, so that jobs differing only in CPUs and memory
// (every job may ask its own --mem) share the expensive part:
//  - per *coarse* shape (everything but CPUs and memory): the verdicts of filters
//    that read neither, and each node's device candidates (the topology search),
//    until the node changes;
//  - per *fine* shape (coarse + CPUs + memory): the remaining filters' verdicts and
//    the scores, per eligible node until it changes.
// Verdicts keep the pipeline's filter order, so reasons are the same as without caching.

// Which filters of a stage read CPUs or memory, by position in the pipeline.
struct StageFilters {
  std::vector<const Filter*> filters;
  std::vector<bool> reads_cpus_or_memory;
  bool any_reads = false;

  StageFilters(const Pipeline& pipeline, FilterStage stage) {
    for (const auto& filter : pipeline.filters) {
      if (filter->stage() != stage) continue;
      filters.push_back(filter.get());
      reads_cpus_or_memory.push_back(filter->ReadsCpusOrMemory());
      any_reads = any_reads || filter->ReadsCpusOrMemory();
    }
  }
  int size() const { return static_cast<int>(filters.size()); }
};

constexpr int kPassed = -1;

// The first filter of `stage` that does not read CPUs or memory and rejects node n.
int FirstCoarseRejection(const StageFilters& stage, const Job& job, int n,
                         const ClusterState& state, std::string_view* reason) {
  for (int f = 0; f < stage.size(); ++f) {
    if (stage.reads_cpus_or_memory[static_cast<size_t>(f)]) continue;
    *reason = stage.filters[static_cast<size_t>(f)]->Reject(job, n, state);
    if (!reason->empty()) return f;
  }
  return kPassed;
}

// The full verdict of `stage` on node n, given the coarse one: filters in pipeline
// order, those that read CPUs or memory asked now, the others' answer known.
std::string_view FineRejection(const StageFilters& stage, const Job& job, int n,
                               const ClusterState& state, int coarse_rejection,
                               std::string_view coarse_reason) {
  const int last = coarse_rejection == kPassed ? stage.size() : coarse_rejection;
  for (int f = 0; f < last; ++f) {
    if (!stage.reads_cpus_or_memory[static_cast<size_t>(f)]) continue;
    std::string_view reason = stage.filters[static_cast<size_t>(f)]->Reject(job, n, state);
    if (!reason.empty()) return reason;
  }
  return coarse_rejection == kPassed ? std::string_view() : coarse_reason;
}

// Coarse level, per node: dynamic filters that read neither CPUs nor memory, then
// the device candidates (only when those pass).
struct DeviceEval {
  uint32_t version = 0;
  bool valid = false;
  int rejection = kPassed;  // dynamic filter index, or kPassed
  std::string_view reason;  // that filter's reason, else the device check's
  std::vector<Candidate> candidates;
};

// Fine level, per node: whether one fine shape fits, and its best candidate. Kept
// small (16 bytes): every job scans these. Why a node rejects is recomputed only
// when a job fails (ReasonAt).
struct NodeEval {
  static constexpr int32_t kUnset = -2;
  static constexpr int32_t kRejected = -1;
  uint32_t version = 0;
  int32_t best = kUnset;  // index into the node's DeviceEval candidates, or the above
  double score = 0;
  bool fits() const { return best >= 0; }
};

// What a cycle may spend: node evaluations, and the caller's cancellation.
class Meter {
 public:
  explicit Meter(const WorkBudget* budget) : budget_(budget) {}
  void Spend(uint64_t units) { spent_ += units; }
  // Whether to stop before the next job. Polls the caller every few thousand units.
  bool Exhausted() {
    if (budget_ == nullptr || stopped_) return stopped_;
    if (budget_->max_node_evaluations > 0 && spent_ >= budget_->max_node_evaluations) {
      stopped_ = true;
      why_ = "the cycle's work budget ran out";
    } else if (budget_->cancelled && spent_ >= next_poll_) {
      next_poll_ = spent_ + kPollEvery;
      if (budget_->cancelled()) {
        stopped_ = true;
        why_ = "the caller cancelled the cycle";
      }
    }
    return stopped_;
  }
  std::string_view why() const { return why_; }

 private:
  static constexpr uint64_t kPollEvery = 1 << 14;
  const WorkBudget* budget_;
  uint64_t spent_ = 0;
  uint64_t next_poll_ = 0;
  bool stopped_ = false;
  std::string_view why_;
};

// The static verdict of one coarse shape: nodes every filter that reads neither
// CPUs nor memory lets through (or that a CPU/memory filter earlier in the
// pipeline may reject first), in name order.
struct CoarseShape {
  explicit CoarseShape(const model::PendingJob& request) : names(request) {}
  JobNameSets names;
  std::vector<int> nodes;      // in name order
  std::vector<int> rejection;  // per entry of `nodes`: static filter index or kPassed
  std::vector<std::string_view> rejection_reason;
  ReasonTally rejected;  // nodes rejected for sure, before any CPU/memory filter
  // Device evaluations per entry of `nodes`, on the cache's own state.
  std::vector<DeviceEval> device_evals;
  bool cached = false;
  std::vector<int32_t> slot_of_node;  // per node: its entry in `nodes`, or -1
};

// The static verdict of one fine shape: eligible nodes and why the others are not.
struct Eligibility {
  std::vector<int> nodes;        // in name order
  std::vector<int> coarse_slot;  // per eligible node: its entry in CoarseShape::nodes
  ReasonTally rejected;
};

// A node that fits a fine shape, with its score when it was evaluated.
struct Ranked {
  double score;
  int32_t slot;
  uint32_t version;
};
// Heap order: the highest score on top, the first in name order among equal ones.
// (A type, not a function, so the heap algorithms inline it.)
struct RanksBelow {
  bool operator()(const Ranked& a, const Ranked& b) const {
    return a.score != b.score ? a.score < b.score : a.slot > b.slot;
  }
};

struct FineShape {
  CoarseShape* coarse = nullptr;
  Eligibility eligibility;
  std::vector<NodeEval> evals;  // per eligible node, when cached
  bool cached = false;
  std::vector<int32_t> slot_of_coarse;  // per entry of the coarse nodes: eligible slot or -1
  // The fitting nodes as a heap (entries of changed nodes go stale and are dropped
  // when they surface), caught up with the state's changes up to `seen_changes`: a
  // single-node job costs the nodes that changed since, not a pass over all.
  std::vector<Ranked> ranking;
  bool ranked = false;
  size_t seen_changes = 0;
};

class ShapeCache;
struct Holds;

// Evaluations of one fine shape on one state: through the shape's caches when it
// has them, else through one scratch slot per level.
class Evaluator {
 public:
  Evaluator(ShapeCache& cache, FineShape& shape);
  // The verdict for the eligible node at position `slot` of the shape's eligibility.
  // Inline: every job scans its shape's nodes through here.
  const NodeEval& Get(const Job& job, size_t slot) {
    if (shape_.cached) {
      const NodeEval& eval = shape_.evals[slot];
      if (eval.best != NodeEval::kUnset &&
          eval.version == cache_state_.version(shape_.eligibility.nodes[slot])) {
        return eval;
      }
    }
    return Refresh(job, slot);
  }
  // Why the node at `slot` rejects the job (empty: it fits), in the pipeline's order.
  std::string_view ReasonAt(const Job& job, size_t slot);
  const Candidate& BestOf(const Job& job, size_t slot);
  // The best node for a single-node job through the shape's ranking (cached shapes
  // only): its slot, or -1 when none fits (and holds allow).
  int BestRanked(const Job& job, const Holds* holds);
  const FineShape& shape() const { return shape_; }

 private:
  const DeviceEval& Devices(const Job& job, size_t slot);
  const NodeEval& Refresh(const Job& job, size_t slot);
  ShapeCache& cache_;
  const ClusterState& cache_state_;
  FineShape& shape_;
};

// Per job shape: where it may run and each node's evaluation until that node
// changes, bounded in memory (beyond the bound, shapes are evaluated uncached).
class ShapeCache {
 public:
  static constexpr size_t kMaxCachedDeviceEvals = size_t{1} << 19;
  static constexpr size_t kMaxCachedNodeEvals = size_t{1} << 21;

  ShapeCache(const ClusterState& state, const Pipeline& pipeline, Meter* meter)
      : state_(state),
        pipeline_(pipeline),
        static_filters_(pipeline, FilterStage::kStatic),
        dynamic_filters_(pipeline, FilterStage::kDynamic),
        cacheable_(PipelineIsCacheable(pipeline)),
        meter_(meter) {}

  const ClusterState& state() const { return state_; }
  const Pipeline& pipeline() const { return pipeline_; }
  const StageFilters& dynamic_filters() const { return dynamic_filters_; }
  Meter* meter() { return meter_; }

  // The fine shape of `job`; sets job.names for the filters.
  FineShape& For(Job& job) {
    std::string coarse_key = CoarseShapeKey(*job);
    auto [coarse_it, coarse_new] = coarse_.try_emplace(coarse_key);
    if (coarse_new) coarse_it->second = MakeCoarse(job);
    CoarseShape& coarse = *coarse_it->second;
    job.names = &coarse.names;
    auto [fine_it, fine_new] =
        fine_.try_emplace(FineKey{&coarse, job->cpus_per_node, job->memory_per_node_mib});
    if (fine_new) fine_it->second = MakeFine(job, coarse);
    return *fine_it->second;
  }

  // Spare scratch slots for shapes evaluated uncached.
  DeviceEval& device_scratch() { return device_scratch_; }
  NodeEval& node_scratch() { return node_scratch_; }
  bool cacheable() const { return cacheable_; }

 private:
  static bool PipelineIsCacheable(const Pipeline& pipeline) {
    return std::all_of(pipeline.filters.begin(), pipeline.filters.end(),
                       [](const auto& f) { return f->DependsOnlyOnShape(); }) &&
           std::all_of(pipeline.scorers.begin(), pipeline.scorers.end(),
                       [](const auto& s) { return s.scorer->DependsOnlyOnShape(); });
  }

  std::unique_ptr<CoarseShape> MakeCoarse(Job& job) {
    auto coarse = std::make_unique<CoarseShape>(*job);
    job.names = &coarse->names;
    // Static filters reading CPUs or memory may reject a node before the first
    // coarse rejection; such nodes stay listed so the fine level can ask them.
    int first_reader = static_filters_.size();
    for (int f = 0; f < static_filters_.size(); ++f) {
      if (static_filters_.reads_cpus_or_memory[static_cast<size_t>(f)]) {
        first_reader = f;
        break;
      }
    }
    for (int n : state_.nodes_by_name()) {
      std::string_view reason;
      const int rejection = FirstCoarseRejection(static_filters_, job, n, state_, &reason);
      if (rejection != kPassed && rejection < first_reader) {
        coarse->rejected.Add(reason);
        continue;
      }
      coarse->nodes.push_back(n);
      coarse->rejection.push_back(rejection);
      coarse->rejection_reason.push_back(reason);
    }
    if (meter_ != nullptr) meter_->Spend(static_cast<uint64_t>(state_.node_count()));
    coarse->slot_of_node.assign(static_cast<size_t>(state_.node_count()), -1);
    for (size_t slot = 0; slot < coarse->nodes.size(); ++slot) {
      coarse->slot_of_node[static_cast<size_t>(coarse->nodes[slot])] = static_cast<int32_t>(slot);
    }
    const size_t slots = coarse->nodes.size();
    coarse->cached = cacheable_ && device_evals_ + slots <= kMaxCachedDeviceEvals;
    if (coarse->cached) {
      device_evals_ += slots;
      coarse->device_evals.resize(slots);
    }
    return coarse;
  }

  std::unique_ptr<FineShape> MakeFine(const Job& job, CoarseShape& coarse) {
    auto fine = std::make_unique<FineShape>();
    fine->coarse = &coarse;
    Eligibility& eligibility = fine->eligibility;
    eligibility.rejected = coarse.rejected;
    for (size_t slot = 0; slot < coarse.nodes.size(); ++slot) {
      const int n = coarse.nodes[slot];
      const std::string_view reason =
          static_filters_.any_reads
              ? FineRejection(static_filters_, job, n, state_, coarse.rejection[slot],
                              coarse.rejection_reason[slot])
              : coarse.rejection_reason[slot];
      if (reason.empty()) {
        eligibility.nodes.push_back(n);
        eligibility.coarse_slot.push_back(static_cast<int>(slot));
      } else {
        eligibility.rejected.Add(reason);
      }
    }
    if (meter_ != nullptr) meter_->Spend(coarse.nodes.size());
    fine->slot_of_coarse.assign(coarse.nodes.size(), -1);
    for (size_t slot = 0; slot < eligibility.coarse_slot.size(); ++slot) {
      fine->slot_of_coarse[static_cast<size_t>(eligibility.coarse_slot[slot])] =
          static_cast<int32_t>(slot);
    }
    const size_t slots = eligibility.nodes.size();
    // A fine shape caches only on top of a cached coarse one: its verdicts index
    // the coarse level's candidates.
    fine->cached = coarse.cached && node_evals_ + slots <= kMaxCachedNodeEvals;
    if (fine->cached) {
      node_evals_ += slots;
      fine->evals.resize(slots);
    }
    return fine;
  }

  // Everything of a job's shape but its CPUs and memory: plugins that
  // DependsOnlyOnShape() read only these, CPUs and memory (the fine key adds them).
  static std::string CoarseShapeKey(const model::PendingJob& job) {
    const auto& acc = job.accelerators;
    return Cat(Join(job.partitions, ","), "|", Join(job.features, ","), "|", acc.gres_name, ":",
               Join(acc.allowed_types, ","), ":", acc.count_per_node, ":", acc.fraction_milli, ":",
               acc.shards_per_node, "|", job.num_nodes, "|", Join(job.required_nodes, ","), "|",
               Join(job.excluded_nodes, ","), "|", job.qos, "|", static_cast<int>(job.job_class),
               "|", job.exclusive ? "x" : "", "|", Join(job.refused_nodes, ","), "|",
               Join(job.reservations, ","), job.reservation_only ? "!" : "", "|",
               FeatureAnyKey(job.feature_any));
  }

  static std::string FeatureAnyKey(const std::vector<std::vector<std::string>>& clauses) {
    std::string key;
    for (const auto& clause : clauses) key += Cat(Join(clause, "&"), "|");
    return key;
  }

  const ClusterState& state_;
  const Pipeline& pipeline_;
  StageFilters static_filters_;
  StageFilters dynamic_filters_;
  bool cacheable_;
  Meter* meter_;
  size_t device_evals_ = 0;
  size_t node_evals_ = 0;
  std::unordered_map<std::string, std::unique_ptr<CoarseShape>> coarse_;
  // A fine shape: its coarse shape plus the CPUs and memory.
  struct FineKey {
    const CoarseShape* coarse;
    int cpus;
    int64_t memory_mib;
    bool operator==(const FineKey&) const = default;
  };
  struct FineKeyHash {
    size_t operator()(const FineKey& key) const {
      size_t hash = std::hash<const void*>{}(key.coarse);
      hash = hash * 1000003u ^ std::hash<int>{}(key.cpus);
      return hash * 1000003u ^ std::hash<int64_t>{}(key.memory_mib);
    }
  };
  std::unordered_map<FineKey, std::unique_ptr<FineShape>, FineKeyHash> fine_;
  DeviceEval device_scratch_;
  NodeEval node_scratch_;
};

const DeviceEval& Evaluator::Devices(const Job& job, size_t slot) {
  CoarseShape& coarse = *shape_.coarse;
  const size_t coarse_slot = static_cast<size_t>(shape_.eligibility.coarse_slot[slot]);
  const int n = shape_.eligibility.nodes[slot];
  const ClusterState& state = cache_.state();
  DeviceEval& eval = coarse.cached ? coarse.device_evals[coarse_slot] : cache_.device_scratch();
  if (coarse.cached && eval.valid && eval.version == state.version(n)) return eval;
  eval.valid = true;
  eval.version = state.version(n);
  eval.candidates.clear();
  eval.rejection = FirstCoarseRejection(cache_.dynamic_filters(), job, n, state, &eval.reason);
  if (eval.rejection == kPassed) {
    eval.reason = {};
    eval.candidates = DeviceCandidates(job, n, state, &eval.reason);
  }
  return eval;
}

Evaluator::Evaluator(ShapeCache& cache, FineShape& shape)
    : cache_(cache), cache_state_(cache.state()), shape_(shape) {}

const NodeEval& Evaluator::Refresh(const Job& job, size_t slot) {
  const int n = shape_.eligibility.nodes[slot];
  const ClusterState& state = cache_.state();
  NodeEval& eval = shape_.cached ? shape_.evals[slot] : cache_.node_scratch();
  if (Meter* meter = cache_.meter()) meter->Spend(1);
  eval.version = state.version(n);
  eval.best = NodeEval::kRejected;
  const DeviceEval& devices = Devices(job, slot);
  // A coarse rejection or no device shape rejects whatever the CPUs and memory;
  // only then are the filters that read them asked.
  if (devices.rejection != kPassed || devices.candidates.empty()) return eval;
  if (!FineRejection(cache_.dynamic_filters(), job, n, state, kPassed, {}).empty()) return eval;
  double best_score = -std::numeric_limits<double>::infinity();
  for (size_t c = 0; c < devices.candidates.size(); ++c) {
    const double score = WeightedScore(job, devices.candidates[c], state, cache_.pipeline());
    if (eval.best < 0 || score > best_score) {
      eval.best = static_cast<int32_t>(c);
      best_score = score;
    }
  }
  eval.score = best_score;
  return eval;
}

std::string_view Evaluator::ReasonAt(const Job& job, size_t slot) {
  const int n = shape_.eligibility.nodes[slot];
  const DeviceEval& devices = Devices(job, slot);
  std::string_view reason =
      FineRejection(cache_.dynamic_filters(), job, n, cache_.state(), devices.rejection,
                    devices.rejection == kPassed ? std::string_view() : devices.reason);
  if (reason.empty() && devices.rejection == kPassed) reason = devices.reason;
  return reason;
}

const Candidate& Evaluator::BestOf(const Job& job, size_t slot) {
  // Evaluated again when uncached: the scratch slots hold the last node asked.
  const NodeEval& eval = Get(job, slot);
  return Devices(job, slot).candidates[static_cast<size_t>(eval.best)];
}

// Nodes held for reserved jobs: a job may use one only if it ends before the
// reserved start (EASY backfill on time limits); for a reservation's look-ahead,
// held nodes are off limits altogether. Slurm's advanced reservations hold their
// nodes the same way for every job that does not belong to them; a job that does
// may run there only while its reservation is active.
struct Holds {
  std::vector<int64_t> reserved_start;  // per node; kNoReservation if free
  int64_t now = 0;
  bool exclude_held = false;
  const model::Snapshot* snapshot = nullptr;
  std::vector<std::vector<int>> windows;  // per node: indices into snapshot->reservations

  // Empty when the job may start on node n now; otherwise why not.
  std::string_view Why(const Job& job, int n) const {
    const int64_t start = reserved_start[static_cast<size_t>(n)];
    const int64_t end = model::AddTimes(now, job.time_limit_s);
    if (start != kNoReservation && (exclude_held || end > start)) return kReasonHeld;
    if (windows.empty()) return {};
    for (int w : windows[static_cast<size_t>(n)]) {
      const model::AdvancedReservation& r = snapshot->reservations[static_cast<size_t>(w)];
      if (r.end <= now) continue;
      const bool member = std::find(job->reservations.begin(), job->reservations.end(), r.name) !=
                          job->reservations.end();
      if (member ? r.start > now : end > r.start) return kReasonAdvancedReservation;
    }
    return {};
  }
  bool Allows(const Job& job, int n) const { return Why(job, n).empty(); }
};

Holds MakeHolds(const model::Snapshot& snapshot, const ClusterState& state) {
  Holds holds{std::vector<int64_t>(snapshot.nodes.size(), kNoReservation),
              snapshot.now,
              false,
              &snapshot,
              {}};
  for (size_t r = 0; r < snapshot.reservations.size(); ++r) {
    if (snapshot.reservations[r].end <= snapshot.now) continue;
    if (holds.windows.empty()) holds.windows.resize(snapshot.nodes.size());
    for (const std::string& name : snapshot.reservations[r].nodes) {
      const int n = state.FindNode(name);
      if (n >= 0) holds.windows[static_cast<size_t>(n)].push_back(static_cast<int>(r));
    }
  }
  return holds;
}

int Evaluator::BestRanked(const Job& job, const Holds* holds) {
  FineShape& shape = shape_;
  const ClusterState& state = cache_state_;
  const auto& nodes = shape.eligibility.nodes;
  auto push = [&](size_t slot, bool keep_heap) {
    const NodeEval& eval = Get(job, slot);
    if (!eval.fits()) return;
    shape.ranking.push_back({eval.score, static_cast<int32_t>(slot), eval.version});
    if (keep_heap) std::push_heap(shape.ranking.begin(), shape.ranking.end(), RanksBelow{});
  };
  // Stale entries pile up as nodes change; past a bound the heap is rebuilt.
  if (shape.ranked && shape.ranking.size() > 2 * nodes.size() + 64) shape.ranked = false;
  if (!shape.ranked) {
    shape.ranking.clear();
    for (size_t slot = 0; slot < nodes.size(); ++slot) push(slot, false);
    std::make_heap(shape.ranking.begin(), shape.ranking.end(), RanksBelow{});
    shape.ranked = true;
  } else {
    const std::vector<int32_t>& coarse_slots = shape.coarse->slot_of_node;
    for (size_t i = shape.seen_changes; i < state.change_count(); ++i) {
      const int32_t coarse_slot = coarse_slots[static_cast<size_t>(state.changed_node(i))];
      if (coarse_slot < 0) continue;
      const int32_t slot = shape.slot_of_coarse[static_cast<size_t>(coarse_slot)];
      if (slot >= 0) push(static_cast<size_t>(slot), true);
    }
  }
  shape.seen_changes = state.change_count();
  // Drop stale entries; set aside fitting nodes the holds keep from this job.
  std::vector<Ranked> held;
  int best = -1;
  while (!shape.ranking.empty()) {
    const Ranked top = shape.ranking.front();
    const int n = nodes[static_cast<size_t>(top.slot)];
    std::pop_heap(shape.ranking.begin(), shape.ranking.end(), RanksBelow{});
    shape.ranking.pop_back();
    if (top.version != state.version(n)) continue;
    held.push_back(top);
    if (holds != nullptr && !holds->Allows(job, n)) continue;
    best = top.slot;
    break;
  }
  for (const Ranked& entry : held) {
    shape.ranking.push_back(entry);
    std::push_heap(shape.ranking.begin(), shape.ranking.end(), RanksBelow{});
  }
  return best;
}

// Why each eligible node turned the job down now (only computed on failure).
ReasonTally TallyRejections(const Job& job, Evaluator& evaluator, const Holds* holds) {
  ReasonTally rejected;
  const auto& nodes = evaluator.shape().eligibility.nodes;
  for (size_t slot = 0; slot < nodes.size(); ++slot) {
    if (!evaluator.Get(job, slot).fits()) {
      rejected.Add(evaluator.ReasonAt(job, slot));
    } else if (holds != nullptr) {
      if (std::string_view why = holds->Why(job, nodes[slot]); !why.empty()) rejected.Add(why);
    }
  }
  return rejected;
}

int KindOf(const Candidate& candidate, const ClusterState& state) {
  return candidate.pool < 0 ? -1 : state.kind_of(candidate.node, candidate.pool);
}

// Picks num_nodes of `scored`: required nodes first, then best score, all of one
// kind and, when one can hold the job, inside one topology domain.
std::optional<std::vector<ScoredNode>> ChooseGang(const Job& job, std::vector<ScoredNode> scored,
                                                  const ClusterState& state,
                                                  std::string_view* reason) {
  const size_t wanted = static_cast<size_t>(job->num_nodes);
  std::vector<int> required;
  // By node index: look-ups stay O(1) however many nodes the job requires.
  std::vector<bool> required_flag(static_cast<size_t>(state.node_count()), false);
  for (const auto& name : job->required_nodes) {
    const int n = state.FindNode(name);
    if (n >= 0 && !required_flag[static_cast<size_t>(n)]) {
      required_flag[static_cast<size_t>(n)] = true;
      required.push_back(n);
    }
  }
  auto is_required = [&](int n) { return n >= 0 && required_flag[static_cast<size_t>(n)]; };
  // Best first; required nodes before all others; ties in name order.
  std::stable_sort(scored.begin(), scored.end(), [&](const ScoredNode& a, const ScoredNode& b) {
    const bool ra = is_required(a.candidate.node);
    const bool rb = is_required(b.candidate.node);
    if (ra != rb) return ra;
    if (a.score != b.score) return a.score > b.score;
    return state.name_rank(a.candidate.node) < state.name_rank(b.candidate.node);
  });
  // Sorted, the required nodes that can host it come first: all are there when
  // the first |required| entries are required ones.
  const size_t present =
      static_cast<size_t>(std::count_if(scored.begin(), scored.end(), [&](const ScoredNode& s) {
        return is_required(s.candidate.node);
      }));
  if (present < required.size()) {
    *reason = kReasonRequiredNodeBusy;
    return std::nullopt;
  }
  if (wanted == 1) {
    if (scored.empty()) return std::nullopt;
    scored.resize(1);
    return scored;
  }
  // Group by (kind, domain). A domain that must hold the whole gang (SuperPoD) is
  // a hard boundary; a switch is only preferred.
  struct Group {
    std::vector<ScoredNode> members;
    double score = 0;
    bool hard = false;
  };
  std::map<std::pair<int, std::string>, Group> domains;
  std::map<int, Group> by_kind;
  for (const ScoredNode& s : scored) {
    const int kind = KindOf(s.candidate, state);
    const model::Node& node = state.node(s.candidate.node);
    const bool hard = kind >= 0 && state.catalog().kind(kind).rule.gang_within_superpod;
    const std::string& domain = hard ? node.superpod : node.network_switch;
    Group& group = domains[{kind, domain}];
    group.hard = hard;
    group.members.push_back(s);
    if (!hard) by_kind[kind].members.push_back(s);
  }
  auto take_best = [&](Group& group) -> bool {
    if (group.members.size() < wanted) return false;
    // Required nodes sort first: the gang holds them all when its first `wanted`
    // members include as many required nodes as there are.
    const auto taken =
        std::count_if(group.members.begin(), group.members.begin() + static_cast<long>(wanted),
                      [&](const ScoredNode& s) { return is_required(s.candidate.node); });
    if (static_cast<size_t>(taken) < required.size()) return false;
    group.members.resize(wanted);
    group.score = 0;
    for (const auto& m : group.members) group.score += m.score;
    return true;
  };
  const Group* best = nullptr;
  for (auto& [key, group] : domains) {
    // An unknown switch is no domain. Unlabelled SuperPoD nodes count as one pod:
    // a site that has not labelled its pods has told us nothing better.
    if (key.second.empty() && !group.hard) continue;
    if (take_best(group) && (best == nullptr || group.score > best->score)) best = &group;
  }
  if (best == nullptr) {
    for (auto& [kind, group] : by_kind) {
      if (take_best(group) && (best == nullptr || group.score > best->score)) best = &group;
    }
  }
  if (best == nullptr) {
    *reason = kReasonGangDoesNotFit;
    return std::nullopt;
  }
  return best->members;
}

JobStart MakeStart(const Job& job, std::vector<ScoredNode> chosen, const ClusterState& state) {
  JobStart start;
  start.job_id = job->id;
  for (ScoredNode& s : chosen) {
    start.kind = KindOf(s.candidate, state);
    start.placements.push_back(
        NodePlacement{s.candidate.node, s.candidate.pool, std::move(s.candidate.devices),
                      s.candidate.fraction_milli, std::move(s.candidate.device_shards)});
  }
  std::sort(start.placements.begin(), start.placements.end(),
            [&](const NodePlacement& a, const NodePlacement& b) {
              return state.name_rank(a.node) < state.name_rank(b.node);
            });
  return start;
}

// The best placement now, or nullopt (then TallyRejections says why). Single-node
// jobs take one pass for the best node; eligible is in name order, so the first
// of equal scores wins.
std::optional<JobStart> Place(const Job& job, Evaluator& evaluator, const ClusterState& state,
                              const Holds* holds, std::string_view* gang_reason) {
  const bool single = job->num_nodes == 1 && job->required_nodes.empty();
  if (single && evaluator.shape().cached) {
    const int slot = evaluator.BestRanked(job, holds);
    if (slot < 0) return std::nullopt;
    const double score = evaluator.Get(job, static_cast<size_t>(slot)).score;
    return MakeStart(job, {ScoredNode{evaluator.BestOf(job, static_cast<size_t>(slot)), score}},
                     state);
  }
  const auto& eligible = evaluator.shape().eligibility.nodes;
  size_t best_slot = 0;
  bool found = false;
  double best_score = 0;
  std::vector<ScoredNode> feasible;
  for (size_t slot = 0; slot < eligible.size(); ++slot) {
    if (holds != nullptr && !holds->Allows(job, eligible[slot])) continue;
    const NodeEval& eval = evaluator.Get(job, slot);
    if (!eval.fits()) continue;
    if (single) {
      if (!found || eval.score > best_score) {
        found = true;
        best_slot = slot;
        best_score = eval.score;
      }
    } else {
      const double score = eval.score;
      feasible.push_back(ScoredNode{evaluator.BestOf(job, slot), score});
    }
  }
  if (single) {
    if (!found) return std::nullopt;
    return MakeStart(job, {ScoredNode{evaluator.BestOf(job, best_slot), best_score}}, state);
  }
  if (static_cast<int>(feasible.size()) < job->num_nodes) return std::nullopt;
  auto chosen = ChooseGang(job, std::move(feasible), state, gang_reason);
  if (!chosen) return std::nullopt;
  return MakeStart(job, std::move(*chosen), state);
}

PlacementFailure DescribeFailure(const Job& job, int node_count, const Eligibility& eligibility,
                                 const ReasonTally& dynamic, std::string_view gang_reason) {
  PlacementFailure failure;
  ReasonTally all = eligibility.rejected;
  all.Merge(dynamic);
  const int fit = static_cast<int>(eligibility.nodes.size()) - dynamic.total();
  if (eligibility.nodes.size() < static_cast<size_t>(job->num_nodes)) {
    failure.code = PendingCode::kNeverFits;
  } else {
    failure.code = ClassifyDynamic(dynamic, gang_reason);
  }
  // e.g. "2/8 nodes fit (need 2), but no single kind/SuperPoD holds the gang; 6 ..."
  failure.message = Cat(std::max(fit, 0), "/", node_count, " nodes fit",
                        job->num_nodes > 1 ? Cat(" (need ", job->num_nodes, ")") : "");
  if (!gang_reason.empty()) failure.message += Cat(", but ", gang_reason);
  if (all.total() > 0 || gang_reason.empty()) {
    failure.message += Cat(gang_reason.empty() ? ": " : "; ", all.Describe());
  }
  return failure;
}

// Work that will end at its time limit, and what it gives back then.
struct Ending {
  int64_t at = 0;
  std::vector<Holding> holdings;
};

// When could `job` start if running work ended at its time limits? Releases jobs
// in end order on a copy of the state and re-checks only the nodes each release
// touches; nodes held by earlier reservations are off limits.
std::optional<Reservation> PlanReservation(Job job, const Eligibility& eligibility,
                                           const ClusterState& state, const Pipeline& pipeline,
                                           const std::vector<Ending>& ends, const Holds& holds,
                                           Meter* meter) {
  Holds off_limits = holds;
  off_limits.exclude_held = true;
  std::vector<bool> is_eligible(static_cast<size_t>(state.node_count()), false);
  int free_eligible = 0;
  for (int n : eligibility.nodes) {
    if (!off_limits.Allows(job, n)) continue;
    is_eligible[static_cast<size_t>(n)] = true;
    ++free_eligible;
  }
  if (free_eligible < job->num_nodes) return std::nullopt;
  ClusterState future = state;
  // Cached evaluations make each release cost only the nodes it touched.
  ShapeCache cache(future, pipeline, meter);
  Evaluator evaluator(cache, cache.For(job));
  size_t i = 0;
  while (i < ends.size()) {
    const int64_t at = ends[i].at;
    bool touched = false;
    for (; i < ends.size() && ends[i].at == at; ++i) {
      for (const Holding& holding : ends[i].holdings) {
        touched = touched || is_eligible[static_cast<size_t>(holding.node)];
        future.Give(holding);
      }
    }
    if (!touched) continue;
    std::string_view gang_reason;
    if (auto start = Place(job, evaluator, future, &off_limits, &gang_reason)) {
      Reservation reservation{job->id, at, {}};
      for (const auto& placement : start->placements) reservation.nodes.push_back(placement.node);
      return reservation;
    }
  }
  return std::nullopt;
}

// What a start takes. An exclusive job takes its nodes whole (every free CPU and all
// memory), as Slurm allocates it, so nothing else is planned beside it this cycle.
std::vector<Holding> HoldingsOfStart(const Job& job, const JobStart& start,
                                     const ClusterState& state) {
  std::vector<Holding> holdings =
      ClusterState::HoldingsOf(start, job->cpus_per_node, job->memory_per_node_mib);
  if (job->exclusive) {
    for (Holding& holding : holdings) {
      holding.cpus = std::max(holding.cpus, state.cpus_free(holding.node));
      holding.memory_mib = std::max(holding.memory_mib, state.memory_free(holding.node));
    }
  }
  return holdings;
}

}  // namespace

struct PlacementCache::Impl {
  Impl(const ClusterState& state, const Pipeline& pipeline) : shapes(state, pipeline, nullptr) {}
  ShapeCache shapes;
};

PlacementCache::PlacementCache(const ClusterState& state, const Pipeline& pipeline)
    : impl_(std::make_unique<Impl>(state, pipeline)) {}
PlacementCache::~PlacementCache() = default;

std::vector<Candidate> DeviceCandidatesOn(const Job& job, int n, const ClusterState& state,
                                          std::string_view* reason) {
  return DeviceCandidates(job, n, state, reason);
}

Job MakeJob(const model::PendingJob& request, const Pipeline& pipeline, int64_t now) {
  Job job;
  job.request = &request;
  job.job_class = request.job_class != model::JobClass::kUnspecified
                      ? request.job_class
                      : pipeline.queue_order->Classify(request);
  job.effective_priority = pipeline.queue_order->EffectivePriority(request, job.job_class, now);
  const int64_t fallback =
      pipeline.limits.default_time_limit_s > 0 ? pipeline.limits.default_time_limit_s : kOneYear;
  // Bounded as snapshot times are, so end times stay sums of two bounded values.
  job.time_limit_s =
      std::min(request.time_limit_s > 0 ? request.time_limit_s : fallback, model::kMaxTimeS);
  return job;
}

std::optional<JobStart> FindPlacement(const Job& job_in, const ClusterState& state,
                                      const Pipeline& pipeline, PlacementFailure* failure,
                                      PlacementCache* cache) {
  std::optional<PlacementCache> local;
  if (cache == nullptr) cache = &local.emplace(state, pipeline);
  Job job = job_in;
  FineShape& shape = cache->impl().shapes.For(job);
  Evaluator evaluator(cache->impl().shapes, shape);
  std::string_view gang_reason;
  auto start = Place(job, evaluator, state, nullptr, &gang_reason);
  if (!start && failure != nullptr) {
    const ReasonTally dynamic = TallyRejections(job, evaluator, nullptr);
    *failure = DescribeFailure(job, state.node_count(), shape.eligibility, dynamic, gang_reason);
  }
  return start;
}

Plan Schedule(const model::Snapshot& snapshot, const model::Catalog& catalog,
              const Pipeline& pipeline, const WorkBudget& budget) {
  Plan plan;
  ClusterState state(snapshot, catalog);

  std::vector<Job> queue;
  queue.reserve(snapshot.pending.size());
  for (const auto& request : snapshot.pending)
    queue.push_back(MakeJob(request, pipeline, snapshot.now));
  std::sort(queue.begin(), queue.end(), [](const Job& a, const Job& b) {
    if (a.effective_priority != b.effective_priority)
      return a.effective_priority > b.effective_priority;
    if (a->submit_time != b->submit_time) return a->submit_time < b->submit_time;
    return a->id < b->id;
  });

  // Running work in the order it will end, for reservations; jobs started this
  // cycle join it as they start. Unlimited jobs never give anything back.
  std::vector<Ending> ends;
  ends.reserve(snapshot.running.size());
  for (const auto& running : snapshot.running) {
    if (running.time_limit_s > 0) {
      ends.push_back(
          {model::AddTimes(running.start_time, running.time_limit_s), state.Resolve(running)});
    }
  }
  bool ends_sorted = false;
  // The cluster once every job with a time limit has ended. Jobs started this cycle
  // end there too, so it stays the same all cycle: a job that does not fit there,
  // off the held nodes, can get no reservation, and the look-ahead is skipped.
  ClusterState horizon = state;
  for (const Ending& ending : ends) {
    for (const Holding& holding : ending.holdings) horizon.Give(holding);
  }

  Meter meter(&budget);
  Holds holds = MakeHolds(snapshot, state);
  ShapeCache shapes(state, pipeline, &meter);
  ShapeCache horizon_shapes(horizon, pipeline, &meter);
  auto may_fit_later = [&](Job job_copy) {
    Evaluator at_horizon(horizon_shapes, horizon_shapes.For(job_copy));
    std::string_view unused;
    holds.exclude_held = true;
    const bool fits = Place(job_copy, at_horizon, horizon, &holds, &unused).has_value();
    holds.exclude_held = false;
    return fits;
  };
  // Resources only shrink within a cycle: a shape that failed stays failed, for
  // any time limit when no reservation's hold played a part, else for the same one.
  struct Failed {
    int64_t time_limit_s = 0;
    bool holds_mattered = false;
    PlacementFailure failure;
  };
  std::unordered_map<const FineShape*, Failed> failed_shapes;
  const int limit = pipeline.limits.max_jobs_per_cycle;
  for (size_t q = 0; q < queue.size(); ++q) {
    Job& job = queue[q];
    if (limit > 0 && static_cast<int>(q) >= limit) {
      plan.pending.push_back({job->id, PendingCode::kCycleLimit,
                              Cat("not evaluated: beyond the first ", limit, " jobs")});
      continue;
    }
    if (meter.Exhausted()) {
      plan.pending.push_back(
          {job->id, PendingCode::kCycleLimit, Cat("not evaluated: ", meter.why())});
      continue;
    }
    FineShape& shape = shapes.For(job);
    Evaluator evaluator(shapes, shape);

    if (auto failed = failed_shapes.find(&shape);
        failed != failed_shapes.end() &&
        (!failed->second.holds_mattered || failed->second.time_limit_s == job.time_limit_s)) {
      plan.pending.push_back(
          {job->id, failed->second.failure.code, failed->second.failure.message});
      continue;
    }
    std::string_view gang_reason;
    auto start = Place(job, evaluator, state, &holds, &gang_reason);
    if (start) {
      std::vector<Holding> holdings = HoldingsOfStart(job, *start, state);
      for (const Holding& holding : holdings) state.Take(holding);
      ends.push_back({model::AddTimes(snapshot.now, job.time_limit_s), std::move(holdings)});
      ends_sorted = false;
      plan.starts.push_back(std::move(*start));
      continue;
    }
    const ReasonTally dynamic = TallyRejections(job, evaluator, &holds);
    PlacementFailure failure =
        DescribeFailure(job, state.node_count(), shape.eligibility, dynamic, gang_reason);
    if (failure.code != PendingCode::kNeverFits &&
        static_cast<int>(plan.reservations.size()) < pipeline.limits.max_reservations &&
        may_fit_later(job)) {
      if (!ends_sorted) {
        std::stable_sort(ends.begin(), ends.end(),
                         [](const Ending& a, const Ending& b) { return a.at < b.at; });
        ends_sorted = true;
      }
      if (auto reservation =
              PlanReservation(job, shape.eligibility, state, pipeline, ends, holds, &meter)) {
        for (int n : reservation->nodes) {
          auto& held = holds.reserved_start[static_cast<size_t>(n)];
          held = std::min(held, reservation->planned_start);
        }
        // An absolute time: the line stays the same cycle after cycle, so the
        // plugin does not rewrite the job record (and wake every client) each second.
        failure.message =
            Cat(failure.message, "; reserved to start by ", UtcTime(reservation->planned_start));
        plan.reservations.push_back(std::move(*reservation));
        plan.pending.push_back({job->id, failure.code, failure.message});
        continue;  // its own shape may still fit elsewhere for later jobs
      }
    }
    plan.pending.push_back({job->id, failure.code, failure.message});
    // Advanced reservations hold by time limit too: a shorter job may fit before one.
    const bool holds_mattered =
        dynamic.count(kReasonHeld) > 0 || dynamic.count(kReasonAdvancedReservation) > 0;
    failed_shapes[&shape] = Failed{job.time_limit_s, holds_mattered, std::move(failure)};
  }
  return plan;
}

}  // namespace accelpack::engine
