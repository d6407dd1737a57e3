// Where the accelerators are, per kind: the operator's first question and the
// simulator's main measure. Pure: computed from a snapshot and a plan.
#pragma once

#include <vector>

#include "engine/plan.h"
#include "model/catalog.h"
#include "model/cluster.h"

namespace accelpack::engine {

struct KindUsage {
  int kind = -1;              // catalog index
  int devices_total = 0;      // on usable nodes
  int devices_allocated = 0;  // whole or partly in use
  int devices_idle = 0;
  int devices_unusable = 0;  // on down, drained or reserved nodes
  // Idle devices while at least one job still pending allows this kind: the waste
  // accelpack exists to remove.
  int devices_idle_while_demanded = 0;
};

// Usage after the plan's starts are applied to the snapshot; one entry per kind
// present in the cluster, in catalog order.
std::vector<KindUsage> UsageByKind(const model::Snapshot& snapshot, const model::Catalog& catalog,
                                   const Plan& plan);

}  // namespace accelpack::engine
