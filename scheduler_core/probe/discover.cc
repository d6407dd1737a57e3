// Reads a node's CPUs, memory and accelerators from an hwloc topology.
#include <hwloc.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstdint>
#include <cstring>
#include <map>
#include <memory>
#include <string>
#include <tuple>
#include <utility>
#include <vector>

#include "absl/status/status.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "probe/links.h"
#include "probe/pci_catalog.h"
#include "probe/probe.h"
#include "probe/text_file.h"

namespace accelpack::probe {
namespace {

// hwloc's PCI attributes (a struct nested in a C union, hence the long name in C++).
using PciAttr = hwloc_obj_attr_u::hwloc_pcidev_attr_s;

constexpr int64_t kBytesPerMib = 1024 * 1024;

struct TopologyDeleter {
  void operator()(hwloc_topology* topology) const { hwloc_topology_destroy(topology); }
};
using Topology = std::unique_ptr<hwloc_topology, TopologyDeleter>;

// A topology that keeps the PCI devices and bridges that matter (accelerators, NICs,
// the bridges above them): hwloc drops all I/O objects by default.
absl::StatusOr<Topology> NewTopologyWithIo() {
  hwloc_topology_t raw = nullptr;
  if (hwloc_topology_init(&raw) != 0) {
    return absl::InternalError(absl::StrCat("hwloc_topology_init: ", std::strerror(errno)));
  }
  Topology topology(raw);
  if (hwloc_topology_set_io_types_filter(raw, HWLOC_TYPE_FILTER_KEEP_IMPORTANT) != 0) {
    return absl::InternalError(
        absl::StrCat("hwloc_topology_set_io_types_filter: ", std::strerror(errno)));
  }
  return topology;
}

std::string ShortHostName(absl::string_view name) {
  return std::string(name.substr(0, name.find('.')));
}

std::string FormatBusId(const PciAttr& pci) {
  return absl::StrFormat("%04x:%02x:%02x.%x", pci.domain, pci.bus, pci.dev, pci.func);
}

auto BusOrderKey(const PciAttr& pci) {
  return std::make_tuple(pci.domain, pci.bus, pci.dev, pci.func);
}

int64_t ToMib(uint64_t bytes) { return static_cast<int64_t>(bytes) / kBytesPerMib; }

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

// Sockets, cores, threads and memory: what slurm.conf's NodeName line states.
void ReadCpuAndMemory(hwloc_topology_t topology, NodeInventory& node) {
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

  hwloc_obj_t numa = nullptr;
  while ((numa = hwloc_get_next_obj_by_type(topology, HWLOC_OBJ_NUMANODE, numa)) != nullptr) {
    // GH200 GPU memory may appear as a NUMA node; it is not RAM Slurm can hand out.
    if (IsGpuMemoryNode(numa)) continue;
    NumaNode entry;
    entry.os_index = static_cast<int>(numa->os_index);
    entry.memory_mib = ToMib(numa->attr->numanode.local_memory);
    entry.cores = CoresInside(topology, numa->cpuset);
    node.real_memory_mib += entry.memory_mib;
    node.numa_nodes.push_back(std::move(entry));
  }
  if (node.real_memory_mib == 0) {
    node.real_memory_mib = ToMib(hwloc_get_root_obj(topology)->total_memory);
  }
}

std::vector<int> LocalNumaNodes(hwloc_topology_t topology, hwloc_obj_t cpu_side) {
  const int total = CountObjects(topology, HWLOC_OBJ_NUMANODE);
  std::vector<hwloc_obj_t> nodes(static_cast<size_t>(total));
  auto count = static_cast<unsigned>(total);
  hwloc_location location{};
  location.type = HWLOC_LOCATION_TYPE_OBJECT;
  location.location.object = cpu_side;
  // LARGER_LOCALITY: a device attached below a NUMA node's level (to an L3 group, a
  // die) still gets the NUMA node that covers it.
  std::vector<int> os_indexes;
  if (hwloc_get_local_numanode_objs(topology, &location, &count, nodes.data(),
                                    HWLOC_LOCAL_NUMANODE_FLAG_LARGER_LOCALITY) != 0) {
    return os_indexes;
  }
  for (unsigned i = 0; i < count && i < nodes.size(); ++i) {
    if (IsGpuMemoryNode(nodes[i])) continue;
    os_indexes.push_back(static_cast<int>(nodes[i]->os_index));
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

// Accelerators sorted NVIDIA first, then by PCI bus id, with their /dev indexes.
// NVIDIA numbers /dev/nvidiaN in bus order. /dev/davinciN is Huawei's logical id,
// which hwloc cannot see; it follows bus order on the Atlas servers we know of, so
// bus order is used for Ascend too (the gres.conf header says so).
std::vector<FoundDevice> FindAccelerators(hwloc_topology_t topology) {
  std::vector<FoundDevice> found;
  hwloc_obj_t pci = nullptr;
  while ((pci = hwloc_get_next_pcidev(topology, pci)) != nullptr) {
    const PciAttr& attr = pci->attr->pcidev;
    const PciMatch match = ClassifyPciDevice(attr.vendor_id, attr.device_id, attr.class_id);
    if (match.role == PciRole::kNotAccelerator) continue;
    found.push_back({DescribeDevice(topology, pci, match), pci});
  }
  std::sort(found.begin(), found.end(), [](const FoundDevice& a, const FoundDevice& b) {
    return std::make_pair(a.device.vendor, BusOrderKey(a.pci->attr->pcidev)) <
           std::make_pair(b.device.vendor, BusOrderKey(b.pci->attr->pcidev));
  });
  std::map<DeviceVendor, int> next_index;
  for (FoundDevice& entry : found) entry.device.index = next_index[entry.device.vendor]++;
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

// Where the input came from, for error messages that say how to fix it.
enum class Source { kLiveMachine, kXml };

absl::StatusOr<NodeInventory> Inventory(hwloc_topology_t topology, absl::string_view name,
                                        Source source) {
  if (hwloc_get_next_pcidev(topology, nullptr) == nullptr) {
    return absl::FailedPreconditionError(
        source == Source::kXml
            ? absl::StrCat(name,
                           ": the topology has no PCI devices; export it with I/O objects "
                           "(`lstopo --of xml FILE`, without --no-io)")
            : absl::StrCat(name, ": hwloc sees no PCI devices (is /sys/bus/pci readable?)"));
  }
  NodeInventory node;
  const char* host = hwloc_obj_get_info_by_name(hwloc_get_root_obj(topology), "HostName");
  if (host != nullptr) node.hostname = ShortHostName(host);
  ReadCpuAndMemory(topology, node);
  const std::vector<FoundDevice> found = FindAccelerators(topology);
  for (const FoundDevice& entry : found) node.devices.push_back(entry.device);
  AssignPcieSwitchGroups(found, node);
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

}  // namespace

absl::StatusOr<NodeInventory> ProbeLiveMachine() {
  absl::StatusOr<Topology> topology = NewTopologyWithIo();
  if (!topology.ok()) return topology.status();
  if (hwloc_topology_load(topology->get()) != 0) {
    return absl::UnavailableError(
        absl::StrCat("hwloc could not read this machine: ", std::strerror(errno)));
  }
  absl::StatusOr<NodeInventory> node =
      Inventory(topology->get(), "this machine", Source::kLiveMachine);
  if (node.ok()) {
    node->hostname = LocalShortHostName();
    if (const int64_t memory = PhysicalMemoryMib(); memory > 0) node->real_memory_mib = memory;
  }
  return node;
}

absl::StatusOr<NodeInventory> ProbeXmlText(absl::string_view xml, absl::string_view source) {
  const size_t first = xml.find_first_not_of(" \t\r\n");
  // Checked here because hwloc's own parser fails silently on non-XML input.
  if (first == absl::string_view::npos || xml[first] != '<') {
    return absl::InvalidArgumentError(absl::StrCat(
        source, ": not an XML file (expected an hwloc XML export, e.g. `lstopo --of xml`)"));
  }
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
  return Inventory(topology->get(), source, Source::kXml);
}

absl::StatusOr<NodeInventory> ProbeXmlFile(const std::string& path) {
  absl::StatusOr<std::string> text = ReadTextFile(path);
  if (!text.ok()) return text.status();
  return ProbeXmlText(*text, path);
}

}  // namespace accelpack::probe
