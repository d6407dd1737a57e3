// The gres.conf lines of a probed node.
#include "probe/gres_conf.h"

#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "probe/conf_syntax.h"
#include "probe/pci_catalog.h"
#include "probe/probe.h"

namespace accelpack::probe {
namespace {

// Slurm numbers a GRES's devices by their order in gres.conf, and Links= lists one
// entry per device in that order: -1 for the device itself, the link weight for a
// member of its group, 0 for the rest.
std::string LinksFor(const NodeInventory& node, const Device& device) {
  const LinkGroup& group = node.link_groups[static_cast<size_t>(*device.link_group)];
  std::vector<int> links;
  for (const Device& other : node.devices) {
    if (!other.known() || other.gres_name != device.gres_name) continue;
    if (&other == &device) {
      links.push_back(-1);
    } else {
      links.push_back(other.link_group == device.link_group ? group.weight : 0);
    }
  }
  return absl::StrJoin(links, ",");
}

std::string DeviceLine(const NodeInventory& node, const Device& device, bool first_line) {
  std::string line = absl::StrCat("NodeName=", node.hostname);
  // Per node, so that the lines of many nodes can share one gres.conf.
  if (first_line) absl::StrAppend(&line, " AutoDetect=off");
  absl::StrAppend(&line, " Name=", device.gres_name, " Type=", device.gres_type,
                  " File=", device.DeviceFile());
  if (!device.cores.empty()) absl::StrAppend(&line, " Cores=", FormatIndexRanges(device.cores));
  if (device.link_group.has_value()) absl::StrAppend(&line, " Links=", LinksFor(node, device));
  return line + "\n";
}

std::string SkippedLine(const Device& device) {
  return absl::StrCat("# skipped ", device.DeviceFile(), " (", device.pci_bus_id,
                      "): ", VendorName(device.vendor), " device ", device.PciId(),
                      " is not in accelpack's PCI catalog\n");
}

bool HasHuaweiDevice(const NodeInventory& node) {
  for (const Device& device : node.devices) {
    if (device.vendor == DeviceVendor::kHuawei) return true;
  }
  return false;
}

}  // namespace

std::vector<GresCount> CountGres(const NodeInventory& node) {
  std::vector<GresCount> counts;
  for (const Device& device : node.devices) {
    if (!device.known()) continue;
    bool counted = false;
    for (GresCount& entry : counts) {
      if (entry.name == device.gres_name && entry.type == device.gres_type) {
        ++entry.count;
        counted = true;
      }
    }
    if (!counted) counts.push_back({device.gres_name, device.gres_type, device.kind, 1});
  }
  return counts;
}

std::string RenderGresConf(const NodeInventory& node) {
  std::string text = absl::StrCat("# gres.conf lines for ", node.hostname, " (accelpack-probe)\n");
  if (HasHuaweiDevice(node)) {
    text += "# /dev/davinciN numbered in PCI bus order; compare with `npu-smi info -m`\n";
  }
  for (const std::string& note : node.notes) absl::StrAppend(&text, "# note: ", note, "\n");
  if (node.devices.empty()) text += "# no accelerators found\n";
  bool first_line = true;
  for (const Device& device : node.devices) {
    if (!device.known()) {
      text += SkippedLine(device);
      continue;
    }
    text += DeviceLine(node, device, first_line);
    first_line = false;
  }
  return text;
}

}  // namespace accelpack::probe
