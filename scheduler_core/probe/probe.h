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
#include <map>
#include <optional>
#include <set>
#include <string>
#include <string_view>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"

namespace accelpack::probe {

enum class DeviceVendor { kNvidia, kHuawei };

// Catalog kind name of a device whose vendor is known but whose device ID is not.
inline constexpr absl::string_view kUnknownKind = "unknown";

// Most accelerators (known or unknown) one node may hold; more is a broken or
// hostile export, not a machine (the largest boards hold 16).
inline constexpr int kMaxDevicesPerNode = 64;

struct Device {
  DeviceVendor vendor = DeviceVendor::kNvidia;
  // N in /dev/nvidiaN or /dev/davinciN; -1 when the device has no known device file
  // (a Huawei device that is not in the catalog: it may not be an NPU at all).
  int index = -1;
  std::string pci_bus_id;  // "0000:18:00.0"
  uint16_t vendor_id = 0;
  uint16_t device_id = 0;
  uint16_t class_id = 0;
  std::string kind;       // catalog kind ("h100", "ascend910b") or kUnknownKind
  std::string model;      // "NVIDIA H100 SXM5"; empty for unknown devices
  std::string gres_name;  // "gpu" / "npu"
  std::string gres_type;  // "h100" / "910b"; empty for unknown devices
  // Catalog kind whose MIG profiles the device can be partitioned into; empty if none.
  std::string mig_profiles;
  // OS indexes of the NUMA nodes local to the device; empty when the device hangs
  // off the whole machine (no NUMA node is closer than another). Unsigned as in hwloc:
  // an export may carry any 32-bit index (HWLOC_UNKNOWN_INDEX is 2^32 - 1).
  std::vector<unsigned> numa_nodes;
  // hwloc logical indexes of the cores local to the device (what Slurm's Cores= means).
  std::vector<int> cores;
  // Index into NodeInventory::pcie_switch_groups, when the device shares a switch.
  std::optional<int> pcie_switch;
  // Index into NodeInventory::link_groups, when the device's links are known.
  std::optional<int> link_group;

