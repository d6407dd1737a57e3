// The JSON topology report: what the core's snapshot carries about a node.
//
// Shape (schema "accelpack.probe/v1"):
//   node, cpu {sockets, cores_per_socket, threads_per_core, real_memory_mib},
//   numa_nodes [{os_index, memory_mib, cores}],
//   kinds [{kind, gres, count, interconnect}],            catalog kinds present
//   devices [{index, kind, vendor, model, gres, file, pci_bus_id, pci_id,
//             numa_nodes, cores, pcie_switch, link_group}],
//   pcie_switch_groups [[device index...]], link_groups [[device index...]], notes,
//   unnumbered_devices [device...]   only when there are some: devices with no
//                                    device file (index and file null), e.g. a
//                                    Huawei device outside the catalog.
// kind is a catalog kind name (h100, h200, h800, h20, gh200, ascend910, ascend910b,
// ascend910c, ascend310, ascend310p) or "unknown". A link group's interconnect is
// nvswitch, nvlink (GPUs wired directly: 4-GPU HGX, NVL bridges) or hccs. Device indexes are the N
// of the device's /dev file; a group never mixes vendors. pcie_switch and link_group index the
// group lists, or are null. cores are hwloc logical core indexes.
//
// Thread-safety: pure function.
#pragma once

#include <nlohmann/json.hpp>

#include "absl/strings/string_view.h"
#include "probe/probe.h"

namespace accelpack::probe {

inline constexpr absl::string_view kReportSchema = "accelpack.probe/v1";

nlohmann::json BuildReport(const NodeInventory& node);

}  // namespace accelpack::probe
