#include "probe/pci_catalog.h"

#include <array>

namespace accelpack::probe {
namespace {

constexpr uint16_t kNvidiaVendorId = 0x10de;
constexpr uint16_t kHuaweiVendorId = 0x19e5;

// PCI classes an accelerator of these vendors shows up as: VGA, 3D controller,
// processing accelerator. Huawei NICs (0200) and NVSwitch (0680) are not among them.
constexpr std::array<uint16_t, 3> kAcceleratorClasses = {0x0300, 0x0302, 0x1200};

// hwloc's NVLinkBandwidth value for one NVLink 4 link (Hopper), in MB/s.
constexpr int kNvLink4Mbps = 25000;
// A 4-GPU HGX board (H100/H200 SXM): each GPU's 18 NVLinks go 6 to each of its 3
// peers, with no NVSwitch; Slurm's NVML autodetect writes Links=6 for each pair.
constexpr int kHgx4PairLinks = 6;
// One HCCS link between each pair of an Ascend ring or group.
constexpr int kHccsLinks = 1;

// HGX 8-GPU board: all-to-all through NVSwitch. Slurm's NVML autodetect counts
// only NVLinks whose far end is another GPU, so it writes 0 between these GPUs.
constexpr BoardLayout kHgx8 = {8, 8, Interconnect::kNvSwitch, 0};
constexpr BoardLayout kHgx4 = {4, 4, Interconnect::kNvLink, kHgx4PairLinks};

// Readable arguments for the table below.
constexpr bool kAlsoFourGpuBoards = true;
constexpr bool kEightGpuBoardsOnly = false;
constexpr bool kNvLinkBridged = true;
constexpr bool kNoNvLinkBridges = false;

constexpr PciPart NvidiaSxm(uint16_t id, absl::string_view kind, absl::string_view model,
                            bool four_gpu_board) {
  return {DeviceVendor::kNvidia,
          id,
          kind,
          kind,
          model,
          {kHgx8, four_gpu_board ? kHgx4 : BoardLayout{}},
          false,
          kNvLink4Mbps};
}

constexpr PciPart NvidiaCard(uint16_t id, absl::string_view kind, absl::string_view model,
                             bool nvlink_bridges) {
  return {DeviceVendor::kNvidia, id, kind, kind, model, {}, nvlink_bridges, kNvLink4Mbps};
}

constexpr PciPart Ascend(uint16_t id, absl::string_view kind, absl::string_view type,
                         absl::string_view model, int board, int group) {
  return {DeviceVendor::kHuawei,
          id,
          kind,
          type,
          model,
          {BoardLayout{board, group, board > 0 ? Interconnect::kHccs : Interconnect::kNone,
                       board > 0 ? kHccsLinks : 0},
           BoardLayout{}},
          false,
          0};
}

// A part whose MIG slices are its kind's profiles (H100 80 GB, H200 141 GB).
constexpr PciPart WithMigProfiles(PciPart part) {
  part.mig_profiles = part.kind;
  return part;
}

// IDs from the public PCI ID database and vendor documentation (accelerators.md).
constexpr std::array kParts = {
    WithMigProfiles(NvidiaSxm(0x2330, "h100", "NVIDIA H100 SXM5", kAlsoFourGpuBoards)),
    WithMigProfiles(NvidiaCard(0x2331, "h100", "NVIDIA H100 PCIe", kNoNvLinkBridges)),
    NvidiaCard(0x2321, "h100", "NVIDIA H100 NVL", kNvLinkBridged),
    NvidiaSxm(0x2324, "h800", "NVIDIA H800 SXM5", kEightGpuBoardsOnly),
    NvidiaCard(0x2322, "h800", "NVIDIA H800 PCIe", kNoNvLinkBridges),
    NvidiaCard(0x233a, "h800", "NVIDIA H800 NVL", kNvLinkBridged),
    WithMigProfiles(NvidiaSxm(0x2335, "h200", "NVIDIA H200 SXM", kAlsoFourGpuBoards)),
    WithMigProfiles(NvidiaCard(0x233b, "h200", "NVIDIA H200 NVL", kNvLinkBridged)),
    NvidiaSxm(0x2329, "h20", "NVIDIA H20", kEightGpuBoardsOnly),
    NvidiaSxm(0x232c, "h20", "NVIDIA H20-3e", kEightGpuBoardsOnly),
    NvidiaCard(0x2342, "gh200", "NVIDIA GH200", kNoNvLinkBridges),
    NvidiaCard(0x2348, "gh200", "NVIDIA GH200 144G HBM3e", kNoNvLinkBridges),
    Ascend(0xd100, "ascend310", "310", "Huawei Ascend 310", 0, 0),
    Ascend(0xd500, "ascend310p", "310p", "Huawei Ascend 310P", 0, 0),
    // Atlas 800 (first generation): two HCCS rings of 4 per board of 8.
    Ascend(0xd801, "ascend910", "910", "Huawei Ascend 910", 8, 4),
    // Atlas 800T A2: one HCCS group of 8 (a Box16 node is two such boards).
    Ascend(0xd802, "ascend910b", "910b", "Huawei Ascend 910B", 8, 8),
    // Atlas 900 A3: 16 dies (8 two-die modules) all on HCCS.
    Ascend(0xd803, "ascend910c", "910c", "Huawei Ascend 910C", 16, 16),
};

struct HostFunction {
  uint16_t vendor_id;
  uint16_t device_id;
  absl::string_view name;
};

// PCI functions of Huawei server chips whose class an accelerator could have (VGA
// 0300, processing accelerator 1200) but which are not NPUs (pci.ids 2023.04).
constexpr std::array kHostFunctions = {
    HostFunction{kHuaweiVendorId, 0x1711, "iBMC VGA (Hi171x)"},
    HostFunction{kHuaweiVendorId, 0xa122, "HiSilicon embedded DMA engine"},
    HostFunction{kHuaweiVendorId, 0xa124, "HiSilicon SDI function engine"},
    HostFunction{kHuaweiVendorId, 0xa127, "HiSilicon SDI accelerator"},
    HostFunction{kHuaweiVendorId, 0xa250, "Kunpeng ZIP engine"},
    HostFunction{kHuaweiVendorId, 0xa251, "Kunpeng ZIP engine VF"},
    HostFunction{kHuaweiVendorId, 0xa255, "Kunpeng SEC engine"},
    HostFunction{kHuaweiVendorId, 0xa256, "Kunpeng SEC engine VF"},
    HostFunction{kHuaweiVendorId, 0xa258, "Kunpeng HPRE engine"},
    HostFunction{kHuaweiVendorId, 0xa259, "Kunpeng HPRE engine VF"},
    HostFunction{kHuaweiVendorId, 0xa25a, "Kunpeng RDE engine"},
    HostFunction{kHuaweiVendorId, 0xa25b, "Kunpeng RDE engine VF"},
};

// NVSwitch chips: HGX A100 (1af1) and HGX H100/H200 (22a3).
constexpr std::array<uint16_t, 2> kNvSwitchIds = {0x1af1, 0x22a3};

bool IsAcceleratorClass(uint16_t class_id) {
  for (uint16_t accelerator_class : kAcceleratorClasses) {
    if (class_id == accelerator_class) return true;
  }
  return false;
}

}  // namespace

PciMatch ClassifyPciDevice(uint16_t vendor_id, uint16_t device_id, uint16_t class_id) {
  DeviceVendor vendor;
  if (vendor_id == kNvidiaVendorId) {
    vendor = DeviceVendor::kNvidia;
  } else if (vendor_id == kHuaweiVendorId) {
    vendor = DeviceVendor::kHuawei;
  } else {
    return {};
  }
  for (const PciPart& part : kParts) {
    if (part.vendor == vendor && part.device_id == device_id) {
      return {PciRole::kKnownAccelerator, vendor, &part, {}};
    }
  }
  for (const HostFunction& function : kHostFunctions) {
    if (function.vendor_id == vendor_id && function.device_id == device_id) {
      return {PciRole::kHostFunction, vendor, nullptr, function.name};
    }
  }
  if (IsAcceleratorClass(class_id)) return {PciRole::kUnknownAccelerator, vendor, nullptr, {}};
  return {};
}

std::span<const PciPart> KnownParts() { return kParts; }

bool IsNvSwitch(uint16_t vendor_id, uint16_t device_id) {
  if (vendor_id != kNvidiaVendorId) return false;
  for (uint16_t id : kNvSwitchIds) {
    if (id == device_id) return true;
  }
  return false;
}

uint16_t VendorPciId(DeviceVendor vendor) {
  return vendor == DeviceVendor::kNvidia ? kNvidiaVendorId : kHuaweiVendorId;
}

absl::string_view VendorName(DeviceVendor vendor) {
  return vendor == DeviceVendor::kNvidia ? "nvidia" : "huawei";
}

absl::string_view VendorGresName(DeviceVendor vendor) {
  return vendor == DeviceVendor::kNvidia ? "gpu" : "npu";
}

absl::string_view VendorDevicePath(DeviceVendor vendor) {
  return vendor == DeviceVendor::kNvidia ? "/dev/nvidia" : "/dev/davinci";
}

}  // namespace accelpack::probe
