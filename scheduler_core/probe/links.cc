#include "probe/links.h"

#include <map>
#include <string>
#include <utility>
#include <vector>

#include "absl/strings/str_cat.h"
#include "probe/pci_catalog.h"

namespace accelpack::probe {
namespace {

// Devices of one board-forming part, by (vendor, device ID): boards are never mixed.
std::map<std::pair<DeviceVendor, uint16_t>, std::vector<int>> DevicesByBoardPart(
    const NodeInventory& node) {
  std::map<std::pair<DeviceVendor, uint16_t>, std::vector<int>> by_part;
  for (int position = 0; position < static_cast<int>(node.devices.size()); ++position) {
    const Device& device = node.devices[static_cast<size_t>(position)];
    if (!device.known()) continue;
    by_part[{device.vendor, device.device_id}].push_back(position);
  }
  return by_part;
}

void AddGroups(const PciPart& part, const std::vector<int>& positions, NodeInventory& node) {
  const auto group_size = static_cast<size_t>(part.group_size);
  for (size_t first = 0; first + group_size <= positions.size(); first += group_size) {
    LinkGroup group{part.interconnect, part.link_weight, {}};
    for (size_t i = first; i < first + group_size; ++i) {
      group.members.push_back(positions[i]);
      node.devices[static_cast<size_t>(positions[i])].link_group =
          static_cast<int>(node.link_groups.size());
    }
    node.link_groups.push_back(std::move(group));
  }
}

}  // namespace

void AssignLinkGroups(NodeInventory& node) {
  for (const auto& [key, positions] : DevicesByBoardPart(node)) {
    const PciMatch match = ClassifyPciDevice(VendorPciId(key.first), key.second, 0);
    const PciPart& part = *match.part;
    if (part.board_size == 0) continue;
    const auto count = static_cast<int>(positions.size());
    if (count % part.board_size != 0) {
      node.notes.push_back(absl::StrCat(count, " ", part.model, " devices are not whole boards of ",
                                        part.board_size, ": links left unknown"));
      continue;
    }
    AddGroups(part, positions, node);
  }
}

}  // namespace accelpack::probe
