// fallback.h: the built-in placement policy sched/accelpack uses when the core is
// down, late or answers garbage. SPDX-License-Identifier: GPL-2.0-or-later
//
// Deliberately simple, so that it is obviously right and needs nothing but the
// snapshot: jobs in priority order (priority desc, then submit time, then job id);
// each job goes on the usable nodes that fit it best (fewest accelerators, then CPUs,
// left free after placing it); a multi-node job starts on all its nodes or not at all.
// No reservations: a blocked job does not hold back smaller ones while the core is away.
// Pure and deterministic: same snapshot, same plan. Reentrant.
#pragma once

#include "accelpack_bridge.h"
#include "plan_data.h"

namespace accelpack::fallback {

inline constexpr const char* kPolicyName = "built-in (priority order, best fit)";

bridge::PlanData Schedule(const ap_snapshot_t& snap);

}  // namespace accelpack::fallback
