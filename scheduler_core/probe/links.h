// Which of a node's devices are linked to each other (NVSwitch boards, HCCS rings).
//
// NVIDIA links come from the export's NVLink wiring when it has one (hwloc's NVML
// backend); otherwise, and always for Ascend (hwloc has no Ascend backend), from
// what the catalog knows about a part's board (pci_catalog.h), applied to the
// devices in index order. A node that does not hold whole boards gets no link groups
// and a note, rather than a guess. Links= weights follow Slurm's NVML autodetect:
// NVLinks wired GPU to GPU, 0 between GPUs that meet only in NVSwitches.
//
// Thread-safety: pure functions over the inventory passed in.
#pragma once

#include "probe/probe.h"

namespace accelpack::probe {

// Fills node.link_groups, node.pair_links and each device's link_group; appends
// notes for partial boards. Expects node.devices in final order (indexes assigned)
// and node.nvlinks / node.nvswitches read from the topology.
void AssignLinkGroups(NodeInventory& node);

}  // namespace accelpack::probe
