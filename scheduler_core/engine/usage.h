// Where the accelerators are, per kind: the operator's first question and the
// simulator's main measure. Pure: computed from a snapshot and a plan.
#pragma once

#include <vector>

#include "engine/plan.h"
#include "model/catalog.h"
#include "model/cluster.h"

namespace accelpack::engine {

class ClusterState;

// Usage after the plan's starts are applied to the snapshot; one entry per kind
// present in the cluster, in catalog order.
std::vector<KindUsage> UsageByKind(const model::Snapshot& snapshot, const model::Catalog& catalog,
                                   const Plan& plan);
// The same from `after`: the snapshot's state with exactly the plan's starts taken
// (the engine's own at the end of a cycle).
std::vector<KindUsage> UsageByKind(const ClusterState& after, const model::Snapshot& snapshot,
                                   const model::Catalog& catalog, const Plan& plan);

}  // namespace accelpack::engine
