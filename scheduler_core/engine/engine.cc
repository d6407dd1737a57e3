#include "engine/engine.h"

#include <algorithm>
#include <charconv>
#include <cmath>
#include <ctime>
#include <functional>
#include <initializer_list>
#include <iterator>
#include <limits>
#include <map>
#include <numeric>
#include <optional>
#include <unordered_map>

#include "common/strings.h"
#include "engine/reason.h"
#include "engine/shares.h"
#include "engine/usage.h"
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
      ShardCandidates(state, n, pool, request, &candidates);
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
    // Where Slurm picks the devices, the one candidate is its pick, if legal; unless
    // the plugin makes Slurm give this request the planned ones.
    const bool slurm_picks = pools[p].slurm_picks_devices && !request.GetsPlannedDevices(pools[p]);
    if (auto devices = slurm_picks ? model::LowestFreeDevicesIfLegal(
                                         rule, used, request.count_per_node, pools[p].device_groups)
                                   : model::ChooseWholeDevices(rule, used, request.count_per_node,
                                                               pools[p].device_groups)) {
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
//    that read neither, and each node's device candidates (the topology search)
//    with the scores of scorers that read neither, until the node changes;
//  - per *fine* shape (coarse + CPUs + memory): the remaining filters' verdicts and
//    the scores, per eligible node until it changes.
// Verdicts keep the pipeline's filter order and scores are summed in the pipeline's
// scorer order, so reasons and placements are the same as without caching.
// The static verdicts of both levels (a ShapeBook) hold on every state of a cycle,
// so the cycle's state, its horizon and the reservation look-aheads share them.

// Which filters of a stage read CPUs or memory, by position in the pipeline.
struct StageFilters {
  std::vector<const Filter*> filters;
  std::vector<char> reads_cpus_or_memory;  // per filter (not vector<bool>: read per node)
  std::vector<int> readers;                // positions of the filters that read them
  std::vector<int> non_readers;            // and of the others
  bool any_reads = false;

  StageFilters(const Pipeline& pipeline, FilterStage stage) {
    for (const auto& filter : pipeline.filters) {
      if (filter->stage() != stage) continue;
      const bool reads = filter->ReadsCpusOrMemory();
      (reads ? readers : non_readers).push_back(static_cast<int>(filters.size()));
      filters.push_back(filter.get());
      reads_cpus_or_memory.push_back(reads ? 1 : 0);
      any_reads = any_reads || reads;
    }
  }
  int size() const { return static_cast<int>(filters.size()); }
};

constexpr int kPassed = -1;

// The first filter of `stage` that reads CPUs or memory (`readers`), or neither,
// and rejects node n.
int FirstRejection(const StageFilters& stage, bool readers, const Job& job, int n,
                   const ClusterState& state, std::string_view* reason) {
  for (int f : readers ? stage.readers : stage.non_readers) {
    *reason = stage.filters[static_cast<size_t>(f)]->Reject(job, n, state);
    if (!reason->empty()) return f;
  }
  return kPassed;
}

int FirstCoarseRejection(const StageFilters& stage, const Job& job, int n,
                         const ClusterState& state, std::string_view* reason) {
  return FirstRejection(stage, /*readers=*/false, job, n, state, reason);
}

// The full verdict of `stage` on node n, given the coarse one: filters in pipeline
// order, those that read CPUs or memory asked now, the others' answer known.
// Inlined: asked for every node a job is scored or turned down on.
[[gnu::always_inline]] inline std::string_view FineRejection(const StageFilters& stage,
                                                             const Job& job, int n,
                                                             const ClusterState& state,
                                                             int coarse_rejection,
                                                             std::string_view coarse_reason) {
  const int last = coarse_rejection == kPassed ? stage.size() : coarse_rejection;
  for (int f : stage.readers) {
    if (f >= last) break;
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
  // Per candidate, the weighted scores of the scorers that read neither CPUs nor
  // memory, in pipeline order (cached shapes only; empty when there are none).
  std::vector<double> coarse_terms;
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

// What a cycle may spend: node evaluations, memory for job shapes, and the caller's
// cancellation.
class Meter {
 public:
  explicit Meter(const WorkBudget* budget) : budget_(budget) {}
  void Spend(uint64_t units) { spent_ += units; }
  void HoldShapeBytes(uint64_t bytes) { shape_bytes_ += bytes; }
  // Whether to stop before the next job. Polls the caller every few thousand units.
  bool Exhausted() {
    if (budget_ == nullptr || stopped_) return stopped_;
    if (budget_->max_node_evaluations > 0 && spent_ >= budget_->max_node_evaluations) {
      stopped_ = true;
      over_budget_ = true;
      why_ = "the cycle's work budget ran out";
    } else if (budget_->max_shape_bytes > 0 && shape_bytes_ >= budget_->max_shape_bytes) {
      // The whole cycle stops, as for the work budget: jobs of shapes already seen
      // going on would take what a higher job of a new shape waits for, every cycle.
      stopped_ = true;
      shape_table_full_ = true;
      const uint64_t bound = budget_->max_shape_bytes;
      why_ = bound >= (uint64_t{1} << 20)
                 ? Cat("the cycle's table of job shapes is full (", bound >> 20, " MiB)")
                 : Cat("the cycle's table of job shapes is full (", bound, " bytes)");
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
  bool over_budget() const { return over_budget_; }
  bool shape_table_full() const { return shape_table_full_; }

 private:
  static constexpr uint64_t kPollEvery = 1 << 14;
  const WorkBudget* budget_;
  uint64_t spent_ = 0;
  uint64_t next_poll_ = 0;
  bool stopped_ = false;
  bool over_budget_ = false;
  bool shape_table_full_ = false;
  uint64_t shape_bytes_ = 0;
  std::string why_;
};

struct FineVerdict;

// The static verdict of one coarse shape: nodes every filter that reads neither
// CPUs nor memory lets through (or that a CPU/memory filter earlier in the
// pipeline may reject first), in name order.
struct CoarseStatic {
  explicit CoarseStatic(const model::PendingJob& request) : names(request) {}
  JobNameSets names;
  std::vector<int> nodes;  // in name order
  // Per entry of `nodes`: its entry of `verdicts`, the first static filter to reject
  // it (or kPassed) and why. Thousands of shapes x nodes are held: 4 bytes, not 20.
  std::vector<uint32_t> verdict_of;
  std::vector<std::pair<int, std::string_view>> verdicts;  // few: filters' reasons are phrases
  ReasonTally rejected;               // nodes rejected for sure, before any CPU/memory filter
  std::vector<int32_t> slot_of_node;  // per node: its entry in `nodes`, or -1
  // Per node class present in `nodes` (ShapeBook's), its first node: the one asked
  // for the class (set with the first fine shape, when nodes have classes).
  std::vector<int> first_of_class;
  bool classes_listed = false;
  // Fine verdicts by what the filters reading CPUs or memory say per node class
  // (first rejecting filter and its reason): most fine shapes share one.
  std::map<std::vector<std::pair<int, std::string_view>>, std::shared_ptr<const FineVerdict>>
      fine_verdicts;
};

// A coarse shape on one state: device evaluations per entry of the static `nodes`.
struct CoarseShape {
  const CoarseStatic* statics = nullptr;
  std::vector<DeviceEval> device_evals;
  bool cached = false;
  // The entries of the static `nodes` whose device evaluation passes (the others
  // reject every fine shape of this coarse one), in slot order, caught up with the
  // state's changes up to `seen_changes`: a new fine shape scores only these.
  std::vector<int32_t> passing;
  std::vector<char> listed;  // per entry of `nodes`: whether `passing` holds it
  bool indexed = false;
  size_t seen_changes = 0;
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

// The static verdict of one fine shape, shared by the fine shapes of a coarse one
// that the filters reading CPUs or memory treat alike on every node class.
struct FineVerdict {
  Eligibility eligibility;
  std::vector<int32_t> slot_of_coarse;  // per entry of the coarse nodes: eligible slot or -1
};

struct FineStatic {
  const CoarseStatic* coarse = nullptr;
  std::shared_ptr<const FineVerdict> verdict;
  const Eligibility& eligibility() const { return verdict->eligibility; }
  const std::vector<int32_t>& slot_of_coarse() const { return verdict->slot_of_coarse; }
};

// A fine shape on one state.
struct FineShape {
  const FineStatic* statics = nullptr;
  CoarseShape* coarse = nullptr;
  const Eligibility& eligibility() const { return statics->eligibility(); }
  std::vector<NodeEval> evals;  // per eligible node, when cached
  bool cached = false;
  // The fitting nodes as a heap (entries of changed nodes go stale and are dropped
  // when they surface), caught up with the state's changes up to `seen_changes`: a
  // single-node job costs the nodes that changed since, not a pass over all.
  std::vector<Ranked> ranking;
  bool ranked = false;
  bool heaped = false;  // `ranking` is a heap (else fresh entries, in no order)
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
          eval.version == cache_state_.version(shape_.eligibility().nodes[slot])) {
        return eval;
      }
    }
    return Refresh(job, slot);
  }
  // Why the node at `slot` rejects the job (empty: it fits), in the pipeline's order.
  std::string_view ReasonAt(const Job& job, size_t slot);
  // The same, from the node's evaluation when it is current; else asked without
  // scoring the node (most nodes of a failing shape have not been evaluated: their
  // devices reject it), and counted as the evaluation it replaces.
  std::string_view Rejection(const Job& job, size_t slot);
  const Candidate& BestOf(const Job& job, size_t slot);
  // The best node for a single-node job through the shape's ranking (cached shapes
  // only): its slot, or -1 when none fits (and holds allow).
  int BestRanked(const Job& job, const Holds* holds);
  // The eligible slots whose devices may host the job now, in slot order (cached
  // shapes only); every other eligible node rejects it.
  std::vector<int32_t> DevicePassingSlots(const Job& job);
  const FineShape& shape() const { return shape_; }
  const Pipeline& pipeline() const;

 private:
  const DeviceEval& Devices(const Job& job, size_t slot) {
    return DevicesAt(job, static_cast<size_t>(shape_.eligibility().coarse_slot[slot]),
                     shape_.eligibility().nodes[slot]);
  }
  // Inline up to the cache check: nodes are mostly asked again unchanged.
  const DeviceEval& DevicesAt(const Job& job, size_t coarse_slot, int n) {
    const CoarseShape& coarse = *shape_.coarse;
    if (coarse.cached) {
      const DeviceEval& eval = coarse.device_evals[coarse_slot];
      if (eval.valid && eval.version == cache_state_.version(n)) return eval;
    }
    return EvaluateDevices(job, coarse_slot, n);
  }
  const DeviceEval& EvaluateDevices(const Job& job, size_t coarse_slot, int n);
  double ScoreOf(const Job& job, const DeviceEval& devices, size_t c);
  const NodeEval& Refresh(const Job& job, size_t slot);
  ShapeCache& cache_;
  const ClusterState& cache_state_;
  FineShape& shape_;
};

// The static verdicts of job shapes, the same on every state of one cycle (static
// filters read only configuration): where each shape may run and why not elsewhere.
class ShapeBook {
 public:
  // `cycle`: the PreScore results every job evaluated through this book sees (null:
  // none), so that the scores cached beside it all come from one cycle's.
  // What the verdicts hold is counted on `meter` (a snapshot of thousands of distinct
  // shapes, each -x list or feature set one, holds tens of bytes per node each).
  ShapeBook(const ClusterState& state, const Pipeline& pipeline, Meter* meter,
            const CycleState* cycle)
      : state_(state),
        cycle_(cycle),
        static_filters_(pipeline, FilterStage::kStatic),
        node_class_(NodeClasses(static_filters_, state, &class_count_)),
        meter_(meter) {}

  // The fine shape of `job`; sets job.names for the filters, job.cycle for the scorers.
  const FineStatic& For(Job& job) {
    job.cycle = cycle_;
    CoarseShapeKey(*job, state_.has_exclusive_owners(), &key_);
    auto coarse_it = coarse_.find(std::string_view(key_));
    if (coarse_it == coarse_.end()) {
      Hold(key_.capacity() + kMapEntryBytes);
      coarse_it = coarse_.emplace(key_, MakeCoarse(job)).first;
    }
    CoarseStatic& coarse = *coarse_it->second;
    job.names = &coarse.names;
    auto [fine_it, fine_new] =
        fine_.try_emplace(FineKey{&coarse, job->cpus_per_node, job->memory_per_node_mib});
    if (fine_new) fine_it->second = MakeFine(job, coarse);
    return *fine_it->second;
  }

 private:
  // Static filters that read CPUs or memory may say which nodes they cannot tell
  // apart (Filter::NodeKey: e.g. nodes of one size); nodes alike for all of them
  // share a class, asked once per fine shape. Empty when some filter cannot say.
  static std::vector<int32_t> NodeClasses(const StageFilters& filters, const ClusterState& state,
                                          int* class_count) {
    *class_count = 0;
    if (!filters.any_reads) return {};
    std::unordered_map<std::string, int32_t> classes;
    std::vector<int32_t> node_class(static_cast<size_t>(state.node_count()));
    for (int n = 0; n < state.node_count(); ++n) {
      std::string key;
      for (int f = 0; f < filters.size(); ++f) {
        if (!filters.reads_cpus_or_memory[static_cast<size_t>(f)]) continue;
        std::optional<std::string> part =
            filters.filters[static_cast<size_t>(f)]->NodeKey(n, state);
        if (!part) return {};
        key += Cat(part->size(), ":", *part, "|");  // length-prefixed: no two joins alike
      }
      node_class[static_cast<size_t>(n)] =
          classes.try_emplace(std::move(key), static_cast<int32_t>(classes.size())).first->second;
    }
    *class_count = static_cast<int>(classes.size());
    return node_class;
  }

  std::unique_ptr<CoarseStatic> MakeCoarse(Job& job) {
    auto coarse = std::make_unique<CoarseStatic>(*job);
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
      coarse->verdict_of.push_back(VerdictId(*coarse, rejection, reason));
    }
    if (meter_ != nullptr) meter_->Spend(static_cast<uint64_t>(state_.node_count()));
    coarse->slot_of_node.assign(static_cast<size_t>(state_.node_count()), -1);
    for (size_t slot = 0; slot < coarse->nodes.size(); ++slot) {
      coarse->slot_of_node[static_cast<size_t>(coarse->nodes[slot])] = static_cast<int32_t>(slot);
    }
    Hold(NameSetBytes(coarse->names.partitions) + NameSetBytes(coarse->names.features) +
         NameSetBytes(coarse->names.excluded_nodes) + NameSetBytes(coarse->names.reservations));
    Hold(sizeof(CoarseStatic) + coarse->nodes.capacity() * sizeof(coarse->nodes[0]) +
         coarse->verdict_of.capacity() * sizeof(coarse->verdict_of[0]) +
         coarse->verdicts.capacity() * sizeof(coarse->verdicts[0]) +
         coarse->slot_of_node.capacity() * sizeof(coarse->slot_of_node[0]));
    return coarse;
  }

  // The entry of coarse.verdicts for a verdict, added when the latest few differ (a
  // bounded search: a filter whose reasons were not a few phrases costs entries, not time).
  static uint32_t VerdictId(CoarseStatic& coarse, int rejection, std::string_view reason) {
    constexpr size_t kSearched = 16;
    auto& verdicts = coarse.verdicts;
    for (size_t i = verdicts.size(); i > 0 && verdicts.size() - i < kSearched; --i) {
      if (verdicts[i - 1].first == rejection && verdicts[i - 1].second == reason) {
        return static_cast<uint32_t>(i - 1);
      }
    }
    verdicts.emplace_back(rejection, reason);
    return static_cast<uint32_t>(verdicts.size() - 1);
  }

  // The static verdict on the coarse node at `slot`: the first filter in pipeline
  // order that rejects it. `by_class`: what the filters reading CPUs or memory say
  // per node class (the first of them to reject and why), when the nodes have classes.
  std::string_view FineStaticRejection(
      const Job& job, const CoarseStatic& coarse, size_t slot,
      const std::vector<std::pair<int, std::string_view>>& by_class) const {
    const int n = coarse.nodes[slot];
    const auto& [coarse_rejection, coarse_reason] = coarse.verdicts[coarse.verdict_of[slot]];
    if (!static_filters_.any_reads) return coarse_reason;
    if (by_class.empty()) {
      return FineRejection(static_filters_, job, n, state_, coarse_rejection, coarse_reason);
    }
    // The first reader rejecting the node's class decides when it comes before
    // the first coarse rejection.
    const auto& [reader, reader_reason] =
        by_class[static_cast<size_t>(node_class_[static_cast<size_t>(n)])];
    if (reader != kPassed && (coarse_rejection == kPassed || reader < coarse_rejection)) {
      return reader_reason;
    }
    return coarse_rejection == kPassed ? std::string_view() : coarse_reason;
  }

  std::unique_ptr<FineStatic> MakeFine(const Job& job, CoarseStatic& coarse) {
    Hold(sizeof(FineStatic) + sizeof(FineKey) + kMapEntryBytes);
    auto fine = std::make_unique<FineStatic>();
    fine->coarse = &coarse;
    // With node classes, the readers are asked once per class present in the coarse
    // shape; a verdict seen before is shared.
    std::vector<std::pair<int, std::string_view>> by_class;
    std::shared_ptr<const FineVerdict>* shared = nullptr;
    if (static_filters_.any_reads && !node_class_.empty()) {
      if (!coarse.classes_listed) {
        std::vector<char> seen(static_cast<size_t>(class_count_), 0);
        for (int n : coarse.nodes) {
          char& class_seen = seen[static_cast<size_t>(node_class_[static_cast<size_t>(n)])];
          if (class_seen == 0) coarse.first_of_class.push_back(n);
          class_seen = 1;
        }
        coarse.classes_listed = true;
        Hold(coarse.first_of_class.capacity() * sizeof(coarse.first_of_class[0]));
      }
      by_class.assign(static_cast<size_t>(class_count_), {kUnasked, {}});
      for (int n : coarse.first_of_class) {
        auto& [reader, reason] = by_class[static_cast<size_t>(node_class_[static_cast<size_t>(n)])];
        reader = FirstRejection(static_filters_, /*readers=*/true, job, n, state_, &reason);
      }
      if (meter_ != nullptr) meter_->Spend(static_cast<uint64_t>(class_count_));
      const size_t verdicts_before = coarse.fine_verdicts.size();
      shared = &coarse.fine_verdicts[by_class];
      if (coarse.fine_verdicts.size() != verdicts_before) {
        Hold(by_class.capacity() * sizeof(by_class[0]) + kMapEntryBytes);  // the new key
      }
      if (*shared != nullptr) {
        fine->verdict = *shared;
        return fine;
      }
    }
    auto verdict = std::make_shared<FineVerdict>();
    Eligibility& eligibility = verdict->eligibility;
    eligibility.rejected = coarse.rejected;
    eligibility.nodes.reserve(coarse.nodes.size());
    eligibility.coarse_slot.reserve(coarse.nodes.size());
    verdict->slot_of_coarse.assign(coarse.nodes.size(), -1);
    for (size_t slot = 0; slot < coarse.nodes.size(); ++slot) {
      const std::string_view reason = FineStaticRejection(job, coarse, slot, by_class);
      if (reason.empty()) {
        verdict->slot_of_coarse[slot] = static_cast<int32_t>(eligibility.nodes.size());
        eligibility.nodes.push_back(coarse.nodes[slot]);
        eligibility.coarse_slot.push_back(static_cast<int>(slot));
      } else {
        eligibility.rejected.Add(reason);
      }
    }
    if (meter_ != nullptr) meter_->Spend(coarse.nodes.size());
    Hold(sizeof(FineVerdict) + eligibility.nodes.capacity() * sizeof(eligibility.nodes[0]) +
         eligibility.coarse_slot.capacity() * sizeof(eligibility.coarse_slot[0]) +
         verdict->slot_of_coarse.capacity() * sizeof(verdict->slot_of_coarse[0]));
    fine->verdict = std::move(verdict);
    if (shared != nullptr) *shared = fine->verdict;
    return fine;
  }

  // Everything of a job's shape but its CPUs and memory: plugins that
  // DependsOnlyOnShape() read only these, CPUs and memory (the fine key adds them).
  // Written into `key` (its buffer reused job after job: most jobs find their shape).
  // `by_user`: nodes are exclusive to their users (the exclusive filter reads the user).
  static void CoarseShapeKey(const model::PendingJob& job, bool by_user, std::string* key) {
    key->clear();
    // Each part followed by its separator; names (opaque bytes: they may hold any
    // separator) and lists length-prefixed, so that no two requests join alike.
    auto number = [key](int64_t value, char end) {
      char digits[24];
      const auto written = std::to_chars(digits, digits + sizeof(digits), value);
      key->append(digits, written.ptr);
      key->push_back(end);
    };
    auto text = [key, number](std::string_view part, char end) {
      number(static_cast<int64_t>(part.size()), '#');
      key->append(part);
      key->push_back(end);
    };
    auto list = [number, text](const std::vector<std::string>& names, char separator, char end) {
      number(static_cast<int64_t>(names.size()), '*');
      for (const std::string& name : names) text(name, separator);
      number(0, end);
    };
    const auto& acc = job.accelerators;
    list(job.partitions, ',', '|');
    list(job.features, ',', '|');
    text(acc.gres_name, ':');
    list(acc.allowed_types, ',', ':');
    number(acc.count_per_node, ':');
    number(acc.fraction_milli, ':');
    number(acc.shards_per_node, acc.exact_per_node ? '=' : '|');
    number(job.num_nodes, '|');
    list(job.required_nodes, ',', '|');
    list(job.excluded_nodes, ',', '|');
    text(job.qos, '|');
    number(static_cast<int>(job.job_class), '|');
    text(job.exclusive ? "x" : "", '|');
    if (job.exclusive_user || by_user)
      number(static_cast<int>(job.user_id), job.exclusive_user ? 'u' : '|');
    list(job.refused_nodes, ',', '|');
    list(job.reservations, ',', job.reservation_only ? '!' : '|');
    if (job.reservation_only) key->push_back('|');
    for (const auto& clause : job.feature_any) list(clause, '&', '|');
    // Matching alternatives pick a gang's nodes differently: a shape of their own.
    if (job.feature_any_matching) key->push_back('[');
  }

  static constexpr int kUnasked = -2;
  // A hash or tree map's own cost per entry, beyond key and value (node, pointers).
  static constexpr size_t kMapEntryBytes = 64;
  // A shape's copy of its job's names (a distinct -x list of 4,000 names each).
  static size_t NameSetBytes(const NameSet& names) {
    size_t bytes = names.bucket_count() * sizeof(void*);
    for (const std::string& name : names) bytes += kMapEntryBytes + name.capacity();
    return bytes;
  }
  void Hold(size_t bytes) {
    if (meter_ != nullptr) meter_->HoldShapeBytes(bytes);
  }
  const ClusterState& state_;
  const CycleState* cycle_;
  StageFilters static_filters_;
  int class_count_ = 0;
  std::vector<int32_t> node_class_;  // per node, when every static reader has keys
  Meter* meter_;
  // Looked up by a view of key_, without a copy.
  struct KeyHash {
    using is_transparent = void;
    size_t operator()(std::string_view key) const { return std::hash<std::string_view>{}(key); }
  };
  std::unordered_map<std::string, std::unique_ptr<CoarseStatic>, KeyHash, std::equal_to<>> coarse_;
  std::string key_;
  // A fine shape: its coarse shape plus the CPUs and memory.
  struct FineKey {
    const CoarseStatic* coarse;
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
  std::unordered_map<FineKey, std::unique_ptr<FineStatic>, FineKeyHash> fine_;
};

// Per job shape on one state: each node's evaluation until that node changes,
// bounded in memory (beyond the bound, shapes are evaluated uncached).
class ShapeCache {
 public:
  static constexpr size_t kMaxCachedDeviceEvals = size_t{1} << 19;
  static constexpr size_t kMaxCachedNodeEvals = size_t{1} << 21;

  ShapeCache(const ClusterState& state, const Pipeline& pipeline, ShapeBook& book, Meter* meter)
      : state_(state),
        pipeline_(pipeline),
        book_(book),
        dynamic_filters_(pipeline, FilterStage::kDynamic),
        cacheable_(PipelineIsCacheable(pipeline)),
        meter_(meter) {
    for (const WeightedScorer& ws : pipeline.scorers) {
      const bool reads = ws.scorer->ReadsCpusOrMemory();
      scorer_reads_.push_back(reads ? 1 : 0);
      if (!reads) ++coarse_scorers_;
    }
  }

  const ClusterState& state() const { return state_; }
  const Pipeline& pipeline() const { return pipeline_; }
  const StageFilters& dynamic_filters() const { return dynamic_filters_; }
  Meter* meter() { return meter_; }
  // Per pipeline scorer: whether it reads CPUs or memory (else scored per coarse shape).
  const std::vector<char>& scorer_reads() const { return scorer_reads_; }
  size_t coarse_scorers() const { return coarse_scorers_; }

  // The fine shape of `job`; sets job.names for the filters.
  FineShape& For(Job& job) { return For(book_.For(job)); }
  // The fine shape of a job whose names are set (by ShapeBook::For).
  FineShape& For(const FineStatic& statics) {
    auto [coarse_it, coarse_new] = coarse_.try_emplace(statics.coarse);
    if (coarse_new) coarse_it->second = MakeCoarse(*statics.coarse);
    auto [fine_it, fine_new] = fine_.try_emplace(&statics);
    if (fine_new) fine_it->second = MakeFine(statics, *coarse_it->second);
    return *fine_it->second;
  }

  // Spare scratch slots for shapes evaluated uncached.
  DeviceEval& device_scratch() { return device_scratch_; }
  NodeEval& node_scratch() { return node_scratch_; }

 private:
  static bool PipelineIsCacheable(const Pipeline& pipeline) {
    return std::all_of(pipeline.filters.begin(), pipeline.filters.end(),
                       [](const auto& f) { return f->DependsOnlyOnShape(); }) &&
           std::all_of(pipeline.scorers.begin(), pipeline.scorers.end(),
                       [](const auto& s) { return s.scorer->DependsOnlyOnShape(); });
  }

  std::unique_ptr<CoarseShape> MakeCoarse(const CoarseStatic& statics) {
    auto coarse = std::make_unique<CoarseShape>();
    coarse->statics = &statics;
    const size_t slots = statics.nodes.size();
    coarse->cached = cacheable_ && device_evals_ + slots <= kMaxCachedDeviceEvals;
    if (coarse->cached) {
      device_evals_ += slots;
      coarse->device_evals.resize(slots);
    }
    return coarse;
  }

  std::unique_ptr<FineShape> MakeFine(const FineStatic& statics, CoarseShape& coarse) {
    auto fine = std::make_unique<FineShape>();
    fine->statics = &statics;
    fine->coarse = &coarse;
    const size_t slots = statics.eligibility().nodes.size();
    // A fine shape caches only on top of a cached coarse one: its verdicts index
    // the coarse level's candidates.
    fine->cached = coarse.cached && node_evals_ + slots <= kMaxCachedNodeEvals;
    if (fine->cached) {
      node_evals_ += slots;
      fine->evals.resize(slots);
    }
    return fine;
  }

  const ClusterState& state_;
  const Pipeline& pipeline_;
  ShapeBook& book_;
  StageFilters dynamic_filters_;
  bool cacheable_;
  Meter* meter_;
  std::vector<char> scorer_reads_;
  size_t coarse_scorers_ = 0;
  size_t device_evals_ = 0;
  size_t node_evals_ = 0;
  std::unordered_map<const CoarseStatic*, std::unique_ptr<CoarseShape>> coarse_;
  std::unordered_map<const FineStatic*, std::unique_ptr<FineShape>> fine_;
  DeviceEval device_scratch_;
  NodeEval node_scratch_;
};

const DeviceEval& Evaluator::EvaluateDevices(const Job& job, size_t coarse_slot, int n) {
  CoarseShape& coarse = *shape_.coarse;
  const ClusterState& state = cache_.state();
  DeviceEval& eval = coarse.cached ? coarse.device_evals[coarse_slot] : cache_.device_scratch();
  eval.valid = true;
  eval.version = state.version(n);
  eval.candidates.clear();
  eval.coarse_terms.clear();
  eval.rejection = FirstCoarseRejection(cache_.dynamic_filters(), job, n, state, &eval.reason);
  if (eval.rejection == kPassed) {
    eval.reason = {};
    eval.candidates = DeviceCandidates(job, n, state, &eval.reason);
  }
  // Shared by every fine shape of this coarse one, so scored once per node change.
  if (coarse.cached && cache_.coarse_scorers() > 0) {
    const auto& scorers = cache_.pipeline().scorers;
    for (const Candidate& candidate : eval.candidates) {
      for (size_t s = 0; s < scorers.size(); ++s) {
        if (cache_.scorer_reads()[s]) continue;
        eval.coarse_terms.push_back(scorers[s].weight *
                                    scorers[s].scorer->Score(job, candidate, state));
      }
    }
  }
  return eval;
}

// The weighted score of candidate c of `devices`, the coarse scorers' terms read
// from the cache: the same sum, in the same order, as WeightedScore.
double Evaluator::ScoreOf(const Job& job, const DeviceEval& devices, size_t c) {
  if (devices.coarse_terms.empty()) {
    return WeightedScore(job, devices.candidates[c], cache_.state(), cache_.pipeline());
  }
  const auto& scorers = cache_.pipeline().scorers;
  const double* term = &devices.coarse_terms[c * cache_.coarse_scorers()];
  double total = 0;
  for (size_t s = 0; s < scorers.size(); ++s) {
    total += cache_.scorer_reads()[s]
                 ? scorers[s].weight *
                       scorers[s].scorer->Score(job, devices.candidates[c], cache_.state())
                 : *term++;
  }
  return total;
}

Evaluator::Evaluator(ShapeCache& cache, FineShape& shape)
    : cache_(cache), cache_state_(cache.state()), shape_(shape) {}

const Pipeline& Evaluator::pipeline() const { return cache_.pipeline(); }

const NodeEval& Evaluator::Refresh(const Job& job, size_t slot) {
  const int n = shape_.eligibility().nodes[slot];
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
    const double score = ScoreOf(job, devices, c);
    if (eval.best < 0 || score > best_score) {
      eval.best = static_cast<int32_t>(c);
      best_score = score;
    }
  }
  eval.score = best_score;
  return eval;
}

std::string_view Evaluator::ReasonAt(const Job& job, size_t slot) {
  const int n = shape_.eligibility().nodes[slot];
  const DeviceEval& devices = Devices(job, slot);
  std::string_view reason =
      FineRejection(cache_.dynamic_filters(), job, n, cache_.state(), devices.rejection,
                    devices.rejection == kPassed ? std::string_view() : devices.reason);
  if (reason.empty() && devices.rejection == kPassed) reason = devices.reason;
  return reason;
}

std::string_view Evaluator::Rejection(const Job& job, size_t slot) {
  if (shape_.cached) {
    const NodeEval& eval = shape_.evals[slot];
    if (eval.best != NodeEval::kUnset &&
        eval.version == cache_state_.version(shape_.eligibility().nodes[slot])) {
      return eval.fits() ? std::string_view() : ReasonAt(job, slot);
    }
  }
  if (Meter* meter = cache_.meter()) meter->Spend(1);
  return ReasonAt(job, slot);
}

const Candidate& Evaluator::BestOf(const Job& job, size_t slot) {
  // Evaluated again when uncached: the scratch slots hold the last node asked.
  const NodeEval& eval = Get(job, slot);
  return Devices(job, slot).candidates[static_cast<size_t>(eval.best)];
}

// What a held node has left over at its reserved start, beyond what the reserved
// job takes there: work that outlasts the start may use that much.
struct Spare {
  int devices = 0;  // whole devices: of `pool`, or of every pool when it is -1
  int cpus = 0;
  int64_t memory_mib = 0;
  // The pool the reserved job takes devices from; -1: devices summed over all pools.
  int pool = -1;
  // The reserved job needs particular devices of `pool` (HCCS rings, Box16 halves,
  // 910C modules, probed groups), not any: none of that pool is spare, because which
  // ones a later job takes is chosen without knowing them.
  bool by_identity = false;

  // A share or shards count as a whole device: where they land is not known here.
  bool Covers(const Job& job, const model::Node& node) const {
    if (job->exclusive || job->exclusive_user || job->cpus_per_node > cpus ||
        job->memory_per_node_mib > memory_mib) {
      return false;
    }
    const model::AcceleratorRequest& request = job->accelerators;
    if (!request.WantsDevices()) return true;
    if (pool < 0) return request.count_per_node <= devices;
    // Devices of other pools are not the reserved job's.
    if (!request.Allows(node.accelerators[static_cast<size_t>(pool)])) return true;
    return !by_identity && request.count_per_node <= devices;
  }
};

// Nodes held for reserved jobs: a job may use one if it ends before the reserved
// start (EASY backfill on time limits), or if it fits in what the reserved job
// leaves over there at its start; for a reservation's look-ahead, held nodes are
// off limits altogether. Slurm's advanced reservations hold their
// nodes the same way for every job that does not belong to them; a job that does
// may run there only while its reservation is active. A partial reservation
// (CoreCnt, TRES=gres/...) holds only its part: other jobs fit in the rest of the
// node (`spare`: what is free less the part the reservation's own jobs do not use
// yet), its own jobs only in that part (`WindowOnNode::members`).
//
// Harvest: a preemptible job (`harvesting`) is bound only by `firm_start`, the
// holds of jobs that cannot take their nodes back by preemption (and of reclaims
// planned this cycle, which hold their nodes from now on).
struct Holds {
  struct WindowOnNode {
    int reservation = 0;  // index into snapshot->reservations
    bool part = false;    // partial with counts
    // What the part holds here, and what of it its own jobs have not taken. What it
    // does not hold (no GPUs in a CoreCnt reservation) its jobs share with all.
    Spare reserved;
    Spare members;
  };

  std::vector<int64_t> reserved_start;  // per node; kNoReservation if free
  std::vector<int64_t> firm_start;      // per node; as reserved_start, unreclaimable holds
  std::vector<Spare> spare;             // per node; meaningful where reserved
  int64_t now = 0;
  bool exclude_held = false;
  bool harvesting = false;
  const model::Snapshot* snapshot = nullptr;
  std::vector<std::vector<WindowOnNode>> windows;  // per node
  std::vector<uint8_t> held_by_window;             // per node: the hold is a partial reservation's

  // Nodes are held once (look-aheads and reclaims keep off held nodes), so `left`
  // is what the one job holding node n leaves over there.
  void Hold(int n, int64_t start, bool reclaimable, Spare left = {}) {
    auto& held = reserved_start[static_cast<size_t>(n)];
    held = std::min(held, start);
    spare[static_cast<size_t>(n)] = left;
    if (!reclaimable) {
      auto& firm = firm_start[static_cast<size_t>(n)];
      firm = std::min(firm, start);
    }
  }

  // A job of a partial reservation: in its part what the part holds, elsewhere in
  // what the node leaves to everyone.
  bool FitsPart(const Job& job, const WindowOnNode& w, int n) const {
    const Spare& shared = spare[static_cast<size_t>(n)];
    const int wanted = job->accelerators.WantsDevices() ? job->accelerators.count_per_node : 0;
    return !job->exclusive && !job->exclusive_user &&
           wanted <= (w.reserved.devices > 0 ? w.members.devices : shared.devices) &&
           job->cpus_per_node <= (w.reserved.cpus > 0 ? w.members.cpus : shared.cpus) &&
           job->memory_per_node_mib <= shared.memory_mib;
  }

  bool HeldByWindow(size_t n) const { return !held_by_window.empty() && held_by_window[n] != 0; }

  bool Member(const Job& job, const model::AdvancedReservation& r) const {
    return std::find(job->reservations.begin(), job->reservations.end(), r.name) !=
           job->reservations.end();
  }

  // The partial reservation on node n whose part this job runs in; null if none.
  WindowOnNode* PartOf(const Job& job, int n) {
    if (windows.empty()) return nullptr;
    for (WindowOnNode& w : windows[static_cast<size_t>(n)]) {
      const model::AdvancedReservation& r =
          snapshot->reservations[static_cast<size_t>(w.reservation)];
      if (w.part && r.start <= now && r.end > now && Member(job, r)) return &w;
    }
    return nullptr;
  }

  // Empty when the job may start on node n now; otherwise why not.
  std::string_view Why(const Job& job, int n) const {
    const int64_t end = model::AddTimes(now, job.time_limit_s);
    bool in_part = false;
    if (!windows.empty()) {
      for (const WindowOnNode& w : windows[static_cast<size_t>(n)]) {
        const model::AdvancedReservation& r =
            snapshot->reservations[static_cast<size_t>(w.reservation)];
        if (r.end <= now) continue;
        if (Member(job, r)) {
          if (r.start > now || (w.part && !FitsPart(job, w, n))) return kReasonAdvancedReservation;
          in_part = in_part || w.part;
        } else if (!w.part && end > r.start) {
          return kReasonAdvancedReservation;
        }
      }
    }
    const auto node = static_cast<size_t>(n);
    const int64_t start = (harvesting ? firm_start : reserved_start)[node];
    if (start == kNoReservation || (in_part && HeldByWindow(node))) return {};
    if (exclude_held || (end > start && !spare[node].Covers(job, snapshot->nodes[node])))
      return HeldByWindow(node) ? kReasonAdvancedReservation : kReasonHeld;
    return {};
  }
  bool Allows(const Job& job, int n) const { return Why(job, n).empty(); }

  // A start planned this cycle takes its room: from a partial reservation's part
  // for its own jobs, else from what a held node leaves over.
  void Started(const Job& job, const Holding& holding, int64_t end) {
    const auto n = static_cast<size_t>(holding.node);
    WindowOnNode* part = PartOf(job, holding.node);
    if (part == nullptr && (reserved_start[n] == kNoReservation || end <= reserved_start[n]))
      return;
    const bool part_devices = part != nullptr && part->reserved.devices > 0;
    const bool part_cpus = part != nullptr && part->reserved.cpus > 0;
    Spare& devices_from = part_devices ? part->members : spare[n];
    if (holding.pool >= 0 && (devices_from.pool < 0 || devices_from.pool == holding.pool))
      devices_from.devices -= static_cast<int>(holding.devices.size());
    (part_cpus ? part->members : spare[n]).cpus -= holding.cpus;
    spare[n].memory_mib -= holding.memory_mib;
  }
};

// Sums of counts from the snapshot (each bounded, their number not): clamped, not
// wrapped, so that a hostile list reserves everything rather than nothing.
int SaturatingAdd(int a, int b) {
  return static_cast<int>(std::clamp<int64_t>(int64_t{a} + b, std::numeric_limits<int>::min(),
                                              std::numeric_limits<int>::max()));
}

// What node n has free now, in Spare's terms.
Spare FreeOn(const ClusterState& state, int n) {
  Spare free{0, state.cpus_free(n), state.memory_free(n)};
  for (int p = 0; p < static_cast<int>(state.node(n).accelerators.size()); ++p)
    free.devices += state.free_devices(n, p);
  return free;
}

Holds MakeHolds(const model::Snapshot& snapshot, const ClusterState& state) {
  Holds holds{std::vector<int64_t>(snapshot.nodes.size(), kNoReservation),
              std::vector<int64_t>(snapshot.nodes.size(), kNoReservation),
              std::vector<Spare>(snapshot.nodes.size()),
              snapshot.now,
              false,
              false,
              &snapshot,
              {},
              {}};
  // What each partial reservation's own running jobs use, per node.
  std::unordered_map<std::string_view, size_t> partial_by_name;
  for (size_t r = 0; r < snapshot.reservations.size(); ++r) {
    const model::AdvancedReservation& window = snapshot.reservations[r];
    if (window.end > snapshot.now && window.PartCounted()) partial_by_name.emplace(window.name, r);
  }
  std::unordered_map<uint64_t, Spare> used_in_part;
  auto part_key = [](size_t r, int n) {
    return (static_cast<uint64_t>(r) << 32) | static_cast<uint32_t>(n);
  };
  if (!partial_by_name.empty()) {
    for (const model::RunningJob& job : snapshot.running) {
      if (job.reservation.empty()) continue;
      const auto window = partial_by_name.find(job.reservation);
      if (window == partial_by_name.end()) continue;
      for (const model::NodeAllocation& alloc : job.allocations) {
        Spare& used = used_in_part[part_key(window->second, state.FindNode(alloc.node))];
        used.devices = SaturatingAdd(used.devices, alloc.device_count);
        used.cpus = SaturatingAdd(used.cpus, alloc.cpus);
      }
    }
    holds.held_by_window.assign(snapshot.nodes.size(), 0);
  }
  // Per node, the part of partial reservations their own jobs do not use yet.
  std::vector<Spare> unused_parts(partial_by_name.empty() ? 0 : snapshot.nodes.size());
  for (size_t r = 0; r < snapshot.reservations.size(); ++r) {
    const model::AdvancedReservation& window = snapshot.reservations[r];
    if (window.end <= snapshot.now) continue;
    if (holds.windows.empty()) holds.windows.resize(snapshot.nodes.size());
    const bool part = window.PartCounted();
    for (size_t i = 0; i < window.nodes.size(); ++i) {
      const int n = state.FindNode(window.nodes[i]);
      if (n < 0) continue;
      Holds::WindowOnNode on{static_cast<int>(r), part, {}, {}};
      if (part) {
        const auto node = static_cast<size_t>(n);
        // Memory is never reserved.
        on.reserved = {window.reserved_devices[i], window.reserved_cpus[i], 0};
        on.members = on.reserved;
        if (const auto used = used_in_part.find(part_key(r, n)); used != used_in_part.end()) {
          if (on.reserved.devices > 0) on.members.devices -= used->second.devices;
          if (on.reserved.cpus > 0) on.members.cpus -= used->second.cpus;
        }
        unused_parts[node].devices =
            SaturatingAdd(unused_parts[node].devices, std::max(on.members.devices, 0));
        unused_parts[node].cpus =
            SaturatingAdd(unused_parts[node].cpus, std::max(on.members.cpus, 0));
        holds.reserved_start[node] = std::min(holds.reserved_start[node], window.start);
        holds.firm_start[node] = std::min(holds.firm_start[node], window.start);
        holds.held_by_window[node] = 1;
      }
      holds.windows[static_cast<size_t>(n)].push_back(on);
    }
  }
  for (size_t n = 0; n < unused_parts.size(); ++n) {
    if (!holds.HeldByWindow(n)) continue;
    const Spare free = FreeOn(state, static_cast<int>(n));
    holds.spare[n] = {free.devices - unused_parts[n].devices, free.cpus - unused_parts[n].cpus,
                      free.memory_mib};
  }
  return holds;
}

std::vector<int32_t> Evaluator::DevicePassingSlots(const Job& job) {
  CoarseShape& coarse = *shape_.coarse;
  const CoarseStatic& statics = *coarse.statics;
  const ClusterState& state = cache_state_;
  auto passes = [&](size_t coarse_slot) {
    const DeviceEval& eval = DevicesAt(job, coarse_slot, statics.nodes[coarse_slot]);
    return eval.rejection == kPassed && !eval.candidates.empty();
  };
  if (!coarse.indexed) {
    coarse.listed.assign(statics.nodes.size(), 0);
    coarse.passing.clear();
    for (size_t coarse_slot = 0; coarse_slot < statics.nodes.size(); ++coarse_slot) {
      if (!passes(coarse_slot)) continue;
      coarse.listed[coarse_slot] = 1;
      coarse.passing.push_back(static_cast<int32_t>(coarse_slot));
    }
    coarse.indexed = true;
  } else if (coarse.seen_changes < state.change_count()) {
    // Only a node that changed can start or stop passing: those are asked again,
    // the others keep their entry (a node's evaluation changes with its version).
    std::vector<int32_t> changed;
    for (size_t i = coarse.seen_changes; i < state.change_count(); ++i) {
      const int32_t coarse_slot = statics.slot_of_node[static_cast<size_t>(state.changed_node(i))];
      if (coarse_slot >= 0) changed.push_back(coarse_slot);
    }
    std::sort(changed.begin(), changed.end());
    changed.erase(std::unique(changed.begin(), changed.end()), changed.end());
    bool moved = false;
    for (const int32_t coarse_slot : changed) {
      const char now = passes(static_cast<size_t>(coarse_slot)) ? 1 : 0;
      char& listed = coarse.listed[static_cast<size_t>(coarse_slot)];
      moved = moved || now != listed;
      listed = now;
    }
    if (moved) {
      // Both in slot order: their union, less what stopped passing, stays in order.
      std::vector<int32_t> merged;
      merged.reserve(coarse.passing.size() + changed.size());
      std::set_union(coarse.passing.begin(), coarse.passing.end(), changed.begin(), changed.end(),
                     std::back_inserter(merged));
      std::erase_if(merged, [&](int32_t coarse_slot) {
        return coarse.listed[static_cast<size_t>(coarse_slot)] == 0;
      });
      coarse.passing = std::move(merged);
    }
  }
  coarse.seen_changes = state.change_count();
  // Coarse slots map to this fine shape's slots in order.
  const std::vector<int32_t>& slot_of_coarse = shape_.statics->slot_of_coarse();
  std::vector<int32_t> slots;
  slots.reserve(coarse.passing.size());
  for (const int32_t coarse_slot : coarse.passing) {
    const int32_t slot = slot_of_coarse[static_cast<size_t>(coarse_slot)];
    if (slot >= 0) slots.push_back(slot);
  }
  return slots;
}

int Evaluator::BestRanked(const Job& job, const Holds* holds) {
  FineShape& shape = shape_;
  const ClusterState& state = cache_state_;
  const auto& nodes = shape.eligibility().nodes;
  auto push = [&](size_t slot, bool keep_heap) {
    const NodeEval& eval = Get(job, slot);
    if (!eval.fits()) return;
    shape.ranking.push_back({eval.score, static_cast<int32_t>(slot), eval.version});
    if (keep_heap) std::push_heap(shape.ranking.begin(), shape.ranking.end(), RanksBelow{});
  };
  // Stale entries pile up as nodes change; past a bound the heap is rebuilt. So it
  // is when more nodes changed since the last look than a fresh heap asks (the
  // nodes whose devices pass, as last listed): rebuilding then costs less than
  // catching up (changed nodes repeat in the log, and each entry they replace would
  // be popped later). Not against the heap's own size: a shape that fits few of
  // those nodes (a reservation's look-ahead, release by release) would rebuild at
  // every change.
  if (shape.ranked && (shape.ranking.size() > 2 * nodes.size() + 64 ||
                       state.change_count() - shape.seen_changes > shape.coarse->passing.size())) {
    shape.ranked = false;
  }
  if (!shape.ranked) {
    shape.ranking.clear();
    for (int32_t slot : DevicePassingSlots(job)) push(static_cast<size_t>(slot), false);
    shape.ranked = true;
    shape.heaped = false;
    shape.seen_changes = state.change_count();
    // Most fine shapes are placed once per cycle: their first answer is a pass over
    // the fresh entries (the heap's top, without the heap); the heap is made when
    // the shape is asked again.
    const Ranked* best = nullptr;
    for (const Ranked& entry : shape.ranking) {
      if ((best == nullptr || RanksBelow{}(*best, entry)) &&
          (holds == nullptr || holds->Allows(job, nodes[static_cast<size_t>(entry.slot)]))) {
        best = &entry;
      }
    }
    return best == nullptr ? -1 : best->slot;
  }
  if (!shape.heaped) {
    std::make_heap(shape.ranking.begin(), shape.ranking.end(), RanksBelow{});
    shape.heaped = true;
  }
  const std::vector<int32_t>& coarse_slots = shape.statics->coarse->slot_of_node;
  for (size_t i = shape.seen_changes; i < state.change_count(); ++i) {
    const int32_t coarse_slot = coarse_slots[static_cast<size_t>(state.changed_node(i))];
    if (coarse_slot < 0) continue;
    const int32_t slot = shape.statics->slot_of_coarse()[static_cast<size_t>(coarse_slot)];
    if (slot >= 0) push(static_cast<size_t>(slot), true);
  }
  shape.seen_changes = state.change_count();
  // Drop stale entries; set aside fitting nodes the holds keep from this job. The
  // best stays on top: it changes when the job starts there, and goes stale then.
  std::vector<Ranked> held;
  int best = -1;
  while (!shape.ranking.empty()) {
    const Ranked top = shape.ranking.front();
    const int n = nodes[static_cast<size_t>(top.slot)];
    const bool stale = top.version != state.version(n);
    if (!stale && (holds == nullptr || holds->Allows(job, n))) {
      best = top.slot;
      break;
    }
    std::pop_heap(shape.ranking.begin(), shape.ranking.end(), RanksBelow{});
    shape.ranking.pop_back();
    if (!stale) held.push_back(top);
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
  const auto& nodes = evaluator.shape().eligibility().nodes;
  for (size_t slot = 0; slot < nodes.size(); ++slot) {
    if (std::string_view why = evaluator.Rejection(job, slot); !why.empty()) {
      rejected.Add(why);
    } else if (holds != nullptr) {
      if (why = holds->Why(job, nodes[slot]); !why.empty()) rejected.Add(why);
    }
  }
  return rejected;
}

int KindOf(const Candidate& candidate, const ClusterState& state) {
  return candidate.pool < 0 ? -1 : state.kind_of(candidate.node, candidate.pool);
}

// Whether a gang on this candidate's kind must stay inside one SuperPoD (910C).
bool GangWithinSuperpod(const Candidate& candidate, const ClusterState& state) {
  const int kind = KindOf(candidate, state);
  return kind >= 0 && state.catalog().kind(kind).rule.gang_within_superpod;
}

// Picks num_nodes of `scored`: required nodes first, then best score, all of one
// kind and, when one can hold the job, inside one topology domain.
std::optional<std::vector<ScoredNode>> ChooseGangAmong(const Job& job,
                                                       std::vector<ScoredNode> scored,
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
    const bool hard = GangWithinSuperpod(s.candidate, state);
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

// As ChooseGangAmong; with Slurm's matching OR ("[a|b]") all of the gang's nodes
// carry one and the same alternative: the best gang of any one alternative, the
// earlier alternative on equal scores.
std::optional<std::vector<ScoredNode>> ChooseGang(const Job& job, std::vector<ScoredNode> scored,
                                                  const ClusterState& state,
                                                  std::string_view* reason) {
  if (!job->feature_any_matching || job->feature_any.size() < 2 || job->num_nodes < 2)
    return ChooseGangAmong(job, std::move(scored), state, reason);
  std::optional<std::vector<ScoredNode>> best;
  double best_score = 0;
  std::string_view why = kReasonNoAlternativeHoldsTheGang;
  for (const std::vector<std::string>& clause : job->feature_any) {
    std::vector<ScoredNode> carrying;
    for (const ScoredNode& s : scored) {
      if (state.node(s.candidate.node).HasFeatures(clause)) carrying.push_back(s);
    }
    if (carrying.size() < static_cast<size_t>(job->num_nodes)) continue;
    std::string_view clause_reason;
    auto chosen = ChooseGangAmong(job, std::move(carrying), state, &clause_reason);
    if (!chosen) {
      why = clause_reason;
      continue;
    }
    double score = 0;
    for (const ScoredNode& s : *chosen) score += s.score;
    if (!best || score > best_score) {
      best = std::move(chosen);
      best_score = score;
    }
  }
  if (!best) *reason = why;
  return best;
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

// select/cons_tres' node choice (job_test.c `_eval_nodes`, no topology plugin) among
// `feasible`, the nodes where the job fits now: in node order, consecutive ones form a
// run, which another kind or, for a gang, another SuperPoD (where gangs must stay
// inside one) also ends. The run that holds the rest of the job with the fewest CPUs
// free wins, the first of equals; where none holds it, the one with the most CPUs
// (cons_tres also prefers a larger run that falls short to a sufficient one met
// before it; so does this). A gang
// takes the first nodes of each run it takes, its last node (a one-node job's node)
// the best-scored of its run. Runs of a kind or pod that cannot hold the whole job are
// never taken, and a gang's later runs are of its first run's kind and pod: a gang
// stays on one kind (cons_tres would go on across node weights and GRES types). Empty
// when no kind or pod holds the job.
std::vector<ScoredNode> ConsecutiveRunChoice(size_t wanted, std::vector<ScoredNode> feasible,
                                             const ClusterState& state) {
  std::sort(feasible.begin(), feasible.end(), [&](const ScoredNode& a, const ScoredNode& b) {
    return state.name_rank(a.candidate.node) < state.name_rank(b.candidate.node);
  });
  auto group_of = [&](const ScoredNode& s) {
    const bool hard = wanted > 1 && GangWithinSuperpod(s.candidate, state);
    return std::pair<int, std::string_view>(
        KindOf(s.candidate, state),
        hard ? std::string_view(state.node(s.candidate.node).superpod) : "");
  };
  struct Run {
    size_t begin = 0;
    size_t end = 0;  // one past the last
    int64_t cpus = 0;
    std::pair<int, std::string_view> group;
  };
  std::vector<Run> runs;
  std::map<std::pair<int, std::string_view>, size_t> group_nodes;
  for (size_t i = 0; i < feasible.size(); ++i) {
    const auto group = group_of(feasible[i]);
    const bool continues = !runs.empty() && runs.back().group == group &&
                           state.name_rank(feasible[i].candidate.node) ==
                               state.name_rank(feasible[i - 1].candidate.node) + 1;
    if (!continues) runs.push_back(Run{i, i, 0, group});
    runs.back().end = i + 1;
    runs.back().cpus += state.cpus_free(feasible[i].candidate.node);
    ++group_nodes[group];
  }
  std::erase_if(runs, [&](const Run& run) { return group_nodes[run.group] < wanted; });
  std::vector<ScoredNode> chosen;
  std::vector<bool> taken(runs.size(), false);
  std::optional<std::pair<int, std::string_view>> gang_group;
  size_t remaining = wanted;
  while (remaining > 0) {
    std::optional<size_t> best;
    bool best_sufficient = false;
    for (size_t r = 0; r < runs.size(); ++r) {
      if (taken[r] || (gang_group && runs[r].group != *gang_group)) continue;
      const bool sufficient = runs[r].end - runs[r].begin >= remaining;
      const bool better = !best || (sufficient && !best_sufficient) ||
                          (sufficient && runs[r].cpus < runs[*best].cpus) ||
                          (!sufficient && runs[r].cpus > runs[*best].cpus);
      if (better) {
        best = r;
        best_sufficient = sufficient;
      }
    }
    if (!best) return {};
    taken[*best] = true;
    gang_group = runs[*best].group;
    const Run& run = runs[*best];
    if (remaining == 1) {
      size_t pick = run.begin;
      for (size_t i = run.begin + 1; i < run.end; ++i) {
        if (feasible[i].score > feasible[pick].score) pick = i;
      }
      chosen.push_back(std::move(feasible[pick]));
      break;
    }
    for (size_t i = run.begin; i < run.end && remaining > 0; ++i, --remaining) {
      chosen.push_back(std::move(feasible[i]));
    }
  }
  return chosen;
}

// The best placement now, or nullopt (then TallyRejections says why). Single-node
// jobs take one pass for the best node; eligible is in name order, so the first
// of equal scores wins. With `select_consecutive_runs` every job first gathers all the
// nodes it fits on, since its run depends on them all.
std::optional<JobStart> Place(const Job& job, Evaluator& evaluator, const ClusterState& state,
                              const Holds* holds, std::string_view* gang_reason) {
  // Matching alternatives ("[a|b]") choose per alternative in ChooseGang; a run choice
  // across all of them could pick nodes no one alternative covers.
  const bool matching = job->feature_any_matching && job->feature_any.size() >= 2;
  const bool runs = evaluator.pipeline().limits.select_consecutive_runs &&
                    job->required_nodes.empty() && !matching;
  const bool single = job->num_nodes == 1 && job->required_nodes.empty() && !runs;
  if (single && evaluator.shape().cached) {
    const int slot = evaluator.BestRanked(job, holds);
    if (slot < 0) return std::nullopt;
    const double score = evaluator.Get(job, static_cast<size_t>(slot)).score;
    return MakeStart(job, {ScoredNode{evaluator.BestOf(job, static_cast<size_t>(slot)), score}},
                     state);
  }
  const auto& eligible = evaluator.shape().eligibility().nodes;
  size_t best_slot = 0;
  bool found = false;
  double best_score = 0;
  std::vector<ScoredNode> feasible;
  // Cached, only the nodes whose devices may host the job: the others cannot.
  std::vector<int32_t> candidate_slots;
  if (evaluator.shape().cached) {
    candidate_slots = evaluator.DevicePassingSlots(job);
  } else {
    candidate_slots.resize(eligible.size());
    std::iota(candidate_slots.begin(), candidate_slots.end(), 0);
  }
  for (const int32_t candidate_slot : candidate_slots) {
    const size_t slot = static_cast<size_t>(candidate_slot);
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
  if (runs) {
    feasible =
        ConsecutiveRunChoice(static_cast<size_t>(job->num_nodes), std::move(feasible), state);
    if (feasible.empty()) {
      *gang_reason = kReasonGangDoesNotFit;
      return std::nullopt;
    }
    if (job->num_nodes == 1) return MakeStart(job, std::move(feasible), state);
  }
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
  failure.message = Cat(std::max(fit, 0), "/", node_count, kPhraseNodesFit,
                        job->num_nodes > 1 ? Cat(" (need ", job->num_nodes, ")") : "");
  if (!gang_reason.empty()) failure.message += Cat(kPhraseGangBut, gang_reason);
  if (all.total() > 0 || gang_reason.empty()) {
    failure.message += Cat(gang_reason.empty() ? kPhraseTally : kPhraseNextPart, all.Describe());
  }
  return failure;
}

// What a start takes. An exclusive job takes its nodes whole (every free CPU and all
// memory), as Slurm allocates it, so nothing else is planned beside it this cycle;
// so does an --exclusive=user job (this cycle only: another user's job must not join
// it, and the next snapshot shows its node's owner).
std::vector<Holding> HoldingsOfStart(const Job& job, const JobStart& start,
                                     const ClusterState& state) {
  std::vector<Holding> holdings =
      ClusterState::HoldingsOf(start, job->cpus_per_node, job->memory_per_node_mib);
  if (job->exclusive || job->exclusive_user) {
    for (Holding& holding : holdings) {
      holding.cpus = std::max(holding.cpus, state.cpus_free(holding.node));
      holding.memory_mib = std::max(holding.memory_mib, state.memory_free(holding.node));
    }
  }
  return holdings;
}

// Work that will end at its time limit, and what it gives back then.
struct Ending {
  int64_t at = 0;
  std::vector<Holding> holdings;
};

// What node `holding.node` has left once the reserved job's `holding` is taken
// (`state` is the look-ahead's at its planned start).
Spare SpareAfter(const ClusterState& state, const Holding& holding) {
  const int n = holding.node;
  Spare left{0, state.cpus_free(n), state.memory_free(n), holding.pool, false};
  if (holding.pool < 0) {
    for (int pool = 0; pool < static_cast<int>(state.node(n).accelerators.size()); ++pool)
      left.devices += state.free_devices(n, pool);
    return left;
  }
  left.devices = state.free_devices(n, holding.pool);
  const model::AcceleratorPool& pool =
      state.node(n).accelerators[static_cast<size_t>(holding.pool)];
  const model::TopologyRule& rule = state.catalog().kind(pool.kind_index).rule;
  left.by_identity = rule.ShapesDevices() || !pool.device_groups.empty();
  return left;
}

// When could `job` start if running work ended at its time limits? Releases jobs
// in end order on a copy of the state and re-checks only the nodes each release
// touches; nodes held by earlier reservations are off limits. `spare` gets, per
// reserved node, what is left there once the job has started.
std::optional<Reservation> PlanReservation(const Job& job, const FineStatic& shape, ShapeBook& book,
                                           const ClusterState& state, const Pipeline& pipeline,
                                           const std::vector<Ending>& ends, const Holds& holds,
                                           Meter* meter, std::vector<Spare>* spare) {
  const Eligibility& eligibility = shape.eligibility();
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
  ShapeCache cache(future, pipeline, book, meter);
  Evaluator evaluator(cache, cache.For(shape));
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
    // Advanced reservations as they will be then: a maintenance window opening
    // before the job would end keeps it off. Not before now: a job past its time
    // limit (OverTimeLimit, KillWait) "ends" in the past, and a start there runs now.
    off_limits.now = std::max(at, holds.now);
    std::string_view gang_reason;
    if (auto start = Place(job, evaluator, future, &off_limits, &gang_reason)) {
      Reservation reservation{job->id, at, {}};
      spare->clear();
      for (const Holding& holding : HoldingsOfStart(job, *start, future)) {
        future.Take(holding);
        reservation.nodes.push_back(holding.node);
        spare->push_back(SpareAfter(future, holding));
      }
      return reservation;
    }
  }
  return std::nullopt;
}

// "preempting 2 jobs (17, 18) to start on n3" for the pending line.
std::string DescribePreemption(const Preemption& preemption, const ClusterState& state) {
  auto ids = [](const std::vector<uint32_t>& list) {
    std::string text;
    for (size_t i = 0; i < list.size() && i < 4; ++i) text += Cat(i > 0 ? ", " : "", list[i]);
    if (list.size() > 4) text += ", ...";
    return text;
  };
  std::string nodes;
  for (size_t i = 0; i < preemption.nodes.size() && i < 4; ++i) {
    nodes += Cat(i > 0 ? "," : "", state.node(preemption.nodes[i]).name);
  }
  if (preemption.nodes.size() > 4) nodes += ",...";
  if (preemption.victims.empty()) {
    return Cat(kPhraseAwaitingPreempted, preemption.awaiting.size(), " preempted job",
               preemption.awaiting.size() == 1 ? "" : "s", " (", ids(preemption.awaiting),
               ") to leave ", nodes);
  }
  return Cat(kPhrasePreempting, preemption.victims.size(), " job",
             preemption.victims.size() == 1 ? "" : "s", " (", ids(preemption.victims),
             ") to start on ", nodes);
}

// Running work the cycle may requeue to make room (reclaim, defragmentation), and
// work already being requeued. Victims are chosen per job that cannot start:
//  - work already draining counts as freed: if the job fits once it has gone, the
//    job waits for it and no further victim is chosen (the core keeps no state; the
//    snapshot says what is draining);
//  - else, per node the job may use, the fewest victims that let it fit there:
//    released youngest first (least work lost) until it fits, then each kept back
//    again, oldest first, when the job still fits without it;
//  - a single-node job takes the node with the fewest victims, then least work
//    lost; a gang (or a job with required nodes) the cheapest nodes that hold it
//    under the same rules as any start (one kind, SuperPoD, switch), so a placement
//    made by preemption is as legal as any other.
// Each victim chosen (or awaited) serves one job per cycle.
class Reclaimer {
 public:
  // `resolved`: what each running job of the snapshot holds (ResolveAll, made before
  // the cycle's starts, whose devices a stand-in guess must not take).
  Reclaimer(const model::Snapshot& snapshot, const std::vector<std::vector<Holding>>& resolved,
            const ClusterState& state, const PreemptionRules& rules)
      : victims_on_(static_cast<size_t>(state.node_count())),
        memo_(static_cast<size_t>(state.node_count())) {
    for (size_t r = 0; r < snapshot.running.size(); ++r) {
      const model::RunningJob& job = snapshot.running[r];
      if (!job.draining) {
        if (!job.requeueable || !rules.IsPreemptible(job)) continue;
        const int64_t exempt_until = std::max(job.preempt_exempt_until,
                                              model::AddTimes(job.start_time, rules.min_runtime_s));
        if (exempt_until > snapshot.now) continue;
      }
      Entry entry{job.id, job.start_time, 0, resolved[r], job.draining};
      int64_t devices_milli = 0;
      for (const Holding& holding : entry.holdings) {
        devices_milli += holding.fraction_milli > 0 ? holding.fraction_milli
                                                    : static_cast<int64_t>(holding.devices.size()) *
                                                          model::kMilliPerDevice;
      }
      const int64_t ran = std::max<int64_t>(0, snapshot.now - job.start_time);
      // Saturated: a job's allocations are many only in a hostile snapshot.
      entry.lost_device_s =
          devices_milli > 0 && ran > std::numeric_limits<int64_t>::max() / devices_milli
              ? std::numeric_limits<int64_t>::max() / model::kMilliPerDevice
              : ran * devices_milli / model::kMilliPerDevice;
      any_draining_ = any_draining_ || job.draining;
      entries_.push_back(std::move(entry));
    }
    for (size_t e = 0; e < entries_.size(); ++e) {
      if (entries_[e].draining) continue;
      for (const Holding& holding : entries_[e].holdings) {
        auto& on = victims_on_[static_cast<size_t>(holding.node)];
        if (on.empty() || on.back() != e) on.push_back(e);
      }
    }
    // Youngest first: the least progress lost; then the smallest; then by id.
    for (auto& on : victims_on_) {
      std::sort(on.begin(), on.end(), [&](size_t a, size_t b) {
        const Entry& x = entries_[a];
        const Entry& y = entries_[b];
        if (x.start != y.start) return x.start > y.start;
        if (x.lost_device_s != y.lost_device_s) return x.lost_device_s < y.lost_device_s;
        return x.id > y.id;
      });
    }
  }

  bool empty() const { return entries_.empty(); }

  // Room for `job` by preemption, or nullopt when none within `max_victims`.
  std::optional<Preemption> Plan(const Job& job, const FineStatic& statics, ShapeBook& book,
                                 const ClusterState& state, const Pipeline& pipeline,
                                 const Holds& holds, Meter* meter) {
    ClusterState future = state;
    released_.assign(entries_.size(), false);
    bool any_draining = false;
    for (size_t e = 0; e < entries_.size(); ++e) {
      if (entries_[e].draining && !entries_[e].claimed) {
        Release(future, e);
        any_draining = true;
      }
    }
    // Scored placement (the pipeline's Place) only where the choice needs it: with
    // draining work released, and for gangs; the per-node search asks only "fits?".
    std::optional<ShapeCache> cache;
    std::optional<Evaluator> evaluator;
    auto scored = [&]() -> Evaluator& {
      if (!evaluator) {
        cache.emplace(future, pipeline, book, meter);
        evaluator.emplace(*cache, cache->For(statics));
      }
      return *evaluator;
    };
    Holds off_limits = holds;  // never nodes held for another job
    off_limits.exclude_held = true;
    off_limits.harvesting = false;
    std::string_view gang_reason;
    if (any_draining) {
      if (auto start = Place(job, scored(), future, &off_limits, &gang_reason)) {
        Preemption awaited = Describe(job, NodesOf(*start, state), {}, state);
        if (awaited.awaiting.empty()) return std::nullopt;  // it did not need them: not ours
        return awaited;
      }
    }
    const auto& eligible = statics.eligibility().nodes;
    const size_t max_victims =
        static_cast<size_t>(std::max(pipeline.preemption.max_victims_per_job, 0));
    const bool single = job->num_nodes == 1 && job->required_nodes.empty();
    std::vector<NodeCost> costs;
    size_t fewest = std::numeric_limits<size_t>::max();  // victims on the best node so far
    int64_t least_lost_fewest = std::numeric_limits<int64_t>::max();  // of `fewest`-victim nodes
    const int wanted = WholeDevicesWanted(job);
    int64_t least_lost_single = std::numeric_limits<int64_t>::max();  // of one-victim nodes
    // A single-node job visits nodes by the least work any one victim there would lose:
    // once a node needs one victim losing no more than the next node's least, no later
    // node can do better (fewest victims, then least work lost), and the search stops.
    std::vector<std::pair<int64_t, int>> order;
    order.reserve(eligible.size());
    for (const int n : eligible) {
      int64_t least = std::numeric_limits<int64_t>::max();
      for (size_t e : victims_on_[static_cast<size_t>(n)]) {
        if (!entries_[e].claimed) least = std::min(least, entries_[e].lost_device_s);
      }
      order.emplace_back(single ? least : 0, n);
    }
    if (single) {
      std::stable_sort(order.begin(), order.end(),
                       [](const auto& a, const auto& b) { return a.first < b.first; });
    }
    for (const auto& entry : order) {
      // Not a structured binding: the lambdas below capture the node, and clang before
      // 16 (the sanitizer build) refuses to capture a binding.
      const int64_t least = entry.first;
      const int n = entry.second;
      if (fewest == 1 && least_lost_single <= least) break;
      if (!off_limits.Allows(job, n)) continue;
      // Branch and bound: a node is searched only when it can fit the job within
      // max_victims and, for a single-node job, can beat the best node so far (fewer
      // victims, or as many losing less work). The nodes skipped would have found no
      // set or a strictly worse one, so plans are as without the bound; the work meter
      // counts only the nodes searched, so a budget reaches further (the skips are a
      // function of the snapshot, so a budgeted cycle stays deterministic).
      const size_t needed = VictimsNeeded(job, n, future, wanted);
      if (needed > max_victims) continue;
      if (single && (needed > fewest || (needed == fewest && needed > 0 &&
                                         LeastLost(n, needed) > least_lost_fewest))) {
        continue;
      }
      NodeTrial trial(*this, job, statics, n, future, pipeline, meter);
      if (trial.Fits()) {
        costs.push_back({n, {}, 0});
        continue;
      }
      std::vector<size_t> taken;
      bool fitted = false;
      for (size_t e : victims_on_[static_cast<size_t>(n)]) {
        if (entries_[e].claimed || trial.released(e)) continue;
        if (taken.size() >= max_victims) break;
        trial.Release(e);
        taken.push_back(e);
        if ((fitted = trial.Fits())) break;
      }
      if (fitted) KeepBackUnneeded(trial, taken);
      for (size_t e : taken) trial.Restore(e);
      // A single-node job already has a node with one victim: no search here beats it.
      if (fitted && taken.size() > 1 && (!single || fewest > 1)) {
        if (auto fewer = FewestOn(trial, n, taken.size())) taken = std::move(*fewer);
      }
      if (fitted) {
        int64_t lost = 0;
        for (size_t e : taken) lost += entries_[e].lost_device_s;
        if (taken.size() < fewest) least_lost_fewest = lost;
        if (taken.size() == fewest) least_lost_fewest = std::min(least_lost_fewest, lost);
        fewest = std::min(fewest, taken.size());
        if (taken.size() == 1) {
          least_lost_single = std::min(least_lost_single, entries_[taken[0]].lost_device_s);
        }
        costs.push_back({n, std::move(taken), 0});
      }
    }
    for (NodeCost& cost : costs) {
      for (size_t e : cost.victims) cost.lost += entries_[e].lost_device_s;
    }
    std::sort(costs.begin(), costs.end(), [&](const NodeCost& a, const NodeCost& b) {
      if (a.victims.size() != b.victims.size()) return a.victims.size() < b.victims.size();
      if (a.lost != b.lost) return a.lost < b.lost;
      return state.name_rank(a.node) < state.name_rank(b.node);
    });
    if (single) {
      for (const NodeCost& cost : costs) {
        if (!cost.victims.empty()) return Describe(job, {cost.node}, cost.victims, state);
      }
      return std::nullopt;
    }
    return PlanGang(job, scored(), future, off_limits, costs, max_victims, state);
  }

  // The victims and awaited jobs of `preemption` serve no other job this cycle.
  void Claim(const Preemption& preemption) {
    for (const auto* ids : {&preemption.victims, &preemption.awaiting}) {
      for (uint32_t id : *ids) {
        for (Entry& entry : entries_) {
          if (entry.id == id) entry.claimed = true;
        }
      }
    }
  }

 private:
  struct Entry {
    uint32_t id = 0;
    int64_t start = 0;
    int64_t lost_device_s = 0;
    std::vector<Holding> holdings;
    bool draining = false;
    bool claimed = false;
  };
  struct NodeCost {
    int node = -1;
    std::vector<size_t> victims;  // entries, youngest first
    int64_t lost = 0;
  };

  // Whole devices the job needs on a node; 0 for a share, shards or none (no shortcut).
  static int WholeDevicesWanted(const Job& job) {
    const model::AcceleratorRequest& request = job->accelerators;
    if (!request.WantsDevices() || request.IsFractional() || request.WantsShards()) return 0;
    return request.count_per_node;
  }
  // The most free devices in one pool of node n that the job's request allows.
  static int MostFreeAllowed(const Job& job, int n, const ClusterState& future) {
    const auto& pools = future.node(n).accelerators;
    int most = 0;
    for (size_t p = 0; p < pools.size(); ++p) {
      if (job->accelerators.Allows(pools[p])) {
        most = std::max(most, future.free_devices(n, static_cast<int>(p)));
      }
    }
    return most;
  }

  // At least how many of node n's open victims the job needs there: releasing one
  // frees no more devices than it holds in a pool, and the job's whole devices come
  // from one pool. 0 when the devices are free already or the job wants no whole
  // devices; SIZE_MAX when releasing every open victim leaves too few.
  size_t VictimsNeeded(const Job& job, int n, const ClusterState& future, int wanted) {
    if (wanted <= 0) return 0;
    const auto& pools = future.node(n).accelerators;
    size_t least = std::numeric_limits<size_t>::max();
    auto& held = scratch_.held;
    for (size_t p = 0; p < pools.size(); ++p) {
      if (!job->accelerators.Allows(pools[p])) continue;
      int missing = wanted - future.free_devices(n, static_cast<int>(p));
      if (missing <= 0) return 0;
      held.clear();
      for (size_t e : victims_on_[static_cast<size_t>(n)]) {
        if (entries_[e].claimed || released_[e]) continue;
        int devices = 0;
        for (const Holding& holding : entries_[e].holdings) {
          if (holding.node == n && holding.pool == static_cast<int>(p)) {
            devices += static_cast<int>(holding.devices.size());
          }
        }
        if (devices > 0) held.push_back(devices);
      }
      std::sort(held.begin(), held.end(), std::greater<>());
      size_t count = 0;
      for (; count < held.size() && missing > 0; ++count) missing -= held[count];
      if (missing <= 0) least = std::min(least, count);
    }
    return least;
  }
  // The least work any `count` of node n's open victims lose together.
  int64_t LeastLost(int n, size_t count) {
    auto& lost = scratch_.lost;
    lost.clear();
    for (size_t e : victims_on_[static_cast<size_t>(n)]) {
      if (!entries_[e].claimed && !released_[e]) lost.push_back(entries_[e].lost_device_s);
    }
    if (lost.size() < count) return std::numeric_limits<int64_t>::max();
    std::partial_sort(lost.begin(), lost.begin() + static_cast<std::ptrdiff_t>(count), lost.end());
    int64_t sum = 0;
    for (size_t i = 0; i < count; ++i) sum += lost[i];
    return sum;
  }

  // Whether node n can host the job on `future`: the dynamic filters and the device
  // rules, as a start would need (the static ones made the node eligible).
  static bool FitsNow(const Job& job, int n, const ClusterState& future, const Pipeline& pipeline,
                      Meter* meter) {
    if (meter != nullptr) meter->Spend(1);
    for (const auto& filter : pipeline.filters) {
      if (filter->stage() == FilterStage::kDynamic && !filter->Reject(job, n, future).empty()) {
        return false;
      }
    }
    std::string_view reason;
    return !DeviceCandidates(job, n, future, &reason).empty();
  }

  void Release(ClusterState& future, size_t e) {
    if (released_[e]) return;
    released_[e] = true;
    for (const Holding& holding : entries_[e].holdings) future.Give(holding);
  }
  void Restore(ClusterState& future, size_t e) {
    if (!released_[e]) return;
    released_[e] = false;
    for (const Holding& holding : entries_[e].holdings) future.Take(holding);
  }
  // Never more than needed: each victim, oldest first, stays when the job fits without it.
  // `trial`: Release(e), Restore(e) and Fits() on the state being searched.
  template <typename Trial>
  static void KeepBackUnneeded(Trial& trial, std::vector<size_t>& victims) {
    for (size_t i = victims.size(); i-- > 0;) {
      trial.Restore(victims[i]);
      if (trial.Fits()) {
        victims.erase(victims.begin() + static_cast<std::ptrdiff_t>(i));
      } else {
        trial.Release(victims[i]);
      }
    }
  }
  // FitsNow's answer on a node with one set of its victims released.
  struct Verdict {
    uint64_t mask = 0;
    bool fits = false;
  };
  struct Scratch;
  struct NodeMemo {
    const FineStatic* statics = nullptr;  // the shape whose verdicts these are
    uint32_t version = 0;                 // of the node then
    std::vector<Verdict> verdicts;
  };

  // `future` itself as a trial, with `fits` for the verdict (a gang's chosen nodes).
  template <typename Check>
  struct FutureTrial {
    Reclaimer& reclaimer;
    ClusterState& future;
    Check fits;
    void Release(size_t e) { reclaimer.Release(future, e); }
    void Restore(size_t e) { reclaimer.Restore(future, e); }
    bool Fits() { return fits(); }
  };

  // One node's search in Plan: which of its victims are released, and whether the
  // job fits so. Each release and restore goes to `future` as it comes, unless the
  // node allows a shortcut: when its victims hold nowhere else and releasing all of
  // them at once clamps nothing (their holdings add up, as a consistent snapshot's
  // do), the node's free resources depend only on which of them are released. Then
  // "enough devices?" is counted on a copy of the node's pools, each set's verdict is
  // asked once (the meter still counts every ask, as before), and `future` gets a
  // set's resources only when the filters and device rules must read them. The
  // hosted_requests() count follows each release and restore on a copy, put back
  // at the end, so scorers read the same `future` afterwards.
  class NodeTrial {
   public:
    NodeTrial(Reclaimer& reclaimer, const Job& job, const FineStatic& statics, int n,
              ClusterState& future, const Pipeline& pipeline, Meter* meter)
        : r_(reclaimer),
          job_(job),
          n_(n),
          future_(future),
          pipeline_(pipeline),
          meter_(meter),
          on_(reclaimer.victims_on_[static_cast<size_t>(n)]),
          wanted_(WholeDevicesWanted(job)),
          scratch_(reclaimer.scratch_),
          verdicts_(reclaimer.memo_[static_cast<size_t>(n)].verdicts) {
      fast_ = Shortcut();
      // Verdicts of an earlier job's trial here hold while the node is as it was
      // then (its version) and the job is of the same shape (the engine's caches
      // rest on the same: a fine shape's verdict on a node is its jobs' verdict).
      // Work being requeued is released on each copy of the state and may be
      // claimed between jobs: then verdicts serve one trial only.
      NodeMemo& memo = reclaimer.memo_[static_cast<size_t>(n)];
      const uint32_t version = future.version(n);
      if (!fast_ || r_.any_draining_ || memo.statics != &statics || memo.version != version) {
        memo.statics = &statics;
        memo.version = version;
        verdicts_.clear();
      }
    }
    ~NodeTrial() {
      Apply(0);
      if (fast_) future_.SetHosted(n_, scratch_.hosted);
    }
    NodeTrial(const NodeTrial&) = delete;
    NodeTrial& operator=(const NodeTrial&) = delete;

    bool released(size_t e) const { return fast_ ? (mask_ & Bit(e)) != 0 : r_.released_[e]; }
    void Release(size_t e) {
      if (!fast_) return r_.Release(future_, e);
      if ((mask_ & Bit(e)) != 0) return;
      mask_ |= Bit(e);
      for (const Holding& holding : r_.entries_[e].holdings) {
        if (holding.pool >= 0) ClusterState::CountHosted(scratch_.hosted, holding, -1);
      }
    }
    void Restore(size_t e) {
      if (!fast_) return r_.Restore(future_, e);
      if ((mask_ & Bit(e)) == 0) return;
      mask_ &= ~Bit(e);
      for (const Holding& holding : r_.entries_[e].holdings) {
        if (holding.pool >= 0) ClusterState::CountHosted(scratch_.hosted, holding, +1);
      }
    }
    bool Fits() {
      if (!fast_) {
        return MostFreeAllowed(job_, n_, future_) >= wanted_ &&
               FitsNow(job_, n_, future_, pipeline_, meter_);
      }
      if (!Enough()) return false;
      for (const Verdict& verdict : verdicts_) {
        if (verdict.mask != mask_) continue;
        if (meter_ != nullptr) meter_->Spend(1);  // as FitsNow would
        return verdict.fits;
      }
      Apply(mask_);
      const Verdict verdict{mask_, FitsNow(job_, n_, future_, pipeline_, meter_)};
      verdicts_.push_back(verdict);
      return verdict.fits;
    }

   private:
    uint64_t Bit(size_t e) const {
      for (size_t i = 0; i < on_.size(); ++i) {
        if (on_[i] == e) return uint64_t{1} << i;
      }
      return 0;  // not a victim here: Plan releases only victims of the node
    }

    // Whether the node's state is a function of the released set (see the class),
    // and the copy of its pools that Enough() counts on.
    bool Shortcut() {
      if (on_.size() > 64) return false;
      const auto& pools = future_.node(n_).accelerators;
      auto& begin = scratch_.pool_begin;  // per pool of the node, into `used`
      auto& used = scratch_.used;
      begin.clear();
      used.clear();
      for (size_t p = 0; p < pools.size(); ++p) {
        if (pools[p].HasShards()) return false;
        begin.push_back(used.size());
        const std::span<const int> milli = future_.used_milli(n_, static_cast<int>(p));
        used.insert(used.end(), milli.begin(), milli.end());
      }
      begin.push_back(used.size());
      auto& freed = scratch_.freed;  // (index into `used`, milli) per victim, flat
      auto& freed_begin = scratch_.freed_begin;
      freed.clear();
      freed_begin.clear();
      int64_t cpus = future_.cpus_free(n_);
      int64_t memory = future_.memory_free(n_);
      if (cpus < 0 || memory < 0) return false;
      for (size_t e : on_) {
        if (r_.released_[e]) return false;
        freed_begin.push_back(freed.size());
        for (const Holding& holding : r_.entries_[e].holdings) {
          if (holding.node != n_ || holding.cpus < 0 || holding.memory_mib < 0) return false;
          cpus += holding.cpus;
          memory += holding.memory_mib;
          if (holding.pool < 0) continue;
          if (!holding.device_shards.empty()) return false;
          const auto pool = static_cast<size_t>(holding.pool);
          const int size = static_cast<int>(begin[pool + 1] - begin[pool]);
          const int share =
              holding.fraction_milli > 0 ? holding.fraction_milli : model::kMilliPerDevice;
          for (int device : holding.devices) {
            if (device < 0 || device >= size) continue;  // as ClusterState skips it
            freed.emplace_back(begin[pool] + static_cast<size_t>(device), share);
          }
        }
      }
      freed_begin.push_back(freed.size());
      const model::Node& node = future_.node(n_);
      if (cpus > node.cpus_total || memory > node.memory_total_mib) return false;
      // Every victim released at once leaves each device between 0 and full.
      auto& left = scratch_.left;
      left = used;
      for (const auto& [at, milli] : freed) left[at] -= milli;
      for (size_t at = 0; at < used.size(); ++at) {
        if (left[at] < 0 || used[at] > model::kMilliPerDevice) return false;
      }
      const auto hosted = future_.hosted_requests(n_);
      scratch_.hosted.assign(hosted.begin(), hosted.end());
      scratch_.allowed.clear();
      for (size_t p = 0; p < pools.size() && wanted_ > 0; ++p) {
        if (job_->accelerators.Allows(pools[p])) scratch_.allowed.push_back(p);
      }
      return true;
    }

    // MostFreeAllowed(...) >= wanted_ on the node with the released set freed.
    bool Enough() {
      if (wanted_ <= 0) return true;
      auto& left = scratch_.left;
      left = scratch_.used;
      for (size_t i = 0; i < on_.size(); ++i) {
        if ((mask_ & (uint64_t{1} << i)) == 0) continue;
        for (size_t f = scratch_.freed_begin[i]; f < scratch_.freed_begin[i + 1]; ++f) {
          left[scratch_.freed[f].first] -= scratch_.freed[f].second;
        }
      }
      for (size_t p : scratch_.allowed) {
        const auto first = left.begin() + static_cast<std::ptrdiff_t>(scratch_.pool_begin[p]);
        const auto last = left.begin() + static_cast<std::ptrdiff_t>(scratch_.pool_begin[p + 1]);
        if (std::count(first, last, 0) >= wanted_) return true;
      }
      return false;
    }

    // Brings `future`'s resources to the released set `target` (fast trials only).
    void Apply(uint64_t target) {
      for (size_t i = 0; i < on_.size() && applied_ != target; ++i) {
        const uint64_t bit = uint64_t{1} << i;
        if (((applied_ ^ target) & bit) == 0) continue;
        for (const Holding& holding : r_.entries_[on_[i]].holdings) {
          if ((target & bit) != 0) {
            future_.GiveResources(holding);
          } else {
            future_.TakeResources(holding);
          }
        }
        applied_ ^= bit;
      }
    }

    Reclaimer& r_;
    const Job& job_;
    const int n_;
    ClusterState& future_;
    const Pipeline& pipeline_;
    Meter* const meter_;
    const std::vector<size_t>& on_;  // the node's victims, youngest first; bit i: on_[i]
    const int wanted_;
    Scratch& scratch_;
    std::vector<Verdict>& verdicts_;  // by released set; this node's, across jobs
    bool fast_ = false;
    uint64_t mask_ = 0;     // released, as Plan sees it
    uint64_t applied_ = 0;  // released on `future`'s resources
  };

  // Releasing youngest first can take two victims where one older one would do (an
  // HCCS ring freed by one job, not by two on the other ring): tries every single
  // victim on node n, then every pair (up to 16 victims there), youngest first, for
  // fewer than `found`.
  std::optional<std::vector<size_t>> FewestOn(NodeTrial& trial, int n, size_t found) {
    std::vector<size_t> open;
    for (size_t e : victims_on_[static_cast<size_t>(n)]) {
      if (!entries_[e].claimed && !trial.released(e)) open.push_back(e);
    }
    // Up to 120 pairs per node: the set is a list on the stack, a vector only once found.
    auto works = [&](std::initializer_list<size_t> set) {
      for (size_t e : set) trial.Release(e);
      const bool fitted = trial.Fits();
      for (size_t e : set) trial.Restore(e);
      return fitted;
    };
    for (size_t a = 0; a < open.size(); ++a) {
      if (works({open[a]})) return std::vector<size_t>{open[a]};
    }
    if (found <= 2 || open.size() > 16) return std::nullopt;
    for (size_t a = 0; a < open.size(); ++a) {
      for (size_t b = a + 1; b < open.size(); ++b) {
        if (works({open[a], open[b]})) return std::vector<size_t>{open[a], open[b]};
      }
    }
    return std::nullopt;
  }

  // The cheapest nodes first, widening until the gang's rules can be met there.
  std::optional<Preemption> PlanGang(const Job& job, Evaluator& evaluator, ClusterState& future,
                                     const Holds& off_limits, const std::vector<NodeCost>& costs,
                                     size_t max_victims, const ClusterState& state) {
    const size_t wanted = static_cast<size_t>(std::max(job->num_nodes, 1));
    std::vector<const NodeCost*> cost_of(static_cast<size_t>(state.node_count()), nullptr);
    for (const NodeCost& cost : costs) cost_of[static_cast<size_t>(cost.node)] = &cost;
    const auto& eligible = evaluator.shape().eligibility().nodes;
    std::vector<int> slot_of(static_cast<size_t>(state.node_count()), -1);
    for (size_t slot = 0; slot < eligible.size(); ++slot) {
      slot_of[static_cast<size_t>(eligible[slot])] = static_cast<int>(slot);
    }
    size_t opened = 0;
    size_t prefix = std::min(wanted, costs.size());
    while (prefix <= costs.size() && prefix >= wanted) {
      for (; opened < prefix; ++opened) {
        for (size_t e : costs[opened].victims) Release(future, e);
      }
      std::string_view gang_reason;
      if (auto start = Place(job, evaluator, future, &off_limits, &gang_reason)) {
        const std::vector<int> nodes = NodesOf(*start, state);
        std::vector<bool> chosen(static_cast<size_t>(state.node_count()), false);
        for (int n : nodes) chosen[static_cast<size_t>(n)] = true;
        std::vector<size_t> victims;
        for (size_t e = 0; e < entries_.size(); ++e) {
          if (!released_[e] || entries_[e].draining) continue;
          const bool touches = std::any_of(
              entries_[e].holdings.begin(), entries_[e].holdings.end(),
              [&](const Holding& holding) { return chosen[static_cast<size_t>(holding.node)]; });
          if (touches) {
            victims.push_back(e);
          } else {
            Restore(future, e);
          }
        }
        // Youngest first, as KeepBackUnneeded expects.
        std::sort(victims.begin(), victims.end(), [&](size_t a, size_t b) {
          return entries_[a].start != entries_[b].start ? entries_[a].start > entries_[b].start
                                                        : entries_[a].id > entries_[b].id;
        });
        auto all_fit = [&] {
          return std::all_of(nodes.begin(), nodes.end(), [&](int n) {
            return evaluator.Get(job, static_cast<size_t>(slot_of[static_cast<size_t>(n)])).fits();
          });
        };
        FutureTrial<decltype(all_fit)> trial{*this, future, all_fit};
        KeepBackUnneeded(trial, victims);
        if (victims.empty() || victims.size() > max_victims) return std::nullopt;
        return Describe(job, nodes, victims, state);
      }
      if (prefix == costs.size()) break;
      // Widening by half each time: a few scored passes, however many nodes.
      prefix = std::min(costs.size(), prefix + std::max<size_t>(1, prefix / 2));
    }
    return std::nullopt;
  }

  static std::vector<int> NodesOf(const JobStart& start, const ClusterState& state) {
    std::vector<int> nodes;
    for (const NodePlacement& placement : start.placements) nodes.push_back(placement.node);
    std::sort(nodes.begin(), nodes.end(),
              [&](int a, int b) { return state.name_rank(a) < state.name_rank(b); });
    return nodes;
  }

  // The preemption for `job` on `nodes`: the victims, and what already drains there.
  Preemption Describe(const Job& job, std::vector<int> nodes, const std::vector<size_t>& victims,
                      const ClusterState& state) const {
    Preemption preemption;
    preemption.job_id = job->id;
    std::vector<bool> chosen(static_cast<size_t>(state.node_count()), false);
    for (int n : nodes) chosen[static_cast<size_t>(n)] = true;
    for (size_t e : victims) {
      preemption.victims.push_back(entries_[e].id);
      preemption.lost_device_s += entries_[e].lost_device_s;
    }
    for (const Entry& entry : entries_) {
      if (!entry.draining || entry.claimed) continue;
      if (std::any_of(entry.holdings.begin(), entry.holdings.end(), [&](const Holding& holding) {
            return chosen[static_cast<size_t>(holding.node)];
          })) {
        preemption.awaiting.push_back(entry.id);
      }
    }
    std::sort(preemption.victims.begin(), preemption.victims.end());
    std::sort(preemption.awaiting.begin(), preemption.awaiting.end());
    preemption.nodes = std::move(nodes);
    return preemption;
  }

  // NodeTrial's buffers, kept across nodes and jobs.
  struct Scratch {
    std::vector<std::pair<int, int>> hosted;  // the node's hosted_requests() as released
    std::vector<size_t> pool_begin;
    std::vector<int> used;
    std::vector<int> left;
    std::vector<std::pair<size_t, int>> freed;
    std::vector<size_t> freed_begin;
    std::vector<size_t> allowed;
    std::vector<int> held;      // VictimsNeeded: devices per open victim in one pool
    std::vector<int64_t> lost;  // LeastLost
  };

  std::vector<Entry> entries_;
  std::vector<std::vector<size_t>> victims_on_;  // per node: entries, youngest first
  std::vector<bool> released_;                   // per entry, during one Plan
  bool any_draining_ = false;
  Scratch scratch_;
  std::vector<NodeMemo> memo_;  // per node: NodeTrial verdicts
};

}  // namespace

struct PlacementCache::Impl {
  Impl(const ClusterState& state, const Pipeline& pipeline, const CycleState* cycle)
      : book(state, pipeline, nullptr, cycle), shapes(state, pipeline, book, nullptr) {}
  ShapeBook book;
  ShapeCache shapes;
};

PlacementCache::PlacementCache(const ClusterState& state, const Pipeline& pipeline,
                               const CycleState* cycle)
    : impl_(std::make_unique<Impl>(state, pipeline, cycle)) {}
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
  job.preemptible = pipeline.preemption.enabled() && pipeline.preemption.IsPreemptible(request);
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
  if (cache == nullptr) cache = &local.emplace(state, pipeline, job_in.cycle);
  Job job = job_in;
  FineShape& shape = cache->impl().shapes.For(job);
  Evaluator evaluator(cache->impl().shapes, shape);
  std::string_view gang_reason;
  auto start = Place(job, evaluator, state, nullptr, &gang_reason);
  if (!start && failure != nullptr) {
    const ReasonTally dynamic = TallyRejections(job, evaluator, nullptr);
    *failure = DescribeFailure(job, state.node_count(), shape.eligibility(), dynamic, gang_reason);
  }
  return start;
}

Plan Schedule(const model::Snapshot& snapshot, const model::Catalog& catalog,
              const Pipeline& pipeline, const WorkBudget& budget) {
  Plan plan;
  ClusterState state(snapshot, catalog);
  // Once per cycle: what scorers derive from the whole queue stays fixed while it is placed.
  const CycleState cycle = PreScoreCycle(snapshot, pipeline.scorers);

  std::vector<Job> queue;
  queue.reserve(snapshot.pending.size());
  for (const auto& request : snapshot.pending)
    queue.push_back(MakeJob(request, pipeline, snapshot.now));
  const PreemptionRules& preemption = pipeline.preemption;
  // Harvest: preemptible work takes only what every other pending job has left.
  const bool harvest = preemption.enabled() && preemption.harvest;
  std::sort(queue.begin(), queue.end(), [harvest](const Job& a, const Job& b) {
    if (harvest && a.preemptible != b.preemptible) return b.preemptible;
    if (a.effective_priority != b.effective_priority)
      return a.effective_priority > b.effective_priority;
    if (a->submit_time != b->submit_time) return a->submit_time < b->submit_time;
    return a->id < b->id;
  });

  // Running work in the order it will end, for reservations; jobs started this
  // cycle join it as they start. Unlimited jobs never give anything back.
  std::vector<Ending> ends;
  ends.reserve(snapshot.running.size());
  // What each running job holds, read before this cycle's starts change the state.
  const std::vector<std::vector<Holding>> resolved = state.ResolveAll();
  for (size_t r = 0; r < snapshot.running.size(); ++r) {
    const model::RunningJob& running = snapshot.running[r];
    if (running.time_limit_s > 0) {
      ends.push_back({model::AddTimes(running.start_time, running.time_limit_s), resolved[r]});
    }
  }
  size_t ends_sorted = 0;  // how many of `ends` are in order
  // The cluster once every job with a time limit has ended. Jobs started this cycle
  // end there too, so it stays the same all cycle: a job that does not fit there,
  // off the held nodes, can get no reservation, and the look-ahead is skipped.
  ClusterState horizon = state;
  for (const Ending& ending : ends) {
    for (const Holding& holding : ending.holdings) horizon.Give(holding);
  }

  Meter meter(&budget);
  Holds holds = MakeHolds(snapshot, state);
  ShapeBook book(state, pipeline, &meter, &cycle);
  ShapeCache shapes(state, pipeline, book, &meter);
  ShapeCache horizon_shapes(horizon, pipeline, book, &meter);
  auto may_fit_later = [&](const Job& job_copy, const FineStatic& statics) {
    Evaluator at_horizon(horizon_shapes, horizon_shapes.For(statics));
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
    bool reclaim_tried = false;
    PlacementFailure failure;
  };
  // Jobs that may make room by preemption; victims are looked up on the first need.
  auto may_reclaim = [&](const Job& job) {
    return preemption.enabled() && !job.preemptible && preemption.MayReclaim(job.job_class);
  };
  auto waited_enough = [&](const Job& job) {
    return model::AddTimes(job->submit_time, preemption.reclaim_after_s) <= snapshot.now;
  };
  std::optional<Reclaimer> reclaimer;
  int reclaims = 0;
  std::unordered_map<const FineShape*, Failed> failed_shapes;
  std::vector<Spare> spare;  // scratch for PlanReservation
  const int limit = pipeline.limits.max_jobs_per_cycle;
  for (size_t q = 0; q < queue.size(); ++q) {
    Job& job = queue[q];
    if (limit > 0 && static_cast<int>(q) >= limit) {
      plan.pending.push_back({job->id, PendingCode::kCycleLimit,
                              Cat(kPhraseNotEvaluated, "beyond the first ", limit, " jobs")});
      continue;
    }
    if (meter.Exhausted()) {
      plan.pending.push_back(
          {job->id, PendingCode::kCycleLimit, Cat(kPhraseNotEvaluated, meter.why())});
      continue;
    }
    const FineStatic& statics = book.For(job);
    FineShape& shape = shapes.For(statics);
    Evaluator evaluator(shapes, shape);

    const bool reclaim_possible =
        may_reclaim(job) && waited_enough(job) && reclaims < preemption.max_reclaims_per_cycle;
    holds.harvesting = harvest && job.preemptible;
    if (auto failed = failed_shapes.find(&shape);
        failed != failed_shapes.end() &&
        (!failed->second.holds_mattered ||
         (failed->second.time_limit_s == job.time_limit_s && !holds.harvesting)) &&
        (failed->second.reclaim_tried || !reclaim_possible)) {
      plan.pending.push_back(
          {job->id, failed->second.failure.code, failed->second.failure.message});
      continue;
    }
    std::string_view gang_reason;
    auto start = Place(job, evaluator, state, &holds, &gang_reason);
    if (start) {
      holds.harvesting = false;
      std::vector<Holding> holdings = HoldingsOfStart(job, *start, state);
      const int64_t end = model::AddTimes(snapshot.now, job.time_limit_s);
      for (const Holding& holding : holdings) {
        state.Take(holding);
        holds.Started(job, holding, end);
      }
      ends.push_back({model::AddTimes(snapshot.now, job.time_limit_s), std::move(holdings)});
      plan.starts.push_back(std::move(*start));
      continue;
    }
    const ReasonTally dynamic = TallyRejections(job, evaluator, &holds);
    holds.harvesting = false;
    PlacementFailure failure =
        DescribeFailure(job, state.node_count(), shape.eligibility(), dynamic, gang_reason);
    const bool reclaim_tried = reclaim_possible && failure.code != PendingCode::kNeverFits;
    if (reclaim_tried) {
      ++reclaims;  // tries, not only successes: each costs a pass over the nodes
      if (!reclaimer) reclaimer.emplace(snapshot, resolved, state, preemption);
      if (auto room = reclaimer->empty()
                          ? std::nullopt
                          : reclaimer->Plan(job, statics, book, state, pipeline, holds, &meter)) {
        reclaimer->Claim(*room);
        // Held from now: nothing else starts there, harvest included.
        for (int n : room->nodes) holds.Hold(n, snapshot.now, false);
        failure.message = Cat(failure.message, kPhraseNextPart, DescribePreemption(*room, state));
        plan.pending.push_back({job->id, failure.code, failure.message});
        plan.preemptions.push_back(std::move(*room));
        continue;  // the next job of its shape may make room of its own
      }
    }
    if (failure.code != PendingCode::kNeverFits &&
        static_cast<int>(plan.reservations.size()) < pipeline.limits.max_reservations &&
        may_fit_later(job, statics)) {
      if (ends_sorted < ends.size()) {
        // Sort what started since and merge it in: the same order as sorting all
        // (both stable), without re-sorting thousands of running jobs each time.
        const auto by_end = [](const Ending& a, const Ending& b) { return a.at < b.at; };
        const auto middle = ends.begin() + static_cast<std::ptrdiff_t>(ends_sorted);
        std::stable_sort(middle, ends.end(), by_end);
        std::inplace_merge(ends.begin(), middle, ends.end(), by_end);
        ends_sorted = ends.size();
      }
      auto reservation =
          PlanReservation(job, statics, book, state, pipeline, ends, holds, &meter, &spare);
      // Slurm's bf_window: a start further out than the window is not planned at all.
      if (reservation && pipeline.limits.reservation_window_s > 0 &&
          reservation->planned_start - snapshot.now > pipeline.limits.reservation_window_s) {
        reservation.reset();
      }
      if (reservation) {
        // A job that can reclaim its nodes by preemption lets harvest use them meanwhile.
        const bool reclaimable = harvest && may_reclaim(job);
        for (size_t i = 0; i < reservation->nodes.size(); ++i) {
          holds.Hold(reservation->nodes[i], reservation->planned_start, reclaimable,
                     pipeline.limits.reservations_hold_whole_nodes ? Spare{} : spare[i]);
        }
        // An absolute time: the line stays the same cycle after cycle, so the
        // plugin does not rewrite the job record (and wake every client) each second.
        failure.message = Cat(failure.message, kPhraseNextPart, kPhraseReservedStart,
                              UtcTime(reservation->planned_start));
        plan.reservations.push_back(std::move(*reservation));
        plan.pending.push_back({job->id, failure.code, failure.message});
        continue;  // its own shape may still fit elsewhere for later jobs
      }
    }
    plan.pending.push_back({job->id, failure.code, failure.message});
    // Advanced reservations hold by time limit too: a shorter job may fit before one.
    const bool holds_mattered =
        dynamic.count(kReasonHeld) > 0 || dynamic.count(kReasonAdvancedReservation) > 0;
    failed_shapes[&shape] =
        Failed{job.time_limit_s, holds_mattered, reclaim_tried, std::move(failure)};
  }
  plan.work_budget_ran_out = meter.over_budget();
  plan.shape_table_full = meter.shape_table_full();
  plan.usage = UsageByKind(state, snapshot, catalog, plan);
  return plan;
}

}  // namespace accelpack::engine
