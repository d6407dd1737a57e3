// GRES views of an inventory shared by the renderers and the checker.
//
// Thread-safety: pure functions.
#pragma once

#include <string>
#include <vector>

#include "probe/probe.h"

namespace accelpack::probe {

// How many known devices of one GRES (name, type) the node has.
struct GresCount {
  std::string name;  // "gpu"
  std::string type;  // "h100"
  std::string kind;  // catalog kind "h100"
  int count = 0;
};

// Known devices per GRES, in device order of first appearance.
std::vector<GresCount> CountGres(const NodeInventory& node);

}  // namespace accelpack::probe
