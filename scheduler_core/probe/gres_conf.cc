// The gres.conf lines of a probed node.
#include "probe/gres_conf.h"

#include <algorithm>
#include <set>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "probe/conf_syntax.h"
#include "probe/pci_catalog.h"
#include "probe/probe.h"

namespace accelpack::probe {
namespace {

bool Listed(const Device& device) { return device.known() && device.numbered(); }

// Slurm numbers a GRES's devices by their order in gres.conf, and Links= lists one
// entry per device in that order: -1 for the device itself, else the links between
// the two (node.pair_links: what Slurm's own NVML autodetect would write).
// GPUs partitioned into MIG slices (`left_out`) are not whole devices Slurm numbers.
std::string LinksFor(const NodeInventory& node, int position, const std::set<int>& left_out) {
  const Device& device = node.devices[static_cast<size_t>(position)];
  std::vector<int> links;
  for (int other = 0; other < static_cast<int>(node.devices.size()); ++other) {
    const Device& peer = node.devices[static_cast<size_t>(other)];
    if (!Listed(peer) || peer.gres_name != device.gres_name || left_out.contains(other)) continue;
    if (other == position) {
      links.push_back(-1);
      continue;
    }
    const auto it = node.pair_links.find(std::minmax(position, other));
    links.push_back(it == node.pair_links.end() ? 0 : it->second);
  }
  return absl::StrJoin(links, ",");
}

std::string DeviceLine(const NodeInventory& node, int position, bool first_line,
                       const std::set<int>& left_out) {
  const Device& device = node.devices[static_cast<size_t>(position)];
  std::string line = absl::StrCat("NodeName=", node.hostname);
  // Per node, so that the lines of many nodes can share one gres.conf.
  if (first_line) absl::StrAppend(&line, " AutoDetect=off");
  absl::StrAppend(&line, " Name=", device.gres_name, " Type=", device.gres_type,
                  " File=", device.DeviceFile());
  if (!device.cores.empty()) absl::StrAppend(&line, " Cores=", FormatIndexRanges(device.cores));
  if (device.link_group.has_value())
    absl::StrAppend(&line, " Links=", LinksFor(node, position, left_out));
  return line + "\n";
}

std::string SkippedLine(const Device& device) {
  if (!device.numbered() && device.vendor == DeviceVendor::kNvidia) {
    return absl::StrCat("# skipped ", device.pci_bus_id, ": ",
                        device.known() ? device.model : "NVIDIA device", " ", device.PciId(),
                        " has no /dev/nvidia file: the NVIDIA driver does not list it or "
                        "excludes it (bound to vfio-pci for a VM, NVreg_ExcludedGpus, or "
                        "failed to initialise?)\n");
  }
  if (!device.numbered()) {
    return absl::StrCat("# skipped ", device.pci_bus_id, ": ", VendorName(device.vendor),
                        " device ", device.PciId(),
                        " is not in accelpack's PCI catalog; no /dev/davinci number given to "
                        "it (if it is an NPU, number it with --npu-map)\n");
  }
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

std::vector<GresCount> CountGres(const NodeInventory& node, const std::set<int>& left_out) {
  std::vector<GresCount> counts;
  for (int position = 0; position < static_cast<int>(node.devices.size()); ++position) {
    const Device& device = node.devices[static_cast<size_t>(position)];
    if (!Listed(device) || left_out.contains(position)) continue;
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

std::string RenderShardLines(const NodeInventory& node, int shards_per_gpu) {
  return RenderShardLinesExcept(node, shards_per_gpu, {});
}

std::string RenderShardLinesExcept(const NodeInventory& node, int shards_per_gpu,
                                   const std::set<int>& left_out) {
  if (shards_per_gpu < 1) return "";
  std::string lines;
  int gpus = 0;
  for (int position = 0; position < static_cast<int>(node.devices.size()); ++position) {
    const Device& device = node.devices[static_cast<size_t>(position)];
    if (!Listed(device) || device.gres_name != "gpu" || left_out.contains(position)) continue;
    absl::StrAppend(&lines, "NodeName=", node.hostname, " Name=shard Count=", shards_per_gpu,
                    " File=", device.DeviceFile(), "\n");
    ++gpus;
  }
  if (gpus == 0) return "";
  return absl::StrCat("# shards: ", shards_per_gpu,
                      " per GPU; slurm.conf needs GresTypes=...,shard",
                      " and shard:", gpus * shards_per_gpu, " in this node's Gres=\n", lines);
}

std::string RenderGresConf(const NodeInventory& node, const SharingPlan& sharing) {
  const std::set<int> partitioned = MigPartitioned(node, sharing.mig_layout);
  std::string text = absl::StrCat("# gres.conf lines for ", node.hostname, " (accelpack-probe)\n");
  if (HasHuaweiDevice(node)) {
    text += node.npu_ids_from_map
                ? "# /dev/davinciN from the given NPU map (bus id -> logical id)\n"
                : "# /dev/davinciN numbered in PCI bus order; compare with `npu-smi info -m`\n";
  }
  for (const std::string& note : node.notes) absl::StrAppend(&text, "# note: ", note, "\n");
  if (node.devices.empty()) text += "# no accelerators found\n";
  bool first_line = true;
  for (int position = 0; position < static_cast<int>(node.devices.size()); ++position) {
    const Device& device = node.devices[static_cast<size_t>(position)];
    if (!Listed(device)) {
      text += SkippedLine(device);
      continue;
    }
    if (partitioned.contains(position)) continue;
    text += DeviceLine(node, position, first_line, partitioned);
    first_line = false;
  }
  text += RenderMigLines(node, sharing, first_line);
  text += RenderShardLinesExcept(node, sharing.shards_per_gpu, partitioned);
  return text;
}

}  // namespace accelpack::probe
