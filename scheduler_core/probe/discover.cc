// Reads a node's CPUs, memory and accelerators from an hwloc topology.
#include <hwloc.h>
#include <unistd.h>

#include <algorithm>
#include <cctype>
#include <cerrno>
#include <chrono>
#include <cstdint>
#include <cstring>
#include <map>
#include <memory>
#include <set>
#include <string>
#include <tuple>
#include <utility>
#include <vector>

#include "absl/status/status.h"
#include "absl/strings/ascii.h"
#include "absl/strings/escaping.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/strings/str_join.h"
#include "absl/strings/str_split.h"
#include "probe/links.h"
#include "probe/pci_catalog.h"
#include "probe/probe.h"
#include "probe/text_file.h"
#include "probe/xml_guard.h"

namespace accelpack::probe {
namespace {

// hwloc's PCI attributes (a struct nested in a C union, hence the long name in C++).
using PciAttr = hwloc_obj_attr_u::hwloc_pcidev_attr_s;

constexpr int64_t kBytesPerMib = 1024 * 1024;
// NVLinks between two GPUs: 18 on an H100; more means the matrix is wrong.
constexpr uint64_t kMaxNvLinksPerPair = 64;

// hwloc's parse of one export normally takes milliseconds; past this it is stuck.
constexpr std::chrono::seconds kXmlParseLimit{20};

struct TopologyDeleter {
  void operator()(hwloc_topology* topology) const { hwloc_topology_destroy(topology); }
};
using Topology = std::unique_ptr<hwloc_topology, TopologyDeleter>;

// A topology that keeps the PCI devices and the bridges above them: hwloc drops all
// I/O objects by default.
absl::StatusOr<Topology> NewTopologyWithIo() {
  hwloc_topology_t raw = nullptr;
  if (hwloc_topology_init(&raw) != 0) {
    return absl::InternalError(absl::StrCat("hwloc_topology_init: ", std::strerror(errno)));
  }
  Topology topology(raw);
  if (hwloc_topology_set_io_types_filter(raw, HWLOC_TYPE_FILTER_KEEP_IMPORTANT) != 0 ||
      // Every PCI function: NVSwitches (class 0680) are not "important" to hwloc, but
      // they tell an 8-GPU HGX board from a 4-GPU one and end NVML's NVLinks.
      hwloc_topology_set_type_filter(raw, HWLOC_OBJ_PCI_DEVICE, HWLOC_TYPE_FILTER_KEEP_ALL) != 0) {
    return absl::InternalError(
        absl::StrCat("hwloc_topology_set_io_types_filter: ", std::strerror(errno)));
  }
  return topology;
}

std::string ShortHostName(absl::string_view name) {
  return std::string(name.substr(0, name.find('.')));
}

}  // namespace

absl::Status CheckNodeName(absl::string_view name, absl::string_view source) {
  constexpr size_t kMaxNodeName = 64;
  const bool legal = !name.empty() && name.size() <= kMaxNodeName &&
                     std::all_of(name.begin(), name.end(), [](char c) {
                       return absl::ascii_isalnum(static_cast<unsigned char>(c)) || c == '-' ||
                              c == '_' || c == '.';
                     });
  if (legal) return absl::OkStatus();
  return absl::InvalidArgumentError(absl::StrCat(
      source, ": node name \"", absl::CHexEscape(name.substr(0, kMaxNodeName)),
      name.size() > kMaxNodeName ? "...\"" : "\"",
      " is not one Slurm takes (letters, digits, '-', '_', '.', at most 64); pass --node-name"));
}

namespace {

std::string FormatBusId(const PciAttr& pci) {
  return absl::StrFormat("%04x:%02x:%02x.%x", pci.domain, pci.bus, pci.dev, pci.func);
}

auto BusOrderKey(const PciAttr& pci) {
  return std::make_tuple(pci.domain, pci.bus, pci.dev, pci.func);
}

// 2^32 MiB (4 PiB): more than any node's memory; an export that says more is wrong.
constexpr int64_t kMaxMemoryMib = int64_t{1} << 32;

// In unsigned arithmetic: a byte count past INT64_MAX must not turn negative.
int64_t ToMib(uint64_t bytes) {
  return static_cast<int64_t>(
      std::min<uint64_t>(bytes / kBytesPerMib, static_cast<uint64_t>(kMaxMemoryMib) + 1));
}

// Logical indexes of the cores (what Slurm's Cores= counts) inside `cpuset`.
std::vector<int> CoresInside(hwloc_topology_t topology, hwloc_const_cpuset_t cpuset) {
  std::vector<int> cores;
  if (cpuset == nullptr) return cores;
  hwloc_obj_t core = nullptr;
  while ((core = hwloc_get_next_obj_inside_cpuset_by_type(topology, cpuset, HWLOC_OBJ_CORE,
                                                          core)) != nullptr) {
    cores.push_back(static_cast<int>(core->logical_index));
  }
  return cores;
}

int CountObjects(hwloc_topology_t topology, hwloc_obj_type_t type) {
  const int count = hwloc_get_nbobjs_by_type(topology, type);
  return count > 0 ? count : 0;
}

bool IsGpuMemoryNode(hwloc_obj_t numa) {
  return numa->subtype != nullptr && std::strcmp(numa->subtype, "GPUMemory") == 0;
}

// hwloc 2 imports a 1.x export's CPU-less NUMA node with an empty cpuset (hwloc 2
// itself would give it its parent's).
bool IsCpulessInV1(hwloc_obj_t numa) {
  return numa->cpuset == nullptr || hwloc_bitmap_iszero(numa->cpuset);
}

// Sockets, cores, threads and memory: what slurm.conf's NodeName line states.
// hwloc 1.x exports do not mark GPU memory (POWER9 V100 HBM shows as CPU-less NUMA
// nodes) as hwloc 2 does with subtype GPUMemory, so from them a NUMA node without
// CPUs is left out of RealMemory, with a note.
void ReadCpuAndMemory(hwloc_topology_t topology, bool hwloc_v1, NodeInventory& node) {
  const int packages = CountObjects(topology, HWLOC_OBJ_PACKAGE);
  const int pus = CountObjects(topology, HWLOC_OBJ_PU);
  int cores = CountObjects(topology, HWLOC_OBJ_CORE);
  // hwloc may omit Core objects (some XML exports): each PU is then its own core.
  if (cores == 0) cores = pus;
  node.sockets = std::max(packages, 1);
  node.cores_per_socket = cores / node.sockets;
  node.threads_per_core = cores > 0 ? pus / cores : 0;
  if (cores % node.sockets != 0 || (cores > 0 && pus % cores != 0)) {
    node.notes.push_back(absl::StrCat("uneven CPU topology (", node.sockets, " sockets, ", cores,
                                      " cores, ", pus, " PUs): check the NodeName line"));
  }

  std::vector<std::string> cpuless;
  hwloc_obj_t numa = nullptr;
  while ((numa = hwloc_get_next_obj_by_type(topology, HWLOC_OBJ_NUMANODE, numa)) != nullptr) {
    // GH200 GPU memory may appear as a NUMA node; it is not RAM Slurm can hand out.
    if (IsGpuMemoryNode(numa)) continue;
    NumaNode entry;
    entry.os_index = numa->os_index;
    entry.memory_mib = ToMib(numa->attr->numanode.local_memory);
    entry.cores = CoresInside(topology, numa->cpuset);
    if (hwloc_v1 && IsCpulessInV1(numa)) {
      cpuless.push_back(absl::StrCat(entry.os_index, " (", entry.memory_mib, " MiB)"));
      continue;
    }
    node.real_memory_mib += entry.memory_mib;
    node.numa_nodes.push_back(std::move(entry));
  }
  if (!cpuless.empty()) {
    node.notes.push_back(absl::StrCat(
        "hwloc 1.x export: NUMA nodes without CPUs left out of RealMemory (GPU memory on "
        "such nodes): ",
        absl::StrJoin(cpuless, ", ")));
  }
  if (node.real_memory_mib == 0) {
    node.real_memory_mib = ToMib(hwloc_get_root_obj(topology)->total_memory);
  }
}

std::vector<unsigned> LocalNumaNodes(hwloc_topology_t topology, hwloc_obj_t cpu_side) {
  const int total = CountObjects(topology, HWLOC_OBJ_NUMANODE);
  std::vector<hwloc_obj_t> nodes(static_cast<size_t>(total));
  auto count = static_cast<unsigned>(total);
  hwloc_location location{};
  location.type = HWLOC_LOCATION_TYPE_OBJECT;
  location.location.object = cpu_side;
  // LARGER_LOCALITY: a device attached below a NUMA node's level (to an L3 group, a
  // die) still gets the NUMA node that covers it.
  std::vector<unsigned> os_indexes;
  if (hwloc_get_local_numanode_objs(topology, &location, &count, nodes.data(),
                                    HWLOC_LOCAL_NUMANODE_FLAG_LARGER_LOCALITY) != 0) {
    return os_indexes;
  }
  for (unsigned i = 0; i < count && i < nodes.size(); ++i) {
    if (IsGpuMemoryNode(nodes[i])) continue;
    os_indexes.push_back(nodes[i]->os_index);
  }
  std::sort(os_indexes.begin(), os_indexes.end());
  return os_indexes;
}

bool IsHostBridge(hwloc_obj_t obj) {
  return obj != nullptr && obj->type == HWLOC_OBJ_BRIDGE &&
         obj->attr->bridge.upstream_type == HWLOC_OBJ_BRIDGE_HOST;
}

// The bridge right below the host bridge above `device` (a root port, which leads to
// one PCIe switch when several devices sit behind it); null when the device hangs
// directly off the host bridge.
hwloc_obj_t TopBridgeBelowHost(hwloc_obj_t device) {
  hwloc_obj_t below = device;
  for (hwloc_obj_t parent = device->parent; parent != nullptr; parent = parent->parent) {
    if (IsHostBridge(parent)) return below == device ? nullptr : below;
    if (parent->type != HWLOC_OBJ_BRIDGE) return nullptr;
    below = parent;
  }
  return nullptr;
}

struct FoundDevice {
  Device device;
  hwloc_obj_t pci = nullptr;
};

Device DescribeDevice(hwloc_topology_t topology, hwloc_obj_t pci, const PciMatch& match) {
  const PciAttr& attr = pci->attr->pcidev;
  Device device;
  device.vendor = match.vendor;
  device.pci_bus_id = FormatBusId(attr);
  device.vendor_id = attr.vendor_id;
  device.device_id = attr.device_id;
  device.class_id = attr.class_id;
  device.gres_name = std::string(VendorGresName(match.vendor));
  if (match.part != nullptr) {
    device.kind = std::string(match.part->kind);
    device.model = std::string(match.part->model);
    device.gres_type = std::string(match.part->gres_type);
    device.mig_profiles = std::string(match.part->mig_profiles);
  } else {
    device.kind = std::string(kUnknownKind);
  }
  hwloc_obj_t cpu_side = hwloc_get_non_io_ancestor_obj(topology, pci);
  if (cpu_side != nullptr) {
    device.cores = CoresInside(topology, cpu_side->cpuset);
    device.numa_nodes = LocalNumaNodes(topology, cpu_side);
  }
  return device;
}

// /dev/nvidiaN: the driver's own numbers where given (the live machine), else every
// NVIDIA GPU (known or not) in bus order, as the driver numbers them by default.
// /dev/davinciN is Huawei's logical id, which hwloc cannot see: the given map, or
// by default the catalog's NPUs in bus order (what Atlas servers show). A Huawei
// device of an accelerator class that the catalog does not know gets no number: it
// may be another function of the host's chips, and numbering it would shift every
// NPU after it.
absl::Status NumberDevices(std::vector<FoundDevice>& found, const ProbeOptions& options,
                           absl::string_view source) {
  std::sort(found.begin(), found.end(), [](const FoundDevice& a, const FoundDevice& b) {
    return std::make_pair(a.device.vendor, BusOrderKey(a.pci->attr->pcidev)) <
           std::make_pair(b.device.vendor, BusOrderKey(b.pci->attr->pcidev));
  });
  // One PCI address is one device: two at the same address would number devices
  // that are not there (and shift the /dev/nvidiaN of the rest).
  std::set<std::string> addresses;
  for (const FoundDevice& entry : found) {
    if (!addresses.insert(entry.device.pci_bus_id).second) {
      return absl::InvalidArgumentError(absl::StrCat(source, ": two accelerators at PCI address ",
                                                     entry.device.pci_bus_id,
                                                     " (a damaged or edited export)"));
    }
  }
  int next_gpu = 0;
  int next_npu = 0;
  std::vector<std::string> mapped;
  for (FoundDevice& entry : found) {
    Device& device = entry.device;
    if (device.vendor == DeviceVendor::kNvidia) {
      if (!options.nvidia_minors.has_value()) {
        device.index = next_gpu++;
      } else if (const auto it = options.nvidia_minors->find(device.pci_bus_id);
                 it != options.nvidia_minors->end()) {
        device.index = it->second;
      }
    } else if (options.npu_logical_ids.has_value()) {
      const auto it = options.npu_logical_ids->find(device.pci_bus_id);
      if (it != options.npu_logical_ids->end()) {
        device.index = it->second;
        mapped.push_back(device.pci_bus_id);
      } else if (device.known()) {
        return absl::InvalidArgumentError(absl::StrCat(source,
                                                       ": the NPU map gives no logical id for ",
                                                       device.model, " at ", device.pci_bus_id));
      }
    } else if (device.known()) {
      device.index = next_npu++;
    }
  }
  if (options.npu_logical_ids.has_value()) {
    for (const auto& [bus_id, logical_id] : *options.npu_logical_ids) {
      if (std::find(mapped.begin(), mapped.end(), bus_id) == mapped.end()) {
        return absl::InvalidArgumentError(absl::StrCat(
            source, ": the NPU map names ", bus_id, " (logical id ", logical_id,
            "), which is not a Huawei accelerator of this topology: a map of another node?"));
      }
    }
  }
  // Device files in order, unnumbered devices last (they appear only as comments).
  std::stable_sort(found.begin(), found.end(), [](const FoundDevice& a, const FoundDevice& b) {
    return std::make_tuple(a.device.vendor, !a.device.numbered(), a.device.index) <
           std::make_tuple(b.device.vendor, !b.device.numbered(), b.device.index);
  });
  for (size_t i = 1; i < found.size(); ++i) {
    const Device& before = found[i - 1].device;
    const Device& device = found[i].device;
    if (device.numbered() && device.vendor == before.vendor && device.index == before.index) {
      return absl::InvalidArgumentError(absl::StrCat(source, ": ", before.pci_bus_id, " and ",
                                                     device.pci_bus_id, " would both be ",
                                                     device.DeviceFile()));
    }
  }
  return absl::OkStatus();
}

absl::StatusOr<std::vector<FoundDevice>> FindAccelerators(hwloc_topology_t topology,
                                                          const ProbeOptions& options,
                                                          absl::string_view source,
                                                          NodeInventory& node) {
  std::vector<FoundDevice> found;
  hwloc_obj_t pci = nullptr;
  while ((pci = hwloc_get_next_pcidev(topology, pci)) != nullptr) {
    const PciAttr& attr = pci->attr->pcidev;
    if (IsNvSwitch(attr.vendor_id, attr.device_id)) ++node.nvswitches;
    const PciMatch match = ClassifyPciDevice(attr.vendor_id, attr.device_id, attr.class_id);
    if (match.role != PciRole::kKnownAccelerator && match.role != PciRole::kUnknownAccelerator) {
      continue;
    }
    if (found.size() >= static_cast<size_t>(kMaxDevicesPerNode)) {
      return absl::InvalidArgumentError(
          absl::StrCat(source, ": more than ", kMaxDevicesPerNode,
                       " accelerators on one node; no such machine exists (a damaged or "
                       "generated export?)"));
    }
    found.push_back({DescribeDevice(topology, pci, match), pci});
  }
  absl::Status numbered = NumberDevices(found, options, source);
  if (!numbered.ok()) return numbered;
  return found;
}

void AssignPcieSwitchGroups(const std::vector<FoundDevice>& found, NodeInventory& node) {
  std::vector<std::pair<hwloc_obj_t, std::vector<int>>> by_bridge;  // first-seen order
  for (int position = 0; position < static_cast<int>(found.size()); ++position) {
    hwloc_obj_t bridge = TopBridgeBelowHost(found[static_cast<size_t>(position)].pci);
    if (bridge == nullptr) continue;
    auto it = std::find_if(by_bridge.begin(), by_bridge.end(),
                           [bridge](const auto& entry) { return entry.first == bridge; });
    if (it == by_bridge.end()) {
      by_bridge.push_back({bridge, {position}});
    } else {
      it->second.push_back(position);
    }
  }
  for (auto& [bridge, positions] : by_bridge) {
    if (positions.size() < 2) continue;
    for (int position : positions) {
      node.devices[static_cast<size_t>(position)].pcie_switch =
          static_cast<int>(node.pcie_switch_groups.size());
    }
    node.pcie_switch_groups.push_back(std::move(positions));
  }
}

// The PCI device an object of hwloc's NVLinkBandwidth matrix stands for: the GPU's
// PCI function for its NVML OS device, the NVSwitch's own PCI function.
hwloc_obj_t PciOf(hwloc_obj_t obj) {
  while (obj != nullptr && obj->type == HWLOC_OBJ_OS_DEVICE) obj = obj->parent;
  return obj != nullptr && obj->type == HWLOC_OBJ_PCI_DEVICE ? obj : nullptr;
}

bool IsSwitchLike(hwloc_obj_t pci) {
  // NVML's NVLink peers that are not GPUs are NVSwitches (PCI base class 06).
  return pci != nullptr && (pci->attr->pcidev.class_id >> 8) == 0x06;
}

// hwloc's NVML backend exports NVLinks as a bandwidth matrix named NVLinkBandwidth
// over the GPUs' OS devices and their non-GPU peers (NVSwitches, POWER9 CPUs), with
// 25000 MB/s per NVLink 2-4 (20000 for NVLink 1). Slurm counts the links per GPU
// pair; so does this.
void ReadNvLinkWiring(hwloc_topology_t topology, const std::vector<FoundDevice>& found,
                      NodeInventory& node) {
  unsigned count = 1;
  hwloc_distances_s* distances = nullptr;
  if (hwloc_distances_get_by_name(topology, "NVLinkBandwidth", &count, &distances, 0) != 0 ||
      count == 0 || distances == nullptr) {
    return;
  }
  const unsigned size = distances->nbobjs;
  std::vector<int> position(size, -1);
  std::vector<bool> nvswitch(size, false);
  for (unsigned i = 0; i < size; ++i) {
    hwloc_obj_t pci = PciOf(distances->objs[i]);
    for (size_t p = 0; p < found.size(); ++p) {
      if (found[p].pci == pci && found[p].device.vendor == DeviceVendor::kNvidia) {
        position[i] = static_cast<int>(p);
      }
    }
    nvswitch[i] = position[i] < 0 && IsSwitchLike(pci);
  }
  NvLinkWiring wiring;
  std::vector<std::string> inexact;
  std::vector<std::string> implausible;
  for (unsigned i = 0; i < size; ++i) {
    for (unsigned j = i + 1; j < size; ++j) {
      const uint64_t bandwidth =
          std::max(distances->values[i * size + j], distances->values[j * size + i]);
      if (bandwidth == 0) continue;
      if (position[i] >= 0 && position[j] >= 0) {
        const Device& device = found[static_cast<size_t>(position[i])].device;
        const PciMatch match =
            ClassifyPciDevice(device.vendor_id, device.device_id, device.class_id);
        const uint64_t per_link =
            match.part != nullptr ? static_cast<uint64_t>(match.part->nvlink_mbps) : 25000;
        // Rounded to whole links without adding first (a bandwidth near 2^64 wraps).
        const uint64_t whole = bandwidth / per_link + (bandwidth % per_link >= (per_link + 1) / 2);
        if (whole > kMaxNvLinksPerPair) {
          implausible.push_back(absl::StrCat(device.pci_bus_id, " ", bandwidth, " MB/s"));
          continue;
        }
        const auto links = static_cast<int>(whole);
        if (bandwidth % per_link != 0) {
          inexact.push_back(absl::StrCat(device.pci_bus_id, " ", bandwidth, " MB/s"));
        }
        const auto pair = std::minmax(position[i], position[j]);
        wiring.gpu_links[{pair.first, pair.second}] = links;
      } else if (position[i] >= 0 && nvswitch[j]) {
        wiring.switches[position[i]].push_back(static_cast<int>(j));
      } else if (position[j] >= 0 && nvswitch[i]) {
        wiring.switches[position[j]].push_back(static_cast<int>(i));
      }
    }
  }
  hwloc_distances_release(topology, distances);
  if (!inexact.empty()) {
    node.notes.push_back(absl::StrCat("NVLink bandwidth not a whole number of links, rounded: ",
                                      absl::StrJoin(inexact, ", ")));
  }
  if (!implausible.empty()) {
    node.notes.push_back(absl::StrCat("NVLink bandwidth of more than ", kMaxNvLinksPerPair,
                                      " links between two GPUs, left out (no Links= for them): ",
                                      absl::StrJoin(implausible, ", ")));
  }
  node.nvlinks = std::move(wiring);
}

// Where the input came from, for messages that say how to fix it.
enum class Source { kLiveMachine, kXml };

absl::StatusOr<NodeInventory> Inventory(hwloc_topology_t topology, absl::string_view name,
                                        Source source, bool hwloc_v1, const ProbeOptions& options) {
  NodeInventory node;
  node.npu_ids_from_map = options.npu_logical_ids.has_value();
  const char* host = hwloc_obj_get_info_by_name(hwloc_get_root_obj(topology), "HostName");
  if (host != nullptr) node.hostname = ShortHostName(host);
  ReadCpuAndMemory(topology, hwloc_v1, node);
  if (node.real_memory_mib > kMaxMemoryMib) {
    return absl::InvalidArgumentError(absl::StrCat(
        name, ": the topology gives the node more than ", kMaxMemoryMib,
        " MiB of memory (a NUMA node's local_memory or the total is wrong); RealMemory would be "
        "meaningless"));
  }
  if (hwloc_get_next_pcidev(topology, nullptr) == nullptr) {
    // A CPU-only node still needs its NodeName line; say why there is no GRES.
    node.notes.push_back(
        source == Source::kXml
            ? "the export has no PCI devices: accelerators cannot be seen (for a node that "
              "has some, export it with I/O objects: `lstopo --of xml FILE`, no --no-io)"
            : "hwloc sees no PCI devices (is /sys/bus/pci readable?)");
  }
  absl::StatusOr<std::vector<FoundDevice>> found = FindAccelerators(topology, options, name, node);
  if (!found.ok()) return found.status();
  for (const FoundDevice& entry : *found) node.devices.push_back(entry.device);
  AssignPcieSwitchGroups(*found, node);
  ReadNvLinkWiring(topology, *found, node);
  AssignLinkGroups(node);
  return node;
}

// What slurmd itself measures as RealMemory (sysconf, as `slurmd -C`): the NUMA
// nodes' sum can fall short of it, e.g. on VMs whose hot-plugged memory sysfs omits.
int64_t PhysicalMemoryMib() {
  const long pages = sysconf(_SC_PHYS_PAGES);
  const long page_size = sysconf(_SC_PAGE_SIZE);
  if (pages <= 0 || page_size <= 0) return 0;
  return static_cast<int64_t>(pages) * page_size / kBytesPerMib;
}

std::string LocalShortHostName() {
  char name[256] = {};
  if (gethostname(name, sizeof(name) - 1) != 0) return "";
  return ShortHostName(name);
}

// hwloc's parse and the walk over its objects, in this process: only for a buffer
// that ScanXml() accepted and that a contained run of this same function survived.
absl::StatusOr<NodeInventory> ProbeCheckedXml(absl::string_view xml, absl::string_view source,
                                              const XmlShape& shape, const ProbeOptions& options) {
  absl::StatusOr<Topology> topology = NewTopologyWithIo();
  if (!topology.ok()) return topology.status();
  // hwloc wants the length including the terminating NUL.
  const std::string buffer(xml);
  const auto size = static_cast<int>(std::min(buffer.size() + 1, size_t{INT32_MAX}));
  if (hwloc_topology_set_xmlbuffer(topology->get(), buffer.c_str(), size) != 0 ||
      hwloc_topology_load(topology->get()) != 0) {
    return absl::InvalidArgumentError(
        absl::StrCat(source,
                     ": hwloc rejected the XML (not an hwloc 2.x topology export, or one "
                     "written by a newer hwloc); HWLOC_XML_VERBOSE=1 shows hwloc's reason"));
  }
  return Inventory(topology->get(), source, Source::kXml, shape.hwloc_v1, options);
}

bool IsBusIdToken(absl::string_view token) {
  // [dddd:]bb:dd.f
  const std::vector<absl::string_view> parts = absl::StrSplit(token, ':');
  if (parts.size() != 2 && parts.size() != 3) return false;
  const absl::string_view last = parts.back();
  if (last.size() != 4 || last[2] != '.') return false;
  for (char c : token) {
    if (!absl::ascii_isxdigit(static_cast<unsigned char>(c)) && c != ':' && c != '.') return false;
  }
  return (parts.size() == 2 || parts[0].size() == 4) && parts[parts.size() - 2].size() == 2;
}

std::string CanonicalBusId(absl::string_view token) {
  std::string id = absl::AsciiStrToLower(token);
  if (std::count(id.begin(), id.end(), ':') == 1) id.insert(0, "0000:");
  return id;
}

bool IsPlainNumber(absl::string_view token) {
  return !token.empty() && token.size() <= 6 && std::all_of(token.begin(), token.end(), [](char c) {
    return absl::ascii_isdigit(static_cast<unsigned char>(c));
  });
}

}  // namespace

absl::StatusOr<NpuLogicalIds> ParseNpuLogicalIds(absl::string_view text, absl::string_view source) {
  NpuLogicalIds ids;
  std::map<int, std::string> by_logical_id;
  int line_number = 0;
  for (absl::string_view line : absl::StrSplit(text, '\n')) {
    ++line_number;
    line = line.substr(0, line.find('#'));
    std::vector<absl::string_view> bus_ids;
    std::vector<absl::string_view> numbers;
    for (absl::string_view token :
         absl::StrSplit(line, absl::ByAnyChar(" \t\r|,"), absl::SkipEmpty())) {
      if (IsBusIdToken(token)) bus_ids.push_back(token);
      if (IsPlainNumber(token)) numbers.push_back(token);
    }
    if (bus_ids.empty()) continue;
    const std::string where = absl::StrCat(source, " line ", line_number, ": ");
    if (bus_ids.size() != 1 || numbers.size() != 1) {
      return absl::InvalidArgumentError(
          absl::StrCat(where, "expected one PCI bus id and one logical id"));
    }
    const std::string bus_id = CanonicalBusId(bus_ids.front());
    const int logical_id = std::stoi(std::string(numbers.front()));
    if (logical_id >= kMaxDevicesPerNode) {
      return absl::InvalidArgumentError(absl::StrCat(
          where, "logical id ", logical_id, " is out of range (0-", kMaxDevicesPerNode - 1, ")"));
    }
    if (!ids.emplace(bus_id, logical_id).second) {
      return absl::InvalidArgumentError(absl::StrCat(where, bus_id, " is listed twice"));
    }
    if (!by_logical_id.emplace(logical_id, bus_id).second) {
      return absl::InvalidArgumentError(absl::StrCat(where, "logical id ", logical_id,
                                                     " is given to ", by_logical_id[logical_id],
                                                     " and ", bus_id));
    }
  }
  if (ids.empty()) {
    return absl::InvalidArgumentError(
        absl::StrCat(source, ": no \"bus id, logical id\" lines (see docs/probe.md)"));
  }
  return ids;
}

absl::StatusOr<NvidiaGpuInformation> ParseNvidiaGpuInformation(absl::string_view text,
                                                               absl::string_view source) {
  std::optional<std::string> bus_id;
  std::optional<int> minor;
  bool excluded = false;
  for (absl::string_view line : absl::StrSplit(text, '\n')) {
    const size_t colon = line.find(':');
    if (colon == absl::string_view::npos) continue;
    const absl::string_view key = absl::StripAsciiWhitespace(line.substr(0, colon));
    const absl::string_view value = absl::StripAsciiWhitespace(line.substr(colon + 1));
    if (key == "Bus Location" && IsBusIdToken(value)) {
      bus_id = CanonicalBusId(value);
    } else if (key == "Device Minor" && IsPlainNumber(value)) {
      minor = std::stoi(std::string(value));
    } else if (key == "GPU Excluded") {
      excluded = absl::EqualsIgnoreCase(value, "yes");
    }
  }
  if (!bus_id.has_value() || !minor.has_value()) {
    return absl::InvalidArgumentError(absl::StrCat(
        source, ": no ", bus_id.has_value() ? "\"Device Minor: N\"" : "\"Bus Location: BUS_ID\"",
        " line (is this an NVIDIA driver's GPU information file?)"));
  }
  if (*minor >= kMaxDevicesPerNode) {
    return absl::InvalidArgumentError(absl::StrCat(
        source, ": device minor ", *minor, " is out of range (0-", kMaxDevicesPerNode - 1, ")"));
  }
  return NvidiaGpuInformation{*std::move(bus_id), *minor, excluded};
}

absl::StatusOr<std::optional<NvidiaMinors>> LiveNvidiaMinors(const std::string& gpus) {
  const std::optional<std::vector<std::string>> entries = ListDirectory(gpus);
  if (!entries.has_value()) return std::optional<NvidiaMinors>();
  NvidiaMinors minors;
  std::map<int, std::string> by_minor;
  for (const std::string& entry : *entries) {
    const std::string file = absl::StrCat(gpus, "/", entry, "/information");
    absl::StatusOr<std::string> text = ReadTextFile(file);
    if (!text.ok()) return text.status();
    absl::StatusOr<NvidiaGpuInformation> gpu = ParseNvidiaGpuInformation(*text, file);
    if (!gpu.ok()) return gpu.status();
    if (gpu->excluded) continue;
    if (const auto [it, added] = by_minor.emplace(gpu->minor, gpu->bus_id); !added) {
      return absl::InvalidArgumentError(
          absl::StrCat(file, ": device minor ", gpu->minor, " is also that of ", it->second));
    }
    minors.emplace(gpu->bus_id, gpu->minor);
  }
  return std::optional<NvidiaMinors>(std::move(minors));
}

absl::StatusOr<NodeInventory> ProbeLiveMachine(const ProbeOptions& options) {
  absl::StatusOr<Topology> topology = NewTopologyWithIo();
  if (!topology.ok()) return topology.status();
  if (hwloc_topology_load(topology->get()) != 0) {
    return absl::UnavailableError(
        absl::StrCat("hwloc could not read this machine: ", std::strerror(errno)));
  }
  absl::StatusOr<NodeInventory> node =
      Inventory(topology->get(), "this machine", Source::kLiveMachine, false, options);
  if (node.ok()) {
    node->hostname = LocalShortHostName();
    if (const int64_t memory = PhysicalMemoryMib(); memory > 0) node->real_memory_mib = memory;
  }
  return node;
}

absl::StatusOr<NodeInventory> ProbeXmlText(absl::string_view xml, absl::string_view source,
                                           const ProbeOptions& options) {
  absl::StatusOr<XmlShape> shape = ScanXml(xml, source);
  if (!shape.ok()) return shape.status();
  // A crash or hang inside libhwloc on a damaged export must not take the probe
  // with it: the same parse runs first in a child process.
  absl::Status contained =
      RunContained([&] { return ProbeCheckedXml(xml, source, *shape, options).status(); }, source,
                   "hwloc's XML parser", kXmlParseLimit);
  if (!contained.ok()) return contained;
  return ProbeCheckedXml(xml, source, *shape, options);
}

absl::StatusOr<NodeInventory> ProbeXmlFile(const std::string& path, const ProbeOptions& options) {
  absl::StatusOr<std::string> text = ReadTextFile(path);
  if (!text.ok()) return text.status();
  return ProbeXmlText(*text, path, options);
}

std::vector<std::string> LiveNpuDeviceFiles() {
  std::vector<std::pair<int, std::string>> files;
  for (const std::string& name : ListDirectory("/dev").value_or(std::vector<std::string>())) {
    constexpr absl::string_view kPrefix = "davinci";
    if (!absl::StartsWith(name, kPrefix)) continue;
    const absl::string_view digits = absl::string_view(name).substr(kPrefix.size());
    if (!IsPlainNumber(digits)) continue;  // davinci_manager and friends
    files.emplace_back(std::stoi(std::string(digits)), absl::StrCat("/dev/", name));
  }
  std::sort(files.begin(), files.end());
  std::vector<std::string> paths;
  for (auto& [number, path] : files) paths.push_back(std::move(path));
  return paths;
}

}  // namespace accelpack::probe
