#include "probe/links.h"

#include <algorithm>
#include <map>
#include <numeric>
#include <string>
#include <utility>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "probe/pci_catalog.h"

namespace accelpack::probe {
namespace {

const PciPart& PartOf(const Device& device) {
  return *ClassifyPciDevice(device.vendor_id, device.device_id, device.class_id).part;
}

// Devices of one board-forming part, by (vendor, device ID): boards are never mixed.
std::map<std::pair<DeviceVendor, uint16_t>, std::vector<int>> DevicesByPart(
    const NodeInventory& node) {
  std::map<std::pair<DeviceVendor, uint16_t>, std::vector<int>> by_part;
  for (int position = 0; position < static_cast<int>(node.devices.size()); ++position) {
    const Device& device = node.devices[static_cast<size_t>(position)];
    if (!device.known() || !device.numbered()) continue;
    by_part[{device.vendor, device.device_id}].push_back(position);
  }
  return by_part;
}

void AddGroup(Interconnect interconnect, std::vector<int> members, NodeInventory& node) {
  const int id = static_cast<int>(node.link_groups.size());
  for (int position : members) node.devices[static_cast<size_t>(position)].link_group = id;
  node.link_groups.push_back({interconnect, std::move(members)});
}

void AddBoards(const BoardLayout& layout, const std::vector<int>& positions, NodeInventory& node) {
  const auto group_size = static_cast<size_t>(layout.group_size);
  for (size_t first = 0; first + group_size <= positions.size(); first += group_size) {
    std::vector<int> members(positions.begin() + static_cast<std::ptrdiff_t>(first),
                             positions.begin() + static_cast<std::ptrdiff_t>(first + group_size));
    for (size_t a = 0; a < members.size(); ++a) {
      for (size_t b = a + 1; b < members.size(); ++b) {
        if (layout.pair_links > 0) node.pair_links[{members[a], members[b]}] = layout.pair_links;
      }
    }
    AddGroup(layout.interconnect, std::move(members), node);
  }
}

// The first of the part's layouts that takes all `count` devices, or null.
const BoardLayout* ChooseLayout(const PciPart& part, int count, const NodeInventory& node) {
  for (const BoardLayout& layout : part.boards) {
    if (layout.board_size == 0 || count % layout.board_size != 0) continue;
    // NVSwitch chips on PCI mean a larger board, not 4-GPU boards.
    if (layout.interconnect == Interconnect::kNvLink && node.nvswitches > 0) continue;
    return &layout;
  }
  return nullptr;
}

std::string BoardSizes(const PciPart& part) {
  std::vector<int> sizes;
  for (const BoardLayout& layout : part.boards) {
    if (layout.board_size > 0) sizes.push_back(layout.board_size);
  }
  return absl::StrJoin(sizes, " or ");
}

void AssignFromCatalog(const PciPart& part, const std::vector<int>& positions,
                       NodeInventory& node) {
  const auto count = static_cast<int>(positions.size());
  if (const BoardLayout* layout = ChooseLayout(part, count, node)) {
    AddBoards(*layout, positions, node);
  } else if (part.boards.front().board_size > 0 && count > 1) {
    // One GPU (a cloud VM's slice of a board) has no peer to link to: nothing is unknown.
    node.notes.push_back(
        absl::StrCat(count, " ", part.model, " devices are not whole boards of ", BoardSizes(part),
                     node.nvswitches > 0 ? " (NVSwitch seen)" : "", ": links left unknown"));
  } else if (part.nvlink_bridges && count > 1) {
    node.notes.push_back(absl::StrCat(
        "NVLink bridges between ", part.model,
        " cards do not show on PCI: no Links (an export from an hwloc built with NVML has them)"));
  }
}

// Groups of NVIDIA devices connected by NVLink, directly or through NVSwitches, from
// the export's wiring. Links= between two of them is the number of direct NVLinks.
void AssignFromWiring(const NvLinkWiring& wiring, const std::vector<int>& positions,
                      NodeInventory& node) {
  // Union-find over positions.
  std::map<int, int> parent;
  for (int position : positions) parent[position] = position;
  auto find = [&parent](int x) {
    while (parent[x] != x) x = parent[x] = parent[parent[x]];
    return x;
  };
  auto join = [&](int a, int b) { parent[find(a)] = find(b); };
  for (const auto& [pair, links] : wiring.gpu_links) {
    if (links <= 0 || !parent.contains(pair.first) || !parent.contains(pair.second)) continue;
    join(pair.first, pair.second);
    node.pair_links[pair] = links;
  }
  std::map<int, int> first_on_switch;
  for (const auto& [position, switches] : wiring.switches) {
    if (!parent.contains(position)) continue;
    for (int nvswitch : switches) {
      auto [it, inserted] = first_on_switch.emplace(nvswitch, position);
      if (!inserted) join(position, it->second);
    }
  }
  std::map<int, std::vector<int>> components;
  for (int position : positions) components[find(position)].push_back(position);
  std::vector<std::vector<int>> groups;
  for (auto& [root, members] : components) {
    if (members.size() >= 2) groups.push_back(std::move(members));
  }
  std::sort(groups.begin(), groups.end());
  for (std::vector<int>& members : groups) {
    const bool via_switch = std::any_of(members.begin(), members.end(), [&](int position) {
      return wiring.switches.contains(position);
    });
    AddGroup(via_switch ? Interconnect::kNvSwitch : Interconnect::kNvLink, std::move(members),
             node);
  }
}

// Whether the export's wiring says anything about these devices. SXM GPUs always
// have NVLinks: a matrix without any for them lost its peers (an export filtered of
// the NVSwitch PCI functions), and the catalog's board knows more.
bool HasWiring(const NvLinkWiring& wiring, const std::vector<int>& positions) {
  auto listed = [&positions](int position) {
    return std::find(positions.begin(), positions.end(), position) != positions.end();
  };
  for (const auto& [pair, links] : wiring.gpu_links) {
    if (links > 0 && (listed(pair.first) || listed(pair.second))) return true;
  }
  for (const auto& [position, switches] : wiring.switches) {
    if (listed(position)) return true;
  }
  return false;
}

}  // namespace

void AssignLinkGroups(NodeInventory& node) {
  std::vector<int> wired_nvidia;
  for (const auto& [key, positions] : DevicesByPart(node)) {
    // The export's NVLink wiring, when it covers these devices, is what the hardware
    // has: the catalog's board is only for exports without it.
    if (key.first == DeviceVendor::kNvidia && node.nvlinks.has_value() &&
        HasWiring(*node.nvlinks, positions)) {
      wired_nvidia.insert(wired_nvidia.end(), positions.begin(), positions.end());
      continue;
    }
    AssignFromCatalog(PartOf(node.devices[static_cast<size_t>(positions.front())]), positions,
                      node);
  }
  if (!wired_nvidia.empty()) {
    std::sort(wired_nvidia.begin(), wired_nvidia.end());
    AssignFromWiring(*node.nvlinks, wired_nvidia, node);
  }
}

}  // namespace accelpack::probe
