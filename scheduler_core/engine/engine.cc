#include "engine/engine.h"

#include <algorithm>
#include <cmath>
#include <limits>
#include <map>
#include <unordered_map>

#include "common/strings.h"
#include "engine/reason.h"
#include "model/topology.h"

namespace accelpack::engine {

namespace {

constexpr int64_t kOneYear = 365LL * 24 * 3600;
constexpr int64_t kNoReservation = std::numeric_limits<int64_t>::max();

bool TypeAllowed(const model::AcceleratorRequest& request, const model::AcceleratorPool& pool) {
  if (pool.gres_name != request.gres_name) return false;
  return request.allowed_types.empty() ||
         std::find(request.allowed_types.begin(), request.allowed_types.end(), pool.gres_type) !=
             request.allowed_types.end();
}

// Device candidates on node n; on failure names what was missing.
std::vector<Candidate> DeviceCandidates(const Job& job, int n, const ClusterState& state,
                                        std::string_view* reason) {
  const model::AcceleratorRequest& request = job->accelerators;
  if (!request.WantsDevices()) return {Candidate{n, -1, {}, 0}};
  std::vector<Candidate> candidates;
  int free_devices = 0;
  const auto& pools = state.node(n).accelerators;
  for (size_t p = 0; p < pools.size(); ++p) {
    if (!TypeAllowed(request, pools[p])) continue;
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
    free_devices += model::CountFreeDevices(used);
    const auto& rule = state.catalog().kind(pools[p].kind_index).rule;
    if (auto devices = model::ChooseWholeDevices(rule, used, request.count_per_node)) {
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

// Nodes held for reserved jobs: a job may use one only if it ends before the
// reserved start (EASY backfill on time limits).
struct Holds {
  std::vector<int64_t> reserved_start;  // per node; kNoReservation if free
  int64_t now = 0;

  bool Allows(const Job& job, int n) const {
    const int64_t start = reserved_start[static_cast<size_t>(n)];
    return start == kNoReservation || now + job.time_limit_s <= start;
  }
};

// The static filters' verdict for one job shape, shared by every job of that shape.
struct Eligibility {
  std::vector<int> nodes;  // in name order
  ReasonTally rejected;
};

Eligibility ComputeEligibility(const Job& job, const ClusterState& state, const Pipeline& pipeline) {
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

// Everything a job's shape decides (the static filters read only these fields).
std::string ShapeKey(const model::PendingJob& job) {
  const auto& acc = job.accelerators;
  return Cat(Join(job.partitions, ","), "|", Join(job.features, ","), "|",
                      acc.gres_name, ":", Join(acc.allowed_types, ","), ":",
                      acc.count_per_node, ":", acc.fraction_milli, "|", job.cpus_per_node, "|",
                      job.memory_per_node_mib, "|", job.num_nodes, "|",
                      Join(job.required_nodes, ","), "|",
                      Join(job.excluded_nodes, ","), "|", job.user, "|", job.account, "|",
                      job.qos, "|", static_cast<int>(job.job_class));
}

// Best candidate on each eligible node that passes the dynamic filters and holds.
std::vector<ScoredNode> ScoreNodes(const Job& job, std::span<const int> eligible,
                                   const ClusterState& state, const Pipeline& pipeline,
                                   const Holds* holds, ReasonTally& rejected) {
  std::vector<ScoredNode> scored;
  for (int n : eligible) {
    std::string_view reason;
    for (const auto& filter : pipeline.filters) {
      if (filter->stage() != FilterStage::kDynamic) continue;
      reason = filter->Reject(job, n, state);
      if (!reason.empty()) break;
    }
    std::vector<Candidate> candidates;
    if (reason.empty()) candidates = DeviceCandidates(job, n, state, &reason);
    if (reason.empty() && holds != nullptr && !holds->Allows(job, n)) reason = kReasonHeld;
    if (!reason.empty()) {
      rejected.Add(reason);
      continue;
    }
    ScoredNode best{std::move(candidates.front()), -std::numeric_limits<double>::infinity()};
    for (Candidate& candidate : candidates) {
      const double score = WeightedScore(job, candidate, state, pipeline);
      if (score > best.score) best = ScoredNode{std::move(candidate), score};
    }
    scored.push_back(std::move(best));
  }
  return scored;
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
    if (key.second.empty() && !group.hard) continue;  // unknown switch: not a domain
    if (group.hard && key.second.empty()) continue;   // SuperPoD kind without a SuperPoD label
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

std::optional<JobStart> Place(const Job& job, std::span<const int> eligible,
                              const ClusterState& state, const Pipeline& pipeline,
                              const Holds* holds, ReasonTally& rejected,
                              std::string_view* gang_reason) {
  std::vector<ScoredNode> scored = ScoreNodes(job, eligible, state, pipeline, holds, rejected);
  if (static_cast<int>(scored.size()) < job->num_nodes) return std::nullopt;
  auto chosen = ChooseGang(job, std::move(scored), state, gang_reason);
  if (!chosen) return std::nullopt;
  JobStart start;
  start.job_id = job->id;
  for (ScoredNode& s : *chosen) {
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

PlacementFailure DescribeFailure(const Job& job, int node_count, const Eligibility& eligibility,
                                 const ReasonTally& dynamic, std::string_view gang_reason) {
  PlacementFailure failure;
  ReasonTally all = eligibility.rejected;
  all.Merge(dynamic);
  if (!gang_reason.empty()) all.Add(gang_reason);
  const int fit = static_cast<int>(eligibility.nodes.size()) - dynamic.total();
  if (eligibility.nodes.size() < static_cast<size_t>(job->num_nodes)) {
    failure.code = PendingCode::kNeverFits;
  } else {
    failure.code = ClassifyDynamic(dynamic, gang_reason);
  }
  failure.message = Cat(std::max(fit, 0), "/", node_count, " nodes fit",
                                 job->num_nodes > 1 ? Cat(" (need ", job->num_nodes, ")") : "",
                                 ": ", all.Describe());
  return failure;
}

// When could `job` start if running work ended at its time limits? Releases jobs
// in end order on a copy of the state and re-checks only the nodes each release
// touches; holds by earlier reservations are respected.
std::optional<Reservation> PlanReservation(const Job& job, const Eligibility& eligibility,
                                           const ClusterState& state, const Pipeline& pipeline,
                                           const std::vector<std::pair<int64_t, const model::RunningJob*>>& ends,
                                           const Holds& holds) {
  ClusterState future = state;
  std::vector<int> eligible;
  std::vector<bool> is_eligible(static_cast<size_t>(state.node_count()), false);
  for (int n : eligibility.nodes) {
    if (holds.reserved_start[static_cast<size_t>(n)] != kNoReservation) continue;
    eligible.push_back(n);
    is_eligible[static_cast<size_t>(n)] = true;
  }
  if (static_cast<int>(eligible.size()) < job->num_nodes) return std::nullopt;
  size_t i = 0;
  while (i < ends.size()) {
    const int64_t at = ends[i].first;
    bool touched = false;
    for (; i < ends.size() && ends[i].first == at; ++i) {
      for (const auto& alloc : ends[i].second->allocations) {
        const int n = future.FindNode(alloc.node);
        touched = touched || (n >= 0 && is_eligible[static_cast<size_t>(n)]);
      }
      future.ReleaseRunning(*ends[i].second);
    }
    if (!touched) continue;
    ReasonTally ignored;
    std::string_view gang_reason;
    if (auto start = Place(job, eligible, future, pipeline, nullptr, ignored, &gang_reason)) {
      Reservation reservation{job->id, at, {}};
      for (const auto& placement : start->placements) reservation.nodes.push_back(placement.node);
      return reservation;
    }
  }
  return std::nullopt;
}

model::RunningJob AsRunning(const JobStart& start, const Job& job, const ClusterState& state,
                            int64_t now) {
  model::RunningJob running;
  running.id = start.job_id;
  running.start_time = now;
  running.time_limit_s = job.time_limit_s;
  for (const auto& placement : start.placements) {
    model::NodeAllocation alloc;
    alloc.node = state.node(placement.node).name;
    if (placement.pool >= 0) {
      const auto& pool = state.node(placement.node).accelerators[static_cast<size_t>(placement.pool)];
      alloc.gres_name = pool.gres_name;
      alloc.gres_type = pool.gres_type;
    }
    alloc.device_count = static_cast<int>(placement.devices.size());
    alloc.device_indices = placement.devices;
    alloc.fraction_milli = placement.fraction_milli;
    alloc.cpus = job->cpus_per_node;
    alloc.memory_mib = job->memory_per_node_mib;
    running.allocations.push_back(std::move(alloc));
  }
  return running;
}

}  // namespace

Job MakeJob(const model::PendingJob& request, const Pipeline& pipeline, int64_t now) {
  Job job;
  job.request = &request;
  job.job_class = request.job_class != model::JobClass::kUnspecified
                      ? request.job_class
                      : pipeline.queue_order->Classify(request);
  job.effective_priority = pipeline.queue_order->EffectivePriority(request, job.job_class, now);
  const int64_t fallback =
      pipeline.limits.default_time_limit_s > 0 ? pipeline.limits.default_time_limit_s : kOneYear;
  job.time_limit_s = request.time_limit_s > 0 ? request.time_limit_s : fallback;
  return job;
}

std::optional<JobStart> FindPlacement(const Job& job, const ClusterState& state,
                                      const Pipeline& pipeline, PlacementFailure* failure) {
  Eligibility eligibility = ComputeEligibility(job, state, pipeline);
  ReasonTally dynamic;
  std::string_view gang_reason;
  auto start = Place(job, eligibility.nodes, state, pipeline, nullptr, dynamic, &gang_reason);
  if (!start && failure != nullptr) {
    *failure = DescribeFailure(job, state.node_count(), eligibility, dynamic, gang_reason);
  }
  return start;
}

Plan Schedule(const model::Snapshot& snapshot, const model::Catalog& catalog,
              const Pipeline& pipeline) {
  Plan plan;
  ClusterState state(snapshot, catalog);

  std::vector<Job> queue;
  queue.reserve(snapshot.pending.size());
  for (const auto& request : snapshot.pending) queue.push_back(MakeJob(request, pipeline, snapshot.now));
  std::sort(queue.begin(), queue.end(), [](const Job& a, const Job& b) {
    if (a.effective_priority != b.effective_priority) return a.effective_priority > b.effective_priority;
    if (a->submit_time != b->submit_time) return a->submit_time < b->submit_time;
    return a->id < b->id;
  });

  // Running work in the order it will end, for reservations; jobs started this
  // cycle join it as they start.
  std::vector<model::RunningJob> started_as_running;
  started_as_running.reserve(queue.size());
  std::vector<std::pair<int64_t, const model::RunningJob*>> ends;
  for (const auto& running : snapshot.running) {
    if (running.time_limit_s > 0) ends.emplace_back(running.start_time + running.time_limit_s, &running);
  }

  Holds holds{std::vector<int64_t>(snapshot.nodes.size(), kNoReservation), snapshot.now};
  std::unordered_map<std::string, Eligibility> eligibility_by_shape;
  std::unordered_map<std::string, PlacementFailure> failed_shapes;  // shape + time limit

  const int limit = pipeline.limits.max_jobs_per_cycle;
  for (size_t q = 0; q < queue.size(); ++q) {
    const Job& job = queue[q];
    if (limit > 0 && static_cast<int>(q) >= limit) {
      plan.pending.push_back({job->id, PendingCode::kCycleLimit,
                              Cat("not evaluated: beyond the first ", limit, " jobs")});
      continue;
    }
    const std::string shape = ShapeKey(*job);
    auto [eligible_it, inserted] = eligibility_by_shape.try_emplace(shape);
    if (inserted) eligible_it->second = ComputeEligibility(job, state, pipeline);
    const Eligibility& eligibility = eligible_it->second;

    // Resources only shrink within a cycle: a shape that failed stays failed.
    const std::string attempt = Cat(shape, "|", job.time_limit_s);
    if (auto failed = failed_shapes.find(attempt); failed != failed_shapes.end()) {
      plan.pending.push_back({job->id, failed->second.code, failed->second.message});
      continue;
    }
    ReasonTally dynamic;
    std::string_view gang_reason;
    auto start = Place(job, eligibility.nodes, state, pipeline, &holds, dynamic, &gang_reason);
    if (start) {
      state.Apply(*start, job->cpus_per_node, job->memory_per_node_mib);
      started_as_running.push_back(AsRunning(*start, job, state, snapshot.now));
      ends.emplace_back(snapshot.now + job.time_limit_s, &started_as_running.back());
      plan.starts.push_back(std::move(*start));
      continue;
    }
    PlacementFailure failure =
        DescribeFailure(job, state.node_count(), eligibility, dynamic, gang_reason);
    if (failure.code != PendingCode::kNeverFits &&
        static_cast<int>(plan.reservations.size()) < pipeline.limits.max_reservations) {
      std::stable_sort(ends.begin(), ends.end(),
                       [](const auto& a, const auto& b) { return a.first < b.first; });
      if (auto reservation = PlanReservation(job, eligibility, state, pipeline, ends, holds)) {
        for (int n : reservation->nodes) {
          auto& held = holds.reserved_start[static_cast<size_t>(n)];
          held = std::min(held, reservation->planned_start);
        }
        failure.message = Cat(failure.message, "; reserved to start by ",
                                       reservation->planned_start - snapshot.now, "s from now");
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
