#include "probe/report_json.h"

#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "probe/gres_conf.h"
#include "probe/pci_catalog.h"

namespace accelpack::probe {
namespace {

using nlohmann::json;

json OptionalIndex(const std::optional<int>& value) {
  return value.has_value() ? json(*value) : json(nullptr);
}

json DeviceIndexes(const NodeInventory& node, const std::vector<int>& positions) {
  json indexes = json::array();
  for (int position : positions)
    indexes.push_back(node.devices[static_cast<size_t>(position)].index);
  return indexes;
}

json DeviceJson(const Device& device) {
  return {
      {"index", device.numbered() ? json(device.index) : json(nullptr)},
      {"kind", device.kind},
      {"vendor", std::string(VendorName(device.vendor))},
      {"model", device.known() ? json(device.model) : json(nullptr)},
      {"gres", device.known() ? json(absl::StrCat(device.gres_name, ":", device.gres_type))
                              : json(nullptr)},
      {"file", device.numbered() ? json(device.DeviceFile()) : json(nullptr)},
      {"pci_bus_id", device.pci_bus_id},
      {"pci_id", device.PciId()},
      {"numa_nodes", device.numa_nodes},
      {"cores", device.cores},
      {"pcie_switch", OptionalIndex(device.pcie_switch)},
      {"link_group", OptionalIndex(device.link_group)},
  };
}

// How a kind's devices are linked on this node: the interconnect of its link groups.
std::string KindInterconnect(const NodeInventory& node, const std::string& kind) {
  for (const Device& device : node.devices) {
    if (device.kind == kind && device.link_group.has_value()) {
      return std::string(
          InterconnectName(node.link_groups[static_cast<size_t>(*device.link_group)].interconnect));
    }
  }
  return std::string(InterconnectName(Interconnect::kNone));
}

json KindsJson(const NodeInventory& node) {
  json kinds = json::array();
  for (const GresCount& entry : CountGres(node)) {
    kinds.push_back({{"kind", entry.kind},
                     {"gres", absl::StrCat(entry.name, ":", entry.type)},
                     {"count", entry.count},
                     {"interconnect", KindInterconnect(node, entry.kind)}});
  }
  return kinds;
}

}  // namespace

json BuildReport(const NodeInventory& node) {
  json numa_nodes = json::array();
  for (const NumaNode& numa : node.numa_nodes) {
    numa_nodes.push_back(
        {{"os_index", numa.os_index}, {"memory_mib", numa.memory_mib}, {"cores", numa.cores}});
  }
  // Devices without a device file (a Huawei device outside the catalog) are listed
  // apart: every entry of "devices" has an index that readers can rely on.
  json devices = json::array();
  json unnumbered = json::array();
  for (const Device& device : node.devices) {
    (device.numbered() ? devices : unnumbered).push_back(DeviceJson(device));
  }
  json switch_groups = json::array();
  for (const std::vector<int>& group : node.pcie_switch_groups) {
    switch_groups.push_back(DeviceIndexes(node, group));
  }
  json link_groups = json::array();
  for (const LinkGroup& group : node.link_groups) {
    link_groups.push_back(DeviceIndexes(node, group.members));
  }
  json report = {
      {"schema", std::string(kReportSchema)},
      {"node", node.hostname},
      {"cpu",
       {{"sockets", node.sockets},
        {"cores_per_socket", node.cores_per_socket},
        {"threads_per_core", node.threads_per_core},
        {"real_memory_mib", node.real_memory_mib}}},
      {"numa_nodes", numa_nodes},
      {"kinds", KindsJson(node)},
      {"devices", devices},
      {"pcie_switch_groups", switch_groups},
      {"link_groups", link_groups},
      {"notes", node.notes},
  };
  if (!unnumbered.empty()) report["unnumbered_devices"] = unnumbered;
  return report;
}

}  // namespace accelpack::probe
