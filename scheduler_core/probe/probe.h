// accelpack-probe: what accelerators and CPU topology a node really has.
//
// ProbeLiveMachine() and ProbeXmlFile() read a node through hwloc (the running
// machine, or an hwloc XML export such as `lstopo --of xml` from a compute node)
// into a NodeInventory. The renderers turn an inventory into the node's gres.conf
// lines and slurm.conf NodeName fragment (report_json.h adds the JSON topology
// report), and CheckNode() lists where existing configuration disagrees with it.
// Which PCI IDs are which accelerator is decided only in pci_catalog.{h,cc}.
//
// Thread-safety: every function is reentrant; each probe owns its own hwloc
// topology and nothing here keeps state between calls. A NodeInventory is a plain
// value.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"

namespace accelpack::probe {

enum class DeviceVendor { kNvidia, kHuawei };

// Catalog kind name of a device whose vendor is known but whose device ID is not.
inline constexpr absl::string_view kUnknownKind = "unknown";

struct Device {
  DeviceVendor vendor = DeviceVendor::kNvidia;
  // N in /dev/nvidiaN or /dev/davinciN.
  int index = 0;
  std::string pci_bus_id;  // "0000:18:00.0"
  uint16_t vendor_id = 0;
  uint16_t device_id = 0;
  uint16_t class_id = 0;
  std::string kind;       // catalog kind ("h100", "ascend910b") or kUnknownKind
  std::string model;      // "NVIDIA H100 SXM5"; empty for unknown devices
  std::string gres_name;  // "gpu" / "npu"
  std::string gres_type;  // "h100" / "910b"; empty for unknown devices
  // OS indexes of the NUMA nodes local to the device; empty when the device hangs
  // off the whole machine (no NUMA node is closer than another).
  std::vector<int> numa_nodes;
  // hwloc logical indexes of the cores local to the device (what Slurm's Cores= means).
  std::vector<int> cores;
  // Index into NodeInventory::pcie_switch_groups, when the device shares a switch.
  std::optional<int> pcie_switch;
  // Index into NodeInventory::link_groups, when the device's links are known.
  std::optional<int> link_group;

  bool known() const { return kind != kUnknownKind; }
  std::string DeviceFile() const;
  std::string PciId() const;  // "10de:2330"
};

enum class Interconnect { kNone, kNvSwitch, kHccs };

absl::string_view InterconnectName(Interconnect interconnect);

// Devices that are all connected to each other: an NVSwitch board, an HCCS ring.
struct LinkGroup {
  Interconnect interconnect = Interconnect::kNone;
  // Links between two members, in Slurm's Links= unit (number of connections).
  int weight = 0;
  std::vector<int> members;  // positions in NodeInventory::devices
};

struct NumaNode {
  int os_index = 0;
  int64_t memory_mib = 0;
  std::vector<int> cores;  // hwloc logical core indexes
};

struct NodeInventory {
  std::string hostname;  // short host name (no domain); may be empty in an XML export
  int sockets = 0;
  int cores_per_socket = 0;
  int threads_per_core = 0;
  int64_t real_memory_mib = 0;
  std::vector<NumaNode> numa_nodes;
  // Accelerators (known and unknown), NVIDIA first, each vendor in PCI bus order.
  std::vector<Device> devices;
  // Groups of >= 2 devices behind one PCIe switch; positions in `devices`.
  std::vector<std::vector<int>> pcie_switch_groups;
  std::vector<LinkGroup> link_groups;
  // Things an admin should know that the outputs cannot express (uneven sockets, a
  // partial HGX board, ...); rendered as comments and in the JSON report.
  std::vector<std::string> notes;
};

// The machine this runs on. Fails when hwloc cannot load it or sees no PCI devices.
absl::StatusOr<NodeInventory> ProbeLiveMachine();

// An hwloc XML export. Errors name the file and what is wrong with it.
absl::StatusOr<NodeInventory> ProbeXmlFile(const std::string& path);

// Same, from XML text already in memory; `source` names it in error messages.
absl::StatusOr<NodeInventory> ProbeXmlText(absl::string_view xml, absl::string_view source);

// gres.conf lines for the node: one line per known device, comments for skipped ones.
std::string RenderGresConf(const NodeInventory& node);

// The slurm.conf NodeName= line (with trailing newline).
std::string RenderNodeNameLine(const NodeInventory& node);

// Every disagreement between the node's hardware and the given configuration texts,
// one human-readable line each ("gres.conf: gpu:h100 count 4, hardware has 8");
// empty when they agree. Fails only on configuration that cannot be parsed.
absl::StatusOr<std::vector<std::string>> CheckNode(const NodeInventory& node,
                                                   absl::string_view gres_conf,
                                                   absl::string_view slurm_conf);

}  // namespace accelpack::probe
