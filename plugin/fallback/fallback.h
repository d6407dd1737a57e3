// fallback.h: the placement sched/accelpack uses when the core is down, late or answers
// garbage. SPDX-License-Identifier: GPL-2.0-or-later
//
// Not a second scheduler: the plugin runs the core's own engine in-process, with the
// built-in default policy (policy::DefaultPolicy), over the same snapshot it would have
// sent. So every vendor topology rule the core keeps (legal counts per kind, whole
// 910C modules, HCCS rings, one SuperPoD/switch per gang), gangs all-or-nothing and
// backfill reservations hold during an outage too: one rule table, one engine. What it
// lacks is what only the daemon has: the site's policy file and the probe's topology
// reports. A snapshot the engine would refuse starts nothing (when in doubt, wait).
// Pure and deterministic within its budget: same snapshot, same plan. Reentrant.
#pragma once

#include "absl/status/statusor.h"
#include "accelpack_bridge.h"
#include "engine/engine.h"
#include "plan_data.h"

namespace accelpack::fallback {

inline constexpr const char* kPolicyName = "built-in (accelpack-default, in-process)";

// INVALID_ARGUMENT when the snapshot fails the engine's validation (names the field);
// the plan is shape-checked against `snap` like a plan from the core. `budget` stops
// the cycle early, as accelpackd's own (the jobs not reached wait).
absl::StatusOr<bridge::PlanData> Schedule(const ap_snapshot_t& snap,
                                          const engine::WorkBudget& budget = {});

}  // namespace accelpack::fallback
