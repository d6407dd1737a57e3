// SPDX-License-Identifier: GPL-2.0-or-later
#include "engine/explain.h"

#include <algorithm>
#include <ctime>
#include <limits>
#include <map>
#include <unordered_map>

#include "common/strings.h"
#include "engine/cluster_state.h"
#include "engine/engine.h"
#include "engine/reason.h"
#include "engine/usage.h"
#include "model/topology.h"

namespace accelpack::engine {

namespace {

// The engine's queue order: effective priority, then submit time, then id.
bool RunsBefore(const Job& a, const Job& b) {
  if (a.effective_priority != b.effective_priority)
    return a.effective_priority > b.effective_priority;
  if (a->submit_time != b->submit_time) return a->submit_time < b->submit_time;
  return a->id < b->id;
}

const model::PendingJob* FindPending(const model::Snapshot& snapshot, uint32_t id) {
  for (const auto& job : snapshot.pending) {
    if (job.id == id) return &job;
  }
  return nullptr;
}

// The cluster after the plan's starts, as the end of the cycle left it.
ClusterState StateAfter(const model::Snapshot& snapshot, const model::Catalog& catalog,
                        const Plan& plan) {
  ClusterState state(snapshot, catalog);
  std::unordered_map<uint32_t, const model::PendingJob*> pending;
  pending.reserve(snapshot.pending.size());
  for (const auto& job : snapshot.pending) pending.emplace(job.id, &job);
  for (const JobStart& start : plan.starts) {
    const auto it = pending.find(start.job_id);
    const model::PendingJob* job = it == pending.end() ? nullptr : it->second;
    state.Apply(start, job != nullptr ? job->cpus_per_node : 0,
                job != nullptr ? job->memory_per_node_mib : 0);
  }
  return state;
}

std::string NodeNames(const std::vector<int>& nodes, const model::Snapshot& snapshot) {
  std::vector<std::string> names;
  for (int n : nodes) names.push_back(snapshot.nodes[static_cast<size_t>(n)].name);
  std::sort(names.begin(), names.end());
  return Join(names, ",");
}

CandidateExplanation Score(const Job& job, const Candidate& candidate, const ClusterState& state,
                           const Pipeline& pipeline) {
  CandidateExplanation out{
      candidate.node, candidate.pool, candidate.devices, candidate.fraction_milli, 0, {}};
  for (const WeightedScorer& ws : pipeline.scorers) {
    const double score = ws.scorer->Score(job, candidate, state);
    out.total += ws.weight * score;
    out.scores.push_back({std::string(ws.scorer->name()), ws.weight, score});
  }
  return out;
}

// Running jobs whose end (start + time limit) frees the room a reservation needs:
// the latest ending ones on the reserved nodes, up to the planned start.
std::string WhoFreesReservation(const Reservation& reservation, const model::Snapshot& snapshot) {
  std::map<int64_t, std::vector<std::string>> ending;  // end -> "job 812 on h200-3"
  for (const model::RunningJob& running : snapshot.running) {
    if (running.time_limit_s <= 0) continue;
    const int64_t end = running.start_time + running.time_limit_s;
    if (end > reservation.planned_start) continue;
    std::vector<std::string> on;
    for (const auto& allocation : running.allocations) {
      for (int n : reservation.nodes) {
        if (snapshot.nodes[static_cast<size_t>(n)].name == allocation.node &&
            std::find(on.begin(), on.end(), allocation.node) == on.end()) {
          on.push_back(allocation.node);
        }
      }
    }
    if (!on.empty()) ending[end].push_back(Cat("job ", running.id, " ends on ", Join(on, ",")));
  }
  const std::string when = UtcTime(reservation.planned_start);
  if (ending.empty()) {
    return Cat("starts on ", NodeNames(reservation.nodes, snapshot), " by ", when,
               " (reserved: running jobs' time limits free the room)");
  }
  const auto& last = ending.rbegin()->second;
  return Cat("starts when ", Join(last, " and "), " by ", UtcTime(ending.rbegin()->first),
             " (time limit); reserved on ", NodeNames(reservation.nodes, snapshot), " from ", when);
}

// For a job whose devices are free but not in a legal shape: the node that comes
// closest, with what its free devices look like.
std::string ShapeShortfall(const Job& job, const std::vector<int>& eligible,
                           const ClusterState& state) {
  const model::AcceleratorRequest& request = job->accelerators;
  int best_node = -1, best_pool = -1, best_free = -1;
  for (int n : eligible) {
    const auto& pools = state.node(n).accelerators;
    for (size_t p = 0; p < pools.size(); ++p) {
      if (!request.Allows(pools[p])) continue;
      const int free = model::CountFreeDevices(state.used_milli(n, static_cast<int>(p)));
      if (free > best_free) {
        best_node = n;
        best_pool = static_cast<int>(p);
        best_free = free;
      }
    }
  }
  if (best_node < 0) return {};
  const auto& kind = state.catalog().kind(state.kind_of(best_node, best_pool));
  const model::TopologyRule& rule = kind.rule;
  std::span<const int> used = state.used_milli(best_node, best_pool);
  std::string layout;
  const int unit = rule.module_size > 1 ? rule.module_size : rule.group_size;
  const std::string unit_name = rule.module_size > 1 ? "module" : "group";
  int whole = 0, partial = 0;
  for (size_t begin = 0; unit > 0 && begin < used.size(); begin += static_cast<size_t>(unit)) {
    int free = 0;
    const size_t end = std::min(used.size(), begin + static_cast<size_t>(unit));
    for (size_t d = begin; d < end; ++d) free += used[d] == 0 ? 1 : 0;
    if (free == static_cast<int>(end - begin))
      ++whole;
    else if (free > 0)
      ++partial;
  }
  layout = Cat(whole, " whole ", unit_name, whole == 1 ? "" : "s", " free, ", partial,
               " half-used ", unit_name, partial == 1 ? "" : "s");
  const std::string shape =
      rule.module_size > 1 ? "as whole modules"
                           : Cat("inside groups of ", rule.group_size, " (", kind.name, " rule)");
  return Cat("needs ", request.count_per_node, " free ", kind.name, " devices ", shape,
             "; best node ", state.node(best_node).name, " has ", best_free, " free (", layout,
             ")");
}

bool HasShapeRule(const Job& job, const std::vector<int>& eligible, const ClusterState& state) {
  if (!job->accelerators.WantsDevices() || job->accelerators.IsFractional()) return false;
  for (int n : eligible) {
    const auto& pools = state.node(n).accelerators;
    for (size_t p = 0; p < pools.size(); ++p) {
      if (!job->accelerators.Allows(pools[p])) continue;
      const auto& rule = state.catalog().kind(pools[p].kind_index).rule;
      if (rule.ShapesDevices()) return true;
    }
  }
  return false;
}

// When running jobs end at their time limits, in order, when does the job first
// fit (ignoring other reservations)? Names the jobs whose end makes the room.
std::string EarliestStart(const Job& job, const ClusterState& state, const Pipeline& pipeline) {
  const model::Snapshot& snapshot = state.snapshot();
  std::vector<const model::RunningJob*> ending;
  for (const auto& running : snapshot.running) {
    if (running.time_limit_s > 0) ending.push_back(&running);
  }
  std::stable_sort(ending.begin(), ending.end(), [](const auto* a, const auto* b) {
    return a->start_time + a->time_limit_s < b->start_time + b->time_limit_s;
  });
  // What running jobs hold, read from the snapshot as it came: `state` may hold the
  // cycle's starts already, whose devices a stand-in guess must not take.
  const std::vector<std::vector<Holding>> resolved =
      ClusterState(snapshot, state.catalog()).ResolveAll();
  ClusterState future = state;
  // One cache for the whole walk: a release re-evaluates only the nodes it touched.
  PlacementCache cache(future, pipeline, job.cycle);
  for (size_t i = 0; i < ending.size();) {
    const int64_t at = ending[i]->start_time + ending[i]->time_limit_s;
    std::vector<const model::RunningJob*> now_ending;
    for (; i < ending.size() && ending[i]->start_time + ending[i]->time_limit_s == at; ++i) {
      const auto r = static_cast<size_t>(ending[i] - snapshot.running.data());
      for (const Holding& holding : resolved[r]) future.Give(holding);
      now_ending.push_back(ending[i]);
    }
    auto start = FindPlacement(job, future, pipeline, nullptr, &cache);
    if (!start) continue;
    std::vector<std::string> freeing;
    for (const auto* running : now_ending) {
      for (const auto& placement : start->placements) {
        const std::string& name = snapshot.nodes[static_cast<size_t>(placement.node)].name;
        const bool there = std::any_of(running->allocations.begin(), running->allocations.end(),
                                       [&](const auto& a) { return a.node == name; });
        if (there) freeing.push_back(Cat("job ", running->id, " ends on ", name));
      }
    }
    if (freeing.empty()) freeing.push_back("running jobs end");
    return Cat("starts when ", Join(freeing, " and "), " by ", UtcTime(at), " (time limit)");
  }
  return "no running job with a time limit frees enough room: it waits for jobs without a time "
         "limit to end, or for nodes to come back";
}

}  // namespace

std::string DescribeRequest(const model::PendingJob& job) {
  const auto& acc = job.accelerators;
  std::string devices = "no accelerators";
  if (acc.WantsDevices()) {
    devices =
        Cat(acc.gres_name, ":", acc.allowed_types.empty() ? "any" : Join(acc.allowed_types, "|"),
            ":", acc.count_per_node);
    if (acc.IsFractional()) devices += Cat(" (", acc.fraction_milli, "/1000 of one device)");
    if (acc.WantsShards()) devices += Cat(" (", acc.shards_per_node, " shards of one device)");
  }
  return Cat(job.num_nodes, job.num_nodes == 1 ? " node" : " nodes", " x ", devices, ", ",
             job.cpus_per_node, job.cpus_per_node == 1 ? " CPU, " : " CPUs, ",
             job.memory_per_node_mib, " MiB", job.exclusive ? ", exclusive" : "",
             job.exclusive_user ? ", exclusive to its user" : "");
}

std::optional<Explanation> Explain(uint32_t job_id, const model::Snapshot& snapshot,
                                   const model::Catalog& catalog, const Pipeline& pipeline,
                                   const Plan& plan, int max_candidates) {
  const model::PendingJob* request = FindPending(snapshot, job_id);
  if (request == nullptr) return std::nullopt;
  Explanation out;
  out.job_id = job_id;
  out.queue_length = static_cast<int>(snapshot.pending.size());
  out.nodes_total = static_cast<int>(snapshot.nodes.size());
  // The scores the cycle saw: its PreScore results over the same queue.
  const CycleState cycle = PreScoreCycle(snapshot, pipeline.scorers);
  Job job = MakeJob(*request, pipeline, snapshot.now);
  job.cycle = &cycle;
  out.effective_priority = job.effective_priority;
  out.job_class = job.job_class;
  out.time_limit_s = job.time_limit_s;
  out.queue_position = 1;
  for (const auto& other : snapshot.pending) {
    if (other.id != job_id && RunsBefore(MakeJob(other, pipeline, snapshot.now), job))
      ++out.queue_position;
  }
  for (const JobStart& start : plan.starts) {
    if (start.job_id != job_id) continue;
    out.started = true;
    std::vector<int> nodes;
    for (const auto& placement : start.placements) nodes.push_back(placement.node);
    out.reason = Cat("started this cycle on ", NodeNames(nodes, snapshot));
    out.what_must_change = "nothing: the plugin starts it";
    return out;
  }
  for (const PendingReason& pending : plan.pending) {
    if (pending.job_id != job_id) continue;
    out.code = pending.code;
    out.reason = pending.message;
  }
  for (const Reservation& reservation : plan.reservations) {
    if (reservation.job_id == job_id) out.reservation = reservation;
  }

  const ClusterState state = StateAfter(snapshot, catalog, plan);
  // Other jobs' reservations hold nodes until their planned start.
  std::vector<const Reservation*> held_by(snapshot.nodes.size(), nullptr);
  for (const Reservation& reservation : plan.reservations) {
    if (reservation.job_id == job_id) continue;
    for (int n : reservation.nodes) {
      auto& slot = held_by[static_cast<size_t>(n)];
      if (slot == nullptr || reservation.planned_start < slot->planned_start) slot = &reservation;
    }
  }
  ReasonTally never, now;
  std::vector<int> eligible;
  std::vector<CandidateExplanation> candidates;
  const Reservation* blocking = nullptr;
  for (int n : state.nodes_by_name()) {
    std::string_view reason;
    for (const auto& filter : pipeline.filters) {
      if (filter->stage() != FilterStage::kStatic) continue;
      reason = filter->Reject(job, n, state);
      if (!reason.empty()) break;
    }
    if (!reason.empty()) {
      never.Add(reason);
      continue;
    }
    eligible.push_back(n);
    for (const auto& filter : pipeline.filters) {
      if (filter->stage() != FilterStage::kDynamic) continue;
      reason = filter->Reject(job, n, state);
      if (!reason.empty()) break;
    }
    std::vector<Candidate> devices;
    if (reason.empty()) devices = DeviceCandidatesOn(job, n, state, &reason);
    if (!reason.empty()) {
      now.Add(reason);
      continue;
    }
    CandidateExplanation best;
    best.total = -std::numeric_limits<double>::infinity();
    for (const Candidate& candidate : devices) {
      CandidateExplanation scored = Score(job, candidate, state, pipeline);
      if (scored.total > best.total) best = std::move(scored);
    }
    const Reservation* hold = held_by[static_cast<size_t>(n)];
    if (hold != nullptr && snapshot.now + job.time_limit_s > hold->planned_start) {
      now.Add(kReasonHeld);
      if (blocking == nullptr || hold->planned_start < blocking->planned_start) blocking = hold;
    }
    candidates.push_back(std::move(best));
  }
  for (const ReasonTally* tally : {&never, &now}) {
    for (const auto& [reason, nodes] : tally->Sorted())
      out.rejections.push_back({std::string(reason), nodes, tally == &never});
  }
  std::stable_sort(candidates.begin(), candidates.end(), [&](const auto& a, const auto& b) {
    if (a.total != b.total) return a.total > b.total;
    return state.name_rank(a.node) < state.name_rank(b.node);
  });
  if (static_cast<int>(candidates.size()) > max_candidates)
    candidates.resize(static_cast<size_t>(std::max(max_candidates, 0)));
  out.candidates = std::move(candidates);

  switch (out.code) {
    case PendingCode::kNeverFits:
      out.what_must_change =
          eligible.size() < static_cast<size_t>(request->num_nodes)
              ? Cat("no node can ever host it as requested (", never.Describe(),
                    "): change the request (", DescribeRequest(*request), ") or the nodes")
              : Cat("too few nodes can ever host it: ", eligible.size(), " of ", request->num_nodes,
                    " needed");
      break;
    case PendingCode::kCycleLimit:
      out.what_must_change =
          "not evaluated: the policy's limits.max_jobs_per_cycle stops before it in the queue";
      break;
    default:
      // Fits now somewhere but held there for an earlier job's reservation.
      if (blocking != nullptr) {
        const int64_t room = blocking->planned_start - snapshot.now;
        out.what_must_change = Cat(
            "fits now but the nodes are held for job ", blocking->job_id, " (reserved to start by ",
            UtcTime(blocking->planned_start), "); it could backfill with a time limit of at most ",
            std::max<int64_t>(room, 0), " s (it has ", job.time_limit_s, " s)");
      }
      // Kinds with modules or rings: say what the shape needs and what the best node has.
      if (out.code == PendingCode::kTopology || now.count(kReasonNoLegalShape) > 0 ||
          (now.count(kReasonTooFewFreeDevices) > 0 && HasShapeRule(job, eligible, state))) {
        out.what_must_change +=
            Cat(out.what_must_change.empty() ? "" : "; ", ShapeShortfall(job, eligible, state));
      }
      if (out.reservation) {
        out.what_must_change += Cat(out.what_must_change.empty() ? "" : "; ",
                                    WhoFreesReservation(*out.reservation, snapshot));
      } else {
        out.what_must_change +=
            Cat(out.what_must_change.empty() ? "" : "; ", EarliestStart(job, state, pipeline));
      }
  }
  return out;
}

std::vector<NodeUsage> UsageByNode(const model::Snapshot& snapshot, const model::Catalog& catalog,
                                   const Plan& plan) {
  const ClusterState state = StateAfter(snapshot, catalog, plan);
  std::vector<NodeUsage> nodes;
  nodes.reserve(snapshot.nodes.size());
  for (int n = 0; n < state.node_count(); ++n) {
    const model::Node& node = state.node(n);
    NodeUsage usage{n, state.cpus_free(n), state.memory_free(n), {}};
    int devices_total = 0;
    int free_milli = 0;
    for (size_t p = 0; p < node.accelerators.size(); ++p) {
      std::span<const int> used = state.used_milli(n, static_cast<int>(p));
      PoolUsage pool{static_cast<int>(p),
                     static_cast<int>(used.size()),
                     0,
                     0,
                     0,
                     0,
                     std::vector<int>(used.begin(), used.end())};
      for (int milli : used) {
        if (milli == 0)
          ++pool.free;
        else if (milli < model::kMilliPerDevice)
          ++pool.shared;
      }
      pool.used = pool.devices - pool.free;
      devices_total += pool.devices;
      free_milli += model::FreeMilli(used);
      usage.pools.push_back(pool);
    }
    // A free device needs its share of CPUs and memory (the node's own ratio).
    const double free_devices = static_cast<double>(free_milli) / model::kMilliPerDevice;
    double fed = free_devices;
    if (devices_total > 0 && node.cpus_total > 0)
      fed = std::min(
          fed, static_cast<double>(std::max(usage.cpus_free, 0)) * devices_total / node.cpus_total);
    if (devices_total > 0 && node.memory_total_mib > 0)
      fed = std::min(fed, static_cast<double>(std::max<int64_t>(usage.memory_free_mib, 0)) *
                              devices_total / static_cast<double>(node.memory_total_mib));
    const double stranded = node.Usable() ? std::max(0.0, free_devices - fed) : 0.0;
    for (PoolUsage& pool : usage.pools) {
      const double share =
          free_milli == 0 ? 0.0
                          : static_cast<double>(model::FreeMilli(pool.used_milli)) / free_milli;
      pool.stranded = stranded * share;
    }
    nodes.push_back(std::move(usage));
  }
  return nodes;
}

PlanComparison ComparePlans(const model::Snapshot& snapshot_a, const model::Catalog& catalog_a,
                            const Plan& plan_a, const model::Snapshot& snapshot_b,
                            const model::Catalog& catalog_b, const Plan& plan_b) {
  PlanComparison out;
  out.starts_a = static_cast<int>(plan_a.starts.size());
  out.starts_b = static_cast<int>(plan_b.starts.size());
  auto where = [](const Plan& plan, const model::Snapshot& snapshot) {
    std::map<uint32_t, std::string> nodes;
    for (const JobStart& start : plan.starts) {
      std::vector<std::string> placed;
      for (const auto& p : start.placements) {
        std::string text = snapshot.nodes[static_cast<size_t>(p.node)].name;
        if (!p.devices.empty()) text += Cat("[", Join(p.devices, ","), "]");
        placed.push_back(std::move(text));
      }
      nodes[start.job_id] = Join(placed, " ");
    }
    return nodes;
  };
  const auto started_a = where(plan_a, snapshot_a);
  const auto started_b = where(plan_b, snapshot_b);
  std::map<uint32_t, std::pair<std::string, std::string>> merged;
  for (const auto& [id, nodes] : started_a) merged[id].first = nodes;
  for (const auto& [id, nodes] : started_b) merged[id].second = nodes;
  for (const auto& [id, pair] : merged) {
    if (pair.first != pair.second) out.starts.push_back({id, pair.first, pair.second});
  }
  std::unordered_map<uint32_t, const std::string*> reasons_b;
  for (const PendingReason& r : plan_b.pending) reasons_b[r.job_id] = &r.message;
  for (const PendingReason& r : plan_a.pending) {
    auto it = reasons_b.find(r.job_id);
    if (it != reasons_b.end() && *it->second != r.message)
      out.reasons.push_back({r.job_id, r.message, *it->second});
  }
  std::map<std::string, PlanComparison::Kind> kinds;
  auto add = [&](const model::Snapshot& snapshot, const model::Catalog& catalog, const Plan& plan,
                 bool is_a) {
    for (const KindUsage& usage : UsageByKind(snapshot, catalog, plan)) {
      auto& entry = kinds[catalog.kind(usage.kind).name];
      entry.kind = catalog.kind(usage.kind).name;
      (is_a ? entry.idle_a : entry.idle_b) = usage.devices_idle;
    }
    for (const NodeUsage& node : UsageByNode(snapshot, catalog, plan)) {
      for (const PoolUsage& pool : node.pools) {
        const model::AcceleratorPool& wire = snapshot.nodes[static_cast<size_t>(node.node)]
                                                 .accelerators[static_cast<size_t>(pool.pool)];
        auto& entry = kinds[catalog.kind(wire.kind_index).name];
        (is_a ? entry.stranded_a : entry.stranded_b) += pool.stranded;
      }
    }
  };
  add(snapshot_a, catalog_a, plan_a, true);
  add(snapshot_b, catalog_b, plan_b, false);
  for (auto& [name, kind] : kinds) out.kinds.push_back(kind);
  return out;
}

}  // namespace accelpack::engine
