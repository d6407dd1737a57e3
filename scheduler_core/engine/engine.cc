#include "engine/engine.h"

#include <algorithm>
#include <cmath>
#include <ctime>
#include <limits>
#include <map>
#include <unordered_map>

#include "common/strings.h"
#include "engine/reason.h"
#include "model/topology.h"

namespace accelpack::engine {

namespace {

constexpr int64_t kOneYear = 365LL * 24 * 3600;

// "2026-11-29T04:00:00Z": a pure conversion, no clock read.
std::string UtcTime(int64_t unix_seconds) {
  const std::time_t time = static_cast<std::time_t>(unix_seconds);
  std::tm parts{};
  if (gmtime_r(&time, &parts) == nullptr) return Cat(unix_seconds);
  char text[32];
  std::strftime(text, sizeof(text), "%Y-%m-%dT%H:%M:%SZ", &parts);
  return text;
}
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
  if (candidates.empty()) {
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

// One node's verdict for one job shape, valid while the node's version holds.
struct NodeEval {
  uint32_t version = 0;
  bool valid = false;
  std::string_view reason;  // empty: fits
  Candidate best;
  double score = 0;
};

void Evaluate(const Job& job, int n, const ClusterState& state, const Pipeline& pipeline,
              NodeEval& eval) {
  eval.valid = true;
  eval.version = state.version(n);
  eval.reason = {};
  for (const auto& filter : pipeline.filters) {
    if (filter->stage() != FilterStage::kDynamic) continue;
    eval.reason = filter->Reject(job, n, state);
    if (!eval.reason.empty()) return;
  }
  std::vector<Candidate> candidates = DeviceCandidates(job, n, state, &eval.reason);
  if (!eval.reason.empty()) return;
  size_t best = 0;
  double best_score = -std::numeric_limits<double>::infinity();
  for (size_t c = 0; c < candidates.size(); ++c) {
    const double score = WeightedScore(job, candidates[c], state, pipeline);
    if (score > best_score) {
      best = c;
      best_score = score;
    }
  }
  eval.best = std::move(candidates[best]);
  eval.score = best_score;
}

// Nodes held for reserved jobs: a job may use one only if it ends before the
// reserved start (EASY backfill on time limits).
struct Holds {
  std::vector<int64_t> reserved_start;  // per node; kNoReservation if free
  int64_t now = 0;

  bool Allows(const Job& job, int n) const {
    const int64_t start = reserved_start[static_cast<size_t>(n)];
    return start == kNoReservation || model::AddTimes(now, job.time_limit_s) <= start;
  }
};

// The static filters' verdict for one job shape, shared by every job of that shape.
struct Eligibility {
  std::vector<int> nodes;  // in name order
  ReasonTally rejected;
};

Eligibility ComputeEligibility(const Job& job, const ClusterState& state,
                               const Pipeline& pipeline) {
  Eligibility result;
  for (int n : state.nodes_by_name()) {
    std::string_view reason;
    for (const auto& filter : pipeline.filters) {
      if (filter->stage() != FilterStage::kStatic) continue;
      reason = filter->Reject(job, n, state);
      if (!reason.empty()) break;
    }
    if (reason.empty()) {
      result.nodes.push_back(n);
    } else {
      result.rejected.Add(reason);
    }
  }
  return result;
}

// Everything a job's shape decides: plugins that DependsOnlyOnShape() read only these.
std::string ShapeKey(const model::PendingJob& job) {
  const auto& acc = job.accelerators;
  return Cat(Join(job.partitions, ","), "|", Join(job.features, ","), "|", acc.gres_name, ":",
             Join(acc.allowed_types, ","), ":", acc.count_per_node, ":", acc.fraction_milli, "|",
             job.cpus_per_node, "|", job.memory_per_node_mib, "|", job.num_nodes, "|",
             Join(job.required_nodes, ","), "|", Join(job.excluded_nodes, ","), "|", job.qos, "|",
             static_cast<int>(job.job_class));
}

// Evaluations of every node for one job shape; reused across the cycle while
// nodes do not change (only when the pipeline says its plugins allow it).
class EvalCache {
 public:
  EvalCache(const ClusterState& state, const Pipeline& pipeline, bool enabled)
      : state_(state), pipeline_(pipeline), enabled_(enabled) {
    if (enabled_) evals_.resize(static_cast<size_t>(state.node_count()));
  }
  const NodeEval& Get(const Job& job, int n) {
    NodeEval& eval = enabled_ ? evals_[static_cast<size_t>(n)] : scratch_;
    if (!enabled_ || !eval.valid || eval.version != state_.version(n)) {
      Evaluate(job, n, state_, pipeline_, eval);
    }
    return eval;
  }

 private:
  const ClusterState& state_;
  const Pipeline& pipeline_;
  bool enabled_;
  std::vector<NodeEval> evals_;
  NodeEval scratch_;
};

// Why each eligible node turned the job down now (only computed on failure).
ReasonTally TallyRejections(const Job& job, std::span<const int> eligible, EvalCache& cache,
                            const Holds* holds) {
  ReasonTally rejected;
  for (int n : eligible) {
    const NodeEval& eval = cache.Get(job, n);
    if (!eval.reason.empty()) {
      rejected.Add(eval.reason);
    } else if (holds != nullptr && !holds->Allows(job, n)) {
      rejected.Add(kReasonHeld);
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
  for (const auto& name : job->required_nodes) required.push_back(state.FindNode(name));
  auto is_required = [&](int n) {
    return std::find(required.begin(), required.end(), n) != required.end();
  };
  // Best first; required nodes before all others; ties in name order.
  std::stable_sort(scored.begin(), scored.end(), [&](const ScoredNode& a, const ScoredNode& b) {
    const bool ra = is_required(a.candidate.node);
    const bool rb = is_required(b.candidate.node);
    if (ra != rb) return ra;
    if (a.score != b.score) return a.score > b.score;
    return state.name_rank(a.candidate.node) < state.name_rank(b.candidate.node);
  });
  for (int n : required) {
    const bool present = std::any_of(scored.begin(), scored.end(),
                                     [&](const ScoredNode& s) { return s.candidate.node == n; });
    if (!present) {
      *reason = kReasonRequiredNodeBusy;
      return std::nullopt;
    }
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
    for (int n : required) {
      if (std::none_of(group.members.begin(), group.members.begin() + static_cast<long>(wanted),
                       [&](const ScoredNode& s) { return s.candidate.node == n; })) {
        return false;
      }
    }
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
    start.placements.push_back(NodePlacement{s.candidate.node, s.candidate.pool,
                                             std::move(s.candidate.devices),
                                             s.candidate.fraction_milli});
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
std::optional<JobStart> Place(const Job& job, std::span<const int> eligible,
                              const ClusterState& state, EvalCache& cache, const Holds* holds,
                              std::string_view* gang_reason) {
  const bool single = job->num_nodes == 1 && job->required_nodes.empty();
  int best_node = -1;
  double best_score = 0;
  std::vector<ScoredNode> feasible;
  for (int n : eligible) {
    const NodeEval& eval = cache.Get(job, n);
    if (!eval.reason.empty() || (holds != nullptr && !holds->Allows(job, n))) continue;
    if (single) {
      if (best_node < 0 || eval.score > best_score) {
        best_node = n;
        best_score = eval.score;
      }
    } else {
      feasible.push_back(ScoredNode{eval.best, eval.score});
    }
  }
  if (single) {
    if (best_node < 0) return std::nullopt;
    // Fetched again: without a cache the evaluation lives in one scratch slot.
    const NodeEval& best = cache.Get(job, best_node);
    return MakeStart(job, {ScoredNode{best.best, best.score}}, state);
  }
  if (static_cast<int>(feasible.size()) < job->num_nodes) return std::nullopt;
  auto chosen = ChooseGang(job, std::move(feasible), state, gang_reason);
  if (!chosen) return std::nullopt;
  return MakeStart(job, std::move(*chosen), state);
}

bool PipelineIsCacheable(const Pipeline& pipeline) {
  return std::all_of(pipeline.filters.begin(), pipeline.filters.end(),
                     [](const auto& f) { return f->DependsOnlyOnShape(); }) &&
         std::all_of(pipeline.scorers.begin(), pipeline.scorers.end(),
                     [](const auto& s) { return s.scorer->DependsOnlyOnShape(); });
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

// When could `job` start if running work ended at its time limits? Releases jobs
// in end order on a copy of the state and re-checks only the nodes each release
// touches; holds by earlier reservations are respected.
// Work that will end at its time limit, and what it gives back then.
struct Ending {
  int64_t at = 0;
  std::vector<Holding> holdings;
};

std::optional<Reservation> PlanReservation(const Job& job, const Eligibility& eligibility,
                                           const ClusterState& state, const Pipeline& pipeline,
                                           const std::vector<Ending>& ends, const Holds& holds) {
  ClusterState future = state;
  std::vector<int> eligible;
  std::vector<bool> is_eligible(static_cast<size_t>(state.node_count()), false);
  for (int n : eligibility.nodes) {
    if (holds.reserved_start[static_cast<size_t>(n)] != kNoReservation) continue;
    eligible.push_back(n);
    is_eligible[static_cast<size_t>(n)] = true;
  }
  if (static_cast<int>(eligible.size()) < job->num_nodes) return std::nullopt;
  // Cached evaluations make each release cost only the nodes it touched.
  EvalCache cache(future, pipeline, PipelineIsCacheable(pipeline));
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
    if (auto start = Place(job, eligible, future, cache, nullptr, &gang_reason)) {
      Reservation reservation{job->id, at, {}};
      for (const auto& placement : start->placements) reservation.nodes.push_back(placement.node);
      return reservation;
    }
  }
  return std::nullopt;
}

// Per job shape: the static verdict and the cached node evaluations.
struct ShapeState {
  Eligibility eligibility;
  std::unique_ptr<EvalCache> cache;
};

}  // namespace

struct PlacementCache::Impl {
  // Caches are bounded (shapes x nodes) so a queue of all-different jobs cannot eat memory.
  static constexpr size_t kMaxCachedEvaluations = size_t{1} << 19;  // ~40 MiB

  Impl(const ClusterState& s, const Pipeline& p)
      : state(s), pipeline(p), cacheable(PipelineIsCacheable(p)) {}

  ShapeState& For(const Job& job) {
    auto [it, inserted] = shapes.try_emplace(ShapeKey(*job));
    ShapeState& shape = it->second;
    if (inserted) {
      shape.eligibility = ComputeEligibility(job, state, pipeline);
      const size_t nodes = static_cast<size_t>(state.node_count());
      const bool cache_it = cacheable && cached_evaluations + nodes <= kMaxCachedEvaluations;
      if (cache_it) cached_evaluations += nodes;
      shape.cache = std::make_unique<EvalCache>(state, pipeline, cache_it);
    }
    return shape;
  }

  const ClusterState& state;
  const Pipeline& pipeline;
  bool cacheable;
  size_t cached_evaluations = 0;
  std::unordered_map<std::string, ShapeState> shapes;
};

PlacementCache::PlacementCache(const ClusterState& state, const Pipeline& pipeline)
    : impl_(std::make_unique<Impl>(state, pipeline)) {}
PlacementCache::~PlacementCache() = default;

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

std::optional<JobStart> FindPlacement(const Job& job, const ClusterState& state,
                                      const Pipeline& pipeline, PlacementFailure* failure,
                                      PlacementCache* cache) {
  std::optional<PlacementCache> local;
  if (cache == nullptr) cache = &local.emplace(state, pipeline);
  ShapeState& shape = cache->impl().For(job);
  std::string_view gang_reason;
  auto start = Place(job, shape.eligibility.nodes, state, *shape.cache, nullptr, &gang_reason);
  if (!start && failure != nullptr) {
    const ReasonTally dynamic =
        TallyRejections(job, shape.eligibility.nodes, *shape.cache, nullptr);
    *failure = DescribeFailure(job, state.node_count(), shape.eligibility, dynamic, gang_reason);
  }
  return start;
}

Plan Schedule(const model::Snapshot& snapshot, const model::Catalog& catalog,
              const Pipeline& pipeline) {
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

  Holds holds{std::vector<int64_t>(snapshot.nodes.size(), kNoReservation), snapshot.now};
  PlacementCache shapes(state, pipeline);
  std::unordered_map<std::string, PlacementFailure> failed_shapes;  // shape + time limit
  const int limit = pipeline.limits.max_jobs_per_cycle;
  for (size_t q = 0; q < queue.size(); ++q) {
    const Job& job = queue[q];
    if (limit > 0 && static_cast<int>(q) >= limit) {
      plan.pending.push_back({job->id, PendingCode::kCycleLimit,
                              Cat("not evaluated: beyond the first ", limit, " jobs")});
      continue;
    }
    ShapeState& shape_state = shapes.impl().For(job);
    const Eligibility& eligibility = shape_state.eligibility;

    // Resources only shrink within a cycle: a shape that failed stays failed.
    const std::string attempt = Cat(ShapeKey(*job), "|", job.time_limit_s);
    if (auto failed = failed_shapes.find(attempt); failed != failed_shapes.end()) {
      plan.pending.push_back({job->id, failed->second.code, failed->second.message});
      continue;
    }
    std::string_view gang_reason;
    auto start = Place(job, eligibility.nodes, state, *shape_state.cache, &holds, &gang_reason);
    if (start) {
      state.Apply(*start, job->cpus_per_node, job->memory_per_node_mib);
      ends.push_back(
          {model::AddTimes(snapshot.now, job.time_limit_s),
           ClusterState::HoldingsOf(*start, job->cpus_per_node, job->memory_per_node_mib)});
      ends_sorted = false;
      plan.starts.push_back(std::move(*start));
      continue;
    }
    const ReasonTally dynamic = TallyRejections(job, eligibility.nodes, *shape_state.cache, &holds);
    PlacementFailure failure =
        DescribeFailure(job, state.node_count(), eligibility, dynamic, gang_reason);
    if (failure.code != PendingCode::kNeverFits &&
        static_cast<int>(plan.reservations.size()) < pipeline.limits.max_reservations) {
      if (!ends_sorted) {
        std::stable_sort(ends.begin(), ends.end(),
                         [](const Ending& a, const Ending& b) { return a.at < b.at; });
        ends_sorted = true;
      }
      if (auto reservation = PlanReservation(job, eligibility, state, pipeline, ends, holds)) {
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
    failed_shapes.emplace(attempt, std::move(failure));
  }
  return plan;
}

}  // namespace accelpack::engine