  bool known() const { return kind != kUnknownKind; }
  bool numbered() const { return index >= 0; }
  // "/dev/nvidia3"; empty when not numbered.
  std::string DeviceFile() const;
  std::string PciId() const;  // "10de:2330"
};

// kNvLink: GPUs wired to each other directly (4-GPU HGX boards, NVL bridges).
enum class Interconnect { kNone, kNvSwitch, kNvLink, kHccs };

absl::string_view InterconnectName(Interconnect interconnect);

// Devices that are all connected to each other: an NVSwitch board, an HCCS ring, a
// 4-GPU HGX board, a bridged pair of NVL cards.
struct LinkGroup {
  Interconnect interconnect = Interconnect::kNone;
  std::vector<int> members;  // positions in NodeInventory::devices
};

// The NVLink wiring an hwloc export carries (hwloc's NVML backend writes it as the
// "NVLinkBandwidth" distances matrix; Debian's hwloc has no NVML, so only exports
// from other builds have it).
struct NvLinkWiring {
  // Direct GPU-to-GPU NVLinks, keyed by device positions (first < second).
  std::map<std::pair<int, int>, int> gpu_links;
  // Device position -> the NVSwitches (any id, one per switch) it has NVLinks to.
  std::map<int, std::vector<int>> switches;
};

struct NumaNode {
  unsigned os_index = 0;
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
  // Accelerators (known and unknown), NVIDIA first, each vendor in device file order
  // (N of /dev/nvidiaN, /dev/davinciN), devices without a device file last.
  std::vector<Device> devices;
  // Groups of >= 2 devices behind one PCIe switch; positions in `devices`.
  std::vector<std::vector<int>> pcie_switch_groups;
  std::vector<LinkGroup> link_groups;
  // Slurm's Links= value between two devices (positions, first < second): what
  // Slurm's NVML autodetect writes, i.e. the NVLinks wired GPU to GPU, 0 for peers
  // reached only through NVSwitches; for Ascend the catalog's HCCS links. Absent
  // pairs are 0.
  std::map<std::pair<int, int>, int> pair_links;
  // NVLinks from the export, when it has them.
  std::optional<NvLinkWiring> nvlinks;
  // /dev/davinciN numbers came from ProbeOptions::npu_logical_ids (not bus order).
  bool npu_ids_from_map = false;
  // NVSwitch chips seen on PCI (HGX 8-GPU boards show them; 4-GPU boards have none).
  int nvswitches = 0;
  // Things an admin should know that the outputs cannot express (uneven sockets, a
  // partial HGX board, ...); rendered as comments and in the JSON report.
  std::vector<std::string> notes;
};

// PCI bus id ("0000:c1:00.0", lower case) -> Huawei logical id (N of /dev/davinciN).
using NpuLogicalIds = std::map<std::string, int>;

// Reads a bus id -> logical id list, one NPU a line: a PCI bus id ("0000:C1:00.0" or
// "C1:00.0") and the logical id, in either order, separated by blanks, '|' or ','.
// Lines without a bus id (table headers, rules) and '#' comments are skipped; a line
// with a bus id needs exactly one plain number. `source` names the text in errors.
absl::StatusOr<NpuLogicalIds> ParseNpuLogicalIds(absl::string_view text, absl::string_view source);

// PCI bus id (lower case) -> N of /dev/nvidiaN, for the GPUs the NVIDIA driver drives.
using NvidiaMinors = std::map<std::string, int>;

// One GPU's /proc/driver/nvidia/gpus/BUS/information.
struct NvidiaGpuInformation {
  std::string bus_id;     // "Bus Location:", lower case
  int minor = 0;          // "Device Minor:"
  bool excluded = false;  // "GPU Excluded: Yes" (NVreg_ExcludedGpus): not usable
};
// `source` names the file in errors.
absl::StatusOr<NvidiaGpuInformation> ParseNvidiaGpuInformation(absl::string_view text,
                                                               absl::string_view source);

// The live machine's numbering, read from `gpus`/*/information, excluded GPUs left
// out; nullopt where the NVIDIA driver is not loaded (no such directory). Errors name
// the file (unreadable, malformed, a minor given twice).
inline constexpr char kNvidiaGpusDirectory[] = "/proc/driver/nvidia/gpus";
absl::StatusOr<std::optional<NvidiaMinors>> LiveNvidiaMinors(
    const std::string& gpus = kNvidiaGpusDirectory);

struct ProbeOptions {
  // /dev/davinciN numbers as the driver assigned them; without it, NPUs in the
  // catalog are numbered in PCI bus order.
  std::optional<NpuLogicalIds> npu_logical_ids;
  // /dev/nvidiaN numbers as the NVIDIA driver assigned them (the live machine); a GPU
  // it does not list has no device file (bound to vfio-pci for a VM, say). Without it
  // (an export), GPUs are numbered in PCI bus order, as the driver does by default.
  std::optional<NvidiaMinors> nvidia_minors;
};

// A name Slurm takes for a node and that is safe to write into a config line:
// letters, digits, '-', '_' and '.', at most 64 (HOST_NAME_MAX) characters.
// InvalidArgument naming `source` and the name (escaped) otherwise.
absl::Status CheckNodeName(absl::string_view name, absl::string_view source);

// The machine this runs on. Fails when hwloc cannot load it.
absl::StatusOr<NodeInventory> ProbeLiveMachine(const ProbeOptions& options = {});

// An hwloc XML export, read bounded (text_file.h) and parsed by hwloc in a child
// process (xml_guard.h). Errors name the file and what is wrong with it.
absl::StatusOr<NodeInventory> ProbeXmlFile(const std::string& path,
                                           const ProbeOptions& options = {});

// Same, from XML text already in memory; `source` names it in error messages.
absl::StatusOr<NodeInventory> ProbeXmlText(absl::string_view xml, absl::string_view source,
                                           const ProbeOptions& options = {});

// --- Sharing GPUs: Slurm shards and MIG slices -------------------------------
// How the admin shares a node's GPUs is configuration, not hardware: hwloc cannot
// see it, so it is given (--shards-per-gpu, --mig-layout) and checked against the
// hardware it applies to.

struct MigSlice {
  std::string profile;  // "3g.40gb" (lower case)
  // GPU instance id (`nvidia-smi mig -lgi`), when given: with the node's mig-minors
  // it names the slice's /dev/nvidia-caps files.
  std::optional<int> gpu_instance;
};

// GPU index (N of /dev/nvidiaN) -> the MIG slices it is partitioned into.
using MigLayout = std::map<int, std::vector<MigSlice>>;

// /proc/driver/nvidia-caps/mig-minors: "gpu0/gi1/access" -> N of nvidia-capN.
using MigMinors = std::map<std::string, int>;

// GPU instance ids the driver hands out (mig-minors lists gi0 to gi14 per GPU).
inline constexpr int kMaxGpuInstanceId = 14;

// GPU index (N of /dev/nvidiaN) -> ids of the MIG GPU instances that exist on it.
using GpuInstances = std::map<int, std::set<int>>;

struct SharingPlan {
  int shards_per_gpu = 0;  // 0: no shards
  std::optional<MigLayout> mig_layout;
  std::optional<MigMinors> mig_minors;
  // The live machine's instances (LiveGpuInstances); nullopt for an export.
  std::optional<GpuInstances> live_instances;
};

// /proc/driver/nvidia/capabilities/gpuN/mig/giG on the live machine: the GPU instances
// that exist now (none on a GPU whose MIG mode is off). nullopt without the driver.
std::optional<GpuInstances> LiveGpuInstances();

// A layout against the instances that exist, one line per GPU that lacks a named one
// or has fewer than the layout's slices. Empty when all exist.
std::vector<std::string> MissingGpuInstances(const MigLayout& layout, const GpuInstances& existing);

// Parses a MIG layout: entries separated by blanks, ';' or new lines ('#' starts a
// comment), each GPUS=SLICES: GPUS an index or ranges ("0", "0-3,6"), SLICES a
// comma-separated list of PROFILE, PROFILE*COUNT or PROFILE@GI (GPU instance id).
// Example: "0=3g.40gb@1,3g.40gb@2 1-7=1g.10gb*7". `source` names the text in errors.
absl::StatusOr<MigLayout> ParseMigLayout(absl::string_view text, absl::string_view source);

// Parses a mig-minors file ("NAME MINOR" a line).
absl::StatusOr<MigMinors> ParseMigMinors(absl::string_view text, absl::string_view source);

// What is wrong with a layout on this node, one line each naming the GPU: a GPU index
// the node lacks, a GPU without MIG profiles in the catalog, a profile the GPU's
// model does not have, more instances of a profile than fit, more than 7 compute or
// 8 memory slices, a GPU instance id given twice. Empty when the layout fits.
std::vector<std::string> MigLayoutProblems(const NodeInventory& node, const MigLayout& layout);

// The layout's problems as one InvalidArgument error naming `source` and the node.
absl::Status ValidateMigLayout(const NodeInventory& node, const MigLayout& layout,
                               absl::string_view source);

// gres.conf lines for the node: one line per known device, comments for skipped ones;
// with a sharing plan also the shard lines (RenderShardLines) and one MIG line per
// slice (Name=gpu Type=PROFILE MultipleFiles=/dev/nvidiaN,<its two nvidia-caps
// files>), and GPUs partitioned into MIG slices are not listed whole. A slice whose
// cap files cannot be named (no GPU instance id or no mig-minors) is written
// commented out, with what to fill in. The layout must have passed
// ValidateMigLayout.
std::string RenderGresConf(const NodeInventory& node, const SharingPlan& sharing = {});
// Slurm `shard` lines sharing every GPU of the node `shards_per_gpu` ways, one line
// per GPU (so each GPU's count is explicit), with a note on what slurm.conf needs.
// Empty when the node has no GPU or shards_per_gpu < 1.
std::string RenderShardLines(const NodeInventory& node, int shards_per_gpu);

// The slurm.conf NodeName= line (with trailing newline); its Gres= counts the
// sharing plan's shards and MIG slices too.
std::string RenderNodeNameLine(const NodeInventory& node, const SharingPlan& sharing = {});

// Every disagreement between the node's hardware and the given configuration texts,
// one human-readable line each ("gres.conf: gpu:h100 count 4, hardware has 8");
// empty when they agree. Fails only on configuration that cannot be parsed.
// `device_files`, on a live host, lists the /dev/davinci* files that exist there:
// the NPU files gres.conf names and the probe's numbering are checked against them.
// MIG lines (a gpu Type that is a MIG profile) are checked against the GPU they name
// and, when `sharing` has a layout, counted per GPU and profile against it; GPUs with
// MIG slices are not expected as whole GPUs. With `sharing.shards_per_gpu`, every
// whole GPU must get that many shards.
absl::StatusOr<std::vector<std::string>> CheckNode(
    const NodeInventory& node, absl::string_view gres_conf, absl::string_view slurm_conf,
    const std::optional<std::vector<std::string>>& device_files = std::nullopt,
    const SharingPlan& sharing = {});

// The /dev/davinciN files of this machine (sorted by N); empty when there are none.
std::vector<std::string> LiveNpuDeviceFiles();

}  // namespace accelpack::probe
