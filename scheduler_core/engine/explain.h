// SPDX-License-Identifier: GPL-2.0-or-later
// Read-only views of one cycle for operators: why a job waits and what must
// change for it to start, and where the devices are per node.
//
// Pure, like the engine: snapshot, policy and the cycle's plan in, explanation
// out. Nothing here feeds back into planning.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "engine/framework.h"
#include "engine/plan.h"
#include "engine/reason.h"
#include "model/catalog.h"
#include "model/cluster.h"

namespace accelpack::engine {

struct ScorerPart {
  std::string scorer;
  double weight = 0;
  double score = 0;  // 0..100 before weighting
};

struct CandidateExplanation {
  int node = -1;
  int pool = -1;
  std::vector<int> devices;
  int fraction_milli = 0;
  double total = 0;
  std::vector<ScorerPart> scores;
};

struct RejectionCount {
  std::string reason;
  int nodes = 0;
  bool never = false;  // a static filter: never on these nodes
};

struct Explanation {
  uint32_t job_id = 0;
  int queue_position = 0;  // 1-based, in the engine's queue order
  int queue_length = 0;
  double effective_priority = 0;
  model::JobClass job_class = model::JobClass::kOther;
  int64_t time_limit_s = 0;
  bool started = false;  // the plan starts it this cycle
  PendingCode code = PendingCode::kResources;
  std::string reason;  // the plan's line (what squeue shows)
  int nodes_total = 0;
  std::vector<RejectionCount> rejections;        // most nodes first
  std::vector<CandidateExplanation> candidates;  // best first
  std::optional<Reservation> reservation;
  std::string what_must_change;
};

// Explains pending job `job_id` of `snapshot` as the cycle that produced `plan`
// saw it (after the plan's starts). nullopt when the snapshot has no such
// pending job. `max_candidates` bounds the candidate list.
std::optional<Explanation> Explain(uint32_t job_id, const model::Snapshot& snapshot,
                                   const model::Catalog& catalog, const Pipeline& pipeline,
                                   const Plan& plan, int max_candidates);

// "1 node x npu:910c:6, 8 CPUs, 16000 MiB" for messages.
std::string DescribeRequest(const model::PendingJob& job);

// Devices of one pool after a plan's starts.
struct PoolUsage {
  int pool = -1;
  int devices = 0;
  int used = 0;    // whole or partly in use
  int free = 0;    // wholly free
  int shared = 0;  // partly in use
  // Free devices this node's free CPUs or memory cannot feed at its own
  // CPUs-per-device ratio (split over pools by their free share).
  double stranded = 0;
  std::vector<int> used_milli;  // per device
};

struct NodeUsage {
  int node = -1;
  int cpus_free = 0;
  int64_t memory_free_mib = 0;
  std::vector<PoolUsage> pools;
};

// Every node, in snapshot order, after the plan's starts.
std::vector<NodeUsage> UsageByNode(const model::Snapshot& snapshot, const model::Catalog& catalog,
                                   const Plan& plan);

// How two policies' plans over one snapshot differ (an admin's what-if).
struct PlanComparison {
  struct Start {
    uint32_t job_id = 0;
    std::string a;  // nodes, or empty: not started
    std::string b;
  };
  struct Reason {
    uint32_t job_id = 0;
    std::string a;
    std::string b;
  };
  struct Kind {
    std::string kind;
    int idle_a = 0;
    int idle_b = 0;
    double stranded_a = 0;
    double stranded_b = 0;
  };
  int starts_a = 0;
  int starts_b = 0;
  std::vector<Start> starts;    // jobs started by one plan and not the other, or elsewhere
  std::vector<Reason> reasons;  // jobs pending under both whose line differs
  std::vector<Kind> kinds;      // every kind present, differing or not
};

// `snapshot_a`/`snapshot_b` are the same snapshot validated against each
// policy's catalog (kinds may map differently).
PlanComparison ComparePlans(const model::Snapshot& snapshot_a, const model::Catalog& catalog_a,
                            const Plan& plan_a, const model::Snapshot& snapshot_b,
                            const model::Catalog& catalog_b, const Plan& plan_b);

}  // namespace accelpack::engine
