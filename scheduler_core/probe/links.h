// Which of a node's devices are linked to each other (NVSwitch boards, HCCS rings).
//
// hwloc sees only PCI, so links come from what the catalog knows about a part's
// board (pci_catalog.h), applied to the devices in index order. A node that does
// not hold whole boards gets no link groups and a note, rather than a guess.
//
// Thread-safety: pure functions over the inventory passed in.
#pragma once

#include "probe/probe.h"

namespace accelpack::probe {

// Fills node.link_groups and each device's link_group; appends notes for partial
// boards. Expects node.devices in final order (indexes assigned).
void AssignLinkGroups(NodeInventory& node);

}  // namespace accelpack::probe
