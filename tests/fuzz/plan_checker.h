// SPDX-License-Identifier: GPL-2.0-or-later
// An independent check of a plan against its snapshot: every placement rule and
// no over-commit, written from the rules (DESIGN.md, the catalog's table), not
// from the engine's code, so a fuzzer can tell a wrong plan from a right one.
#pragma once

#include <set>
#include <string>
#include <vector>

#include "engine/plan.h"
#include "model/catalog.h"
#include "model/cluster.h"

namespace accelpack::fuzz {

// What the checker may assume: the placement rules every policy keeps (one outcome
// per job, device topology, devices not over-committed, gangs) always; the rules of
// a filter (partitions, features, -x, node state, CPUs, memory) only when the
// policy has that filter.
struct CheckOptions {
  std::set<std::string> filters;  // filter names of the policy
};

// The default policy's filters: every standard one.
CheckOptions AllFilters();

// Empty when the plan keeps every rule; else one line per broken rule.
std::vector<std::string> CheckPlan(const model::Snapshot& snapshot, const model::Catalog& catalog,
                                   const engine::Plan& plan, const CheckOptions& options);

}  // namespace accelpack::fuzz
