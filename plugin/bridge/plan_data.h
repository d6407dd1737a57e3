// plan_data.h: a plan in C++ terms, between the core's proto / the built-in policy and
// the C ap_plan_t the plugin consumes. SPDX-License-Identifier: GPL-2.0-or-later
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/strings/string_view.h"
#include "accelpack_bridge.h"

namespace accelpack::bridge {

struct PlannedStart {
  uint32_t job_id = 0;
  std::vector<std::string> nodes;       // exactly the job's num_nodes, distinct
  std::vector<std::string> gres_types;  // per node; "" when none
  // Per node (or empty): the whole devices the core planned with, indices into the
  // node's pool of gres_types[n]; empty for a node without, or for shares.
  std::vector<std::vector<uint32_t>> devices;
};

struct PlannedReason {
  uint32_t job_id = 0;
  ap_reason_code_t code = AP_REASON_UNSPECIFIED;
  std::string message;
};

struct PlannedReservation {
  uint32_t job_id = 0;
  int64_t start_time = 0;
  std::vector<std::string> nodes;
};

struct PlannedPreemption {
  uint32_t job_id = 0;
  std::vector<uint32_t> victims;
  std::vector<uint32_t> awaiting;
  std::vector<std::string> nodes;
};

struct PlanData {
  std::vector<PlannedStart> starts;
  std::vector<PlannedReason> reasons;
  std::vector<PlannedReservation> reservations;
  std::vector<PlannedPreemption> preemptions;
  uint64_t engine_latency_us = 0;
  std::string policy_name;
};

// Shape checks every plan passes before the plugin sees it, whoever made it: each start
// names a pending job of `snap` once, with exactly num_nodes distinct nodes of `snap`
// (and device lists, where given, of distinct devices of a pool the node has), and every
// pending job of `snap` has a start or a reason; each preemption is for a
// pending job not started in this plan, once, on nodes of `snap`, and names only running
// jobs of `snap`, each at most once in the plan.
// INVALID_ARGUMENT names the first offending start.
absl::Status CheckPlanShape(const PlanData& plan, const ap_snapshot_t& snap);

// Copies `plan` into `out` (malloc'd; released by ap_plan_free). RESOURCE_EXHAUSTED when
// an allocation fails; `out` is then empty.
absl::Status ExportPlan(const PlanData& plan, ap_plan_t* out);

// Writes `message` into a C buffer, always NUL-terminated when errlen > 0, escaped
// (wire::Printable) and cut to fit: the plugin logs it.
void CopyError(absl::string_view message, char* err, size_t errlen) noexcept;

}  // namespace accelpack::bridge
